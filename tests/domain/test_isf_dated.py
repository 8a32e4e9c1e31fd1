"""The ISF rules of 2026-12-06 (docs/rules-dp-isf.md): an inside fee grants the hours its
money buys, a first month in full or pro rata, support dates and `worked_on`, a reconciled
month closed, hour lots in date order and a return that counts only the months up to the
one reconciled, a reconciliation only after an advance, and an advance that can be
redone after it is reversed. Records made under the earlier rules keep them
(docs/rules-trust.md#rules-versions)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed, apply_event
from ledger.app.rebuild import rebuild_break
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.scenarios.schema import ScenarioFile
from ledger.store.memory import MemoryBackend
from ledger.store.repo import DbStore
from ledger.store.verify import first_break
from tests.domain.test_isf import (
    ISF,
    PARTIES,
    advance,
    deliver,
    journals,
    lots,
    opened,
    reconcile,
    reverse,
    run,
)


def purchase(amount: str, date: str, **more) -> dict:
    return {"date": date, "type": "isf_purchase", "holder": "H1", "provider": "SH",
            "payee": "GYM", "amount": amount, **more}


def state(b: MemoryBackend) -> dict:
    found = b.get_state("isf", "H1:SH")
    assert found is not None
    return found


# ---------------------------------------------------------------- an inside fee

FEE_8 = {"hours_per_month": 60, "rate": "21.50",
         "fee": {"kind": "percent", "value": "8", "basis": "inside"}}


def test_an_inside_fee_grants_the_whole_minutes_its_money_buys():
    # £1,290.00 for the month less the 8% fee (£103.20) is £1,186.80: 55 h 12 min at £21.50.
    b = run([opened(**FEE_8), advance("2026-04")])
    assert b.balance(ISF, Unit.HRS) == 3312
    assert b.balance(ISF, Unit.GBP) == 118680
    assert journals(b, "isf_advance")[0].memo["minutes"] == 3312


def test_using_every_hour_an_inside_fee_grants_leaves_the_fund_at_nothing():
    b = run([opened(**FEE_8), advance("2026-04"),
             *[deliver(2, f"2026-04-{day:02d}") for day in range(1, 28)],  # 54 h
             deliver("1:12", "2026-04-28")])
    assert b.balance(ISF, Unit.HRS) == 0
    assert b.balance(ISF, Unit.GBP) == 0


def test_odd_visits_leave_the_fund_within_a_halfpenny_a_visit_of_nothing():
    # 45 minutes at £21.50 is 1612.5p, rounded to 1613p each: the fund can be out by at
    # most half a penny a visit, never by the fee.
    visits = [deliver("0:45", f"2026-04-{1 + n % 28:02d}") for n in range(73)]
    b = run([opened(**FEE_8), advance("2026-04"), *visits, deliver("0:27", "2026-04-29")])
    assert b.balance(ISF, Unit.HRS) == 0
    assert abs(b.balance(ISF, Unit.GBP)) <= 74 / 2


def test_under_the_earlier_rules_the_same_fund_ran_short_by_the_fee():
    b = MemoryBackend()
    b.add_parties([{"kind": kind, **p} for kind, key in (
        ("council", "councils"), ("provider", "providers"), ("holder", "holders"))
        for p in PARTIES[key]])
    for n, event in enumerate([opened(**FEE_8), advance("2026-04"), deliver(60)]):
        apply_event(b, {**event}, f"old{n}", rules_version=1)
    assert b.balance(ISF, Unit.GBP) == -10320  # the fee, overspent


def test_an_on_top_fee_keeps_the_months_hours():
    b = run([opened(**{**FEE_8, "fee": {**FEE_8["fee"], "basis": "on_top"}}),
             advance("2026-04")])
    assert b.balance(ISF, Unit.HRS) == 3600
    assert b.balance(ISF, Unit.GBP) == 129000


# ---------------------------------------------------------------- the first month


def test_an_isf_opened_mid_month_is_advanced_in_full_dated_the_opening_day():
    b = run([opened(date="2026-05-10"), advance("2026-05")])
    journal = journals(b, "isf_advance")[0]
    assert (str(journal.date), b.balance(ISF, Unit.HRS), b.balance(ISF, Unit.GBP)) == (
        "2026-05-10", 2400, 78000)


def test_pro_rata_advances_the_days_open_hours_down_to_the_minute_money_rounded_once():
    # Open 22 of May's 31 days: 2400 x 22/31 = 1703.2 minutes -> 1703; £780.00 x 22/31 =
    # 55354.8p -> £553.55.
    b = run([opened(date="2026-05-10", first_month="pro_rata"), advance("2026-05"),
             advance("2026-06")])
    may, june = journals(b, "isf_advance")
    assert (may.memo["minutes"], may.memo["budget_pence"], str(may.date)) == (
        1703, 55355, "2026-05-10")
    assert (may.memo["days_open"], may.memo["days_in_month"]) == (22, 31)
    assert (june.memo["minutes"], june.memo["budget_pence"]) == (2400, 78000)


def test_pro_rata_from_the_first_of_the_month_is_the_whole_month():
    b = run([opened(first_month="pro_rata"), advance("2026-04")])
    assert b.balance(ISF, Unit.HRS) == 2400


# ---------------------------------------------------------------- support dates


def test_support_dated_before_the_isf_opened_is_invalid():
    b = run([opened(date="2026-04-10"), advance("2026-04"),
             deliver(1, "2026-04-09", expect_error="invalid"), deliver(1, "2026-04-10")])
    assert b.balance(ISF, Unit.HRS) == 2340


def test_support_and_purchases_in_a_reconciled_month_are_period_closed():
    b = run([opened(), advance("2026-04"), reconcile("2026-04", "2026-04-30"),
             advance("2026-05"),
             deliver(1, "2026-04-29", expect_error="period_closed"),
             purchase("5.00", "2026-04-29", expect_error="period_closed"),
             deliver(1, "2026-05-01"), purchase("5.00", "2026-05-01")])
    assert len(journals(b, "isf_delivery")) == len(journals(b, "isf_purchase")) == 1


def test_late_support_is_recorded_in_the_open_month_at_the_rate_of_the_day_worked():
    # The rate goes up in May; support given on 28 April and recorded in May after April
    # is reconciled is valued at April's rate.
    b = run([opened(), advance("2026-04"),
             {"date": "2026-04-20", "type": "isf_vary", "holder": "H1", "provider": "SH",
              "from": "2026-05", "rate": "20.00"},
             reconcile("2026-04", "2026-04-30"), advance("2026-05"),
             deliver(2, "2026-05-03", worked_on="2026-04-28"), deliver(2, "2026-05-03")])
    late, usual = journals(b, "isf_delivery")
    assert (late.memo["amount_pence"], late.memo["worked_on"]) == (3900, "2026-04-28")
    assert (usual.memo["amount_pence"], "worked_on" in usual.memo) == (4000, False)


@pytest.mark.parametrize("worked_on", ["2026-05-04", "2026-03-31"])
def test_worked_on_after_the_date_or_before_the_isf_opened_is_invalid(worked_on):
    b = run([opened(), advance("2026-04"), advance("2026-05"),
             deliver(1, "2026-05-03", worked_on=worked_on, expect_error="invalid")])
    assert journals(b, "isf_delivery") == []


# ---------------------------------------------------------------- reconciliation


def test_a_month_never_advanced_cannot_be_reconciled():
    b = run([opened(), reconcile("2026-04", expect_error="invalid"), advance("2026-04"),
             reconcile("2026-04"), advance("2026-06"),
             reconcile("2026-05", expect_error="invalid"), reconcile("2026-06")])
    assert state(b)["last_reconciled"] == "2026-06"


def test_reconciliation_journals_are_dated_the_months_last_day():
    b = run([opened(), advance("2026-04"), deliver(30),
             reconcile("2026-04", "2026-05-04")])
    assert {str(j.date) for j in journals(b, "isf_hours_expiry")
            + journals(b, "isf_underspend_return")} == {"2026-04-30"}


def test_the_return_never_takes_money_that_came_with_next_months_advance():
    # April: £780.00 in, £900.00 spent at the gym: overspent, nothing of April's to give
    # back, even though May's advance (dated 30 April) has arrived when April is reconciled.
    b = run([opened(), advance("2026-04"), purchase("900.00", "2026-04-12"),
             advance("2026-05", "2026-04-30"), reconcile("2026-04", "2026-05-02")])
    assert journals(b, "isf_underspend_return") == []
    assert b.balance(ISF, Unit.GBP) == 78000 - 12000
    assert b.get_state("isf_reconcile", "H1:SH:2026-04")["money_pence"] == -12000


# One month, recorded in each order its month end allows: April's late support before its
# reconciliation; May's advance before May's support. H1 carries 10 h for one month, may
# borrow 5 h, pays 10% inside and bought £300.00 at the gym in April.
ORDER_OPEN = opened(hours_per_month=40, carry={"expire_after_months": 1, "max_hours": 10,
                                               "max_borrow_hours": 5},
                    fee={"kind": "percent", "value": "10", "basis": "inside"}, id="open")
ORDER_FIRST = [ORDER_OPEN, {**advance("2026-04"), "id": "adv-apr"},
               {**deliver(12, "2026-04-10"), "id": "apr-1"},
               {**purchase("300.00", "2026-04-12"), "id": "gym"}]
ORDER_PARTS = {
    "apr-late": {**deliver(6, "2026-04-28"), "id": "apr-late"},
    "reconcile-apr": {**reconcile("2026-04", "2026-04-30"), "id": "rec-apr"},
    "advance-may": {**advance("2026-05"), "id": "adv-may"},
    "may-1": {**deliver(20, "2026-05-10"), "id": "may-1"},
    "may-2": {**deliver(9, "2026-05-20"), "id": "may-2"},
}
ORDER_BEFORE = [("apr-late", "reconcile-apr"), ("advance-may", "may-1"), ("may-1", "may-2")]


def _orders() -> list[tuple[str, ...]]:
    return [order for order in itertools.permutations(ORDER_PARTS)
            if all(order.index(a) < order.index(b) for a, b in ORDER_BEFORE)]


def _outcome(b: MemoryBackend) -> dict:
    month_end = sorted((j.key, str(j.date), j.memo.get("lots"), [
        (p.account, p.unit.value, p.amount_minor) for p in j.postings])
        for j in b.journals if j.type in ("isf_hours_expiry", "isf_underspend_return"))
    found = state(b)
    return {"month_end": month_end, "lots": found["lots"],
            "borrowed": found["borrowed_minutes"],
            "balances": {(a, u.value): n for (a, u), n in b.balances.items() if n},
            "april": b.get_state("isf_reconcile", "H1:SH:2026-04")}


def test_every_order_the_month_end_allows_gives_the_same_expiry_return_and_lots():
    orders = _orders()
    assert len(orders) == 10
    outcomes = {}
    for order in orders:
        events = [*ORDER_FIRST, *(ORDER_PARTS[part] for part in order),
                  {**reconcile("2026-05", "2026-05-31"), "id": "rec-may"}]
        outcomes[order] = _outcome(run(events))
    first = outcomes[orders[0]]
    for order, outcome in outcomes.items():
        assert outcome == first, " < ".join(order)
    # By hand. April: 36 h granted (£702.00 after the £78.00 fee buys 36 h at £19.50); 18
    # used, 18 left, 10 carried: 8 h expire, worth £156.00, but April holds only £51.00
    # (£702.00 - £351.00 of support - £300.00 at the gym), so £51.00 goes back.
    april = [m for m in first["month_end"] if m[0].startswith("rec-apr")]
    assert [m[3] for m in april] == [
        [("isf:H1:SH", "HRS", -480), ("council:WBC:hours", "HRS", 480)],
        [("isf:H1:SH", "GBP", -5100), ("council:WBC:funding", "GBP", 5100)]]
    # May: April's 10 h first, then 19 of May's 36: 17 left, 7 over the cap expire.
    assert first["lots"] == [{"month": "2026-05", "minutes": 600}]
    assert first["april"]["bank_minutes"] == 600 and first["april"]["money_pence"] == 0


def test_a_delivery_in_may_never_takes_aprils_hours_before_april_is_reconciled():
    b = run([opened(carry={"expire_after_months": 1, "max_hours": 10}), advance("2026-04"),
             advance("2026-05"), deliver(30, "2026-05-03"),  # recorded first, takes April's
             reconcile("2026-04", "2026-05-04")])
    # April's 40 h at 30 April: 30 over the cap expire; May's support then uses April's
    # 10 carried hours and 20 of May's.
    assert journals(b, "isf_hours_expiry")[0].memo["minutes"] == 1800
    assert lots(b) == [("2026-05", 1200)]


def test_reconcile_never_expires_more_hours_than_are_left_when_borrowing():
    b = run([opened(carry={"max_borrow_hours": 5, "max_hours": 0}), advance("2026-04"),
             deliver(43), advance("2026-05"), deliver(30, "2026-05-03"),
             reconcile("2026-04", "2026-05-04")])
    assert journals(b, "isf_hours_expiry") == []  # April ended 3 h borrowed: none left
    assert (b.balance(ISF, Unit.HRS), state(b)["borrowed_minutes"]) == (7 * 60, 0)
    assert lots(b) == [("2026-05", 7 * 60)]


def test_support_after_a_month_may_use_only_what_its_reconciliation_leaves():
    # May's support, recorded before April's reconciliation, may not use April's 5 h:
    # they expire at April's end. It is refused when recorded, as it would be after the
    # reconciliation, so the month end gives one answer in either order.
    head = [opened(hours_per_month=5, carry={"expire_after_months": 0}),
            advance("2026-04"), advance("2026-05")]
    before = run([*head, deliver(7, "2026-05-01", expect_error="insufficient_funds"),
                  deliver(5, "2026-05-01"), reconcile("2026-04", "2026-04-30"),
                  deliver(2, "2026-05-04", expect_error="insufficient_funds")])
    after = run([*head, reconcile("2026-04", "2026-04-30"),
                 deliver(7, "2026-05-01", expect_error="insufficient_funds"),
                 deliver(5, "2026-05-01"),
                 deliver(2, "2026-05-04", expect_error="insufficient_funds")])
    for b in (before, after):
        assert journals(b, "isf_hours_expiry")[0].memo["minutes"] == 300
        assert b.balance(ISF, Unit.HRS) == 0
    with pytest.raises(AssertionError, match="expire when the months before it are reconciled"):
        run([*head, deliver(7, "2026-05-01")])


# ---------------------------------------------------------------- reversals


def test_an_advance_reversed_can_be_advanced_again_and_is_counted():
    # The month end dates the new advance the 1st, before the reversal on the 2nd: the
    # reversal takes back only its own 40 h from April's lot, not the new advance's.
    b = run([opened(), {**advance("2026-04"), "id": "a1"}, reverse("a1", "2026-04-02"),
             {**advance("2026-04"), "id": "a2"}, deliver(5, "2026-04-03"),
             reconcile("2026-04", "2026-04-30")])
    assert journals(b, "isf_hours_expiry")[0].memo["minutes"] == 35 * 60
    assert b.balance(ISF, Unit.HRS) == 0
    assert b.balance("council:WBC:hours", Unit.HRS) == -5 * 60
    assert state(b)["advance_reversals"] == {"2026-04": 1}
    assert state(b)["advanced"] == {"2026-04": "a2"}


def test_reconciling_after_an_advance_was_reversed_and_not_redone_is_invalid():
    b = run([opened(), {**advance("2026-04"), "id": "a1"}, reverse("a1", "2026-04-02"),
             reconcile("2026-04", expect_error="invalid")])
    assert state(b)["advanced"] == {} and state(b)["lots"] == []


def test_a_reversal_gives_hours_back_on_its_own_date_to_the_lots_they_came_from():
    # d1 took April's 40 h and borrowed 2, which May's advance repaid; May's support took
    # 10 more. Reversed on 5 May: April's 40 h come back, and the 2 borrowed go back to
    # May's lot, the one that repaid them. The lots agree with the balance on every date.
    b = run([opened(carry={"expire_after_months": 2, "max_borrow_hours": 5}),
             advance("2026-04"), {**deliver(42, "2026-04-20"), "id": "d1"},
             advance("2026-05"), deliver(10, "2026-05-02"),
             reverse("d1", "2026-05-05"), reconcile("2026-04", "2026-05-06")])
    assert lots(b) == [("2026-04", 2400), ("2026-05", 1800)]
    assert (b.balance(ISF, Unit.HRS), state(b)["borrowed_minutes"]) == (70 * 60, 0)
    # At April's end the bank was 2 h borrowed: nothing to expire.
    assert journals(b, "isf_hours_expiry") == []


def test_reversing_support_of_a_reconciled_month_gives_its_hours_back_to_the_carried_bank():
    b = run([opened(carry={"expire_after_months": 2}), advance("2026-04"),
             {**deliver(10), "id": "d1"}, reconcile("2026-04", "2026-04-30"),
             advance("2026-05"), reverse("d1", "2026-05-05")])
    assert lots(b) == [("2026-04", 2400), ("2026-05", 2400)]


# ---------------------------------------------------------------- through the database


STORY = [
    opened(date="2026-04-10", first_month="pro_rata", carry={"expire_after_months": 1,
           "max_hours": 5, "max_borrow_hours": 3}, fee={"kind": "percent", "value": "5"}),
    advance("2026-04"), {**deliver(10, "2026-04-20"), "id": "d1"}, advance("2026-05"),
    deliver(12, "2026-05-03"), reconcile("2026-04", "2026-05-04"),
    deliver(2, "2026-05-06", worked_on="2026-04-29"), reverse("d1", "2026-05-07"),
    {**advance("2026-06"), "id": "june"}, reverse("june", "2026-05-30",
                                                 expect_error="invalid"),
    reverse("june", "2026-06-01"), purchase("10.00", "2026-05-20"),
    reconcile("2026-05", "2026-05-31"),
    {"date": "2026-06-02", "type": "isf_close", "holder": "H1", "provider": "SH"},
]


def test_a_life_under_the_new_rules_verifies_in_the_database(engine):
    scenario = ScenarioFile.model_validate(
        {"format": 1, "name": "dated", "parties": PARTIES, "events": STORY})
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), scenario)
    assert result.failure is None, result.failure
    with engine.connect() as conn:
        assert first_break(conn) is None
        assert rebuild_break(conn) is None


def test_rules_version_one_replays_the_earlier_rules():
    b = MemoryBackend()
    b.add_parties([{"kind": kind, **p} for kind, key in (
        ("council", "councils"), ("provider", "providers"), ("holder", "holders"))
        for p in PARTIES[key]])
    # Then: a delivery before the ISF opened, and a month never advanced reconciled.
    for n, event in enumerate([opened(date="2026-04-10", carry={"max_borrow_hours": 1}),
                               deliver(1, "2026-04-09"), reconcile("2026-04")]):
        assert apply_event(b, event, f"old{n}", rules_version=1)[0] == "applied"
    with pytest.raises(EventFailed, match="^invalid: worked_on: unknown field"):
        apply_event(b, deliver(1, "2026-04-11", worked_on="2026-04-10"), "old3",
                    rules_version=1)


# ---------------------------------------------------------------- any month, any order

month_story = st.fixed_dictionaries({
    "terms": st.fixed_dictionaries({
        "hours_per_month": st.integers(4, 40),
        "rate": st.sampled_from(["19.50", "21.50", "12.83"]),
        "carry": st.fixed_dictionaries({
            "expire_after_months": st.integers(0, 2), "max_hours": st.integers(0, 20),
            "max_borrow_hours": st.integers(0, 4)}),
    }, optional={"fee": st.fixed_dictionaries({
        "kind": st.just("percent"), "value": st.integers(1, 20),
        "basis": st.sampled_from(["inside", "on_top"])})}),
    "april": st.lists(st.integers(1, 12), max_size=3),  # hours, on the 5th, 6th, ...
    "gym": st.integers(0, 900),  # pounds spent in April
    "late": st.integers(0, 6),  # hours on 29 April
    "may": st.lists(st.integers(1, 12), min_size=1, max_size=2),  # on the 10th, 11th
    "may_advance_on": st.sampled_from(["2026-04-30", "2026-05-01"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(month_story)
def test_any_month_recorded_in_any_allowed_order_gives_one_answer(story):
    first = [opened(**story["terms"], id="open"), {**advance("2026-04"), "id": "adv-apr"}]
    first += [{**deliver(h, f"2026-04-{5 + n:02d}"), "id": f"apr{n}"}
              for n, h in enumerate(story["april"])]
    if story["gym"]:
        first.append({**purchase(f"{story['gym']}.00", "2026-04-12"), "id": "gym"})
    parts = {"reconcile-apr": {**reconcile("2026-04", "2026-04-30"), "id": "rec-apr"},
             "advance-may": {**advance("2026-05", story["may_advance_on"]), "id": "adv-may"}}
    if story["late"]:
        parts["apr-late"] = {**deliver(story["late"], "2026-04-29"), "id": "late"}
    for n, h in enumerate(story["may"]):
        parts[f"may{n}"] = {**deliver(h, f"2026-05-{10 + n:02d}"), "id": f"may{n}"}
    before = [("apr-late", "reconcile-apr"), ("advance-may", "may0"), ("may0", "may1")]
    outcomes = []
    for order in itertools.permutations(parts):
        if not all(order.index(a) < order.index(b) for a, b in before
                   if a in parts and b in parts):
            continue
        events = [*first, *(parts[p] for p in order),
                  {**reconcile("2026-05", "2026-05-31"), "id": "rec-may"}]
        b = MemoryBackend()
        b.add_parties([{"kind": kind, **p} for kind, key in (
            ("council", "councils"), ("provider", "providers"), ("holder", "holders"))
            for p in PARTIES[key]])
        try:
            for event in events:
                apply_event(b, dict(event), event["id"])
        except EventFailed:
            continue  # an order whose borrowing limit refuses something: not comparable
        outcomes.append((order, _outcome(b)))
    for order, outcome in outcomes[1:]:
        assert outcome == outcomes[0][1], " < ".join(order)
