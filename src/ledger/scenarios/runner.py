"""A scenario file as items for the application layer (the file format:
docs/scenarios.md): its parties, then each event with its key (`id`, else `{name}#{index}`)
and its place in the file. Nothing here applies an event: `ledger.app.submit` does, for
every source alike.

`ledger.app.scenarios` replays them: `run_files` for the command line, `run_scenario` into
a backend whose transaction the caller owns (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.core.items import Declare, Item
from ledger.scenarios.schema import ScenarioFile, ScenarioStream


def scenario_items(scenario: ScenarioFile | ScenarioStream, source: str = ""
                   ) -> Iterator[Item | Declare]:
    """The file's parties, then its events in file order, a batch at a time as they are
    read (a streamed file is never held whole)."""
    yield Declare(_parties(scenario), source or None)
    for index, line, raw in scenario.numbered_events():
        yield Item(raw, str(raw.get("id") or f"{scenario.name}#{index}"), source or None,
                   line, index)


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
