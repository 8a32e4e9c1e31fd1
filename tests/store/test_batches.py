"""The batched write path (docs/architecture.md#batches): a database refusal is put down
to its event, the events before it are kept, and nothing after it is written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.domain.base import Ctx
from ledger.scenarios.schema import ScenarioFile
from ledger.store.repo import DbStore
from ledger.store.verify import first_break

pytestmark = pytest.mark.citus

PARTIES = {"councils": [{"id": "C1", "name": "Council"}],
           "holders": [{"id": "H1", "name": "Person", "council": "C1"}]}


def _scenario(events: list[dict]) -> ScenarioFile:
    return ScenarioFile.model_validate({"format": 1, "name": "batch", "parties": PARTIES,
                                        "events": events})


def _spend(n: int, amount: str) -> dict:
    return {"id": f"spend-{n}", "date": dt.date(2026, 4, 2 + n), "type": "dp_spend",
            "holder": "H1", "payee": "PA", "amount": amount}


EVENTS = [{"id": "pay", "date": dt.date(2026, 4, 1), "type": "dp_payment", "holder": "H1",
           "amount": "100.00"},
          _spend(1, "30.00"), _spend(2, "500.00"), _spend(3, "10.00")]


def test_a_refusal_only_the_database_makes_stops_the_run_at_its_event(engine, monkeypatch):
    # Python's own checks are switched off, so only the database's floor guard stands
    # between the £500 spend and a £100 account: the guard must catch it in the batch.
    monkeypatch.setattr(Ctx, "lowest_balance", lambda self, a, u, d: (10**12, d))
    with engine.connect() as conn:
        store = DbStore(conn, batch=True)
        result = run_scenario(store, _scenario(EVENTS), source="f.yaml", commit_every=100)
        store.commit()
    assert result.failure is not None
    assert "event 2 (id spend-2, dp_spend)" in result.failure
    assert "insufficient_funds" in result.failure
    assert (result.applied, result.journals) == (2, 2)
    with engine.connect() as conn:
        keys = set(conn.execute(text("SELECT key FROM event WHERE type <> 'party'")).scalars())
        assert keys == {"pay", "spend-1"}  # before it: kept; it and after it: not written
        assert DbStore(conn).balance("holder:H1:dp", Unit.GBP) == 7_000
        assert first_break(conn) is None


def test_a_batched_run_and_an_event_at_a_time_run_store_the_same_chain(tmp_path):
    from ledger.store.schema import make_engine, upgrade

    heads = []
    for batch in (False, True):
        engine = make_engine(f"sqlite:///{tmp_path}/b{batch}.db")
        upgrade(engine)
        with engine.connect() as conn:
            store = DbStore(conn, batch=batch)
            result = run_scenario(store, _scenario([EVENTS[0], EVENTS[1], EVENTS[3]]),
                                  commit_every=2 if batch else None)
            store.commit() if batch else conn.commit()
            assert result.failure is None
        with engine.connect() as conn:
            heads.append(conn.execute(text("SELECT event_seq, event_hash, journal_hash "
                                           "FROM ledger WHERE name = 'main'")).one())
        engine.dispose()
    assert heads[0] == heads[1]


def test_a_batched_writer_sees_what_another_writer_committed_between_its_batches(engine):
    """Caches survive a batch's commit only while nobody else has written to the ledger."""
    from ledger.core.journal import Journal, Posting

    with engine.connect() as mine, engine.connect() as other:
        store = DbStore(mine, batch=True)
        store.post([Journal("in", "dp_payment", dt.date(2026, 4, 1),
                            (Posting("council:C1:funding", Unit.GBP, -10_000),
                             Posting("holder:H1:dp", Unit.GBP, 10_000)))])
        assert store.balance("holder:H1:dp", Unit.GBP) == 10_000
        store.commit()
        DbStore(other).post([Journal("out", "dp_spend", dt.date(2026, 4, 2),
                                     (Posting("holder:H1:dp", Unit.GBP, -9_000),
                                      Posting("external:PA", Unit.GBP, 9_000)))])
        other.commit()
        store.lock_for_write()  # the next batch: the head moved, so nothing cached is kept
        assert store.balance("holder:H1:dp", Unit.GBP) == 1_000
        opening, moves = store.balance_moves_from("holder:H1:dp", Unit.GBP, dt.date(2026, 4, 1))
        assert (opening, moves) == (0, [(dt.date(2026, 4, 1), 10_000),
                                        (dt.date(2026, 4, 2), -9_000)])
        store.commit()
