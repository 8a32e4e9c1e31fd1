"""`ledger scenario run`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ledger.cli.common import (
    _engine,
    _say,
    db_option,
)


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
    from contextlib import ExitStack

    from ledger.progress import BulkProgress
    from ledger.scenarios.runner import BATCH_EVENTS, run_scenario
    from ledger.scenarios.schema import ScenarioStream
    from ledger.store.repo import DbStore

    with ExitStack() as opened:
        # Every event of every file is read and checked before anything is written (exit
        # 2, nothing written); then each file is read again, a batch at a time, and
        # replayed on the batched path: one durable transaction per BATCH_EVENTS events
        # (docs/architecture.md#batches, #limits).
        streams = [(path, opened.enter_context(ScenarioStream(path))) for path in files]
        counts = [stream.check() for _, stream in streams]
        if dry_run:
            _dry_run(streams, db_url, ledger)
            return
        engine = _engine(db_url)
        for (path, stream), count in zip(streams, counts, strict=True):
            with BulkProgress(count, f"replaying {path.name}") as bar, \
                    engine.connect() as conn:
                store = DbStore(conn, ledger, batch=True)
                result = run_scenario(store, stream, source=str(path), progress=bar.advance,
                                      commit_every=BATCH_EVENTS)
                store.commit()
            _report_run(path, result)


def _dry_run(streams: list, db_url: str | None, ledger: str) -> None:
    """Every file replayed, in order, inside one transaction that is rolled back: each
    event is checked exactly as a real run would check it, and nothing is written
    (docs/scenarios.md#dry-run). A database that does not exist yet is not created: the
    files are checked against an empty ledger in memory."""
    from ledger.scenarios.runner import run_scenario
    from ledger.store.repo import DbStore
    from ledger.store.schema import database_url, make_engine, upgrade

    url = database_url(db_url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path is not None and not Path(path).is_file():
        engine = make_engine("sqlite://")
        upgrade(engine)
    else:
        engine = _engine(db_url)
    with engine.connect() as conn:
        store = DbStore(conn, ledger, batch=True)
        for source, stream in streams:
            result = run_scenario(store, stream, source=str(source))
            _report_run(source, result, dry=True)  # exits 1, rolling back, if it stopped
        conn.rollback()


def _report_run(path: Path, result, dry: bool = False) -> None:
    """One summary line per file; a run that stopped says where and exits 1."""
    journals = f"{result.journals} journal{'' if result.journals == 1 else 's'}"
    if dry:
        click.echo(f"{path}: dry run: {result.applied} would be applied, {result.skipped} "
                   f"already recorded, {result.rejected_as_expected} rejected as expected, "
                   f"{journals} would be posted; nothing was written")
    else:
        click.echo(
            f"{path}: {result.applied} applied, {result.skipped} already recorded, "
            f"{result.rejected_as_expected} rejected as expected, {journals} posted"
        )
    if result.failure:
        _say(result.failure)
        sys.exit(1)

