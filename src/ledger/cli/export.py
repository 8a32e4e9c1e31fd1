"""`ledger export`: council finance files and Beancount (docs/exports.md). Each parses
its options and makes one call to `ledger.app.reading`, whose file is delivered through
`ledger.app.access_log.exported`, so the export is recorded in the access log as it is
written (docs/web.md#access-log)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ledger.app import access_log, reading
from ledger.app.reading import Books
from ledger.cli.common import (
    _checked_month,
    _date,
    _excel_option,
    _output_option,
    _to_output,
    db_option,
)
from ledger.errors import LedgerError, UsageError


@click.group()
def export() -> None:
    """Files for other systems (docs/exports.md)."""


def _to(output: Path | None, fmt: str = "csv", title: str = "export"):
    """Where an export writes itself: standard output, or FILE whole or not at all; with
    `fmt` xlsx, as one typed sheet named `title` (docs/exports.md#xlsx)."""
    if fmt == "xlsx":
        from ledger.reports.sheet import write_xlsx

        return lambda write: _to_output(output, lambda out: write_xlsx(write, out, title),
                                        binary=True)
    return lambda write: _to_output(output, write)


class _Logged:
    """Where an export writes itself, recorded in the access log first: `name` is the
    export (gl, payments, ...), `council` its subject (None: the whole ledger)."""

    def __init__(self, books: Books, name: str, council: str | None, first: dt.date,
                 last: dt.date, fmt: str) -> None:
        self.books, self.name, self.council = books, name, council
        self.first, self.last, self.fmt = first, last, fmt
        self.deliveries: list = []

    def __call__(self, deliver):
        logged = access_log.exported(self.books, access_log.command_line(),
                                     f"export-{self.name}", self.council, self.first,
                                     self.last, self.fmt, deliver)
        self.deliveries.append(logged)
        return logged

    def done(self) -> None:
        if any(False in d.recorded for d in self.deliveries):
            click.echo("note: this export is not in the access log: the database could "
                       "not be written (a read-only copy, or busy)", err=True)


def _format_checked(fmt: str, excel: bool) -> str:
    if fmt == "xlsx" and excel:
        raise UsageError("--excel is for CSV (a byte order mark and CRLF line ends); "
                         "leave it out with --format xlsx")
    return fmt


def _period(first: str = "First day.") -> tuple:
    return (click.option("--from", "date_from", required=True, callback=_date, help=first),
            click.option("--to", "date_to", required=True, callback=_date,
                         help="Last day, inclusive."))


def _council_file_options(*own):
    """--council C, the command's `own` options, -o, --excel, --mapping and --db, in
    that order."""

    def decorate(fn):
        fn = db_option(fn)
        fn = click.option("--mapping", "mapping_file", type=click.Path(path_type=Path),
                          default=None,
                          help="Finance codes for accounts (docs/exports.md#mapping).")(fn)
        fn = _output_option(_excel_option(fn))
        fn = click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]),
                          default="csv", show_default=True,
                          help="CSV, or one spreadsheet sheet (docs/exports.md#xlsx).")(fn)
        for option in reversed(own):
            fn = option(fn)
        return click.option("--council", required=True, metavar="C",
                            help="The council's id.")(fn)

    return decorate


@export.command("beancount")
@_output_option
@db_option
def export_beancount(output: Path | None, db_url: str | None, ledger: str) -> None:
    """The whole ledger as a Beancount file: bean-check accepts it and its balances equal
    `ledger balance` (hours as the commodity MIN, in minutes)."""
    books = Books.at(db_url, ledger)
    log = _Logged(books, "beancount", None, dt.date(1900, 1, 1), dt.date.today(), "beancount")
    reading.export_beancount(books, log(_to(output)))
    log.done()


@export.command("gl")
@_council_file_options(
    *_period("First day (YYYY-MM-DD)."),
    click.option("--unit", type=click.Choice(["GBP", "HRS"]), default=None,
                 help="Only the money (GBP) or only the hours (HRS) rows; both by default."),
    click.option("--debit-credit", "split", is_flag=True,
                 help="Add separate debit and credit columns (docs/exports.md#gl)."))
def export_gl(council: str, date_from: dt.date, date_to: dt.date, unit: str | None,
              split: bool, fmt: str, output: Path | None, excel: bool,
              mapping_file: Path | None, db_url: str | None, ledger: str) -> None:
    """Every posting of each journal in the period that touches the council's accounts,
    for its general ledger."""
    books = Books.at(db_url, ledger)
    log = _Logged(books, "gl", council, date_from, date_to, fmt)
    reading.export_council_file(books, "gl", council, date_from, date_to,
                                excel, mapping_file,
                                log(_to(output, _format_checked(fmt, excel), "gl")),
                                unit=unit, split=split)
    log.done()


