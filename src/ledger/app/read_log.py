"""The reads of many requests written to the access log together (docs/web.md#cache).

Every statement read is a record of the ledger's audit chain, written and committed
before the statement is handed over (ledger.app.access_log). The chain has one order, so
its appends take the ledger's audit lock in turn, each until its commit: under load,
every page of every worker queued for that lock and the commit's flush to disk (in the
profile of 50 readers on PostgreSQL, a fifth of the server's samples were waiting in
`audit.lock`). `ReadLog` is a group commit for one process: a request's reads join a
queue; one request at a time writes everything queued, in one transaction (one lock,
one commit), while the next ones queue behind it. Each request still returns only once
its own reads are committed, and a batch that cannot be written fails for each of its
requests as its own write would have (`access_log.not_written`: a strict reader's page
is refused).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ledger.app import access_log
from ledger.app.access_log import Read, Who


class _Entry:
    __slots__ = ("books", "who", "reads", "done", "error")

    def __init__(self, books, who: Who, reads: list[Read]) -> None:
        self.books, self.who, self.reads = books, who, reads
        self.done = False
        self.error: BaseException | None = None


class ReadLog:
    """`record(books, who, reads)`, as `access_log.record` answers it, for the threads
    of one process: True when written, False or `NotRecorded` when not."""

    def __init__(self) -> None:
        self._turn = threading.Condition()
        self._queue: list[_Entry] = []
        self._writing = False
        self.batches = self.written = 0

    def record(self, books, who: Who, reads: Iterable[Read]) -> bool:
        entry = _Entry(books, who, list(reads))
        if not entry.reads:
            return True
        with self._turn:
            self._queue.append(entry)
            while self._writing and not entry.done:
                self._turn.wait()
            if not entry.done:  # this request writes what is queued for its books
                self._writing = True
                batch = [e for e in self._queue if e.books is books]
                self._queue = [e for e in self._queue if e.books is not books]
        if not entry.done:
            error: BaseException | None = None
            try:
                access_log.write_reads(books, [(e.who, read) for e in batch for read in e.reads])
            except BaseException as err:  # noqa: BLE001 - each request answers for its own
                error = err
            with self._turn:
                for e in batch:
                    e.error, e.done = error, True
                self.batches += 1
                self.written += len(batch)
                self._writing = False
                self._turn.notify_all()
        if entry.error is None:
            return True
        if isinstance(entry.error, access_log.write_errors()):
            return access_log.not_written(who, entry.error)
        raise entry.error


__all__ = ["ReadLog"]
