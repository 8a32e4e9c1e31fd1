"""A progress bar for bulk work (replay, and the imports and payment runs to come): shown
on a terminal only, and only once the work has run for more than a second, with the rate
and what remains; nothing at all when the output is a file or a pipe (docs/architecture.md
#progress)."""

from __future__ import annotations

import os
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

# Work shorter than this shows nothing (LEDGER_PROGRESS_AFTER_S overrides it, for tests).
SHOW_AFTER_S = float(os.environ.get("LEDGER_PROGRESS_AFTER_S", "1.0"))


class _Rate(ProgressColumn):
    """Events a second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} events/s")


class BulkProgress:
    """`with BulkProgress(total, "replaying x.yaml") as bar: bar.advance()` per item."""

    def __init__(self, total: int, what: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal and total > 0
        self.total = total
        self.what = what
        self.started = time.monotonic()
        self.done = 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> BulkProgress:
        return self

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._progress is None:
            if time.monotonic() - self.started < SHOW_AFTER_S:
                return
            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                _Rate(), TimeRemainingColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task(self.what, total=self.total,
                                                 completed=self.done)
            return
        assert self._task is not None
        self._progress.update(self._task, completed=self.done)

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