@export.command("payments")
@_council_file_options(
    *_period("First day (YYYY-MM-DD)."),
    click.option("--control-file", "control_file", default=None,
                 type=click.Path(path_type=Path, dir_okay=False),
                 help="Write the row count and totals to FILE (whole or not at all) and "
                      "leave the TOTAL line out of the export."))
def export_payments(council: str, date_from: dt.date, date_to: dt.date,
                    control_file: Path | None, fmt: str, output: Path | None, excel: bool,
                    mapping_file: Path | None, db_url: str | None, ledger: str) -> None:
    """Each payment out of and recovery into the council's funding in the period, and
    their total (a TOTAL line, or a control file of its own)."""
    if control_file is not None and output is not None and \
            control_file.resolve() == output.resolve():
        raise UsageError(f"--control-file {control_file} is the export's own file (-o): "
                         "give the control file another name")
    books = Books.at(db_url, ledger)
    log = _Logged(books, "payments", council, date_from, date_to, fmt)
    reading.export_council_file(books, "payments", council, date_from,
                                date_to, excel, mapping_file,
                                log(_to(output, _format_checked(fmt, excel), "payments")),
                                control=None if control_file is None
                                else _to(control_file, fmt, "control"))
    log.done()


@export.command("dp-monitoring")
@_council_file_options(
    click.option("--as-of", "as_of", required=True, callback=_date,
                 help="The day (YYYY-MM-DD)."),
    click.option("--weeks", default="8", metavar="N",
                 help="Weeks of support a person may hold before a review recovers the rest "
                      "(default 8)."),
    click.option("--contingency", default="0", metavar="POUNDS",
                 help="A contingency each person may also keep (default 0)."))
def export_dp_monitoring(council: str, as_of: dt.date, weeks: str, contingency: str,
                         fmt: str, output: Path | None, excel: bool, mapping_file: Path | None,
                         db_url: str | None, ledger: str) -> None:
    """Every direct-payment account of the council's people on a day: balance, weeks of
    support held, and the surplus a review would recover, with its working. Posts
    nothing."""
    from fractions import Fraction

    from ledger.core.amounts import parse_pence

    try:
        held_weeks = Fraction(weeks)
        if held_weeks < 0 or held_weeks > 520 or held_weeks.denominator > 100:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--weeks {weeks[:20]!r} is not a number of weeks from 0 to 520") \
            from None
    try:
        contingency_pence = parse_pence(contingency)
    except LedgerError as err:
        raise UsageError(f"--contingency: {err}") from None
    books = Books.at(db_url, ledger)
    log = _Logged(books, "dp-monitoring", council, as_of, as_of, fmt)
    reading.export_dp_monitoring(books, council, as_of, held_weeks,
                                 contingency_pence, excel, mapping_file,
                                 log(_to(output, _format_checked(fmt, excel),
                                         "dp-monitoring")))
    log.done()


@export.command("contracts")
@_council_file_options(*_period())
def export_contracts(council: str, date_from: dt.date, date_to: dt.date, fmt: str,
                     output: Path | None, excel: bool, mapping_file: Path | None,
                     db_url: str | None, ledger: str) -> None:
    """Per contract and quarter: spend and hours against what was contracted (block
    utilisation, framework call-offs by service and rate, spot purchases, grants)."""
    books = Books.at(db_url, ledger)
    log = _Logged(books, "contracts", council, date_from, date_to, fmt)
    reading.export_contracts(books, council, date_from, date_to, excel,
                             mapping_file,
                             log(_to(output, _format_checked(fmt, excel), "contracts")))
    log.done()


@export.command("isf-returns")
@_council_file_options(click.option("--month", required=True, metavar="YYYY-MM",
                                    help="The month."))
def export_isf_returns(council: str, month: str, fmt: str, output: Path | None,
                       excel: bool,
                       mapping_file: Path | None, db_url: str | None, ledger: str) -> None:
    """Per ISF of the council's people, every provider: the month's hours and money
    allocated, delivered, expired and returned, opening and closing."""
    from ledger.core.calendar import month_bounds

    books = Books.at(db_url, ledger)
    month = _checked_month(month)
    log = _Logged(books, "isf-returns", council, *month_bounds(month), fmt)
    reading.export_isf_returns(books, council, month, excel, mapping_file,
                               log(_to(output, _format_checked(fmt, excel), "isf-returns")))
    log.done()
