"""An in-memory backend: the plain-Python reference model the property tests compare the
database against, and a quick way to test instruments without a database."""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.domain.base import Change
from ledger.errors import LedgerError


class MemoryBackend:
    def __init__(self) -> None:
        self.journals: list[Journal] = []
        self.by_key: dict[str, Journal] = {}
        self.balances: dict[tuple[str, Unit], int] = defaultdict(int)
        self.floors: dict[tuple[str, Unit], int] = {}
        self.states: dict[tuple[str, str], dict] = {}
        self.parties: dict[tuple[str, str], dict] = {}
        self.events: dict[str, str] = {}
        self.reversed: set[str] = set()
        self.lock: dt.date | None = None

    # -- Backend reads
    def balance(self, account: str, unit: Unit) -> int:
        return self.balances.get((account, unit), 0)

    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        return sum(
            p.amount_minor
            for j in self.journals
            if j.date <= as_of
            for p in j.postings
            if p.account == account and p.unit == unit
        )

    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        opening = 0
        later: dict[dt.date, int] = defaultdict(int)
        for j in self.journals:
            for p in j.postings:
                if p.account == account and p.unit == unit:
                    if j.date < day:
                        opening += p.amount_minor
                    else:
                        later[j.date] += p.amount_minor
        return opening, sorted(later.items())

    def floor(self, account: str, unit: Unit) -> int | None:
        return self.floors.get((account, unit))

    def get_state(self, kind: str, ref: str) -> dict | None:
        found = self.states.get((kind, ref))
        return copy.deepcopy(found) if found is not None else None

    def party(self, kind: str, party_id: str) -> dict | None:
        return self.parties.get((kind, party_id))

    def journal_hash(self, key: str) -> str | None:
        j = self.by_key.get(key)
        return j.payload_hash() if j else None

    def journals_for_event(self, event_key: str) -> list[Journal]:
        return [j for j in self.journals if j.event_key == event_key]

    def is_reversed(self, journal_key: str) -> bool:
        return journal_key in self.reversed

    def locked_until(self) -> dt.date | None:
        return self.lock

    def event_hash(self, key: str) -> str | None:
        return self.events.get(key)

    # -- writes
    def lock_for_write(self) -> None:
        """One writer by construction."""

    def add_parties(self, parties: list[dict]) -> None:
        for p in parties:
            self.parties[(p["kind"], p["id"])] = dict(p)

    def apply(self, change: Change) -> None:
        for j in change.journals:
            if j.key in self.by_key:
                if self.by_key[j.key].payload_hash() != j.payload_hash():
                    raise LedgerError("duplicate_conflict", f"journal {j.key} differs")
        for j in change.journals:
            if j.key in self.by_key:
                continue
            self.journals.append(j)
            self.by_key[j.key] = j
            if j.reverses_key:
                self.reversed.add(j.reverses_key)
            for p in j.postings:
                self.balances[(p.account, p.unit)] += p.amount_minor
        self.floors.update(change.floors)
        for k, v in change.states.items():
            self.states[k] = copy.deepcopy(v)
        if change.lock_until is not None:
            self.lock = max(self.lock or change.lock_until, change.lock_until)
        self.events[change.event.key] = change.event.payload_hash
