"""The database backend and the in-memory reference model must agree on every figure.

Random sequences of direct-payment, ISF, pool and bursary events (valid and invalid
alike) go through the same runner into both backends; afterwards every balance, every
instrument's state and every event's outcome must be identical, `verify` must pass, and
replaying the same events must post nothing. Runs on SQLite and, when configured,
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.reports.balances import balances
from ledger.scenarios.schema import ScenarioFile
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import first_break
from tests.dbutil import migrated_database

pytestmark = pytest.mark.citus

SOAK = int(os.environ.get("LEDGER_SOAK", "1"))
HOLDERS = ["H1", "H2", "H3"]
PARTIES = {
    "councils": [{"id": "C1", "name": "Council"}],
    "providers": [{"id": "P1", "name": "Provider"}],
    "holders": [{"id": h, "name": f"Person {h}", "council": "C1"} for h in HOLDERS],
}
D0 = dt.date(2026, 4, 1)

days = st.integers(0, 150).map(lambda n: D0 + dt.timedelta(days=n))


def _pounds(low: int, high: int):
    return st.integers(low, high).map(lambda p: f"{p // 100}.{p % 100:02d}")


income = _pounds(10_000, 60_000)  # payments in are larger than single spends
money = _pounds(1, 6_000)
hours = st.integers(1, 5 * 4).map(lambda q: f"{q // 4}.{(q % 4) * 25:02d}")  # quarter hours
holder = st.sampled_from(HOLDERS)


def _month(day: dt.date) -> str:
    return f"{day.year}-{day.month:02d}"


event = st.one_of(
    st.builds(lambda d, h, a: {"date": d, "type": "dp_payment", "holder": h, "amount": a},
              days, holder, income),
    st.builds(lambda d, h, a: {"date": d, "type": "dp_spend", "holder": h, "payee": "PA",
                               "amount": a}, days, holder, money),
    st.builds(lambda d, h, a: {"date": d, "type": "contribution", "holder": h, "amount": a},
              days, holder, money),
    st.builds(lambda d, h: {"date": d, "type": "isf_advance", "holder": h, "provider": "P1",
                            "month": _month(d)}, days, holder),
    st.builds(lambda d, h, q: {"date": d, "type": "isf_delivery", "holder": h,
                               "provider": "P1", "hours": q}, days, holder, hours),
    st.builds(lambda d, h: {"date": d, "type": "isf_reconcile", "holder": h,
                            "provider": "P1", "month": _month(d)}, days, holder),
    st.builds(lambda d, h, a: {"date": d, "type": "pool_contribute", "pool": "L1",
                               "holder": h, "amount": a}, days, holder, money),
    st.builds(lambda d, a, s: {"date": d, "type": "pool_spend", "pool": "L1", "payee": "VENUE",
                               "amount": a, "split": s}, days, money,
              st.sampled_from(["equal"])),
    st.builds(lambda d, h: {"date": d, "type": "pool_leave", "pool": "L1", "holder": h},
              days, holder),
    st.builds(lambda d, a: {"date": d, "type": "pool_income", "pool": "L1", "payer": "FAIR",
                            "amount": a}, days, money),
    st.builds(lambda d: {"date": d, "type": "pool_distribute", "pool": "L1"}, days),
    st.builds(lambda d, h: {"date": d, "type": "pool_join", "pool": "L1", "holder": h},
              days, holder),
    st.builds(lambda d, h, a: {"date": d, "type": "bursary_award", "fund": "F1", "holder": h,
                               "amount": a}, days, holder, money),
    st.builds(lambda d, hs, a: {"date": d, "type": "bursary_spend", "fund": "F1",
                                "holders": hs, "payee": "COLLEGE", "amount": a},
              days, st.lists(holder, min_size=1, max_size=3, unique=True), money),
    st.builds(lambda d, n: {"date": d, "type": "reverse", "event": f"diff#{n}",
                            "reason": "correction"}, days, st.integers(len(HOLDERS) + 2, 30)),
)

SETUP = [
    {"date": D0, "type": "isf_open", "holder": h, "provider": "P1", "hours_per_month": 20,
     "rate": "21.37", "carry": {"expire_after_months": 1, "max_hours": 10,
                                "max_borrow_hours": 4}}
    for h in HOLDERS
] + [
    {"date": D0, "type": "pool_open", "pool": "L1", "members": ["H1", "H2"]},
    {"date": D0, "type": "fund_open", "fund": "F1", "council": "C1", "total": "5000",
     "cap_per_person": "100"},
]


def _scenario(events: list[dict]) -> ScenarioFile:
    return ScenarioFile.model_validate(
        {"format": 1, "name": "diff", "parties": PARTIES, "events": SETUP + events})


def _replay_everywhere(kind: str, events: list[dict], batch: bool = False) -> None:
    scenario = _scenario(events)
    memory = MemoryBackend()
    expected = run_scenario(memory, scenario)
    with tempfile.TemporaryDirectory() as folder, migrated_database(kind, Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        if batch:
            # The batched path (docs/architecture.md#batches), with batches and commits
            # small enough that a random run crosses several of each.
            with engine.connect() as conn:
                store = DbStore(conn, batch=True)
                got = run_scenario(store, scenario, commit_every=4)
                store.commit()
        else:
            with engine.begin() as conn:
                got = run_scenario(DbStore(conn), scenario)
        assert (got.applied, got.rejected_as_expected, got.journals, got.failure) == (
            expected.applied, expected.rejected_as_expected, expected.journals,
            expected.failure)
        with engine.begin() as conn:
            again = run_scenario(DbStore(conn), scenario)
        # Everything that was recorded is skipped; an event that stopped the run before
        # is tried again and stops it again at the same place.
        assert again.journals == 0 and again.failure == got.failure
        with engine.connect() as conn:
            stored = {(r.account, r.unit): r.minor for r in balances(conn)}
            assert first_break(conn) is None
            store = DbStore(conn)
            for (k, ref), state in memory.states.items():
                assert store.get_state(k, ref) == state, (k, ref)
        engine.dispose()
    touched = {(p.account, p.unit) for j in memory.journals for p in j.postings}
    assert stored == {key: memory.balances[key] for key in touched}


def _with_expectations(events: list[dict]) -> list[dict]:
    """Random events often break a rule. Apply them one by one to a reference model and
    mark each refused one `expect_error: CODE`, so the run goes on and both backends must
    refuse it with that same code."""
    memory = MemoryBackend()
    run_scenario(memory, _scenario([]))
    out: list[dict] = []
    for index, raw in enumerate(events, start=len(SETUP)):
        try:
            apply_event(memory, raw, f"diff#{index}")
            out.append(raw)
        except EventFailed as err:
            marked = {**raw, "expect_error": str(err).split(":")[0]}
            apply_event(memory, marked, f"diff#{index}")
            out.append(marked)
    return out


@pytest.mark.parametrize("batch", [False, True], ids=["at-once", "batched"])
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_database_agrees_with_reference_model(kind, batch, monkeypatch):
    monkeypatch.setattr("ledger.store.repo.FLUSH_EVERY", 3)

    @settings(max_examples=12 * SOAK, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(event, min_size=1, max_size=25))
    def check(events):
        _replay_everywhere(kind, _with_expectations(events), batch)

    if kind == "postgres":
        from tests.dbutil import require_postgres

        require_postgres()
    check()
