"""Reading an event's fields remembers what each text gave (a year's file writes the same
dates, amounts and ids thousands of times) and checks a flat event's text at once; the
answers must be exactly those of reading each value afresh."""

from __future__ import annotations

import datetime as dt

import pytest

from ledger.app.events import parse_event
from ledger.errors import LedgerError


def _refusal(raw: dict) -> str:
    with pytest.raises(LedgerError) as caught:
        parse_event(raw)
    return str(caught.value)


def test_a_refused_value_is_refused_every_time_with_the_same_message():
    good = {"date": "2026-04-01", "type": "dp_payment", "holder": "H1", "amount": "10.00"}
    for _ in range(3):
        event = parse_event(good)
        assert (event.date, event.amount, event.holder) == (dt.date(2026, 4, 1), 1000, "H1")
        assert _refusal({**good, "amount": "10.005"}) == (
            "invalid: amount: '10.005' has more than 2 decimal places")
        assert _refusal({**good, "date": "2026-02-30"}) == (
            "invalid: date: '2026-02-30' is not a date on the calendar")
        assert _refusal({**good, "holder": "h1"}).startswith("invalid: holder: party id 'h1'")


def test_the_same_text_gives_the_same_value_and_true_is_not_one():
    base = {"date": "2026-04-01", "type": "dp_payment", "holder": "H1"}
    assert parse_event({**base, "amount": "1"}).amount == 100
    assert parse_event({**base, "amount": 1}).amount == 100
    assert _refusal({**base, "amount": True}) == "invalid: amount: expected a number, got True"


@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb", "x" * 201])
def test_a_flat_event_with_bad_text_anywhere_is_refused(bad):
    base = {"date": "2026-04-01", "type": "dp_spend", "holder": "H1", "amount": "1.00",
            "payee": "Shop", "category": "food"}
    assert _refusal({**base, "payee": bad}).startswith("invalid: payee: ")
    assert _refusal({**base, bad: "x"}).startswith("invalid: a field name: ")
