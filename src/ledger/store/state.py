"""What one `DbStore` (store/repo.py) holds between its calls: the ledger's id, the heads
of its chains, what it has read and what a batch keeps. Its parts (store/reads.py,
store/prefetch.py, store/writer.py) share this one object: a write keeps the reads'
caches true, and a refused write clears them all."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from ledger.core.amounts import Unit
from ledger.core.change import Change
from ledger.core.journal import Journal

UNKNOWN = object()


class StoreState:
    """The attributes every part of a `DbStore` reads and writes: `DbStore.__init__` sets
    the first ones, `_reset_caches` and `_forget_pending` the rest."""

    conn: Connection
    ledger: str
    batch: bool
    postgres: bool
    _id: int | None
    _locked: bool
    _posted_since_analyze: int
    _distributed: bool | None
    _flush_every: int

    def _reset_caches(self) -> None:
        # The heads and the ledger's id are read again under the lock on the next write.
        self._locked = False
        self._id = None
        self._account_ids: dict[str, int] = {}
        self._balance_rows: set[tuple[int, str]] = set()
        self._balance_units_read: set[int] = set()  # accounts whose balance rows are known
        self._floors: dict[tuple[str, Unit], int | None] = {}
        self._parties: dict[tuple[str, str], list[tuple[dt.date | None, dict]]] = {}
        self._lock: object = UNKNOWN
        self._last_hash: str | None = None
        self._last_record: tuple[int, str] | None = None
        self._states: dict[tuple[str, str], dict | None] = {}
        self._balances: dict[tuple[str, Unit], int] = {}
        self._moves: dict[tuple[str, Unit], list] = {}  # [from day, opening, {date: total}]
        self._event_hashes: dict[str, str | None] = {}
        self._opened: dict[str, list[list]] = defaultdict(list)  # record key -> accounts
        self._hashes: dict[int, tuple[Journal, str]] = {}  # id -> (journal, payload hash)
        # PostgreSQL: what _post and _records made, for _move_head's one call.
        self._unsent_journals: tuple[list[dict], list[tuple]] = ([], [])
        self._unsent_records: list[dict] = []
        self._forget_pending()

    def _forget_pending(self) -> None:
        self._pending: list[Change] = []
        self._pend_balance: dict[tuple[str, Unit], int] = defaultdict(int)
        self._pend_moves: dict[tuple[str, Unit], list[tuple[dt.date, int]]] = defaultdict(list)
        self._pend_states: dict[tuple[str, str], dict] = {}
        self._pend_events: dict[str, str] = {}
        self._pend_journals: dict[str, str] = {}
        self._pend_parties = False

    if TYPE_CHECKING:  # what one part calls of another (each is defined once, in its part)
        @property
        def lid(self) -> int: ...  # store/reads.py

        def event_hash(self, key: str) -> str | None: ...  # store/reads.py

        def _posted(self, journals: list[Journal]) -> None: ...  # store/reads.py

        def prefetch_events(self, keys: list[str]) -> None: ...  # store/prefetch.py

        def flush(self) -> None: ...  # store/writer.py
