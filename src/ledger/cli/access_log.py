"""`ledger access-log`: who read a person's statements, or what one sign-in read
(docs/web.md#access-log). It parses its options, asks `ledger.app.access_log.search` and
writes what it returns."""

from __future__ import annotations

import datetime as dt

import click

from ledger.app import access_log
from ledger.app.reading import Books
from ledger.cli.common import _date, _output_option, _to_output, db_option


@click.command("access-log")
@click.option("--holder", default=None, metavar="H",
              help="Every read of H's statements, and of each pool, provider or council "
                   "statement or export that includes H (a subject access request).")
@click.option("--user", default=None, metavar="U",
              help="Every read by U: a web username, or the operating-system user of a "
                   "command.")
@click.option("--from", "date_from", callback=_date, help="Reads on or after this day.")
@click.option("--to", "date_to", callback=_date, help="Reads on or before this day.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True, help="CSV (a header, a row per read) or JSON.")
@_output_option
@db_option
def access_log_command(holder: str | None, user: str | None, date_from: dt.date | None,
                       date_to: dt.date | None, fmt: str, output, db_url: str | None,
                       ledger: str) -> None:
    """The access log: each statement or export read, oldest first: when (UTC), through
    the web or the command line, by whom, what, for which period, version and format,
    and the reader's network."""
    found = access_log.search(Books.at(db_url, ledger), holder=holder, user=user,
                              since=date_from, until=date_to)
    _to_output(output, lambda out: access_log.write(found, fmt, out))
