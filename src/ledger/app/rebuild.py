"""Rebuild everything an event log implies and compare it with what is stored
(docs/rules-trust.md#verify).

Every record in the chain keeps the event as written and the rules version it was
recorded under. Replaying the records, in chain order, into the in-memory backend, each
under its own rules version, gives the journals, instrument
state (ISF lots, schedules, pool membership, award totals, rate cards), party records,
floors and period lock the ledger must hold. Anything stored that differs (a memo edited,
a lot changed, a journal appended or deleted, a consent switched on by hand) is a break.

A checkpoint (ledger/store/checkpoint.py, docs/rules-trust.md#checkpoints) is a record
holding the state the replay had rebuilt after the record before it: a full replay
checks it against its own state when it reaches it, and `replay(since=...)` starts from
the newest one and replays only the records after it (`SinceCheckpoint`), reading the
dated history before it (postings, journal and event keys) from the stored chain.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, Date, bindparam, func, select, text

from ledger.app.events import EventFailed, apply_event
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal
from ledger.domain.floors import default_floor
from ledger.errors import LedgerError
from ledger.store import models as m
from ledger.store.checkpoint import CHECKPOINT_TYPE, Checkpoint, day
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore, journal_from_json, ledger_id_of

STREAM_CHUNK = 5000  # stored journals read at a time when comparing
_JOURNAL_HASHES = text("SELECT id, key, event_key, payload_hash, memo, hash FROM journal"
                       " WHERE ledger_id = :lid AND status = 'posted' AND id > :after"
                       " ORDER BY id")
_RECORDS_SQL = ("SELECT seq, key, type, date, payload_hash, payload, outcome, rules_version"
                " FROM event WHERE ledger_id = :lid AND seq > :after ORDER BY seq")
# The dated history up to a checkpoint, read from the stored chain (SinceCheckpoint).
_PRIOR_MOVES = text(
    "SELECT p.date, SUM(p.amount_minor) FROM posting p"
    " JOIN account a ON a.ledger_id = p.ledger_id AND a.id = p.account_id"
    " WHERE p.ledger_id = :lid AND a.ledger_id = :lid AND a.path = :path AND p.unit = :unit"
    " AND p.date >= :day"
    " AND p.journal_id <= :upto GROUP BY p.date").bindparams(bindparam("day", type_=Date()))
# Since a checkpoint: the dated movements before it, from the first date the records after
# it are dated, for every account at once (instead of a query per account).
_PRIOR_MOVES_ALL = text(
    "SELECT a.path, p.unit, p.date, SUM(p.amount_minor) FROM posting p"
    " JOIN account a ON a.ledger_id = p.ledger_id AND a.id = p.account_id"
    " WHERE p.ledger_id = :lid AND a.ledger_id = :lid AND p.date >= :day"
    " AND p.journal_id <= :upto GROUP BY a.path, p.unit, p.date"
).bindparams(bindparam("day", type_=Date()))
_FIRST_DATE_AFTER = text("SELECT MIN(date) FROM event WHERE ledger_id = :lid AND seq > :seq")
_PRIOR_JOURNALS = text(
    "SELECT key, payload_hash FROM journal WHERE ledger_id = :lid AND id <= :upto"
    " AND key IN :keys").bindparams(bindparam("keys", expanding=True))
_PRIOR_EVENT = text("SELECT payload_hash FROM event WHERE ledger_id = :lid AND key = :key"
                    " AND seq <= :upto")
# What is stored after a checkpoint, read once (a month's keys, not the ledger's): a key
# there is answered from memory, since keys are unique in a ledger; a key stored both
# before and after the checkpoint (which the unique keys never let happen) is asked of
# the stored chain like any other.
_LATER_JOURNALS = text("SELECT key, id, payload_hash FROM journal WHERE ledger_id = :lid"
                       " AND id > :upto")
_LATER_EVENTS = text("SELECT key, seq, payload_hash FROM event WHERE ledger_id = :lid"
                     " AND seq > :upto")
_KEYS_ON_BOTH_SIDES = text(
    "SELECT j.key FROM journal j WHERE j.ledger_id = :lid AND j.id <= :upto AND j.key IN"
    " (SELECT key FROM journal WHERE ledger_id = :lid AND id > :upto)"
    " UNION SELECT e.key FROM event e WHERE e.ledger_id = :lid AND e.seq <= :seq AND e.key IN"
    " (SELECT key FROM event WHERE ledger_id = :lid AND seq > :seq)")
_PARTY_RECORDS = text("SELECT kind, id, data FROM party_record WHERE ledger_id = :lid"
                      " ORDER BY kind, id, valid_from IS NOT NULL, valid_from, seq")
_PRIOR_REVERSED = text(
    "SELECT 1 FROM journal r JOIN journal o ON o.ledger_id = r.ledger_id AND o.id = r.reverses_id"
    " WHERE r.ledger_id = :lid AND o.ledger_id = :lid AND o.key = :key AND r.id <= :upto")


def _normal(value: object) -> object:
    """A value as it reads back from its stored JSON text."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _journal_row(j: Journal) -> tuple:
    return (j.type, j.date.isoformat(), j.event_key, j.holder, j.reverses_key,
            _normal(j.memo), sorted([p.account, p.unit.value, p.amount_minor]
                                    for p in j.postings))


