"""A scenario file as items for the application layer (the file format:
docs/scenarios.md): its parties, then each event with its key (`id`, else `{name}#{index}`)
and its place in the file. Nothing here applies an event: `ledger.app.submit` does, for
every source alike.

`run_scenario` replays one file into a backend whose transaction the caller owns (tests,
benchmarks); the command line goes through `ledger.app.scenarios`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ledger.app.events import EventFailed, apply_event, event_payload, parse_event, shown
from ledger.app.submit import BATCH_EVENTS, Refusal, apply_all
from ledger.core.change import Backend
from ledger.core.items import Declare, Item
from ledger.core.text import text_problem
from ledger.domain.base import HANDLERS
from ledger.scenarios.schema import ScenarioFile, ScenarioStream


@dataclass
class RunResult:
    applied: int = 0
    skipped: int = 0
    rejected_as_expected: int = 0
    journals: int = 0
    failure: str | None = None  # set when the run stopped (exit status 1)


def scenario_items(scenario: ScenarioFile | ScenarioStream, source: str = ""
                   ) -> Iterator[Item | Declare]:
    """The file's parties, then its events in file order, a batch at a time as they are
    read (a streamed file is never held whole)."""
    yield Declare(_parties(scenario), source or None)
    for index, line, raw in scenario.numbered_events():
        yield Item(raw, str(raw.get("id") or f"{scenario.name}#{index}"), source or None,
                   line, index)


def failure_text(refusal: Refusal) -> str:
    """Where a scenario stopped and why: `FILE:LINE: event N (id K, TYPE): code: reason`."""
    item = refusal.item
    if isinstance(item, Declare):
        return f"{item.source}: {refusal.reason}" if item.source else refusal.reason
    where = "" if item.line is None else f"{item.where()}: "
    kind = item.event.get("type", "?")
    kind = kind if isinstance(kind, str) and kind in HANDLERS else shown(kind)
    key = item.key if len(item.key) <= 80 and not text_problem(item.key) else shown(item.key)
    return f"{where}event {item.index} (id {key}, {kind}): {refusal.reason}"


def run_scenario(backend: Backend, scenario: ScenarioFile | ScenarioStream, source: str = "",
                 progress: Callable[[], None] | None = None,
                 commit_every: int | None = None) -> RunResult:
    """Replay every event; stops at the first unexpected rejection (events before it stay
    applied). The caller owns the transaction; with `commit_every`, the backend commits
    after every that many events (docs/architecture.md#batches). `progress` is called
    after each event."""
    done = apply_all(backend, scenario_items(scenario, source), commit_every=commit_every,
                     progress=None if progress is None else lambda _item, _status: progress())
    return RunResult(done.applied, done.skipped, done.rejected_as_expected, done.journals,
                     failure_text(done.refusals[0]) if done.refusals else None)


def _parties(scenario: ScenarioFile | ScenarioStream) -> list[dict]:
    """Every declared party as its whole record, defaults included, so that declaring it
    again with anything different is caught (docs/rules-trust.md#parties)."""
    out = []
    for kind, items in (("council", scenario.parties.councils),
                        ("provider", scenario.parties.providers),
                        ("holder", scenario.parties.holders)):
        for party in items:
            out.append({"kind": kind, **party.model_dump()})
    return out


# Moved to ledger.app.events; these names stay for the code and tests that import them here.
__all__ = ["BATCH_EVENTS", "EventFailed", "RunResult", "apply_event", "event_payload",
           "failure_text", "parse_event", "run_scenario", "scenario_items"]
