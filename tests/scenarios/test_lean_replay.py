"""verify's replay compares each journal an event posts with the stored one as it goes,
keeping only its hash (docs/rules-trust.md#verify): each kind of difference is named."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.app.rebuild import LeanReplay, rebuild_break
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, Posting
from ledger.store.repo import DbStore

pytestmark = pytest.mark.citus


def _pay(key: str, pence: int) -> Journal:
    return Journal(key, "dp_payment", dt.date(2026, 4, 1),
                   (Posting("council:C1:funding", Unit.GBP, -pence),
                    Posting("holder:H1:dp", Unit.GBP, pence)), key)


def _store(engine) -> None:
    with engine.connect() as conn:
        DbStore(conn).post([_pay("a", 100), _pay("b", 200)])
        conn.commit()


def _replay(engine, *journals: Journal) -> str | None:
    with engine.connect() as conn:
        lean = LeanReplay(DbStore(conn))
        for j in journals:
            lean.apply(Change(EventRecord(j.key, "journals", j.date, "h"), journals=[j]))
        return lean.finish()


def test_the_same_journals_in_the_same_order_pass(engine):
    _store(engine)
    assert _replay(engine, _pay("a", 100), _pay("b", 200)) is None
    with engine.connect() as conn:
        assert rebuild_break(conn) is None


def test_a_journal_stored_with_other_postings_is_named(engine):
    _store(engine)
    assert _replay(engine, _pay("a", 101), _pay("b", 200)) == (
        "journal a differs from what its event posts")


def test_a_journal_the_events_do_not_post_is_named(engine):
    _store(engine)
    assert _replay(engine, _pay("a", 100)) == (
        "journal b is stored but no recorded event posts it")
    assert _replay(engine, _pay("a", 100), _pay("c", 5)) == (
        "journal b is stored where the recorded events post c")


def test_a_journal_the_events_post_but_nobody_stored_is_named(engine):
    _store(engine)
    assert _replay(engine, _pay("a", 100), _pay("b", 200), _pay("c", 5)) == (
        "journal c is missing: a recorded event posts it")
