"""Direct payments: one-off and scheduled payments, contributions, spending and reviews
(docs/scenarios.md, docs/rules-dp-isf.md)."""

from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit, format_pence
from ledger.domain.dp import add_months
from ledger.scenarios.schema import load_scenario
from ledger.store.memory import MemoryBackend
from tests.domain.support import run_events

ROOT = Path(__file__).resolve().parents[2]
PARTIES = {
    "councils": [{"id": "BCC", "name": "Bramley"}, {"id": "NHS", "name": "Health board"}],
    "holders": [{"id": "H1", "name": "Ben Example", "council": "BCC"}],
}
DP = "holder:H1:dp"


def run(events: list[dict], backend: MemoryBackend | None = None, name: str = "t"
        ) -> MemoryBackend:
    return run_events(PARTIES, events, backend, name)


def gbp(backend: MemoryBackend, account: str) -> str:
    return format_pence(backend.balance(account, Unit.GBP))


def pay(amount, date: str = "2026-04-01", **more) -> dict:
    return {"date": date, "type": "dp_payment", "holder": "H1", "amount": amount, **more}


def spend(amount, date: str = "2026-04-10", payee: str = "PA-JONES", **more) -> dict:
    return {"date": date, "type": "dp_spend", "holder": "H1", "payee": payee,
            "amount": amount, **more}


def schedule(every: str, start: str, amount="100.00", **more) -> dict:
    return {"date": start, "type": "dp_schedule", "id": "plan", "holder": "H1",
            "amount": amount, "every": every, "start": start, **more}


def run_until(until: str, date: str | None = None, **more) -> dict:
    return {"date": date or until, "type": "run_payments", "until": until, **more}


def paid_dates(backend: MemoryBackend) -> list[str]:
    return [j.date.isoformat() for j in backend.journals if j.type == "dp_payment"]


# ---------------------------------------------------------------- payments and spending


def test_dp_payment_moves_council_funding_into_the_dp_account():
    b = run([pay("1200.00")])
    assert gbp(b, DP) == "1200.00"
    assert gbp(b, "council:BCC:funding") == "-1200.00"
    assert b.journals[0].holder == "H1"


def test_dp_payment_from_another_council_when_given():
    b = run([pay("50.00", council="NHS"), pay("1", council="XX", expect_error="unknown_party")])
    assert gbp(b, "council:NHS:funding") == "-50.00"
    assert gbp(b, "council:BCC:funding") == "0.00"


def test_amounts_must_be_positive_and_whole_pence():
    b = run([pay("0", expect_error="invalid"), pay("-5.00", expect_error="invalid"),
             pay("10.005", expect_error="invalid"), pay(12.5)])
    assert gbp(b, DP) == "12.50"


def test_contribution_moves_the_holders_own_money_into_the_dp_account():
    b = run([{"date": "2026-04-01", "type": "contribution", "holder": "H1", "amount": "150"}])
    assert gbp(b, DP) == "150.00"
    assert gbp(b, "holder:H1:own") == "-150.00"


def test_undeclared_holder_is_unknown_party():
    run([pay("10", holder="H9", expect_error="unknown_party"),
         spend("1", holder="H9", expect_error="unknown_party")])


def test_dp_spend_pays_an_external_payee_and_keeps_its_category():
    b = run([pay("100.00"), spend("60.00", category="wages")])
    assert gbp(b, DP) == "40.00"
    assert gbp(b, "external:PA-JONES") == "60.00"
    assert b.journals[-1].memo == {"payee": "PA-JONES", "category": "wages"}


def test_dp_spend_payee_is_an_external_name_with_or_without_its_prefix():
    b = run([pay("100.00"), spend("10.00", payee="external:TESCO"), spend("5.00", payee="TESCO"),
             spend("1.00", payee="A:B", expect_error="invalid"),
             spend("1.00", payee=" ", expect_error="invalid")])
    assert gbp(b, "external:TESCO") == "15.00"


