"""The database backend: the reads a handler needs, and the one write path.

One `DbStore` works in one ledger (docs/architecture.md#ledgers) on one connection, inside
a transaction the caller owns. It is one object made of parts, which share its caches
(store/state.py):
- the reads (store/reads.py): balances, floors, states, parties, journals;
- the prefetches (store/prefetch.py): the same reads for many keys at once, for an
  importer or a replay;
- the write path (store/writer.py): every write goes through `_write`, a few set-based
  statements per list of events' changes;
- and the statements they run, built once (store/sql.py).

Two ways to use it:
- `DbStore(conn)`: `apply` writes each event at once, inside a savepoint, so a rejection
  leaves no trace;
- `DbStore(conn, batch=True)`: the batched path (docs/architecture.md#batches). `apply`
  keeps the change in memory and the reads see it (an overlay on what is stored); `flush`
  writes every kept change in one savepoint. If the database refuses a batch, the batch
  is written again event by event, so the refusal is put down to its event and every
  event before it is kept (`BatchRefused`).

Every name other modules take from here is still here: the helpers are re-exported from
the part that defines them.
"""

from __future__ import annotations

from sqlalchemy import Connection

from ledger.store.prefetch import Prefetcher
from ledger.store.reads import Reader, ledger_id_of, ledger_names
from ledger.store.sql import SEAL_CHUNK
from ledger.store.writer import (
    ANALYZE_AFTER,
    PARTY_RECORD_DATE,
    BatchRefused,
    Writer,
    account_holder,
    journal_from_json,
    journal_json,
    party_key,
    translate_db_error,
)

DEFAULT_LEDGER = "main"
FLUSH_EVERY = 2000  # kept changes before a batched store writes them


class DbStore(Reader, Prefetcher, Writer):
    """Lives for one transaction (or, batched, for a run of them: `commit`). It caches
    what it has read (account ids, floors, parties, states, balances, the period lock, the
    chain heads); a refused write clears them all, since its savepoint rolled back
    whatever they had learned inside it."""

    def __init__(self, conn: Connection, ledger: str = DEFAULT_LEDGER,
                 batch: bool = False) -> None:
        self.conn = conn
        self.ledger = ledger
        self.batch = batch
        self.postgres = conn.dialect.name == "postgresql"
        self._id: int | None = None
        self._locked = False
        self._posted_since_analyze = 0
        self._distributed: bool | None = None  # journal spread over machines (Citus)
        self._flush_every = FLUSH_EVERY  # read when the store is made: a test lowers it
        self._reset_caches()


__all__ = ["ANALYZE_AFTER", "DEFAULT_LEDGER", "FLUSH_EVERY", "PARTY_RECORD_DATE", "SEAL_CHUNK",
           "BatchRefused", "DbStore", "account_holder", "journal_from_json", "journal_json",
           "ledger_id_of", "ledger_names", "party_key", "translate_db_error"]
