"""`ledger statement`: holder, holders, pool, provider, council."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ledger.cli.common import (
    _checked_month,
    _date,
    _engine,
    _existing_ledger,
    _format_options,
    _output_option,
    _period,
    _statement_options,
    _variant,
    _write_document,
    db_option,
)
from ledger.errors import UsageError


@click.group()
def statement() -> None:
    """Statements for a budget holder, a pooling group, a provider or a council."""


@statement.command("holder")
@click.argument("holder")
@_statement_options
def statement_holder(holder: str, date_from, date_to, month, fmt: str, easy_read: bool,
                     large_print: bool, output: Path | None, db_url: str | None,
                     ledger: str) -> None:
    """What HOLDER had, received and spent in a period, and their personal budgets, in
    words. The person's recorded format (easy read, large print) is the default."""
    from ledger.reports.holder_doc import holder_document
    from ledger.reports.statements import holder_statement
    from ledger.store.repo import DbStore

    start, end = _period(date_from, date_to, month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        result = holder_statement(DbStore(conn, ledger), holder, start, end)
    variant = _variant(easy_read, large_print, result.get("statement_format"))
    _write_document(holder_document(result), result, fmt, variant, output)


@statement.command("holders")
@click.option("--council", default=None, metavar="C", help="Every person of council C.")
@click.option("--provider", default=None, metavar="P",
              help="Every person whose ISF provider P holds.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf"]), default="html",
              help="html (default), json or pdf.")
@click.option("--out", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The folder for the files (made if missing): one per person, HOLDER.EXT.")
@db_option
def statement_holders(council: str | None, provider: str | None, month: str, fmt: str,
                      out_dir: Path, db_url: str | None, ledger: str) -> None:
    """One statement file per person of a council or a provider, each in the person's
    recorded version (docs/statements.md#many)."""
    from ledger.progress import BulkProgress
    from ledger.reports.bulk import holders_for, write_holder_statements
    from ledger.store.repo import DbStore

    start, end = _period(None, None, month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        holders = holders_for(store, council=council, provider=provider, month_end=end)
        with BulkProgress(len(holders), "writing statements") as bar:
            written = write_holder_statements(store, holders, start, end, fmt, out_dir,
                                              progress=bar)
    click.echo(f"{written} statements written to {out_dir}")


@statement.command("pool")
@click.argument("pool")
@click.option("--member", default=None, metavar="H",
              help="A member's own copy: says how H appears to the others and marks "
                   "their rows; H's recorded format is the default.")
@_statement_options
def statement_pool(pool: str, member: str | None, date_from, date_to, month, fmt: str,
                   easy_read: bool, large_print: bool, output: Path | None,
                   db_url: str | None, ledger: str) -> None:
    """Who paid what for whom in POOL: each member's share, purchases and their split."""
    from ledger.reports.pool_doc import label_for, pool_document
    from ledger.reports.statements import pool_statement_from_store
    from ledger.store.repo import DbStore

    start, end = _period(date_from, date_to, month)
    preference = label = None
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        result = pool_statement_from_store(store, pool, start, end)
        if member is not None:
            parties = store.parties("holder", as_of=end)
            state = store.get_state("pool", pool) or {}
            if member not in parties or member not in {
                    p["holder"] for p in state.get("history", [])}:
                raise UsageError(f"--member {member}: not a member of pool {pool}")
            label = label_for(state, parties, member)
            preference = parties[member].get("statement_format")
    variant = _variant(easy_read, large_print, preference)
    try:
        document = pool_document(result, member_label=label)
    except ValueError as err:
        raise UsageError(f"--member {member}: {err}") from None
    _write_document(document, result, fmt, variant, output)


@statement.command("provider")
@click.argument("provider")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@_format_options
@_output_option
@db_option
def statement_provider(provider: str, month: str, fmt: str, easy_read: bool,
                       large_print: bool, output: Path | None, db_url: str | None,
                       ledger: str) -> None:
    """Every ISF that PROVIDER holds, for one month, in one document."""
    from ledger.reports.provider_statement import provider_document, provider_statement
    from ledger.store.repo import DbStore

    month = _checked_month(month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        if store.party("provider", provider) is None:
            raise UsageError(f"provider {provider!r} is not in this ledger")
        result = provider_statement(store, provider, month)
    _write_document(provider_document(result), result, fmt,
                    _variant(easy_read, large_print, None), output)


@statement.command("council")
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
    from ledger.reports.council_doc import council_document
    from ledger.reports.council_statement import council_statement
    from ledger.store.repo import DbStore

    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        if store.party("council", council) is None:
            raise UsageError(f"council {council!r} is not in this ledger")
        result = council_statement(store, council, date_from, date_to)
    _write_document(council_document(result), result, fmt,
                    _variant(easy_read, large_print, None), output)

