"""An in-memory backend: the plain-Python reference model the property tests compare the
database against, and a quick way to test instruments without a database."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from ledger.core.amounts import Unit
from ledger.core.change import Change
from ledger.core.journal import Journal
from ledger.core.plain import copy_plain
from ledger.errors import LedgerError


class MemoryBackend:
    def __init__(self) -> None:
        self.journals: list[Journal] = []
        self.by_key: dict[str, Journal] = {}
        self.balances: dict[tuple[str, Unit], int] = defaultdict(int)
        self.floors: dict[tuple[str, Unit], int] = {}
        self.states: dict[tuple[str, str], dict] = {}
        # Each party's records, oldest first: (valid from, record); a declaration is valid
        # from the beginning (None), a `party_update` from its date.
        self.party_versions: dict[tuple[str, str], list[tuple[dt.date | None, dict]]] = {}
        self.events: dict[str, str] = {}
        self.reversed: set[str] = set()
        self.lock: dt.date | None = None
        # Each account's postings as (date, amount): dated reads cost what one account
        # holds, not the whole ledger (`verify` replays every event through this).
        self._moves: dict[tuple[str, Unit], list[tuple[dt.date, int]]] = defaultdict(list)

    # -- Backend reads
    def balance(self, account: str, unit: Unit) -> int:
        return self.balances.get((account, unit), 0)

    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        return sum(n for d, n in self._moves.get((account, unit), ()) if d <= as_of)

    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        opening = 0
        later: dict[dt.date, int] = defaultdict(int)
        for date, amount in self._moves.get((account, unit), ()):
            if date < day:
                opening += amount
            else:
                later[date] += amount
        return opening, sorted(later.items())

    def floor(self, account: str, unit: Unit) -> int | None:
        return self.floors.get((account, unit))

    def state_refs(self, kind: str) -> list[str]:
        return sorted(ref for k, ref in self.states if k == kind)

    def get_state(self, kind: str, ref: str) -> dict | None:
        # Shared, not copied, as DbStore's: a handler's context copies what it reads
        # (Ctx.state), and no reader changes what it reads.
        return self.states.get((kind, ref))

    def party(self, kind: str, party_id: str, as_of: dt.date | None = None) -> dict | None:
        """The record in force on `as_of` (None: the newest); docs/rules-trust.md#parties."""
        found = None
        for valid_from, record in self.party_versions.get((kind, party_id), []):
            if as_of is None or valid_from is None or valid_from <= as_of:
                found = record
        return dict(found) if found is not None else None

    def parties(self, kind: str, as_of: dt.date | None = None) -> dict[str, dict]:
        """Every party of one kind, each as in force on `as_of` (None: the newest)."""
        out = {}
        for k, party_id in self.party_versions:
            if k == kind:
                record = self.party(kind, party_id, as_of)
                assert record is not None
                out[party_id] = record
        return out

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

    def prefetch_events(self, keys: list[str]) -> None:
        """Everything is in memory already."""

    def flush(self) -> None:
        """Every change is applied at once."""

    def commit(self) -> None:
        """Nothing to make durable."""

    def add_parties(self, parties: list[dict]) -> None:
        """Declarations: a party declared again must be declared with exactly the same
        record (every field, defaults included), else `duplicate_conflict` and nothing is
        stored; its name or consent change only by a dated `party_update`."""
        declared: dict[tuple[str, str], dict] = {
            key: versions[0][1] for key, versions in self.party_versions.items()}
        new: dict[tuple[str, str], dict] = {}
        for p in parties:
            key = (p["kind"], p["id"])
            before = declared.get(key, new.get(key))
            if before is not None and before != p:
                changed = sorted(f for f in set(before) | set(p) if before.get(f) != p.get(f))
                raise LedgerError("duplicate_conflict", (
                    f"{p['kind']} {p['id']!r} is already declared with a different record "
                    f"({', '.join(changed)}); change a name or consent with a party_update"))
            if before is None:
                new[key] = dict(p)
        for key, record in new.items():
            self.party_versions[key] = [(None, record)]

    def apply(self, change: Change) -> None:
        # The same refusals as the database's guards, so a replay into memory (`verify`)
        # can never accept what the database refused.
        for j in change.journals:
            if j.key in self.by_key:
                continue  # a replay, compared below
            if self.lock is not None and j.date <= self.lock:
                raise LedgerError("period_closed", f"{j.date} is in a closed period "
                                                   f"(closed up to {self.lock})")
            if j.reverses_key and j.reverses_key in self.reversed:
                raise LedgerError("invalid", f"journal {j.reverses_key} is already reversed")
        if change.event.key in self.events:
            raise LedgerError("duplicate_conflict", f"event {change.event.key} is recorded")
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
                self._moves[(p.account, p.unit)].append((j.date, p.amount_minor))
        self.floors.update(change.floors)
        for k, v in change.states.items():
            self.states[k] = copy_plain(v)
        self._apply_parties_and_lock(change)
        self.events[change.event.key] = change.event.payload_hash

    def _apply_parties_and_lock(self, change: Change) -> None:
        """A change's new party versions and period lock (LeanReplay applies them so too)."""
        for update in change.parties:
            record = {k: v for k, v in update.items() if k != "valid_from"}
            versions = self.party_versions.setdefault((update["kind"], update["id"]), [])
            versions.append((dt.date.fromisoformat(update["valid_from"]), record))
        if change.lock_until is not None:
            self.lock = max(self.lock or change.lock_until, change.lock_until)
