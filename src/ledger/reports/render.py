"""Readable terminal output (rich): aligned, plain, the same figures as CSV/JSON."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.table import Table

from ledger.core.amounts import format_amount
from ledger.reports.balances import BalanceRow


def balance_table(rows: list[BalanceRow], as_of: dt.date | None) -> None:
    title = f"Balances as of {as_of}" if as_of else "Balances"
    table = Table(title=title, title_justify="left")
    table.add_column("account")
    table.add_column("unit")
    table.add_column("balance", justify="right")
    for r in rows:
        table.add_row(r.account, r.unit.value, format_amount(r.minor, r.unit))
    Console().print(table)
