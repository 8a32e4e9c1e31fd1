"""`ledger export`: council finance files and Beancount."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import click

from ledger.cli.common import (
    _checked_month,
    _date,
    _engine,
    _excel_option,
    _existing_ledger,
    _output_option,
    _to_output,
    db_option,
)
from ledger.errors import LedgerError, UsageError


@click.group()
def export() -> None:
    """Files for other systems (docs/exports.md)."""


@export.command("beancount")
@_output_option
@db_option
def export_beancount(output: Path | None, db_url: str | None, ledger: str) -> None:
    """The whole ledger as a Beancount file: bean-check accepts it and its balances equal
    `ledger balance` (hours as the commodity MIN, in minutes)."""
    from ledger.reports.beancount import write_beancount

    with _engine(db_url, read_only=True).connect() as conn:
        lid = _existing_ledger(conn, ledger)
        _to_output(output, lambda out: write_beancount(conn, out, lid))


def _council_export(kind: str):
    """`ledger export gl|payments --council C --from DATE --to DATE` (docs/exports.md)."""

    @export.command(kind)
    @click.option("--council", required=True, metavar="C", help="The council's id.")
    @click.option("--from", "date_from", required=True, callback=_date,
                  help="First day (YYYY-MM-DD).")
    @click.option("--to", "date_to", required=True, callback=_date,
                  help="Last day, inclusive.")
    @_output_option
    @_excel_option
    @click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
                  help="Finance codes for accounts (docs/exports.md#mapping).")
    @db_option
    def command(council: str, date_from: dt.date, date_to: dt.date, output: Path | None,
                excel: bool, mapping_file: Path | None, db_url: str | None,
                ledger: str) -> None:
        from ledger.reports.council_exports import (
            check_mapped,
            rows_gl,
            rows_payments,
            write_gl,
            write_payments,
        )

        if date_to < date_from:
            raise UsageError(f"--to {date_to} is before --from {date_from}")
        write: Callable[..., int] = write_gl if kind == "gl" else write_payments
        mapping, where = _mapping(mapping_file)
        with _engine(db_url, read_only=True).connect() as conn:
            lid = _existing_ledger(conn, ledger)
            if mapping is not None:  # never a blank code: every unmapped account, no file
                rows = rows_gl if kind == "gl" else rows_payments
                check_mapped(mapping, where, rows(conn, lid, council, date_from, date_to))
            _to_output(output, lambda out: write(conn, lid, council, date_from, date_to, out,
                                                 excel, mapping))

    command.__doc__ = {
        "gl": "Every posting of each journal in the period that touches the council's "
              "accounts, for its general ledger.",
        "payments": "Each payment out of and recovery into the council's funding in the "
                    "period, and their total."}[kind]
    return command


export_gl = _council_export("gl")
export_payments = _council_export("payments")




def _mapping(path: Path | None) -> tuple:
    """(mapping, its name for errors) from `--mapping FILE`, or (None, "")."""
    from ledger.reports.council_exports import read_mapping

    return (read_mapping(path), str(path)) if path is not None else (None, "")


@export.command("dp-monitoring")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--as-of", "as_of", required=True, callback=_date, help="The day (YYYY-MM-DD).")
@click.option("--weeks", default="8", metavar="N",
              help="Weeks of support a person may hold before a review recovers the rest "
                   "(default 8).")
@click.option("--contingency", default="0", metavar="POUNDS",
              help="A contingency each person may also keep (default 0).")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_dp_monitoring(council: str, as_of: dt.date, weeks: str, contingency: str,
                         output: Path | None, excel: bool, mapping_file: Path | None,
                         db_url: str | None, ledger: str) -> None:
    """Every direct-payment account of the council's people on a day: balance, weeks of
    support held, and the surplus a review would recover, with its working. Posts
    nothing."""
    from fractions import Fraction

    from ledger.core.amounts import parse_pence
    from ledger.reports.council_exports import write_dp_monitoring
    from ledger.store.repo import DbStore

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
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_dp_monitoring(
            store, council, as_of, held_weeks, contingency_pence, out, excel, *mapping))


@export.command("contracts")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--from", "date_from", required=True, callback=_date, help="First day.")
@click.option("--to", "date_to", required=True, callback=_date, help="Last day, inclusive.")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_contracts(council: str, date_from: dt.date, date_to: dt.date,
                     output: Path | None, excel: bool, mapping_file: Path | None,
                     db_url: str | None, ledger: str) -> None:
    """Per contract and quarter: spend and hours against what was contracted (block
    utilisation, framework call-offs by service and rate, spot purchases, grants)."""
    from ledger.reports.council_exports import write_contracts
    from ledger.store.repo import DbStore

    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_contracts(store, council, date_from, date_to,
                                                       out, excel, *mapping))


@export.command("isf-returns")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_isf_returns(council: str, month: str, output: Path | None, excel: bool,
                       mapping_file: Path | None, db_url: str | None, ledger: str) -> None:
    """Per ISF of the council's people, every provider: the month's hours and money
    allocated, delivered, expired and returned, opening and closing."""
    from ledger.reports.council_exports import write_isf_returns
    from ledger.store.repo import DbStore

    month = _checked_month(month)
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_isf_returns(store, council, month, out, excel,
                                                         *mapping))

