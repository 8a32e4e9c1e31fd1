"""The ledger against an independent model of its documented rules (tests/oracle/model.py).

Hypothesis builds random event sequences over the event types whose rules did not change
on 2026-12-06 (tests/oracle/strategies.py; the ISF rules of that date are tested through
the command line by test_oracle_month_end.py), dated over six months, many of them meant
to be refused. Each event goes to the model and, the way a user runs a scenario, to the
real ledger on a fresh database (SQLite and PostgreSQL). Per event the outcome (accepted,
or the error code) must agree; at the end every balance and the `accounts` rows of every
holder's statement (docs/statements.md) must agree.

Normal suite: ORACLE_EXAMPLES (default 100) examples per engine. Soak: ORACLE_EXAMPLES=500.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, note, settings

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.reports.balances import balances
from ledger.reports.statements import holder_statement
from ledger.scenarios.schema import ScenarioFile
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from tests.dbutil import migrated_database, require_postgres
from tests.oracle.drive import same_code
from tests.oracle.model import Model, NotModelled, Refused
from tests.oracle.strategies import (
    D0,
    EXAMPLES,
    HOLDERS,
    PARTIES,
    SPAN,
    model_parties,
    periods,
    scenario_events,
)

# ------------------------------------------------------------------ fixed probes
# Short stories run every time before the random ones: the rules of docs/rules-trust.md
# (floors on every date, closed periods and late scheduled payments, party_update, ISF
# agreements apart) and reversals of each instrument.

def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _isf(date: str, **extra) -> dict:
    return {"date": _d(date), "holder": "H2", "provider": "P2", **extra}


TRUST_PROBE = [
    {"date": _d("2026-04-10"), "type": "dp_payment", "holder": "H3", "amount": "100.00"},
    {"date": _d("2026-04-05"), "type": "dp_spend", "holder": "H3", "payee": "PA",
     "amount": "50.00"},
    {"date": _d("2026-03-01"), "type": "dp_schedule", "id": "S1", "holder": "H1",
     "amount": "10.00", "every": "monthly", "start": _d("2026-03-01")},
    {"date": _d("2026-04-01"), "type": "close_period", "until": _d("2026-03-31")},
    {"date": _d("2026-04-01"), "type": "close_period", "until": _d("2026-04-30")},
    {"date": _d("2026-04-01"), "type": "run_payments", "until": _d("2026-04-30")},
    {"date": _d("2026-03-20"), "type": "grant", "council": "C1", "provider": "P1",
     "amount": "5.00"},
    _isf("2026-04-02", type="isf_open", hours_per_month="10", rate="10.00", carry={}),
    _isf("2026-04-02", type="isf_purchase", payee="PA", amount="100.00"),
    _isf("2026-04-03", type="isf_close"),
    _isf("2026-04-04", type="isf_open", hours_per_month="10", rate="10.00",
         carry={"expire_after_months": 1, "max_hours": "2"}, allow_pool_contributions=True),
    _isf("2026-04-05", type="isf_advance", month="2026-04"),
    _isf("2026-04-06", type="isf_delivery", hours="3"),
    _isf("2026-04-30", type="isf_reconcile", month="2026-04"),
    {"date": _d("2026-04-30"), "type": "pool_open", "pool": "L1", "members": ["H2"]},
    {"date": _d("2026-04-30"), "type": "pool_contribute", "pool": "L1", "holder": "H2",
     "amount": "10.00", "provider": "P2"},
    {"date": _d("2026-05-01"), "type": "reverse", "event": "ox#8", "reason": "old one"},
    {"date": _d("2026-05-01"), "type": "reverse", "event": "ox#12", "reason": "old one"},
    _isf("2026-05-02", type="isf_close"),
    {"date": _d("2026-05-07"), "type": "party_update", "holder": "H2", "show_name": True},
    {"date": _d("2026-05-03"), "type": "party_update", "holder": "H2", "pseudonym": "Robin"},
    {"date": _d("2026-03-07"), "type": "party_update", "holder": "H1", "name": "Ann"},
    {"date": _d("2026-05-07"), "type": "party_update", "holder": "H2", "council": "C2"},
]

REVERSAL_PROBE = [
    {"date": D0, "type": "dp_payment", "holder": "H1", "amount": "500.00"},
    {"date": D0, "type": "dp_payment", "holder": "H2", "amount": "500.00"},
    _isf("2026-03-01", type="isf_open", hours_per_month="10", rate="10.00",
         carry={"max_hours": "2", "max_borrow_hours": "1"}),
    _isf("2026-03-05", type="isf_advance", month="2026-03"),
    _isf("2026-03-06", type="isf_delivery", hours="3"),
    _isf("2026-03-31", type="isf_reconcile", month="2026-03"),
    {"date": _d("2026-04-01"), "type": "reverse", "event": "ox#4", "reason": "wrong sheet"},
    _isf("2026-04-02", type="isf_close"),
    {"date": _d("2026-04-03"), "type": "reverse", "event": "ox#7", "reason": "oops"},
    _isf("2026-04-04", type="isf_advance", month="2026-04"),
    {"date": _d("2026-04-05"), "type": "reverse", "event": "ox#9", "reason": "oops"},
    {"date": D0, "type": "pool_open", "pool": "L1", "members": ["H1", "H2"]},
    {"date": _d("2026-03-02"), "type": "pool_contribute", "pool": "L1", "holder": "H1",
     "amount": "10.00"},
    {"date": _d("2026-03-02"), "type": "pool_contribute", "pool": "L1", "holder": "H2",
     "amount": "10.00"},
    {"date": _d("2026-03-03"), "type": "pool_spend", "pool": "L1", "payee": "CAFE",
     "amount": "0.03", "split": "ratio", "weights": {"H1": "1", "H2": "0.5"}},
    {"date": _d("2026-03-04"), "type": "pool_leave", "pool": "L1", "holder": "H1"},
    {"date": _d("2026-03-05"), "type": "reverse", "event": "ox#15", "reason": "oops"},
    {"date": _d("2026-03-06"), "type": "pool_close", "pool": "L1"},
    {"date": _d("2026-03-07"), "type": "reverse", "event": "ox#17", "reason": "oops"},
    {"date": _d("2026-03-08"), "type": "reverse", "event": "ox#14", "reason": "oops"},
    {"date": D0, "type": "fund_open", "fund": "F1", "council": "C1", "total": "300.00",
     "cap_per_person": "100.00"},
    {"date": _d("2026-03-02"), "type": "bursary_award", "fund": "F1", "holder": "H1",
     "amount": "60.00"},
    {"date": _d("2026-03-02"), "type": "bursary_award", "fund": "F1", "holder": "H1",
     "amount": "40.01"},
    {"date": _d("2026-03-03"), "type": "bursary_spend", "fund": "F1", "holders": ["H1", "H2"],
     "payee": "COLLEGE", "amount": "10.01"},
    {"date": _d("2026-03-04"), "type": "bursary_award", "fund": "F1", "holder": "H2",
     "amount": "20.00"},
    {"date": _d("2026-03-05"), "type": "bursary_spend", "fund": "F1", "holders": ["H1", "H2"],
     "payee": "COLLEGE", "amount": "10.01"},
    {"date": _d("2026-03-06"), "type": "reverse", "event": "ox#21", "reason": "oops"},
    {"date": _d("2026-03-07"), "type": "fund_close", "fund": "F1"},
    {"date": _d("2026-03-08"), "type": "reverse", "event": "ox#27", "reason": "oops"},
    {"date": _d("2026-03-09"), "type": "reverse", "event": "ox#20", "reason": "oops"},
    {"date": _d("2026-03-10"), "type": "reverse", "event": "ox#27", "reason": "twice"},
    {"date": D0, "type": "block_open", "contract": "B1", "council": "C2", "provider": "P2",
     "amount_per_month": "1000.00", "capacity_hours_per_month": "40"},
    {"date": _d("2026-03-02"), "type": "block_payment", "contract": "B1", "month": "2026-03"},
    {"date": _d("2026-03-03"), "type": "reverse", "event": "ox#32", "reason": "wrong month"},
    {"date": _d("2026-03-04"), "type": "block_payment", "contract": "B1", "month": "2026-03"},
]


# ------------------------------------------------------------------ driving both sides

def _ledger_outcome(store: DbStore, raw: dict, key: str, index: int) -> str:
    try:
        apply_event(store, raw, key, index)
    except EventFailed as err:
        return str(err).split(":")[0]
    return "accepted"


def run_both(kind: str, events: list[dict], period: tuple[dt.date, dt.date]) -> None:
    model = Model(model_parties())
    with tempfile.TemporaryDirectory() as folder, migrated_database(kind, Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        try:
            with engine.begin() as conn:
                store = DbStore(conn)
                run_scenario(store, ScenarioFile.model_validate(
                    {"format": 1, "name": "ox", "parties": PARTIES, "events": []}))
                for index, raw in enumerate(events):
                    key = str(raw.get("id") or f"ox#{index}")
                    try:
                        model.apply(raw, key)
                        want = "accepted"
                    except Refused as err:
                        want = err.code
                        note(f"model refuses #{index}: {err}")
                    except NotModelled as err:
                        note(f"not modelled, sent to neither side #{index}: {err}")
                        continue
                    got = _ledger_outcome(store, raw, key, index)
                    assert same_code(model, raw, key, got, want), \
                        f"event #{index} {raw}: ledger {got}, model {want}"
            with engine.connect() as conn:
                got_balances = {(r.account, r.unit.value): r.minor for r in balances(conn)}
                assert got_balances == model.balances(), "balances differ"
                store = DbStore(conn)
                for h in HOLDERS:
                    for start, end in (period, (D0, D0 + dt.timedelta(days=SPAN + 60))):
                        got = holder_statement(store, h, start, end)["accounts"]
                        want_rows = model.holder_accounts(h, start, end)
                        assert got == want_rows, f"statement {h} {start}..{end} differs"
        finally:
            engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_ledger_agrees_with_the_documented_rules(kind):
    if kind == "postgres":
        require_postgres()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(scenario_events(), periods)
    @example(TRUST_PROBE, (_d("2026-04-01"), _d("2026-04-30")))
    @example(REVERSAL_PROBE, (_d("2026-03-03"), _d("2026-03-31")))
    def check(events, period):
        run_both(kind, events, period)

    check()
