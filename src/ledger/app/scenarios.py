"""Replaying scenario files (docs/scenarios.md): every event of every file is read and
checked before anything is written (a file that cannot be read: exit 2, nothing written);
then each file is submitted per event, on the batched path, one durable transaction per
BATCH_EVENTS events (docs/architecture.md#batches). A run stops at the first file that
stops; the files before it stay replayed.

A dry run replays every file, in order, inside one transaction that is rolled back, so
each event is checked exactly as a real run would check it (docs/scenarios.md#dry-run).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path

from ledger.app import db
from ledger.app.events import shown
from ledger.app.submit import BATCH_EVENTS, Outcome, Refusal, apply_all, rollback, submit
from ledger.core.change import Backend
from ledger.core.items import Declare
from ledger.core.text import text_problem
from ledger.domain.base import HANDLERS
from ledger.scenarios.runner import scenario_items
from ledger.scenarios.schema import ScenarioFile, ScenarioStream


@dataclass
class FileRun:
    path: Path
    applied: int
    skipped: int
    rejected_as_expected: int
    journals: int
    failure: str | None  # where and why the file stopped (exit status 1)
    dry_run: bool = False

    @classmethod
    def of(cls, path: Path, done: Outcome, dry_run: bool) -> FileRun:
        failure = failure_text(done.refusals[0]) if done.refusals else None
        return cls(path, done.applied, done.skipped, done.rejected_as_expected,
                   done.journals, failure, dry_run)


# A progress display for one file: `bar(path, events)` is a context manager whose
# `advance()` is called after each event.
Bar = Callable[[Path, int], AbstractContextManager]


def run_files(db_url: str | None, ledger: str, paths: list[Path], *, dry_run: bool = False,
              bar: Bar | None = None, each: Callable[[FileRun], None] | None = None
              ) -> list[FileRun]:
    """Replay each file into the ledger; `each` hears of every file as it is done. Returns
    every file's run, the last one stopped if any did."""
    runs: list[FileRun] = []
    with ExitStack() as opened:
        streams = [(path, opened.enter_context(ScenarioStream(path))) for path in paths]
        counts = [stream.check() for _, stream in streams]
        if dry_run:
            with db.dry_running(db_url, ledger) as store:
                try:
                    for path, stream in streams:
                        done = apply_all(store, scenario_items(stream, str(path)))
                        runs.append(_heard(FileRun.of(path, done, True), each))
                        if not done.ok:
                            break
                finally:
                    rollback(store)
            return runs
        for (path, stream), count in zip(streams, counts, strict=True):
            with (bar(path, count) if bar else nullcontext()) as shown, \
                    db.writing(db_url, ledger) as store:
                done = submit(store, scenario_items(stream, str(path)), atomic=False,
                              commit_every=BATCH_EVENTS,
                              progress=(lambda _i, _s: shown.advance()) if shown else None)
            runs.append(_heard(FileRun.of(path, done, False), each))
            if not done.ok:
                break
    return runs


def _heard(run: FileRun, each: Callable[[FileRun], None] | None) -> FileRun:
    if each is not None:
        each(run)
    return run


@dataclass
class RunResult:
    applied: int = 0
    skipped: int = 0
    rejected_as_expected: int = 0
    journals: int = 0
    failure: str | None = None  # set when the run stopped (exit status 1)


def failure_text(refusal: Refusal) -> str:
    """Where a scenario stopped and why: `FILE:LINE: event N (id K, TYPE): code: reason`."""
    item = refusal.item
    if isinstance(item, Declare):
        return f"{item.source}: {refusal.reason}" if item.source else refusal.reason
    where = "" if item.line is None else f"{item.where()}: "
    kind = item.event.get("type", "?")
    kind = kind if isinstance(kind, str) and kind in HANDLERS else shown(kind)
    key = item.key if len(item.key) <= 80 and not text_problem(item.key) else shown(item.key)
    return f"{where}event {item.index} (id {key}, {kind}): {refusal.reason}"


def run_scenario(backend: Backend, scenario: ScenarioFile | ScenarioStream, source: str = "",
                 progress: Callable[[], None] | None = None,
                 commit_every: int | None = None) -> RunResult:
    """Replay every event; stops at the first unexpected rejection (events before it stay
    applied). The caller owns the transaction; with `commit_every`, the backend commits
    after every that many events (docs/architecture.md#batches). `progress` is called
    after each event."""
    done = apply_all(backend, scenario_items(scenario, source), commit_every=commit_every,
                     progress=None if progress is None else lambda _item, _status: progress())
    return RunResult(done.applied, done.skipped, done.rejected_as_expected, done.journals,
                     failure_text(done.refusals[0]) if done.refusals else None)


__all__ = ["BATCH_EVENTS", "FileRun", "RunResult", "failure_text", "run_files", "run_scenario"]
