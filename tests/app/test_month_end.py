"""Which ISFs a provider's month end takes, and under which keys (docs/month-end.md
#which-isfs): an ISF closed during the month is skipped and named, the others advanced; a
month never advanced is not reconciled but named; a reversed advance can be made again
under a new key; running either twice posts nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.app.month_end import run
from ledger.app.rebuild import rebuild_break
from ledger.app.submit import submit
from ledger.core.amounts import Unit
from ledger.core.items import Declare, Item
from ledger.errors import UsageError
from ledger.store.repo import DbStore
from ledger.store.verify import first_break

PARTIES = [{"kind": "council", "id": "WBC", "name": "Wokingham"},
           {"kind": "provider", "id": "SH", "name": "Support Horizons"},
           {"kind": "provider", "id": "OT", "name": "Other"},
           *({"kind": "holder", "id": h, "name": h, "council": "WBC"}
             for h in ("H1", "H2", "H3", "H4"))]


def _open(holder: str, date: str = "2026-04-01", provider: str = "SH") -> dict:
    return {"date": date, "type": "isf_open", "holder": holder, "provider": provider,
            "hours_per_month": 10, "rate": "20.00"}


def _post(engine, *events: dict, name: str = "setup") -> None:
    with engine.connect() as conn:
        done = submit(DbStore(conn, batch=True),
                      [Declare(PARTIES),
                       *(Item(e, e.get("id") or f"{name}#{n}") for n, e in enumerate(events))])
    assert done.ok, done.refusals


def _month_end(engine, kind: str, month: str = "2026-04", provider: str = "SH"):
    with engine.connect() as conn:
        return run(DbStore(conn, batch=True), kind, provider, month)


def _hours(engine, holder: str, provider: str = "SH") -> int:
    with engine.connect() as conn:
        return DbStore(conn).balance(f"isf:{holder}:{provider}", Unit.HRS)


def _recorded(engine, key: str) -> bool:
    with engine.connect() as conn:
        return DbStore(conn).event_hash(key) is not None


def _verified(engine) -> None:
    with engine.connect() as conn:
        assert first_break(conn) is None
        assert rebuild_break(conn) is None


def test_advance_skips_an_isf_closed_during_the_month_names_it_and_advances_the_rest(engine):
    _post(engine, _open("H1"), _open("H2"), _open("H3"), _open("H1", provider="OT"),
          _open("H4", "2026-05-02"),  # opens after April: not April's
          {"date": "2026-04-20", "type": "isf_close", "holder": "H3", "provider": "SH"})
    done = _month_end(engine, "advance")
    assert done.ok and done.outcome.applied == 2
    assert [(s.holder, s.why) for s in done.skipped] == [("H3", "closed on 2026-04-20")]
    assert (_hours(engine, "H1"), _hours(engine, "H2"), _hours(engine, "H3")) == (600, 600, 0)
    assert _hours(engine, "H1", "OT") == 0 and _hours(engine, "H4") == 0
    assert _recorded(engine, "isf-month-end/SH/H1/2026-04/advance")
    _verified(engine)


def test_an_isf_opened_during_the_month_is_advanced_from_its_opening_day(engine):
    _post(engine, _open("H1"), _open("H2", "2026-04-15"))
    done = _month_end(engine, "advance")
    assert done.ok and done.outcome.applied == 2 and not done.skipped
    with engine.connect() as conn:
        store = DbStore(conn)
        assert store.balance_as_of("isf:H2:SH", Unit.HRS, dt.date(2026, 4, 14)) == 0
        assert store.balance_as_of("isf:H2:SH", Unit.HRS, dt.date(2026, 4, 15)) > 0


def test_reconcile_leaves_an_isf_never_advanced_for_the_month_and_names_it(engine):
    _post(engine, _open("H1"), _open("H2"))
    assert _month_end(engine, "advance").outcome.applied == 2
    _post(engine, _open("H3", "2026-04-10"), name="late")  # after the month's advances
    done = _month_end(engine, "reconcile")
    assert done.ok and done.outcome.applied == 2
    assert [(s.holder, s.why) for s in done.skipped] == [("H3", "not advanced")]
    assert _recorded(engine, "isf-month-end/SH/H1/2026-04/reconcile")
    assert not _recorded(engine, "isf-month-end/SH/H3/2026-04/reconcile")
    # H3 can still be advanced for April, and then reconciled.
    assert _month_end(engine, "advance").outcome.applied == 1
    again = _month_end(engine, "reconcile")
    assert again.outcome.applied == 1 and not again.skipped
    _verified(engine)


def test_a_reversed_advance_is_made_again_under_a_new_key(engine):
    _post(engine, _open("H1"), _open("H2"))
    assert _month_end(engine, "advance").outcome.applied == 2
    first = "isf-month-end/SH/H1/2026-04/advance"
    _post(engine, {"date": "2026-04-02", "type": "reverse", "event": first,
                   "reason": "posted twice by mistake"}, name="undo")
    assert _hours(engine, "H1") == 0
    done = _month_end(engine, "advance")
    assert done.ok and done.outcome.applied == 1  # H1 again; H2 still advanced
    assert _recorded(engine, f"{first}/2")
    assert _hours(engine, "H1") == 600
    assert _month_end(engine, "advance").outcome.applied == 0
    _verified(engine)


@pytest.mark.parametrize("kind", ["advance", "reconcile"])
def test_running_a_month_end_twice_posts_nothing_the_second_time(engine, kind):
    _post(engine, _open("H1"), _open("H2"))
    if kind == "reconcile":
        _month_end(engine, "advance")
    first = _month_end(engine, kind)
    assert first.ok and first.outcome.applied == 2
    again = _month_end(engine, kind)
    assert again.ok and (again.outcome.applied, again.outcome.skipped) == (0, 0)
    assert again.skipped == first.skipped == []
    _verified(engine)


def test_a_refusal_for_one_isf_posts_nothing_for_any(engine):
    _post(engine, _open("H1"), _open("H2"))
    _month_end(engine, "advance")
    _month_end(engine, "advance", "2026-05")
    done = _month_end(engine, "reconcile", "2026-05")  # April first: months go in order
    assert not done.ok and not done.outcome.written
    assert {r.item.event["holder"] for r in done.outcome.refusals} == {"H1", "H2"}
    assert not _recorded(engine, "isf-month-end/SH/H1/2026-05/reconcile")


def test_a_provider_the_ledger_does_not_know_is_a_usage_error(engine):
    _post(engine, _open("H1"))
    with pytest.raises(UsageError, match="provider 'XX' is not in ledger"):
        _month_end(engine, "advance", provider="XX")