def test_dp_spend_that_would_overdraw_the_account_is_insufficient_funds():
    b = MemoryBackend()
    run([pay("100.00")], b)
    try:
        apply_event(b, spend("100.01"), "over")
    except EventFailed as err:
        assert str(err).startswith("insufficient_funds")
        assert "holder:H1:dp holds £100.00" in str(err)
    else:
        raise AssertionError("an overdrawing spend was accepted")
    run([spend("100.00")], b, "exact")  # spending to exactly zero is fine
    assert gbp(b, DP) == "0.00"


# ---------------------------------------------------------------- schedules


def test_monthly_schedule_from_31_january_clamps_to_month_end_each_month():
    b = run([schedule("monthly", "2024-01-31"), run_until("2024-05-31")])
    assert paid_dates(b) == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30",
                             "2024-05-31"]
    b = run([schedule("monthly", "2025-01-31"), run_until("2025-03-31")])
    assert paid_dates(b) == ["2025-01-31", "2025-02-28", "2025-03-31"]


def test_arrears_pay_the_day_after_the_period_ends():
    b = run([schedule("monthly", "2025-01-31", timing="arrears"), run_until("2025-04-30")])
    # Periods: 31 Jan-27 Feb, 28 Feb-30 Mar, 31 Mar-29 Apr.
    assert paid_dates(b) == ["2025-02-28", "2025-03-31", "2025-04-30"]
    assert [j.memo["period_end"] for j in b.journals] == ["2025-02-27", "2025-03-30",
                                                         "2025-04-29"]


def test_weekly_advance_pays_on_each_periods_first_day():
    b = run([schedule("weekly", "2026-04-06"), run_until("2026-04-27")])
    assert paid_dates(b) == ["2026-04-06", "2026-04-13", "2026-04-20", "2026-04-27"]
    b = run([schedule("weekly", "2026-04-06", timing="arrears"), run_until("2026-04-27")])
    assert paid_dates(b) == ["2026-04-13", "2026-04-20", "2026-04-27"]


def test_four_weekly_periods_are_28_days_apart():
    b = run([schedule("four_weekly", "2026-04-01", amount="560.00"), run_until("2026-06-30")])
    assert paid_dates(b) == ["2026-04-01", "2026-04-29", "2026-05-27", "2026-06-24"]
    assert gbp(b, DP) == "2240.00"


def test_schedule_pays_only_periods_that_start_by_its_end():
    b = run([schedule("monthly", "2026-04-01", end="2026-06-30"), run_until("2026-12-31")])
    assert paid_dates(b) == ["2026-04-01", "2026-05-01", "2026-06-01"]
    b = run([schedule("monthly", "2026-04-01", end="2026-06-30", timing="arrears"),
             run_until("2026-12-31")])
    assert paid_dates(b) == ["2026-05-01", "2026-06-01", "2026-07-01"]


def test_schedule_ending_before_it_starts_is_invalid():
    run([schedule("monthly", "2026-04-01", end="2026-03-31", expect_error="invalid"),
         {**schedule("yearly", "2026-04-01", expect_error="invalid"), "id": "plan2"}])


def test_scheduled_payment_key_is_schedule_id_and_period_start():
    b = run([schedule("weekly", "2026-04-06", timing="arrears"), run_until("2026-04-13")])
    assert [j.key for j in b.journals] == ["plan@2026-04-06"]
    assert b.journals[0].date == dt.date(2026, 4, 13)


def test_run_payments_never_pays_a_period_twice():
    b = run([schedule("monthly", "2026-04-01"), run_until("2026-05-31"),
             run_until("2026-06-30", "2026-06-01"), run_until("2026-06-30", "2026-06-30"),
             run_until("2026-04-30", "2026-07-01")])
    assert paid_dates(b) == ["2026-04-01", "2026-05-01", "2026-06-01"]
    assert gbp(b, DP) == "300.00"


def test_replaying_a_payment_run_posts_nothing_new():
    events = [schedule("monthly", "2026-04-01"), run_until("2026-06-30")]
    b = run(events)
    run(events, b)
    assert gbp(b, DP) == "300.00"


