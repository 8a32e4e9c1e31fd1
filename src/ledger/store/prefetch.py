"""The prefetches of `DbStore` (store/repo.py), for an importer and for a replay: what the
reads (store/reads.py) would ask one key at a time, read a chunk of keys per query and
kept in the same caches (store/state.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from sqlalchemy import select

from ledger.core.amounts import Unit
from ledger.store import models as m
from ledger.store.sql import (
    SEAL_CHUNK,
    SQL_HOLDER_BALANCES,
    SQL_HOLDER_FLOORS,
    SQL_HOLDER_MOVES,
    SQL_PARTIES,
    SQL_STATES,
)
from ledger.store.state import StoreState


class Prefetcher(StoreState):
    """The prefetches of a `DbStore`."""

    def prefetch_events(self, keys: list[str]) -> None:
        """Learn which of these event keys are recorded, a chunk of keys per query."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._event_hashes]
        for start in range(0, len(wanted), SEAL_CHUNK):
            chunk = wanted[start:start + SEAL_CHUNK]
            found = dict(self.conn.execute(
                select(m.Event.key, m.Event.payload_hash)
                .where(m.Event.ledger_id == self.lid, m.Event.key.in_(chunk))).all())
            for key in chunk:
                self._event_hashes[key] = found.get(key)

    def prefetch_parties(self, kind: str, ids: list[str]) -> None:
        """Read the records of these parties, a chunk of ids per query, as `party` would
        one by one (an importer learns every holder of its file at once)."""
        if self._pend_parties:
            self.flush()
        wanted = [i for i in dict.fromkeys(ids) if (kind, i) not in self._parties]
        for start in range(0, len(wanted), SEAL_CHUNK):
            chunk = wanted[start:start + SEAL_CHUNK]
            found: dict[str, list[tuple[dt.date | None, dict]]] = {i: [] for i in chunk}
            for pid, valid_from, data in self.conn.execute(SQL_PARTIES, {
                    "lid": self.lid, "kind": kind, "ids": chunk}):
                found[pid].append((valid_from, json.loads(data)))
            for pid, records in found.items():
                self._parties[(kind, pid)] = records

    def prefetch_states(self, kind: str, refs: list[str]) -> None:
        """Read these instruments' states, a chunk of refs per query, as `get_state` would
        one by one."""
        wanted = [r for r in dict.fromkeys(refs) if (kind, r) not in self._states]
        for start in range(0, len(wanted), SEAL_CHUNK):
            chunk = wanted[start:start + SEAL_CHUNK]
            found: dict[str, str] = dict(self.conn.execute(  # type: ignore[arg-type]
                SQL_STATES, {"lid": self.lid, "kind": kind, "refs": chunk}).all())
            for ref in chunk:
                data = found.get(ref)
                self._states[(kind, ref)] = json.loads(data) if data is not None else None

    def prefetch_holders(self, days: dict[str, dt.date]) -> None:
        """For every account of these budget holders (account.holder, indexed), read at once
        what `balance`, `floor` and `balance_moves_from` would read one account at a time:
        the stored balance, the floor in force and the posted movements from the holder's
        day on (a few queries per chunk of holders, not a few per account). Only what is not
        already known is read; a later read from an earlier day reads again, as before."""
        holders = sorted(days)
        for start in range(0, len(holders), SEAL_CHUNK):
            chunk = holders[start:start + SEAL_CHUNK]
            params = {"lid": self.lid, "holders": chunk}
            balances: dict[tuple[str, Unit], int] = {}
            of_holder: dict[str, str] = {}
            for path, holder, unit, amount in self.conn.execute(SQL_HOLDER_BALANCES, params):
                balances[(path, Unit(unit))] = int(amount)
                of_holder[path] = holder
            fresh = [key for key in balances
                     if key not in self._balances and key not in self._moves]
            if not fresh:
                continue
            floors: dict[tuple[str, Unit], int] = {}
            for path, unit, floor_minor in self.conn.execute(SQL_HOLDER_FLOORS, params):
                floors[(path, Unit(unit))] = floor_minor  # ordered by id: the last wins
            moves: dict[tuple[str, Unit], dict[dt.date, int]] = defaultdict(dict)
            first = min(days[h] for h in chunk)
            for path, unit, on, total in self.conn.execute(
                    SQL_HOLDER_MOVES, {**params, "day": first}):
                on = on if isinstance(on, dt.date) else dt.date.fromisoformat(on)
                moves[(path, Unit(unit))][on] = int(total)
            for key in fresh:
                day = days[of_holder[key[0]]]
                later = {d: n for d, n in moves.get(key, {}).items() if d >= day}
                self._balances[key] = balances[key]
                self._moves[key] = [day, balances[key] - sum(later.values()), later]
                if key not in self._floors:
                    self._floors[key] = floors.get(key)

    def recorded_payloads(self, keys: list[str]) -> dict[str, dict]:
        """The event as written (json-decoded) of each of these keys that is recorded, a
        chunk of keys per query; an importer compares a row with what it recorded before.
        A record kept without its payload (before payloads were stored) maps to {}."""
        self.flush()
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), SEAL_CHUNK):
            chunk = wanted[start:start + SEAL_CHUNK]
            for key, payload in self.conn.execute(
                    select(m.Event.key, m.Event.payload)
                    .where(m.Event.ledger_id == self.lid, m.Event.key.in_(chunk))):
                found[key] = json.loads(payload) if payload else {}
        return found
