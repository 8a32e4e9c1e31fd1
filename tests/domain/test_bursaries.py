"""Bursary funds: opening, awards up to a cap, single and pooled spending, closing
(docs/scenarios.md), driven through the scenario runner into the in-memory backend."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.app.events import EventFailed
from ledger.core.amounts import format_pence
from tests.domain import support

HOLDERS = [f"H{n}" for n in range(1, 8)]
PARTIES = [
    {"kind": "council", "id": "C1", "name": "Council One"},
    *({"kind": "holder", "id": h, "name": h, "council": "C1"} for h in HOLDERS),
]
CAP_PENCE = 10_000  # £100 per person, as in the East Sussex example


class Ledger(support.Ledger):
    parties = PARTIES

    def award(self, holder: str, pence: int, **raw) -> None:
        self.apply(type="bursary_award", fund="F1", holder=holder, amount=format_pence(pence),
                   **raw)


def open_fund(total: str = "5000.00", cap: str = "100.00") -> Ledger:
    ledger = Ledger()
    ledger.apply(type="fund_open", fund="F1", council="C1", total=total, cap_per_person=cap)
    return ledger


@pytest.fixture
def fund() -> Ledger:
    return open_fund()


def test_fund_open_moves_the_total_from_council_funding(fund):
    assert fund.gbp("fund:F1") == 500_000
    assert fund.gbp("council:C1:funding") == -500_000


def test_fund_cannot_be_opened_twice(fund):
    fund.reject("invalid", type="fund_open", fund="F1", council="C1", total=1, cap_per_person=1)


def test_award_exactly_at_the_cap_is_accepted(fund):
    fund.award("H1", 6000)
    fund.award("H1", 4000)
    assert fund.gbp("fund:F1:award:H1") == CAP_PENCE
    assert fund.gbp("fund:F1") == 490_000
    assert fund.backend.journals[-1].holder == "H1"


def test_award_one_penny_over_the_cap_is_over_cap(fund):
    fund.award("H1", 6000)
    fund.reject("over_cap", type="bursary_award", fund="F1", holder="H1", amount="40.01")


def test_award_cap_counts_awards_not_what_is_left(fund):
    fund.award("H1", CAP_PENCE)
    fund.apply(type="bursary_spend", fund="F1", holders=["H1"], payee="Pottery Club",
               amount="100.00")
    fund.reject("over_cap", type="bursary_award", fund="F1", holder="H1", amount="0.01")


def test_award_more_than_the_fund_holds_is_insufficient_funds():
    ledger = open_fund(total="150.00")
    ledger.award("H1", CAP_PENCE)
    ledger.reject("insufficient_funds", type="bursary_award", fund="F1", holder="H2",
                  amount="50.01")
    ledger.award("H2", 5000)  # exactly what is left
    assert ledger.gbp("fund:F1") == 0


def test_over_cap_is_checked_before_insufficient_funds():
    ledger = open_fund(total="50.00")
    ledger.reject("over_cap", type="bursary_award", fund="F1", holder="H1", amount="100.01")


def test_award_to_an_undeclared_holder_is_unknown_party(fund):
    fund.reject("unknown_party", type="bursary_award", fund="F1", holder="H99", amount=1)


def test_award_from_an_unknown_fund_is_invalid(fund):
    fund.reject("invalid", type="bursary_award", fund="F2", holder="H1", amount=1)


def test_reversing_an_award_lowers_the_persons_total_for_the_cap(fund):
    fund.award("H1", CAP_PENCE, key="award")
    fund.apply(type="reverse", event="award", reason="awarded to the wrong person")
    fund.award("H1", CAP_PENCE)
    assert fund.gbp("fund:F1:award:H1") == CAP_PENCE
    assert fund.gbp("fund:F1") == 490_000


def test_a_spent_award_cannot_be_reversed(fund):
    fund.award("H1", CAP_PENCE, key="award")
    fund.apply(type="bursary_spend", fund="F1", holders=["H1"], payee="X", amount="0.01")
    fund.reject("insufficient_funds", type="reverse", event="award", reason="mistake")


def test_single_spend_pays_the_payee_from_the_award(fund):
    fund.award("H1", CAP_PENCE)
    fund.apply(type="bursary_spend", fund="F1", holders=["H1"], payee="Art Supplies Ltd",
               amount="39.99")
    assert fund.gbp("fund:F1:award:H1") == 6001
    assert fund.gbp("external:Art Supplies Ltd") == 3999


def test_pooled_purchase_splits_ten_pounds_among_three_as_334_333_333(fund):
    for holder in ("H1", "H2", "H3"):
        fund.award(holder, CAP_PENCE)
    fund.apply(type="bursary_spend", fund="F1", holders=["H1", "H2", "H3"],
               payee="Training Co", amount="10.00")
    assert [fund.gbp(f"fund:F1:award:{h}") for h in ("H1", "H2", "H3")] == [9666, 9667, 9667]
    assert fund.gbp("external:Training Co") == 1000
    assert [j.holder for j in fund.backend.journals[-3:]] == ["H1", "H2", "H3"]
    assert fund.backend.journals[-1].memo["parts"] == [
        {"holder": "H1", "pence": 334}, {"holder": "H2", "pence": 333},
        {"holder": "H3", "pence": 333}]


def test_pooled_purchase_ties_go_to_the_first_listed(fund):
    for holder in ("H3", "H1", "H2"):
        fund.award(holder, CAP_PENCE)
    fund.apply(type="bursary_spend", fund="F1", holders=["H3", "H1", "H2"], payee="Venue",
               amount="0.05")
    assert fund.backend.journals[-1].memo["parts"] == [
        {"holder": "H3", "pence": 2}, {"holder": "H1", "pence": 2},
        {"holder": "H2", "pence": 1}]


def test_pooled_purchase_is_refused_whole_if_any_award_lacks_its_part(fund):
    fund.award("H1", CAP_PENCE)
    fund.award("H2", 3333)
    fund.reject("insufficient_funds", type="bursary_spend", fund="F1", holders=["H1", "H2"],
                payee="Coach Hire", amount="66.68")  # 33.34 each; H2 has 33.33


def test_spend_by_someone_without_an_award_is_insufficient_funds(fund):
    fund.reject("insufficient_funds", type="bursary_spend", fund="F1", holders=["H4"],
                payee="X", amount=1)


def test_pooled_purchase_smaller_than_a_penny_each_is_invalid(fund):
    for holder in ("H1", "H2", "H3"):
        fund.award(holder, CAP_PENCE)
    fund.reject("invalid", type="bursary_spend", fund="F1", holders=["H1", "H2", "H3"],
                payee="X", amount="0.02")


def test_a_holder_listed_twice_in_a_purchase_is_invalid(fund):
    fund.award("H1", CAP_PENCE)
    fund.reject("invalid", type="bursary_spend", fund="F1", holders=["H1", "H1"], payee="X",
                amount=1)


@pytest.mark.parametrize("payee", ["Shop:Two", " Shop", ""])
def test_payee_must_be_one_account_segment(fund, payee):
    fund.award("H1", CAP_PENCE)
    fund.reject("invalid", type="bursary_spend", fund="F1", holders=["H1"], payee=payee,
                amount=1)


def test_fund_close_returns_every_penny_to_the_council(fund):
    for holder in ("H1", "H2", "H3"):
        fund.award(holder, CAP_PENCE)
    fund.apply(type="bursary_spend", fund="F1", holders=["H1", "H2", "H3"], payee="Course",
               amount="10.00")
    fund.apply(type="fund_close", date="2027-03-31", fund="F1")
    for account in ("fund:F1", "fund:F1:award:H1", "fund:F1:award:H2", "fund:F1:award:H3"):
        assert fund.gbp(account) == 0
    assert fund.gbp("council:C1:funding") == -1000  # only what was really spent
    types = [j.type for j in fund.backend.journals[-4:]]
    assert types == ["bursary_award_return"] * 3 + ["fund_close_return"]


def test_events_after_fund_close_are_invalid(fund):
    fund.award("H1", 5000)
    fund.apply(type="fund_close", fund="F1")
    fund.reject("invalid", type="bursary_award", fund="F1", holder="H2", amount=1)
    fund.reject("invalid", type="bursary_spend", fund="F1", holders=["H1"], payee="X",
                amount=1)
    fund.reject("invalid", type="fund_close", fund="F1")


def test_reversing_a_fund_close_reopens_the_fund(fund):
    fund.award("H1", 5000)
    fund.apply(type="fund_close", fund="F1", key="close")
    fund.apply(type="reverse", event="close", reason="closed a year early")
    assert fund.gbp("fund:F1:award:H1") == 5000
    assert fund.gbp("fund:F1") == 495_000
    fund.award("H2", 100)


# ---------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None)
@given(amount_pence=st.integers(1, 70_000), n=st.integers(1, 7))
def test_pooled_parts_add_up_and_each_is_within_a_penny_of_its_exact_share(amount_pence, n):
    ledger = open_fund(total="1000.00", cap="100.00")
    holders = HOLDERS[:n]
    for holder in holders:
        ledger.award(holder, CAP_PENCE)
    raw = {"type": "bursary_spend", "fund": "F1", "holders": holders, "payee": "Shop",
           "amount": format_pence(amount_pence)}
    if amount_pence < n or amount_pence > n * CAP_PENCE:
        with pytest.raises(EventFailed):
            ledger.apply(**raw)
        return
    ledger.apply(**raw)
    parts = [CAP_PENCE - ledger.gbp(f"fund:F1:award:{h}") for h in holders]
    assert sum(parts) == amount_pence
    assert all(abs(part - Fraction(amount_pence, n)) < 1 for part in parts)
    assert parts == sorted(parts, reverse=True)  # the extra pennies go to the first listed


award_steps = st.lists(
    st.one_of(
        st.tuples(st.just("award"), st.sampled_from(HOLDERS[:3]), st.integers(1, 12_000)),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(steps=award_steps)
def test_a_person_never_exceeds_the_cap_whatever_the_sequence_of_awards(steps):
    ledger = open_fund(total="250.00", cap="100.00")
    applied: list[str] = []
    for n, (action, who, pence) in enumerate(steps):
        try:
            if action == "award":
                ledger.award(who, pence, key=f"a{n}")
                applied.append(f"a{n}")
            elif applied:
                target = applied[who % len(applied)]
                ledger.apply(type="reverse", event=target, reason="test", key=f"r{n}")
        except EventFailed as err:
            assert str(err).split(":")[0] in {"over_cap", "insufficient_funds", "invalid"}
        for holder in HOLDERS[:3]:
            held = ledger.gbp(f"fund:F1:award:{holder}")
            assert 0 <= held <= CAP_PENCE
            state = ledger.backend.states[("fund", "F1")]
            awarded = {a["holder"]: a["awarded_pence"] for a in state["awards"]}
            assert awarded.get(holder, 0) == held  # nothing spent: awarded = held
        assert ledger.gbp("fund:F1") >= 0
