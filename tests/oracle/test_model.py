"""The oracle model itself gives the figures the contract's ISF rules of 2026-12-06 state
(no ledger here): a check that the oracle can be trusted where the ledger is compared
with it (tests/oracle/test_oracle_month_end.py)."""

from __future__ import annotations

import datetime as dt

from tests.oracle import month_end as me
from tests.oracle.model import Model, NotModelled, Refused
from tests.oracle.steps import PAYEES
from tests.oracle.stories import STORIES
from tests.oracle.strategies import model_parties


def play(steps: list[dict]) -> tuple[Model, list]:
    """Each step's outcome: `accepted` or a code for an event, the Outcome of a command."""
    model, out = Model(model_parties()), []
    for step in steps:
        kind = step["kind"]
        if kind == "event":
            try:
                model.apply(step["raw"], step["raw"]["id"])
                out.append("accepted")
            except Refused as err:
                out.append(err.code)
        elif kind in ("advance", "reconcile"):
            out.append(getattr(me, kind)(model, step["provider"], step["month"]))
        elif kind == "timesheet":
            out.append(me.import_timesheet(model, step["provider"], step["rows"], step["late"]))
        elif kind == "bank":
            out.append(me.import_bank(model, step["holder"], step["lines"], PAYEES))
        else:
            out.append(None)
    return model, out


def journals(model: Model, jtype: str) -> list[int]:
    return [x for j in model.journals if j.type == jtype for a, _, x in j.postings
            if a.startswith("isf:")]


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_an_inside_fee_grants_the_minutes_the_money_after_it_buys():
    model, out = play(STORIES["inside_fee_grants_the_minutes_its_money_buys"])
    assert journals(model, "isf_advance") == [540, 19_500]  # 9 hours, all the £195.00
    assert journals(model, "isf_fee") == [-1_950]
    assert out[3] == "insufficient_funds"  # a minute past the 9 hours, nothing to borrow


def test_pro_rata_first_month_is_advanced_for_the_days_open_from_the_opening_day():
    model, _ = play(STORIES["first_month_pro_rata_is_advanced_from_the_opening_day"])
    assert model.balance("isf:H1:P1", "HRS", d("2026-04-15")) == 0
    assert model.balance("isf:H1:P1", "HRS", d("2026-04-16")) == 15 * 60  # 15 of 30 days
    assert model.balance("isf:H1:P1", "GBP", d("2026-04-16")) == 30_000
    assert model.balance("isf:H3:P1", "HRS", d("2026-04-16")) == 30 * 60  # full
    assert model.balance("isf:H1:P1", "HRS", d("2026-05-01")) == 45 * 60  # May in full


def test_lots_are_worked_out_in_date_order_whatever_the_recording_order():
    first, _ = play(STORIES["lots_in_date_order_reconcile_first"])
    later, _ = play(STORIES["lots_in_date_order_next_month_first"])
    assert first.balances() == later.balances()
    # April: 10 hours less 4 delivered expire; May's 4:30 come out of May's lot.
    assert journals(first, "isf_hours_expiry") == journals(later, "isf_hours_expiry") == [
        -360, -330]


def test_support_after_an_open_month_is_checked_as_its_reconciliation_will_leave_it():
    _, out = play(STORIES["support_after_an_open_month_never_uses_the_hours_its_end_expires"])
    assert [out[i] for i in (4, 5, 7)] == ["insufficient_funds", "accepted",
                                          "insufficient_funds"]


def test_the_return_counts_only_the_money_of_months_up_to_m():
    model, _ = play(STORIES["return_is_limited_to_the_money_of_months_up_to_m"])
    assert journals(model, "isf_hours_expiry") == [-600]
    assert journals(model, "isf_underspend_return") == []  # April's money was all spent
    assert model.balance("isf:H1:P1", "GBP", d("2026-04-30")) == 20_000  # May's, untouched


def test_reconcile_needs_an_advance_and_a_reversed_advance_can_be_redone():
    _, out = play(STORIES["reconcile_needs_an_advance"])
    assert out[2] == "invalid"
    assert [o.reconciled for o in (out[4], out[6])] == [["H3"], ["H1"]]
    model, out = play(STORIES["a_reversed_advance_can_be_advanced_again"])
    assert [o.exit for o in (out[1], out[3], out[5])] == [0, 0, 0] and out[4] == "accepted"
    assert "isf-month-end/P1/H1/2026-04/advance/3" in model.events
    assert journals(model, "isf_hours_expiry") == [-600]


def test_delivery_dates_are_checked_and_late_support_keeps_its_rate():
    model, out = play(STORIES["delivery_dates_are_checked_the_same_way"])
    assert [out[i] for i in (1, 5, 6, 11, 12)] == [
        "invalid", "period_closed", "period_closed", "invalid", "invalid"]
    income = [x for j in model.journals if j.type == "isf_delivery"
              for a, u, x in j.postings if a == "provider:P1:income"]
    assert income == [4_000, 2_000, 2_500]  # worked on in April: April's £20.00


def test_timesheet_times_are_wall_clock_times_in_london():
    assert me.visit_minutes(d("2026-03-28"), "22:00", "06:30") == 7 * 60 + 30
    assert me.visit_minutes(d("2026-10-24"), "22:00", "06:30") == 9 * 60 + 30
    assert me.visit_minutes(d("2026-03-29"), "01:30", "03:00") is None
    assert me.visit_minutes(d("2026-10-25"), "01:30", "03:00") is None
    assert me.visit_minutes(d("2026-04-01"), "10:00", "10:00") is None
    _, out = play(STORIES["timesheet_files_are_all_or_nothing"])
    assert [o.exit for o in out[2:8]] == [2, 0, 0, 2, 2, 2]
    assert [o.exit for o in out[9:]] == [2, 0, 0, 0]


def test_bank_lines_post_spends_and_match_money_in():
    model, out = play(STORIES["bank_lines_are_spends_or_recorded_payments"])
    assert [o.exit for o in out[1:]] == [0, 0, 2, 2, 2, 0]
    assert model.balance("holder:H1:dp", "GBP") == 100_000 - 5_000 - 2_000


def test_a_case_the_docs_leave_open_is_not_modelled_rather_than_guessed():
    model, _ = play(STORIES["return_is_limited_to_the_money_of_months_up_to_m"][:2])
    model.apply({"date": d("2026-04-20"), "type": "isf_delivery", "holder": "H1",
                 "provider": "P1", "hours": "1"}, "d")
    backdated_close = {"date": d("2026-04-10"), "type": "isf_close", "holder": "H1",
                       "provider": "P1"}
    try:
        model.apply(backdated_close, "c")
    except NotModelled:
        return
    raise AssertionError("a closure dated before support it would have ended was modelled")