def test_a_payment_due_in_a_closed_period_is_paid_late_not_blocking_the_run():
    # docs/rules-trust.md#closed-periods (this test used to pin the run being refused).
    b = run([schedule("monthly", "2026-04-01"),
             {"date": "2026-04-30", "type": "close_period", "until": "2026-04-30"},
             run_until("2026-05-31")])
    assert gbp(b, DP) == "200.00"
    april, may = [j for j in b.journals if j.type == "dp_payment"]
    assert (april.key, april.date.isoformat(), april.memo["due"]) == \
        ("plan@2026-04-01", "2026-05-01", "2026-04-01")
    assert (may.date.isoformat(), "due" in may.memo) == ("2026-05-01", False)


def test_reversed_scheduled_payment_is_not_paid_again():
    b = run([schedule("monthly", "2026-04-01"), {**run_until("2026-04-30"), "id": "r1"},
             {"date": "2026-04-30", "type": "reverse", "event": "r1", "reason": "in hospital"},
             run_until("2026-05-31")])
    assert gbp(b, DP) == "100.00"
    assert gbp(b, "council:BCC:funding") == "-100.00"


# ---------------------------------------------------------------- review


def review(weekly, weeks, date: str = "2026-07-01", **more) -> dict:
    return {"date": date, "type": "dp_review", "holder": "H1", "weekly_amount": weekly,
            "max_weeks": weeks, **more}


def test_dp_review_recovers_exactly_the_surplus_as_a_typed_journal():
    b = run([pay("1000.00"), review("100.00", 8, contingency="50.00")])
    recovery = b.journals[-1]
    assert recovery.type == "surplus_recovery"
    assert recovery.memo["surplus_pence"] == 15000
    assert gbp(b, DP) == "850.00"
    assert gbp(b, "council:BCC:funding") == "-850.00"


def test_dp_review_without_a_surplus_posts_nothing():
    b = run([pay("800.00"), review("100.00", 8), review("100.00", 8, "2026-07-02",
                                                          contingency="1.00")])
    assert [j.type for j in b.journals] == ["dp_payment"]
    assert gbp(b, DP) == "800.00"
    reviews = b.get_state("dp_reviews", "H1")["reviews"]
    assert [r["surplus_pence"] for r in reviews] == [0, -100]


def test_dp_review_weeks_may_be_fractional_and_round_once_half_away():
    # 6.5 x £100.01 = £650.065 -> £650.07 kept; £700.00 - £650.07 = £49.93 recovered.
    b = run([pay("700.00"), review("100.01", "6.5")])
    assert gbp(b, DP) == "650.07"


def test_dp_review_uses_the_balance_on_its_own_date():
    b = run([pay("1000.00", "2026-04-01"), pay("500.00", "2026-08-01"),
             review("100.00", 4, "2026-07-01")])
    assert gbp(b, "council:BCC:funding") == "-900.00"  # 600.00 surplus on 1 July


def test_dp_review_rejects_negative_weeks_and_contingency():
    run([pay("10"), review("1", "-1", expect_error="invalid"),
         review("1", 1, contingency="-1", expect_error="invalid"),
         review("0", 1, expect_error="invalid")])


# ---------------------------------------------------------------- properties

dates = st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31))


@settings(max_examples=200, deadline=None)
@given(start=dates, months=st.integers(0, 150))
def test_monthly_period_start_is_the_start_day_clamped_to_month_end(start, months):
    got = add_months(start, months)
    index = start.year * 12 + start.month - 1 + months
    year, month0 = divmod(index, 12)
    assert (got.year, got.month) == (year, month0 + 1)
    assert got.day == min(start.day, calendar.monthrange(got.year, got.month)[1])


@settings(max_examples=100, deadline=None)
@given(start=dates, every=st.sampled_from(["weekly", "four_weekly", "monthly"]),
       timing=st.sampled_from(["advance", "arrears"]), days=st.integers(0, 400),
       split=st.integers(0, 400))
