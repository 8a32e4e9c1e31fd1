"""Readable terminal output (rich): aligned, plain, the same figures as CSV/JSON."""

from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.table import Table

from ledger.core.amounts import Unit, format_amount
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


def month_end_table(result: dict) -> None:
    """A provider's month: hours and money per person, with the total last."""
    table = Table(title=f"{result['provider']} {result['month']}: month end",
                  title_justify="left")
    for name in ("holder", "hours at start", "allocated", "delivered", "expired", "other",
                 "hours at end", "money at start", "in", "delivered £", "fees", "purchases",
                 "returned", "other £", "money at end", "flag"):
        table.add_column(name, justify="left" if name in ("holder", "flag") else "right")
    for row in [*result["isfs"], result["totals"]]:
        h = [format_amount(row[k], Unit.HRS) for k in (
            "hours_opening_minutes", "hours_allocated_minutes", "hours_delivered_minutes",
            "hours_expired_minutes", "hours_other_minutes", "hours_closing_minutes")]
        g = [format_amount(row[k], Unit.GBP) for k in (
            "money_opening_minor", "money_in_minor", "money_delivered_minor",
            "money_fees_minor", "money_purchases_minor", "money_returned_minor",
            "money_other_minor", "money_closing_minor")]
        table.add_row(row["holder"], *h, *g, row["flag"])
    Console(width=220).print(table)
