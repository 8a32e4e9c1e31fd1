"""`ledger scenario run`: a door onto `ledger.app.scenarios`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ledger.cli.common import _say, db_option


@click.group()
def scenario() -> None:
    """Replay scenario files (the format: docs/scenarios.md)."""


@scenario.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Check every event against the ledger and say what would happen; "
                   "write nothing.")
@db_option
def scenario_run(files: tuple[Path, ...], db_url: str | None, ledger: str,
                 dry_run: bool = False) -> None:
    """Replay each FILE into the ledger; one summary line per file."""
    from ledger.app.scenarios import run_files
    from ledger.progress import BulkProgress

    runs = run_files(db_url, ledger, list(files), dry_run=dry_run, each=_report_run,
                     bar=lambda path, count: BulkProgress(count, f"replaying {path.name}"))
    if runs and runs[-1].failure:
        sys.exit(1)


def _report_run(run) -> None:
    """One summary line per file; a run that stopped says where."""
    journals = f"{run.journals} journal{'' if run.journals == 1 else 's'}"
    if run.dry_run:
        click.echo(f"{run.path}: dry run: {run.applied} would be applied, {run.skipped} "
                   f"already recorded, {run.rejected_as_expected} rejected as expected, "
                   f"{journals} would be posted; nothing was written")
    else:
        click.echo(f"{run.path}: {run.applied} applied, {run.skipped} already recorded, "
                   f"{run.rejected_as_expected} rejected as expected, {journals} posted")
    if run.failure:
        _say(run.failure)
