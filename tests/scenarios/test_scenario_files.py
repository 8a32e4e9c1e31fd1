"""Every worked example in scenarios/ (and docs/scenarios.md's smallest example) replays cleanly on
SQLite and on PostgreSQL: no event is rejected unexpectedly and every `expect` holds;
replaying the same file again posts nothing; and `verify` finds every invariant intact.

The files are globbed when the tests are collected, so a new scenario is covered as soon
as it is added."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.app.rebuild import rebuild_break
from ledger.app.scenarios import run_scenario
from ledger.scenarios.schema import load_scenario
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import first_break

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_EXAMPLE = ROOT / "tests" / "data" / "contract-example.yaml"

FILES = [pytest.param(path, id=path.name) for path in sorted((ROOT / "scenarios").glob("*.yaml"))]
FILES.append(pytest.param(CONTRACT_EXAMPLE, id="contract-example.yaml"))


def test_there_are_worked_examples_to_replay():
    assert len(FILES) > 1


@pytest.mark.parametrize("path", FILES)
def test_scenario_file_replays_cleanly_then_idempotently_and_verifies(path, db_url):
    scenario = load_scenario(path)
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            first = run_scenario(DbStore(conn), scenario, source=str(path))
        assert first.failure is None, first.failure
        assert first.applied + first.rejected_as_expected == len(scenario.events)
        assert first.skipped == 0

        with engine.begin() as conn:
            again = run_scenario(DbStore(conn), scenario, source=str(path))
        assert again.failure is None, again.failure
        assert (again.applied, again.journals, again.rejected_as_expected) == (0, 0, 0)
        assert again.skipped == len(scenario.events)

        with engine.connect() as conn:
            assert first_break(conn) is None
            # replaying the recorded events rebuilds exactly what is stored
            assert rebuild_break(conn) is None
    finally:
        engine.dispose()
