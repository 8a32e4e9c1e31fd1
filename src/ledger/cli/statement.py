"""`ledger statement`: holder, holders, pool, provider, council (docs/statements.md).
Each parses its options and asks `ledger.app.statements` for one statement."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ledger.app.reading import Books
from ledger.app.statements import Operator, Period, holder_files
from ledger.app.statements import statement as find_statement
from ledger.cli.common import (
    _checked_month,
    _date,
    _format_options,
    _output_option,
    _period,
    _statement_options,
    _to_output,
    _variant,
    db_option,
)


@click.group()
def statement() -> None:
    """Statements for a budget holder, a pooling group, a provider or a council."""


def _write(kind: str, ident: str, period: Period, reader: Operator, fmt: str,
           easy_read: bool, large_print: bool, output: Path | None, db_url: str | None,
           ledger: str) -> None:
    """The one statement, in the version asked for (else the reader's recorded one),
    recorded in the access log as it is read."""
    _variant(easy_read, large_print, None)  # both at once: one line, before anything
    asked = "easy_read" if easy_read else "large_print" if large_print else None
    found = find_statement(Books.at(db_url, ledger), kind, ident, period, reader, fmt=fmt,
                           version=asked)
    _unlogged(found.logged)
    variant = _variant(easy_read, large_print, found.preference)
    content = found.render(fmt, variant)
    _to_output(output, lambda out: out.write(content), binary=True)


def _unlogged(logged: bool) -> None:
    if not logged:
        click.echo("note: this read is not in the access log: the database could not be "
                   "written (a read-only copy, or busy)", err=True)


def _with_xlsx(fn):
    """The statement's `--format` (cli.common) with xlsx too: its tables as a workbook."""
    for param in getattr(fn, "__click_params__", []):
        if param.name == "fmt":
            param.type = click.Choice([*param.type.choices, "xlsx"])
            param.help = "text (default), json, html, pdf or xlsx (the tables, a sheet each)."
    return fn


@statement.command("holder")
@click.argument("holder")
@_with_xlsx
@_statement_options
def statement_holder(holder: str, date_from, date_to, month, fmt: str, easy_read: bool,
                     large_print: bool, output: Path | None, db_url: str | None,
                     ledger: str) -> None:
    """What HOLDER had, received and spent in a period, and their personal budgets, in
    words. The person's recorded format (easy read, large print) is the default."""
    _write("holder", holder, Period(*_period(date_from, date_to, month)), Operator(), fmt,
           easy_read, large_print, output, db_url, ledger)


@statement.command("holders")
@click.option("--council", default=None, metavar="C", help="Every person of council C.")
@click.option("--provider", default=None, metavar="P",
              help="Every person whose ISF provider P held open in the month: P's "
                   "statement of that ISF.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf", "xlsx"]),
              default="html", help="html (default), json, pdf or xlsx (the tables, a sheet "
                                   "each).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The folder for the files (made if missing): one per person, HOLDER.EXT.")
@db_option
def statement_holders(council: str | None, provider: str | None, month: str, fmt: str,
                      out_dir: Path, db_url: str | None, ledger: str) -> None:
    """One statement file per person of a council (their own statement, in their
    recorded version) or of a provider (its statement of their ISF)
    (docs/statements.md#many)."""
    from ledger.progress import BulkProgress

    period = Period(*_period(None, None, month))
    written = holder_files(Books.at(db_url, ledger), period, fmt, out_dir, council=council,
                           provider=provider,
                           progress=lambda n: BulkProgress(n, "writing statements"))
    click.echo(f"{written} statements written to {out_dir}")


@statement.command("isf")
@click.argument("holder")
@click.option("--provider", required=True, metavar="P", help="The provider holding the ISF.")
@_with_xlsx
@_statement_options
def statement_isf(holder: str, provider: str, date_from, date_to, month, fmt: str,
                  easy_read: bool, large_print: bool, output: Path | None,
                  db_url: str | None, ledger: str) -> None:
    """Provider P's statement of the ISF it holds for HOLDER: that fund's hours and money
    only (docs/statements.md#isf)."""
    _write("isf", f"{holder}:{provider}", Period(*_period(date_from, date_to, month)),
           Operator(), fmt, easy_read, large_print, output, db_url, ledger)


@statement.command("pool")
@click.argument("pool")
@click.option("--member", default=None, metavar="H",
              help="A member's own copy: says how H appears to the others and marks "
                   "their rows; H's recorded format is the default.")
@_with_xlsx
@_statement_options
def statement_pool(pool: str, member: str | None, date_from, date_to, month, fmt: str,
                   easy_read: bool, large_print: bool, output: Path | None,
                   db_url: str | None, ledger: str) -> None:
    """Who paid what for whom in POOL: each member's share, purchases and their split."""
    _write("pool", pool, Period(*_period(date_from, date_to, month)), Operator(member), fmt,
           easy_read, large_print, output, db_url, ledger)


@statement.command("provider")
@_with_xlsx
@click.argument("provider")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@_format_options
@_output_option
@db_option
def statement_provider(provider: str, month: str, fmt: str, easy_read: bool,
                       large_print: bool, output: Path | None, db_url: str | None,
                       ledger: str) -> None:
    """Every ISF that PROVIDER holds, for one month, in one document."""
    _write("provider", provider, Period.of_month(_checked_month(month)), Operator(), fmt,
           easy_read, large_print, output, db_url, ledger)


@statement.command("council")
@_with_xlsx
@click.argument("council")
@click.option("--from", "date_from", required=True, callback=_date, help="First day.")
@click.option("--to", "date_to", required=True, callback=_date, help="Last day, inclusive.")
@_format_options
@_output_option
@db_option
def statement_council(council: str, date_from: dt.date, date_to: dt.date, fmt: str,
                      easy_read: bool, large_print: bool, output: Path | None,
                      db_url: str | None, ledger: str) -> None:
    """Budgets, direct payments, ISFs, pools, contracts and grants of COUNCIL: paid,
    recovered and held."""
    _write("council", council, Period(date_from, date_to), Operator(), fmt, easy_read,
           large_print, output, db_url, ledger)