class NotReplayable(Exception):
    """Records made before events kept their text (schema revision 0001)."""


def _lid(conn: Connection, ledger: str) -> int:
    found = ledger_id_of(conn, ledger)
    return -1 if found is None else found


class _Seen:
    """A set of keys in a fixed amount of memory (a Bloom filter, 2 MiB): `maybe(key)` is
    True for every key added, and for about one other key in several thousand. The replay
    asks the stored chain whenever it says maybe, so its answers are exact while its
    memory does not grow with the ledger's journals and records."""

    BITS = 1 << 24

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)

    @staticmethod
    def _places(key: str) -> tuple[int, int, int]:
        h = hash(key) & 0xFFFFFFFFFFFFFFFF
        g = hash((key, 1)) & 0xFFFFFFFFFFFFFFFF
        mask = _Seen.BITS - 1
        return h & mask, (h >> 32) & mask, g & mask

    def add(self, key: str) -> None:
        bits = self.bits
        for i in self._places(key):
            bits[i >> 3] |= 1 << (i & 7)

    def maybe(self, key: str) -> bool:
        bits = self.bits
        return all(bits[i >> 3] & (1 << (i & 7)) for i in self._places(key))


HISTORY_DAYS = 92  # dated movements kept in memory behind the newest date replayed
PRUNE_EVERY = 2000  # records between two trims of what is kept