def test_payment_runs_in_steps_pay_the_same_as_one_run(start, every, timing, days, split):
    until = start + dt.timedelta(days=days)
    midway = start + dt.timedelta(days=min(split, days))
    plan = schedule(every, start.isoformat(), timing=timing)
    once = run([plan, run_until(until.isoformat())])
    steps = run([plan, run_until(midway.isoformat()), run_until(until.isoformat())])
    assert [(j.key, j.date) for j in once.journals] == [(j.key, j.date) for j in steps.journals]
    dates_paid = [j.date for j in once.journals]
    assert dates_paid == sorted(set(dates_paid))
    assert all(start <= d <= until for d in dates_paid)
    step = {"weekly": 7, "four_weekly": 28}.get(every)
    if step:
        first = start if timing == "advance" else start + dt.timedelta(days=step)
        assert len(dates_paid) == max(0, (until - first).days // step + 1)


money = st.integers(1, 2000_00)
dp_ops = st.lists(st.one_of(
    st.tuples(st.just("pay"), money), st.tuples(st.just("contribution"), money),
    st.tuples(st.just("spend"), money), st.tuples(st.just("review"), money),
), max_size=15)


@settings(max_examples=150, deadline=None)
@given(dp_ops)
def test_dp_balance_is_payments_plus_contributions_less_spends_and_recoveries(ops):
    b = MemoryBackend()
    b.add_parties([{"kind": "council", "id": "BCC", "name": "B"},
                   {"kind": "holder", "id": "H1", "name": "H", "council": "BCC"}])
    for n, (kind, pence) in enumerate(ops):
        event = {"pay": pay(format_pence(pence)), "spend": spend(format_pence(pence)),
                 "contribution": {"date": "2026-04-01", "type": "contribution",
                                  "holder": "H1", "amount": format_pence(pence)},
                 "review": review(format_pence(pence), 2)}[kind]
        try:
            apply_event(b, event, f"e{n}")
        except EventFailed as err:
            assert kind == "spend" and str(err).startswith("insufficient_funds"), err
        assert b.balance(DP, Unit.GBP) >= 0
    by_type: dict[str, int] = {}
    for j in b.journals:
        by_type[j.type] = by_type.get(j.type, 0) + j.postings[1].amount_minor
    assert b.balance(DP, Unit.GBP) == (
        by_type.get("dp_payment", 0) + by_type.get("contribution", 0)
        - by_type.get("dp_spend", 0) - by_type.get("surplus_recovery", 0))


# ---------------------------------------------------------------- example scenario


def test_dp_holder_example_scenario_runs_and_meets_its_expectations():
    scenario = load_scenario(ROOT / "scenarios" / "dp-holder.yaml")
    b = MemoryBackend()
    result = run_scenario(b, scenario)
    assert result.failure is None, result.failure
    assert result.rejected_as_expected == 1
    again = run_scenario(b, scenario)
    assert again.failure is None and again.journals == 0


def test_ending_a_schedule_stops_payments_for_periods_starting_after_the_end():
    b = run([schedule("weekly", "2026-04-06", amount="50.00", id="S1"),
             run_until("2026-04-20"),
             {"date": "2026-04-21", "type": "dp_schedule_end", "schedule": "S1",
              "end": "2026-04-30"},
             run_until("2026-06-30")])
    # Weeks starting 6, 13, 20 and 27 April; 4 May starts after the end.
    assert paid_dates(b) == ["2026-04-06", "2026-04-13", "2026-04-20", "2026-04-27"]
    assert gbp(b, DP) == "200.00"


def test_ending_a_schedule_before_a_paid_period_or_unknown_schedule_is_invalid():
    b = run([schedule("weekly", "2026-04-06", id="S1"), run_until("2026-04-20")])
    for end, name in (("2026-04-14", "S1"), ("2026-04-30", "S9"), ("2026-04-01", "S1")):
        with pytest.raises(EventFailed, match="^invalid:"):
            apply_event(b, {"date": "2026-04-21", "type": "dp_schedule_end",
                            "schedule": name, "end": end}, f"end-{name}-{end}")
