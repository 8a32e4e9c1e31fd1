"""Statements already built, kept for the next reader who may read the same one
(docs/web.md#cache): the web view's cache, one per process.

A statement is a function of what it is (kind, id, period), of what the reader's roles
let them see of it (`Scope.key`: the roles decide whether they may read it for that
period and, for a pool, whose own copy it is) and of the books. The books are named by
their chain head (the ledger row's event and journal heads): every write to the books
moves it, so a new journal is a new key and a miss. The audit chain is not part of it:
reading a statement appends an access-log record there, and that must not throw away
what was built. So a closed month is built once per reader scope, however often it is
read, until the books change.

The head is read before anything else of the statement, in the same connection: what is
built is then at least as new as its key says, never older (a write landing in between
makes an entry a little newer than its key, which only the requests that read that same
head can be given).

Only what was given is kept (a refusal is never cached: it is worked out again), and
every read of a cached statement is still recorded in the access log by
`ledger.app.statements.statement`, which is the only caller. The cache holds at most
`size` statements and forgets the least recently read first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from sqlalchemy import select

from ledger.store import models as m

SIZE = 512  # statements per process; a built month's document is tens of kilobytes


def books_head(store) -> tuple[int, str, str]:
    """The books' chain head: the last event record's place and hash, and the last
    journal's hash. Any write to the books (an event, a journal) moves it."""
    row = store.conn.execute(select(m.Ledger.event_seq, m.Ledger.event_hash,
                                    m.Ledger.journal_hash)
                             .where(m.Ledger.id == store.lid)).one()
    return (row.event_seq, row.event_hash, row.journal_hash)


class StatementCache:
    """A bounded least-recently-read map from a statement's key to what was built for
    it; safe to share between the threads of one process."""

    def __init__(self, size: int = SIZE) -> None:
        if size < 1:
            raise ValueError("a statement cache holds at least one statement")
        self.size = size
        self._kept: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: Hashable):
        with self._lock:
            found = self._kept.get(key)
            if found is None:
                self.misses += 1
                return None
            self._kept.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._kept[key] = value
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def __len__(self) -> int:
        return len(self._kept)


__all__ = ["SIZE", "StatementCache", "books_head"]
