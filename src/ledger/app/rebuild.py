"""Rebuild everything an event log implies and compare it with what is stored
(docs/rules-trust.md#verify).

Every record in the chain keeps the event as written and the rules version it was
recorded under. Replaying the records, in chain order, into the in-memory backend, each
under its own rules version, gives the journals, instrument
state (ISF lots, schedules, pool membership, award totals, rate cards), party records,
floors and period lock the ledger must hold. Anything stored that differs (a memo edited,
a lot changed, a journal appended or deleted, a consent switched on by hand) is a break.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, func, select, text

from ledger.app.events import EventFailed, apply_event
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal
from ledger.domain.floors import default_floor
from ledger.store import models as m
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore, journal_from_json

STREAM_CHUNK = 5000  # stored journals read at a time when comparing
_JOURNAL_HASHES = text("SELECT key, event_key, payload_hash, memo FROM journal"
                       " WHERE ledger_id = :lid AND status = 'posted' ORDER BY id")
_RECORDS_SQL = ("SELECT seq, key, type, date, payload_hash, payload, outcome, rules_version"
                " FROM event WHERE ledger_id = :lid ORDER BY seq")


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
    found = conn.execute(select(m.Ledger.id).where(m.Ledger.name == ledger)).scalar_one_or_none()
    return -1 if found is None else found


class _Posted:
    """What the lean replay keeps of a journal once compared: its payload hash."""

    __slots__ = ("hash",)

    def __init__(self, payload_hash: str) -> None:
        self.hash = payload_hash

    def payload_hash(self) -> str:
        return self.hash


class LeanReplay(MemoryBackend):
    """The in-memory backend as `verify` replays into it. Each journal an event posts is
    compared at once with the next stored journal (streamed in chain order: every writer
    here writes a record's journals together, in order), and then only its payload hash
    is kept, so memory does not grow with the ledger's journals. A reversal reads the
    journals it reverses from the store: they are the ones already compared."""

    def __init__(self, store: DbStore) -> None:
        super().__init__()
        self.store = store
        self.problem: str | None = None
        self._stored = iter(store.conn.execute(
            _JOURNAL_HASHES.execution_options(yield_per=STREAM_CHUNK), {"lid": store.lid}))

    def apply(self, change: Change) -> None:
        before = len(self.journals)
        super().apply(change)
        for j in self.journals[before:]:
            self._compare(j)
            self.by_key[j.key] = _Posted(j.payload_hash())  # type: ignore[assignment]
        del self.journals[before:]

    def _compare(self, j: Journal) -> None:
        if self.problem is not None:
            return
        row = next(self._stored, None)
        if row is None:
            self.problem = f"journal {j.key} is missing: a recorded event posts it"
            return
        key, event_key, payload_hash, memo = row
        if key != j.key:
            self.problem = (f"journal {key} is stored where the recorded events post "
                            f"{j.key}")
        elif (event_key, payload_hash) != (j.event_key, j.payload_hash()) or (
                json.loads(memo) != _normal(j.memo)):
            self.problem = f"journal {key} differs from what its event posts"

    def finish(self) -> str | None:
        """The first difference, or a stored journal no recorded event posts."""
        if self.problem is None:
            extra = next(self._stored, None)
            if extra is not None:
                self.problem = f"journal {extra[0]} is stored but no recorded event posts it"
        return self.problem

    def journals_for_event(self, event_key: str) -> list[Journal]:
        return self.store.load_journals(m.Journal.event_key == event_key)


def replay(conn: Connection, ledger: str = "main", lean: bool = False
           ) -> tuple[MemoryBackend | None, str | None]:
    """Replay every record of one ledger into a fresh in-memory ledger. Returns it, or a
    break. `lean`: compare the journals as they are posted instead of keeping them."""
    memory = LeanReplay(DbStore(conn, ledger)) if lean else MemoryBackend()
    for seq, key, type_, date, payload_hash, payload, outcome, version in conn.execute(
            text(_RECORDS_SQL).execution_options(yield_per=5000),
            {"lid": _lid(conn, ledger)}):
        where = f"record {seq} ({key})"
        if payload is None:
            raise NotReplayable(f"{where} and any like it were recorded before events kept "
                                "their text, so the instrument state was not rebuilt")
        day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
        record = EventRecord(key, type_, day, payload_hash, payload=payload,
                             rules_version=version)
        data = json.loads(payload)
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
    states = {(kind, ref): json.loads(data) for kind, ref, data in conn.execute(
        select(m.InstrumentState.kind, m.InstrumentState.ref, m.InstrumentState.data)
        .where(m.InstrumentState.ledger_id == lid))}
    wanted = {k: _normal(v) for k, v in memory.states.items()}
    for kind, ref in sorted(set(states) | set(wanted)):
        if states.get((kind, ref)) != wanted.get((kind, ref)):
            return f"instrument state {kind} {ref} differs from what the events rebuild"
    for kind, party_id in sorted(set(conn.execute(
            select(m.PartyRecord.kind, m.PartyRecord.id)
            .where(m.PartyRecord.ledger_id == lid)).all())):
        if store.party(kind, party_id) != _normal(memory.party(kind, party_id)):
            return f"the record of {kind} {party_id} differs from what its events say"
    floors = _stored_floors(conn, lid)
    accounts: set[tuple[str, str]] = {(path, unit) for path, unit in conn.execute(
        select(m.Account.path, m.Balance.unit)
        .join(m.Balance, m.Balance.account_id == m.Account.id)
        .where(m.Account.ledger_id == lid))}
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
        _JOURNAL_HASHES.execution_options(yield_per=STREAM_CHUNK), {"lid": store.lid})
    for key, event_key, payload_hash, memo in rows:
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
            .join(m.Account, m.Account.id == m.AccountFloor.account_id)
            .where(m.Account.ledger_id == lid)
            .order_by(m.AccountFloor.id)):
        newest[(path, unit)] = floor
    return newest


def rebuild_break(conn: Connection, ledger: str = "main") -> str | None:
    """None when the stored state is what the records rebuild, else the first break.
    Raises NotReplayable for a ledger with records from before revision 0002."""
    memory, problem = replay(conn, ledger, lean=True)
    if problem is not None or memory is None:
        return problem
    return compare(conn, memory, ledger)


__all__ = ["LeanReplay", "NotReplayable", "compare", "rebuild_break", "replay"]
