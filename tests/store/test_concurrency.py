"""Several writers at once on one hot account: every spend is either made in full or
refused as insufficient_funds; money is never spent twice, no writer sees a deadlock or
serialisation error, and the hash chain stays one chain."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest

from ledger.app.events import EventFailed, apply_event
from ledger.core.amounts import Unit
from ledger.store.repo import DbStore
from ledger.store.verify import first_break

pytestmark = pytest.mark.citus

WRITERS = 4
SPENDS_EACH = 10
PAID_PENCE = 15_000  # £150.00: room for 15 spends of £10.00 out of the 40 attempted
D = dt.date(2026, 4, 1)


def _setup(engine) -> None:
    with engine.begin() as conn:
        store = DbStore(conn)
        store.add_parties([{"kind": "council", "id": "C1", "name": "C"},
                           {"kind": "holder", "id": "H1", "name": "A", "council": "C1"}])
        apply_event(store, {"date": D, "type": "dp_payment", "holder": "H1",
                            "amount": "150.00"}, "pay")


def _writer(engine, number: int, outcomes: Counter, errors: list) -> None:
    for i in range(SPENDS_EACH):
        raw = {"date": D, "type": "dp_spend", "holder": "H1", "payee": f"PA{number}",
               "amount": "10.00"}
        try:
            with engine.begin() as conn:
                apply_event(DbStore(conn), raw, f"w{number}-{i}")
            outcomes["spent"] += 1
        except EventFailed as err:
            outcomes[str(err).split(":")[0]] += 1
        except Exception as err:  # a deadlock or serialisation failure would land here
            errors.append(repr(err))


def test_concurrent_spends_from_one_account_never_overspend(engine):
    _setup(engine)
    outcomes: Counter = Counter()
    errors: list[str] = []
    threads = [threading.Thread(target=_writer, args=(engine, n, outcomes, errors))
               for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert outcomes == {"spent": PAID_PENCE // 1000,
                        "insufficient_funds": WRITERS * SPENDS_EACH - PAID_PENCE // 1000}
    with engine.connect() as conn:
        store = DbStore(conn)
        assert store.balance("holder:H1:dp", Unit.GBP) == 0
        assert first_break(conn) is None


def test_the_same_file_run_three_times_at_once_posts_once(engine):
    from pathlib import Path

    from ledger.app.scenarios import run_scenario
    from ledger.reports.balances import stats
    from ledger.scenarios.schema import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parents[2] / "scenarios"
                             / "dp-holder.yaml")
    results, errors = [], []

    def replay() -> None:
        try:
            with engine.begin() as conn:
                results.append(run_scenario(DbStore(conn), scenario))
        except Exception as err:
            errors.append(repr(err))

    threads = [threading.Thread(target=replay) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and all(r.failure is None for r in results)
    assert sorted(r.applied > 0 for r in results) == [False, False, True]
    with engine.connect() as conn:
        assert stats(conn)["journals"] == sum(r.journals for r in results) > 0
        assert first_break(conn) is None
