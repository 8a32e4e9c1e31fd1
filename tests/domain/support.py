"""What the instrument tests share: an in-memory ledger that applies raw events under
numbered keys, and a runner for a list of events with declared parties."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.scenarios.schema import ScenarioFile
from ledger.store.memory import MemoryBackend


class Ledger:
    """A fresh in-memory ledger with parties, applying raw events under numbered keys."""

    parties: list[dict] = []

    def __init__(self) -> None:
        self.backend = MemoryBackend()
        self.backend.add_parties(self.parties)
        self.count = 0

    def apply(self, **raw) -> str:
        raw["date"] = dt.date.fromisoformat(str(raw.get("date", "2026-04-01")))
        self.count += 1
        return apply_event(self.backend, raw, raw.pop("key", f"e{self.count}"))[0]

    def reject(self, code: str, **raw) -> None:
        """The event is refused with `code` and leaves no trace."""
        before = (list(self.backend.journals), dict(self.backend.states))
        with pytest.raises(EventFailed, match=f"^{code}:"):
            self.apply(**raw)
        assert (self.backend.journals, self.backend.states) == before

    def gbp(self, account: str) -> int:
        return self.backend.balance(account, Unit.GBP)

    def hrs(self, account: str) -> int:
        return self.backend.balance(account, Unit.HRS)


def run_events(parties: dict, events: list[dict], backend: MemoryBackend | None = None,
               name: str = "t") -> MemoryBackend:
    """Replay `events` as a scenario file would; every event must be accepted."""
    backend = backend or MemoryBackend()
    scenario = ScenarioFile.model_validate(
        {"format": 1, "name": name, "parties": parties, "events": events})
    result = run_scenario(backend, scenario)
    assert result.failure is None, result.failure
    return backend
