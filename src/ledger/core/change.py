"""What an event does, and what a handler reads through: shared by the rules (`domain`)
and the storage (`store`) so that neither imports the other (docs/architecture.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ledger.core.amounts import Unit
from ledger.core.journal import Journal

# The rules an event is recorded under (docs/rules-trust.md#rules-versions): 1, the rules
# before 2026-12-06 (every record a database held before versions were stored); 2, the
# rules of 2026-12-06. Each record keeps its version and `verify` replays it under it.
RULES_2026_12_06 = 2
CURRENT_RULES = RULES_2026_12_06
KNOWN_RULES = (1, RULES_2026_12_06)


@dataclass(frozen=True)
class EventRecord:
    key: str
    type: str
    date: dt.date
    payload_hash: str
    index: int | None = None
    source: str | None = None
    # The event as written, as canonical JSON (what `payload_hash` hashes): stored so
    # `verify` can replay every recorded event and rebuild what it posted.
    payload: str | None = None
    # The rules version it was recorded under: new records take the current rules; a
    # replay passes the version stored with the record.
    rules_version: int = CURRENT_RULES


class Backend(Protocol):
    """What a handler's context needs from storage: the database store or the reference
    model in tests. Reads only; writing happens in `apply`."""

    def balance(self, account: str, unit: Unit) -> int: ...
    def floor(self, account: str, unit: Unit) -> int | None: ...
    def get_state(self, kind: str, ref: str) -> dict | None: ...
    def state_refs(self, kind: str) -> list[str]:
        """Every ref of one kind of state, sorted (an index lookup, never a list kept in
        one row that grows with every instrument)."""
    def party(self, kind: str, party_id: str, as_of: dt.date | None = None) -> dict | None:
        """The party's record in force on `as_of` (None: the newest), or None if it was
        never declared (docs/rules-trust.md#parties)."""
    def journal_hash(self, key: str) -> str | None: ...
    def journals_for_event(self, event_key: str) -> list[Journal]: ...
    def is_reversed(self, journal_key: str) -> bool: ...
    def locked_until(self) -> dt.date | None: ...
    def event_hash(self, key: str) -> str | None: ...
    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int: ...
    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        """The balance at the end of the day before `day`, then the net movement of each
        later date that has postings (dates ascending): enough to know the balance on
        every date from `day` on (docs/rules-trust.md#floors)."""
    def apply(self, change: Change) -> None: ...
    def lock_for_write(self) -> None:
        """Wait for our turn to write, before reading what the checks depend on."""

    def prefetch_events(self, keys: list[str]) -> None:
        """A hint: these event keys are about to be looked up (one query, not many)."""

    def flush(self) -> None:
        """Write every change kept for a batch (docs/architecture.md#batches)."""

    def commit(self) -> None:
        """Flush, then make it durable; a batched run calls it once per batch."""

    def add_parties(self, parties: list[dict]) -> None:
        """Store each declaration (valid from the beginning); a party already stored with
        a different declared record is `duplicate_conflict`, and nothing is stored."""


@dataclass
class Change:
    """Everything one event does, applied by a backend atomically or not at all."""

    event: EventRecord
    journals: list[Journal] = field(default_factory=list)
    states: dict[tuple[str, str], dict] = field(default_factory=dict)
    floors: dict[tuple[str, Unit], int] = field(default_factory=dict)
    lock_until: dt.date | None = None
    # Party records this event writes (a declaration or a `party_update`): each a dict
    # with kind, id, valid_from (ISO date) and the whole record as it stands from then.
    parties: list[dict] = field(default_factory=list)
    outcome: str = "applied"  # or "rejected:CODE" for an `expect_error` event, kept


# Which accounts have a floor before any event sets one is a domain rule
# (ledger.domain.floors); the store applies it when it makes an account's balance row.
# The domain hands its rule over when it is imported, so the store never imports the
# domain (docs/architecture.md).
FloorRule = Callable[[str, Unit], "int | None"]
_floor_rule: list[FloorRule] = []


def use_floor_rule(rule: FloorRule) -> None:
    _floor_rule[:] = [rule]


def default_floor(account: str, unit: Unit) -> int | None:
    """The domain's default floor of `account` in `unit` (None: no floor)."""
    assert _floor_rule, "import ledger.domain before writing: it gives the floor rule"
    return _floor_rule[0](account, unit)