class LeanReplay(MemoryBackend):
    """The in-memory backend as `verify` replays into it, in memory that does not grow with
    the ledger's history (docs/rules-trust.md#verify):

    - each journal an event posts is compared at once with the next stored journal
      (streamed in chain order: every writer here writes a record's journals together, in
      order); nothing of it is kept, so the stored chain up to the last journal compared
      is exactly what the replay posted, and the replay reads its history from there;
    - each account keeps its balance and its dated movements of the last HISTORY_DAYS
      before the newest date replayed (older ones folded into an opening balance); a
      handler asking about an earlier date has the movements read from the stored
      postings of the journals compared so far;
    - journal and event keys go into a fixed-size filter; a key it may hold is looked up
      in the stored chain, up to the journal compared last and the record before the one
      being replayed.

    With `since` (a checkpoint), it starts from the checkpoint's state, and everything
    before the checkpoint is read from the stored chain the same way."""

    def __init__(self, store: DbStore, since: Checkpoint | None = None) -> None:
        super().__init__()
        self.store = store
        self.problem: str | None = None
        self.compared = since.journals if since else 0  # journals compared
        self.upto = since.journal_id if since else 0  # id of the last journal compared
        self.last: tuple[str | None, str | None] = tuple(since.state["journal"]) if since \
            else (None, None)
        self.seq = since.seq if since else 0  # the record being replayed
        self.replayed = 0  # records replayed
        self.newest: dt.date | None = None
        self._prior = since is not None  # keys before the checkpoint are not in the filters
        self._later_journals: dict[str, tuple[int, str]] = {}
        self._later_events: dict[str, tuple[int, str]] = {}
        self._both: set[str] = set()
        self._journal_keys = _Seen()
        self._event_keys = _Seen()
        self._kept: dict[tuple[str, Unit], list] = {}  # [from day, opening, {date: total}]
        self._stored = iter(store.conn.execute(
            _JOURNAL_HASHES.execution_options(yield_per=STREAM_CHUNK),
            {"lid": store.lid, "after": self.upto}))
        if since is not None:
            params = {"lid": store.lid, "upto": since.journal_id, "seq": since.seq}
            self._later_journals = {k: (i, h) for k, i, h in store.conn.execute(
                _LATER_JOURNALS, params)}
            self._later_events = {k: (i, h) for k, i, h in store.conn.execute(
                _LATER_EVENTS, {"lid": store.lid, "upto": since.seq})}
            self._both = set(store.conn.execute(_KEYS_ON_BOTH_SIDES, params).scalars())
        if since is not None:
            self._load(since.state)
            self._prefetch_moves(store, since)

    def _prefetch_moves(self, store: DbStore, since: Checkpoint) -> None:
        """Every account's movements before the checkpoint from the first date of the
        records after it (earlier dates are still read when asked, one account at a
        time)."""
        first = store.conn.execute(_FIRST_DATE_AFTER, {"lid": store.lid, "seq": since.seq}
                                   ).scalar_one_or_none()
        if first is None:
            return
        first = day(first)
        moves: dict[tuple[str, Unit], dict[dt.date, int]] = {}
        for path, unit, date, total in store.conn.execute(_PRIOR_MOVES_ALL, {
                "lid": store.lid, "day": first, "upto": since.journal_id}):
            moves.setdefault((path, Unit(unit)), {})[day(date)] = int(total)
        for pair, amount in self.balances.items():
            rows = moves.get(pair, {})
            self._kept[pair] = [first, amount - sum(rows.values()), rows]

    # -- the checkpoint's state in, and the replay's state out
    def _load(self, state: dict) -> None:
        for account, unit, amount in state["balances"]:
            self.balances[(account, Unit(unit))] = amount
        for account, unit, floor in state["floors"]:
            self.floors[(account, Unit(unit))] = floor
        for kind, ref, data in state["states"]:
            self.states[(kind, ref)] = data
        for kind, party_id, versions in state["parties"]:
            self.party_versions[(kind, party_id)] = [
                (None if since is None else day(since), record) for since, record in versions]
        self.lock = day(state["lock"]) if state["lock"] is not None else None

    def snapshot(self, after: int) -> dict:
        """The state a checkpoint after record `after` holds (ledger/store/checkpoint.py),
        as it reads back from its JSON text."""
        return _normal({
            "after": after, "journals": self.compared, "journal": list(self.last),
            "balances": sorted([a, u.value, n] for (a, u), n in self.balances.items()),
            "floors": sorted([a, u.value, f] for (a, u), f in self.floors.items()),
            "states": sorted([k, r, d] for (k, r), d in self.states.items()),
            "parties": sorted([k, i, [[since, record] for since, record in versions]]
                              for (k, i), versions in self.party_versions.items()),
            "lock": self.lock})  # type: ignore[return-value]

    # -- reads: what is kept, else the stored chain up to what was compared
    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        opening, _ = self._from(account, unit, as_of + dt.timedelta(days=1))
        return opening

    def balance_moves_from(self, account: str, unit: Unit, day_: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        opening, later = self._from(account, unit, day_)
        return opening, sorted(later.items())

    def _from(self, account: str, unit: Unit, day_: dt.date) -> tuple[int, dict]:
        kept = self._kept.get((account, unit))
        if kept is None or day_ < kept[0]:
            rows = {day(d): int(n) for d, n in self.store.conn.execute(_PRIOR_MOVES, {
                "lid": self.store.lid, "path": account, "unit": unit.value, "day": day_,
                "upto": self.upto})}
            kept = [day_, self.balances.get((account, unit), 0) - sum(rows.values()), rows]
            self._kept[(account, unit)] = kept
        _, opening, moves = kept
        opening += sum(n for d, n in moves.items() if d < day_)
        return opening, {d: n for d, n in moves.items() if d >= day_}

    def get_state(self, kind: str, ref: str) -> dict | None:
        # Not copied: the handler's context (domain/base.py: Ctx.state) copies what it
        # reads, and what a change holds is a copy already (Ctx.set_state), so the
        # replay never shares a state with a handler.
        return self.states.get((kind, ref))

    def journal_hash(self, key: str) -> str | None:
        return self._prior_journals([key]).get(key)

    def _prior_journals(self, keys: list[str]) -> dict[str, str]:
        """The payload hash of each of these keys among the journals compared so far."""
        found: dict[str, str] = {}
        ask = []
        for key in keys:
            later = self._later_journals.get(key)
            if later is not None and key not in self._both:
                if later[0] <= self.upto:
                    found[key] = later[1]
            elif self._prior or self._journal_keys.maybe(key):
                ask.append(key)
        if ask:
            found.update(self.store.conn.execute(_PRIOR_JOURNALS, {
                "lid": self.store.lid, "upto": self.upto, "keys": ask}).all())
        return found

    def event_hash(self, key: str) -> str | None:
        later = self._later_events.get(key)
        if later is not None and key not in self._both:
            return later[1] if later[0] < self.seq else None
        if not self._prior and not self._event_keys.maybe(key):
            return None
        return self.store.conn.execute(_PRIOR_EVENT, {
            "lid": self.store.lid, "key": key, "upto": self.seq - 1}).scalar_one_or_none()

    def is_reversed(self, journal_key: str) -> bool:
        return journal_key in self.reversed or (self._prior and self.store.conn.execute(
            _PRIOR_REVERSED, {"lid": self.store.lid, "key": journal_key, "upto": self.upto}
        ).first() is not None)

    def journals_for_event(self, event_key: str) -> list[Journal]:
        return self.store.load_journals(m.Journal.event_key == event_key)

    # -- writes: MemoryBackend.apply's refusals, against the stored chain for history
    def apply(self, change: Change) -> None:
        journals = change.journals
        earlier = self._prior_journals([j.key for j in journals]) if journals else {}
        for j in journals:
            if j.key in earlier:
                continue  # a replay, compared below
            if self.lock is not None and j.date <= self.lock:
                raise LedgerError("period_closed", f"{j.date} is in a closed period "
                                                   f"(closed up to {self.lock})")
            if j.reverses_key and self.is_reversed(j.reverses_key):
                raise LedgerError("invalid", f"journal {j.reverses_key} is already reversed")
        if self.event_hash(change.event.key) is not None:
            raise LedgerError("duplicate_conflict", f"event {change.event.key} is recorded")
        for j in journals:
            if j.key in earlier and earlier[j.key] != j.payload_hash():
                raise LedgerError("duplicate_conflict", f"journal {j.key} differs")
        for j in journals:
            if j.key in earlier:
                continue
            self._compare(j)
            self._journal_keys.add(j.key)
            if j.reverses_key:
                self.reversed.add(j.reverses_key)
            for p in j.postings:
                pair = (p.account, p.unit)
                self.balances[pair] += p.amount_minor
                kept = self._kept.get(pair)
                if kept is None:
                    if self._prior:
                        continue  # read from the stored chain when asked
                    kept = self._kept[pair] = [dt.date.min, 0, {}]
                if j.date >= kept[0]:
                    kept[2][j.date] = kept[2].get(j.date, 0) + p.amount_minor
                else:
                    kept[1] += p.amount_minor
            if self.newest is None or j.date > self.newest:
                self.newest = j.date
        self.floors.update(change.floors)
        self.states.update(change.states)  # copies already (see get_state)
        self._apply_parties_and_lock(change)
        self._event_keys.add(change.event.key)

    def trim(self) -> None:
        """Fold the movements older than HISTORY_DAYS behind the newest date into each
        account's opening balance."""
        if self.newest is None:
            return
        horizon = self.newest - dt.timedelta(days=HISTORY_DAYS)
        for kept in self._kept.values():
            if kept[0] < horizon:
                old = [d for d in kept[2] if d < horizon]
                kept[1] += sum(kept[2].pop(d) for d in old)
                kept[0] = horizon

    def _compare(self, j: Journal) -> None:
        if self.problem is not None:
            return
        row = next(self._stored, None)
        if row is None:
            self.problem = f"journal {j.key} is missing: a recorded event posts it"
            return
        journal_id, key, event_key, payload_hash, memo, link = row
        if key != j.key:
            self.problem = (f"journal {key} is stored where the recorded events post "
                            f"{j.key}")
        elif (event_key, payload_hash) != (j.event_key, j.payload_hash()) or (
                # the memo's text as the writer stores it, else its value as it reads back
                memo != json.dumps(j.memo, sort_keys=True, default=str)
                and json.loads(memo) != _normal(j.memo)):
            self.problem = f"journal {key} differs from what its event posts"
        else:
            self.compared += 1
            self.upto = journal_id
            self.last = (key, link)

    def finish(self) -> str | None:
        """The first difference, or a stored journal no recorded event posts."""
        if self.problem is None:
            extra = next(self._stored, None)
            if extra is not None:
                self.problem = f"journal {extra[1]} is stored but no recorded event posts it"
        return self.problem


def replay(conn: Connection, ledger: str = "main", lean: bool = False,
           since: Checkpoint | None = None) -> tuple[MemoryBackend | None, str | None]:
    """Replay every record of one ledger (or, `since` a checkpoint, every record after it)
    into an in-memory ledger. Returns it, or a break. `lean`: compare the journals as
    they are posted instead of keeping them (always so `since` a checkpoint)."""
    store = DbStore(conn, ledger)
    memory: MemoryBackend = LeanReplay(store, since) if lean or since else MemoryBackend()
    lean_memory = memory if isinstance(memory, LeanReplay) else None
    for seq, key, type_, date, payload_hash, payload, outcome, version in conn.execute(
            text(_RECORDS_SQL).execution_options(yield_per=5000),
            {"lid": _lid(conn, ledger), "after": since.seq if since else 0}):
        where = f"record {seq} ({key})"
        if lean_memory is not None:
            if lean_memory.problem is not None:
                return None, lean_memory.problem  # the first break, before what follows it
            lean_memory.seq = seq
            lean_memory.replayed += 1
            if lean_memory.replayed % PRUNE_EVERY == 0:
                lean_memory.trim()
        if payload is None:
            raise NotReplayable(f"{where} and any like it were recorded before events kept "
                                "their text, so the instrument state was not rebuilt")
        record = EventRecord(key, type_, day(date), payload_hash, payload=payload,
                             rules_version=version)
        data = json.loads(payload)
        if type_ == CHECKPOINT_TYPE:
            problem = _checkpoint_break(memory, data, seq, where)
            if problem is not None:
                return None, problem
            continue
        if type_ == "party":
            memory.add_parties([data])
            continue
        if type_ == "journals":
            memory.apply(Change(record, journals=[journal_from_json(j) for j in data]))
            continue
        try:
            # Under the rules it was recorded with (docs/rules-trust.md#rules-versions).
            result, _ = apply_event(memory, data, key, rules_version=version)
        except EventFailed as err:
            return None, f"{where}: replaying it now fails ({err})"
        done = "applied" if result == "applied" else f"rejected:{data.get('expect_error')}"
        if done != outcome:
            return None, f"{where}: recorded as {outcome} but replaying it gives {done}"
    return memory, None


def _checkpoint_break(memory: MemoryBackend, data: object, seq: int, where: str
                      ) -> str | None:
    """A checkpoint met in a replay holds exactly the state the records before it rebuild."""
    if not isinstance(memory, LeanReplay):
        return None  # only the lean replay (verify's) tracks what a checkpoint holds
    if memory.problem is not None:
        return memory.problem
    stored = dict(data) if isinstance(data, dict) else {}
    stored.pop("format", None)
    rebuilt = memory.snapshot(seq - 1)
    for part in ("after", "journals", "journal", "balances", "floors", "states", "parties",
                 "lock"):
        if stored.get(part) != rebuilt.get(part):
            return (f"{where}: the checkpoint's {part} differ from what the records before "
                    "it rebuild")
    if set(stored) != set(rebuilt):
        return f"{where}: the checkpoint holds fields this version of ledger does not write"
    return None


def compare(conn: Connection, memory: MemoryBackend, ledger: str = "main") -> str | None:
    """What is stored against what the replay rebuilt; None when they are the same."""
    store = DbStore(conn, ledger)
    lid = _lid(conn, ledger)
    if isinstance(memory, LeanReplay):
        problem = memory.finish()
    else:
        problem = _compare_journals_in_order(store, memory)
    if problem is not None:
        return problem
    # One stored state at a time against the rebuilt one (no second copy of either); the
    # first difference in (kind, ref) order is named, whatever order the rows came in.
    seen: set[tuple[str, str]] = set()
    differ: list[tuple[str, str]] = []
    for kind, ref, data in conn.execute(
            select(m.InstrumentState.kind, m.InstrumentState.ref, m.InstrumentState.data)
            .where(m.InstrumentState.ledger_id == lid)
            .execution_options(yield_per=STREAM_CHUNK)):
        seen.add((kind, ref))
        if json.loads(data) != _normal(memory.states.get((kind, ref))):
            differ.append((kind, ref))
    differ += [k for k in memory.states if k not in seen]
    if differ:
        kind, ref = min(differ)
        return f"instrument state {kind} {ref} differs from what the events rebuild"
    newest: dict[tuple[str, str], str] = {}  # each party's newest record, in one query
    for kind, party_id, data in conn.execute(_PARTY_RECORDS, {"lid": lid}):
        newest[(kind, party_id)] = data  # as DbStore.party: later records supersede
    for kind, party_id in sorted(newest):
        if json.loads(newest[(kind, party_id)]) != _normal(memory.party(kind, party_id)):
            return f"the record of {kind} {party_id} differs from what its events say"
    floors = _stored_floors(conn, lid)
    balances = {(path, unit): int(amount) for path, unit, amount in conn.execute(
        select(m.Account.path, m.Balance.unit, m.Balance.amount_minor)
        .join(m.Balance, (m.Balance.ledger_id == m.Account.ledger_id)
              & (m.Balance.account_id == m.Account.id))
        .where(m.Account.ledger_id == lid, m.Balance.ledger_id == lid))}
    for (account, unit), amount in sorted(balances.items()):
        # The replay's own balances (from the checkpoint's on, since one): what the
        # stored postings sum to is proved by store/verify.py.
        if memory.balances.get((account, Unit(unit)), 0) != amount:
            return (f"the balance of {account} {unit} is {amount}, but the records rebuild "
                    f"{memory.balances.get((account, Unit(unit)), 0)}")
    for (account, unit), amount in memory.balances.items():
        if amount and (account, unit.value) not in balances:
            return f"the balance of {account} {unit.value} is missing"
    accounts: set[tuple[str, str]] = set(balances)
    accounts |= {(account, unit.value) for account, unit in memory.floors}
    for account, unit in sorted(accounts):
        floor = floors.get((account, unit))
        want = memory.floors.get((account, Unit(unit)), default_floor(account, Unit(unit)))
        if floor != want:
            return f"the floor of {account} {unit} is {floor}, but the events set {want}"
    lock = conn.execute(select(func.max(m.PeriodLock.until))
                        .where(m.PeriodLock.ledger_id == lid)).scalar_one()
    if lock != memory.lock:
        return f"the period lock is {lock}, but the events set {memory.lock}"
    return None


def _compare_journals_in_order(store: DbStore, memory: MemoryBackend) -> str | None:
    """The stored journals, streamed in chain order, against the rebuilt ones in the
    order they were posted (the same order whenever each record's journals are together,
    as every writer here writes them). Each pair is compared by key, event, memo and
    payload hash, which covers type, date, holder, reversal link and every posting;
    `verify` has already proved each stored payload hash matches its postings. Otherwise,
    or at the first difference, every journal is compared by key, which names the first
    break exactly."""
    rebuilt = iter(memory.journals)
    rows = store.conn.execute(
        _JOURNAL_HASHES.execution_options(yield_per=STREAM_CHUNK),
        {"lid": store.lid, "after": 0})
    for _, key, event_key, payload_hash, memo, _ in rows:
        mine = next(rebuilt, None)
        if mine is None or (mine.key, mine.event_key, mine.payload_hash()) != (
                key, event_key, payload_hash) or json.loads(memo) != _normal(mine.memo):
            rows.close()
            return _compare_journals_by_key(store, memory)
    if next(rebuilt, None) is not None:
        return _compare_journals_by_key(store, memory)
    return None


def _compare_journals_by_key(store: DbStore, memory: MemoryBackend) -> str | None:
    stored = {j.key: j for j in store.load_journals()}
    rebuilt = {j.key: j for j in memory.journals}
    for key in sorted(set(stored) | set(rebuilt)):
        if key not in rebuilt:
            return f"journal {key} is stored but no recorded event posts it"
        if key not in stored:
            return f"journal {key} is missing: a recorded event posts it"
        if _journal_row(stored[key]) != _journal_row(rebuilt[key]):
            return f"journal {key} differs from what its event posts"
    return None


def _stored_floors(conn: Connection, lid: int) -> dict[tuple[str, str], int]:
    newest: dict[tuple[str, str], int] = {}
    for path, unit, floor in conn.execute(
            select(m.Account.path, m.AccountFloor.unit, m.AccountFloor.floor_minor)
            .join(m.Account, (m.Account.ledger_id == m.AccountFloor.ledger_id)
                  & (m.Account.id == m.AccountFloor.account_id))
            .where(m.Account.ledger_id == lid, m.AccountFloor.ledger_id == lid)
            .order_by(m.AccountFloor.id)):
        newest[(path, unit)] = floor
    return newest


def rebuild_break(conn: Connection, ledger: str = "main", since: Checkpoint | None = None
                  ) -> str | None:
    """None when the stored state is what the records rebuild (from `since`, a checkpoint,
    when given), else the first break. Raises NotReplayable for a ledger with records from
    before revision 0002."""
    return rebuilt(conn, ledger, since)[1]


def rebuilt(conn: Connection, ledger: str = "main", since: Checkpoint | None = None
            ) -> tuple[LeanReplay | None, str | None]:
    """The lean replay (for a checkpoint's state) and the first break, or None."""
    memory, problem = replay(conn, ledger, lean=True, since=since)
    if problem is not None or memory is None:
        return None, problem
    problem = compare(conn, memory, ledger)
    return (None, problem) if problem else (memory, None)  # type: ignore[return-value]


__all__ = ["LeanReplay", "NotReplayable", "compare", "rebuild_break", "rebuilt", "replay"]
