"""Readable terminal output (rich): aligned, plain, the same figures as CSV/JSON.

Every name, id and account is printed exactly as stored (docs/reading.md#names): each
cell and title is a `rich.text.Text`, which rich never reads as markup or emoji codes, on
a console with markup, emoji and highlighting off. So `Shop [/x]` cannot break a table,
`[bold]` stays on the page and `isf:A:P1` is never an emoji."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ledger.core.amounts import format_amount, format_pence
from ledger.reports.balances import BalanceRow


def plain_console(out: TextIO | None = None, width: int | None = None) -> Console:
    """A console that prints text as given: no markup, no emoji codes, no highlighting."""
    return Console(file=out, width=width, markup=False, emoji=False, highlight=False)


def plain_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]],
                out: TextIO | None = None, width: int | None = None,
                right: Iterable[str] = ()) -> None:
    """A table of `rows` (one value per column, printed as `str(value)`, exactly), with
    the columns named in `right` aligned right."""
    right = set(right)
    table = Table(title=Text(title), title_justify="left")
    for column in columns:
        table.add_column(Text(column), justify="right" if column in right else "left")
    for row in rows:
        table.add_row(*(Text(str(value)) for value in row))
    plain_console(out, width).print(table)


def balance_table(rows: list[BalanceRow], as_of: dt.date | None) -> None:
    plain_table(f"Balances as of {as_of}" if as_of else "Balances",
                ("account", "unit", "balance"),
                ((r.account, r.unit.value, format_amount(r.minor, r.unit)) for r in rows),
                right=("balance",))


MONTH_END_WIDTH = 100  # columns: the month end fits a terminal, an email or a page
_HOURS = (("at start", "hours_opening_minutes"), ("allocated", "hours_allocated_minutes"),
          ("delivered", "hours_delivered_minutes"), ("expired", "hours_expired_minutes"),
          ("other", "hours_other_minutes"), ("at end", "hours_closing_minutes"))
_MONEY = (("at start", "money_opening_minor"), ("in", "money_in_minor"),
          ("delivered", "money_delivered_minor"), ("fees", "money_fees_minor"),
          ("purchases", "money_purchases_minor"), ("returned", "money_returned_minor"),
          ("other", "money_other_minor"), ("at end", "money_closing_minor"))


def hours_minutes(minutes: int) -> str:
    """Signed minutes as hours and minutes, exact: 90 -> '1:30', -5 -> '-0:05'."""
    hours, rest = divmod(abs(minutes), 60)
    return f"{'-' if minutes < 0 else ''}{hours}:{rest:02d}"


def month_end_table(result: dict) -> None:
    """A provider's month: hours (H:MM) per person, then money (£) per person, each with
    the total last, in two tables that fit 100 columns (the same figures as CSV/JSON)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rows = [*result["isfs"], result["totals"]]
    title = f"{result['provider']} {result['month']}: month end"
    console = Console(width=MONTH_END_WIDTH, markup=False, emoji=False, highlight=False)
    for heading, columns, shown, flag in (("hours (H:MM)", _HOURS, hours_minutes, True),
                                          ("money (£)", _MONEY, format_pence, False)):
        table = Table(title=Text(f"{title}, {heading}"), title_justify="left")
        table.add_column("holder")
        for name, _ in columns:
            table.add_column(name, justify="right", no_wrap=True)
        if flag:
            table.add_column("flag")
        for row in rows:
            cells = [row["holder"], *(shown(row[key]) for _, key in columns)]
            table.add_row(*(Text(str(c)) for c in [*cells, *([row["flag"]] if flag else [])]))
        console.print(table)
