"""`ledger dp import-transactions`: a door onto `ledger.app.bank`."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli.common import _checked_month, _report_import, db_option


@click.group("dp")
def dp_group() -> None:
    """Direct payments: a budget holder's bank or card statement (docs/dp-statements.md)."""


@dp_group.command("import-transactions")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--holder", required=True, metavar="H", help="The budget holder's id.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="Column mapping and payee rules (docs/dp-statements.md#rules).")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="Refuse every line dated outside this month.")
@click.option("--dry-run", is_flag=True, help="Check and print what would be posted.")
@db_option
def dp_import_transactions(file: Path, holder: str, rules_file: Path | None,
                           month: str | None, dry_run: bool, db_url: str | None,
                           ledger: str) -> None:
    """Money out of the direct-payment account becomes dp_spend; money in is matched to
    the council payments and contributions recorded; anything it cannot place is listed
    and nothing is posted."""
    from ledger.app.bank import import_statement

    done = import_statement(db_url, ledger, file, holder, rules_file, dry_run,
                            _checked_month(month) if month is not None else None)
    _report_import(done, lambda e: f"would post a spend of £{e['amount']} to {e['payee']} "
                                   f"on {e['date']}",
                   f"{len(done.posted)} spends {'would be ' if dry_run else ''}posted, "
                   f"{done.already} already recorded, {done.matched} payments in matched")
