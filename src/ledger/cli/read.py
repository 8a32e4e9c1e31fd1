"""The reading commands: balance, accounts, parties, register, print."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import click

from ledger.app import reading
from ledger.app.reading import Books
from ledger.cli.common import (
    NUMBER,
    _account_prefix,
    _date,
    _output_option,
    _reading_options,
    _to_output,
    db_option,
)
from ledger.core.amounts import format_amount
from ledger.errors import UsageError


@click.command()
@click.option("--as-of", callback=_date, help="Only postings dated on or before DATE.")
@click.option("--from", "date_from", callback=_date,
              help="With --to: the movement of each account over the period instead.")
@click.option("--to", "date_to", callback=_date, help="The period's last day, inclusive.")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only accounts at or below PREFIX (whole path segments).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@_output_option
@db_option
def balance(as_of: dt.date | None, date_from: dt.date | None, date_to: dt.date | None,
            prefix: str | None, fmt: str, output: Path | None, db_url: str | None,
            ledger: str) -> None:
    """Balances per account and unit; with --from and --to, each account's movement over
    the period (docs/reading.md)."""
    if (date_from or date_to) and as_of:
        raise UsageError("give either --as-of or --from and --to, not both")
    if (date_from is None) != (date_to is None):
        raise UsageError("a period needs both --from and --to")
    if date_from and date_to and date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    books = Books.at(db_url, ledger)
    if date_from and date_to:
        moved = reading.movements(books, date_from, date_to, prefix)
        _emit(moved, ("account", "unit", "balance", "minor_units"), fmt, output,
              f"Movements {date_from} to {date_to}")
        return
    rows = reading.balances(books, as_of, prefix)
    if fmt == "table" and output is None:
        from ledger.reports.render import balance_table

        balance_table(rows, as_of)
        return
    _emit([{"account": r.account, "unit": r.unit.value,
            "balance": format_amount(r.minor, r.unit), "minor_units": r.minor} for r in rows],
          ("account", "unit", "balance", "minor_units"), fmt, output,
          f"Balances as of {as_of}" if as_of else "Balances")


def _emit(rows, columns: tuple[str, ...], fmt: str, output: Path | None, title: str) -> None:
    """Rows as a table, CSV (section 5.4's rules: docs/exports.md#csv) or JSON, to
    standard output or to FILE whole or not at all."""
    from ledger.reports.export_cells import safe

    def write(out) -> None:
        if fmt == "json":
            out.write(json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:  # amounts stay numbers; only text is guarded
                writer.writerow([safe(v) if isinstance(v, str) and not NUMBER.match(v) else v
                                 for v in (row[c] for c in columns)])
        else:
            from ledger.reports.render import plain_table

            plain_table(title, columns, ([row[c] for c in columns] for row in rows), out,
                        width=200)

    _to_output(output, write)



@click.command("accounts")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only accounts at or below PREFIX.")
@_reading_options
@db_option
def accounts_command(prefix: str | None, fmt: str, output: Path | None, db_url: str | None,
                     ledger: str) -> None:
    """Every account with postings: its units, first and last dates, and posting count."""
    rows = reading.accounts(Books.at(db_url, ledger), prefix)
    _emit(rows, ("account", "unit", "first", "last", "postings"), fmt, output, "Accounts")


@click.command("parties")
@click.option("--kind", type=click.Choice(["council", "provider", "holder", "pool"]),
              default=None, help="Only this kind.")
@click.option("--as-of", callback=_date, help="Records as they stood on DATE.")
@_reading_options
@db_option
def parties_command(kind: str | None, as_of: dt.date | None, fmt: str, output: Path | None,
                    db_url: str | None, ledger: str) -> None:
    """Councils, providers, holders and pools."""
    rows = reading.parties(Books.at(db_url, ledger), kind, as_of)
    _emit(rows, ("kind", "id", "name", "council"), fmt, output, "Parties")


@click.command("register")
@click.option("--account", "prefix", required=True, metavar="PREFIX",
              callback=_account_prefix, help="Accounts at or below PREFIX.")
@click.option("--from", "date_from", callback=_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_date, help="Last day, inclusive.")
@_reading_options
@db_option
def register_command(prefix: str, date_from: dt.date | None, date_to: dt.date | None,
                     fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Each posting to the accounts, with its account's running balance."""
    rows = reading.register(Books.at(db_url, ledger), prefix, date_from, date_to)
    _emit(rows, ("date", "journal", "type", "account", "unit", "amount", "minor_units",
                 "running", "running_minor"), fmt, output, f"Register of {prefix}")


@click.command("print")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only journals touching accounts at or below PREFIX.")
@click.option("--from", "date_from", callback=_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_date, help="Last day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_output_option
@db_option
def print_command(prefix: str | None, date_from: dt.date | None, date_to: dt.date | None,
                  fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Journals with their type, key, memo, reversal link and postings."""
    from ledger.reports.reading import print_text

    rows = reading.journals(Books.at(db_url, ledger), prefix, date_from, date_to)
    text = (json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n"
            if fmt == "json" else print_text(rows))
    _to_output(output, lambda out: out.write(text))
