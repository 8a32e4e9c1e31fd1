"""Rebuild everything an event log implies and compare it with what is stored
(docs/rules-trust.md#verify).

Every record in the chain keeps the event as written. Replaying the records, in chain
order, into the in-memory backend through the same rules gives the journals, instrument
state (ISF lots, schedules, pool membership, award totals, rate cards), party records,
floors and period lock the ledger must hold. Anything stored that differs (a memo edited,
a lot changed, a journal appended or deleted, a consent switched on by hand) is a break.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import Connection, func, select, text

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, default_floor
from ledger.domain.base import Change, EventRecord
from ledger.domain.memory import MemoryBackend
from ledger.scenarios.runner import EventFailed, apply_event
from ledger.store import models as m
from ledger.store.repo import DbStore, journal_from_json

_RECORDS_SQL = ("SELECT seq, key, type, date, payload_hash, payload, outcome FROM event"
                " WHERE ledger_id = :lid ORDER BY seq")


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


def replay(conn: Connection, ledger: str = "main"
           ) -> tuple[MemoryBackend | None, str | None]:
    """Replay every record of one ledger into a fresh in-memory ledger. Returns it, or a
    break."""
    memory = MemoryBackend()
    for seq, key, type_, date, payload_hash, payload, outcome in conn.execute(
            text(_RECORDS_SQL).execution_options(yield_per=5000),
            {"lid": _lid(conn, ledger)}):
        where = f"record {seq} ({key})"
        if payload is None:
            raise NotReplayable(f"{where} and any like it were recorded before events kept "
                                "their text, so the instrument state was not rebuilt")
        day = date if isinstance(date, dt.date) else dt.date.fromisoformat(str(date))
        record = EventRecord(key, type_, day, payload_hash, payload=payload)
        data = json.loads(payload)
        if type_ == "party":
            memory.add_parties([data])
            continue
        if type_ == "journals":
            memory.apply(Change(record, journals=[journal_from_json(j) for j in data]))
            continue
        try:
            result, _ = apply_event(memory, data, key)
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
    stored = {j.key: j for j in store.load_journals()}
    rebuilt = {j.key: j for j in memory.journals}
    for key in sorted(set(stored) | set(rebuilt)):
        if key not in rebuilt:
            return f"journal {key} is stored but no recorded event posts it"
        if key not in stored:
            return f"journal {key} is missing: a recorded event posts it"
        if _journal_row(stored[key]) != _journal_row(rebuilt[key]):
            return f"journal {key} differs from what its event posts"
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
    memory, problem = replay(conn, ledger)
    if problem is not None or memory is None:
        return problem
    return compare(conn, memory, ledger)


__all__ = ["NotReplayable", "compare", "rebuild_break", "replay"]
