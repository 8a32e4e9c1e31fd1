"""Personal budgets: the `budget` event and `budget_report`, what has been paid towards
each budget in every deployment, attributed to its funders."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting, reversal_of, transfer
from ledger.domain.budgets import budget_report
from tests.domain import support

PARTIES = [
    {"kind": "council", "id": "C1", "name": "Council One"},
    {"kind": "provider", "id": "P1", "name": "Provider One"},
    {"kind": "holder", "id": "H1", "name": "Holder One", "council": "C1"},
    {"kind": "holder", "id": "H2", "name": "Holder Two", "council": "C1"},
]
YEAR = {"from": "2026-04-01", "to": "2027-03-31"}


class Ledger(support.Ledger):
    parties = PARTIES

    def budgets(self, holder: str = "H1") -> list[dict]:
        return self.backend.states[("budget", holder)]["budgets"]


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def journal(day: str, *moves: tuple[str, str, int], holder: str | None = None,
            kind: str = "test", unit: Unit = Unit.GBP) -> Journal:
    postings: list[Posting] = []
    for source, target, minor in moves:
        postings += transfer(source, target, unit, minor)
    return Journal(key=f"{kind}-{day}-{len(moves)}-{moves[0][2]}", type=kind,
                   date=dt.date.fromisoformat(day), postings=tuple(postings), holder=holder)


# ---------------------------------------------------------------- the budget event


def test_budget_posts_nothing_and_defaults_to_all_from_the_council(ledger):
    ledger.apply(type="budget", holder="H1", amount="12000.00", **YEAR)
    assert ledger.backend.journals == []
    assert ledger.budgets() == [{
        "from": "2026-04-01", "to": "2027-03-31", "amount_minor": 1_200_000,
        "contribution_minor": 0, "funders": [{"funder": "C1", "amount_minor": 1_200_000}],
        "recorded_by": "e1"}]


def test_budget_keeps_funders_in_the_order_listed(ledger):
    ledger.apply(type="budget", holder="H1", amount=1000, contribution="150.00",
                 funders={"NHS-CHC": 400, "C1": 600}, **YEAR)
    (budget,) = ledger.budgets()
    assert budget["funders"] == [{"funder": "NHS-CHC", "amount_minor": 40_000},
                                 {"funder": "C1", "amount_minor": 60_000}]
    assert budget["contribution_minor"] == 15_000


def test_budget_funders_must_add_up_to_the_amount(ledger):
    ledger.reject("invalid", type="budget", holder="H1", amount=1000,
                  funders={"C1": 600, "NHS": "399.99"}, **YEAR)


def test_budget_contribution_cannot_exceed_the_amount(ledger):
    ledger.reject("invalid", type="budget", holder="H1", amount=100, contribution="100.01",
                  **YEAR)


def test_budget_to_before_from_is_invalid(ledger):
    ledger.reject("invalid", type="budget", holder="H1", amount=100, **{"from": "2026-04-02",
                                                                        "to": "2026-04-01"})


def test_budget_for_an_undeclared_holder_is_unknown_party(ledger):
    ledger.reject("unknown_party", type="budget", holder="H9", amount=100, **YEAR)


def test_overlapping_budgets_are_invalid(ledger):
    ledger.apply(type="budget", holder="H1", amount=100, **YEAR)
    ledger.reject("invalid", type="budget", holder="H1", amount=100,
                  **{"from": "2027-03-31", "to": "2028-03-30"})
    ledger.apply(type="budget", holder="H1", amount=100,
                 **{"from": "2027-04-01", "to": "2028-03-31"})
    assert [b["from"] for b in ledger.budgets()] == ["2026-04-01", "2027-04-01"]


def test_budget_with_the_same_from_replaces_the_earlier_one(ledger):
    ledger.apply(type="budget", holder="H1", amount=100, **YEAR)
    ledger.apply(type="budget", holder="H1", amount=250, to="2026-09-30",
                 **{"from": "2026-04-01"})
    (budget,) = ledger.budgets()
    assert (budget["amount_minor"], budget["to"]) == (25_000, "2026-09-30")


# ---------------------------------------------------------------- budget_report


def budget(amount_minor: int = 100_000, funders=None, contribution_minor: int = 0) -> dict:
    return {"from": "2026-04-01", "to": "2026-06-30", "amount_minor": amount_minor,
            "contribution_minor": contribution_minor,
            "funders": funders or [{"funder": "C1", "amount_minor": amount_minor}],
            "recorded_by": "b"}


def test_report_counts_dp_payments_and_contributions_net_of_recoveries():
    journals = [
        journal("2026-04-01", ("council:C1:funding", "holder:H1:dp", 50_000)),
        journal("2026-04-02", ("holder:H1:own", "holder:H1:dp", 8_000)),
        journal("2026-04-20", ("holder:H1:dp", "external:PA", 20_000)),  # spending: no change
        journal("2026-06-30", ("holder:H1:dp", "council:C1:funding", 3_000), kind="recovery"),
    ]
    (report,) = budget_report([budget(contribution_minor=10_000)], journals, "H1")
    assert report["deployments"] == {"dp_minor": 55_000, "isf_minor": 0, "pool_minor": 0,
                                     "commissioned_minor": 0}
    assert report["paid_minor"] == 55_000
    assert report["remaining_minor"] == 45_000
    assert (report["contribution_minor"], report["contribution_paid_minor"]) == (10_000, 8_000)


def test_report_counts_isf_advances_with_their_fee_and_less_underspend_returns():
    journals = [
        journal("2026-04-01", ("council:C1:funding", "isf:H1:P1", 78_000),
                ("isf:H1:P1", "provider:P1:fees", 7_800)),
        journal("2026-04-01", ("council:C1:hours", "isf:H1:P1", 2400), unit=Unit.HRS),
        journal("2026-04-30", ("isf:H1:P1", "provider:P1:income", 39_000)),
        journal("2026-05-31", ("isf:H1:P1", "council:C1:funding", 1_950)),
    ]
    (report,) = budget_report([budget()], journals, "H1")
    assert report["deployments"]["isf_minor"] == 76_050


def test_report_shows_pool_money_under_pool_and_takes_it_off_dp():
    journals = [
        journal("2026-04-01", ("council:C1:funding", "holder:H1:dp", 60_000)),
        journal("2026-04-05", ("holder:H1:dp", "pool:L1:H1", 25_000)),
        journal("2026-04-10", ("pool:L1:H1", "external:Venue", 9_000)),
        journal("2026-05-01", ("pool:L1:H1", "holder:H1:dp", 6_000)),  # left the pool
    ]
    (report,) = budget_report([budget()], journals, "H1")
    assert report["deployments"]["pool_minor"] == 19_000
    assert report["deployments"]["dp_minor"] == 41_000
    assert report["paid_minor"] == 60_000  # counted once


def test_report_counts_calloffs_and_spot_purchases_for_the_holder_only():
    ledger = Ledger()
    ledger.apply(type="framework_open", framework="FW", council="C1",
                 rates=[{"service": "care", "rate": "20.00", "from": "2026-01-01"}])
    ledger.apply(type="calloff", framework="FW", provider="P1", service="care", hours=3,
                 holder="H1", key="call")
    ledger.apply(type="calloff", framework="FW", provider="P1", service="care", hours=5)
    ledger.apply(type="spot_purchase", council="C1", provider="P1", amount="45.00",
                 holder="H1")
    ledger.apply(type="spot_purchase", council="C1", provider="P1", amount=99, holder="H2")
    ledger.apply(type="grant", council="C1", provider="P1", amount=1000)
    (report,) = budget_report([budget()], ledger.backend.journals, "H1")
    assert report["deployments"]["commissioned_minor"] == 6_000 + 4_500
    ledger.apply(type="reverse", date="2026-04-02", event="call", reason="not delivered")
    (report,) = budget_report([budget()], ledger.backend.journals, "H1")
    assert report["deployments"]["commissioned_minor"] == 4_500


def test_report_counts_only_payments_dated_within_the_budget():
    journals = [
        journal("2026-03-31", ("council:C1:funding", "holder:H1:dp", 1)),
        journal("2026-04-01", ("council:C1:funding", "holder:H1:dp", 10)),
        journal("2026-06-30", ("council:C1:funding", "holder:H1:dp", 100)),
        journal("2026-07-01", ("council:C1:funding", "holder:H1:dp", 1000)),
        journal("2026-05-01", ("council:C1:funding", "holder:H2:dp", 10_000)),
    ]
    (report,) = budget_report([budget()], journals, "H1")
    assert report["paid_minor"] == 110


def test_report_attributes_payments_to_funders_in_proportion_by_largest_remainder():
    funders = [{"funder": "C1", "amount_minor": 30_000}, {"funder": "NHS", "amount_minor": 30_000},
               {"funder": "ILF", "amount_minor": 30_000}]
    journals = [journal("2026-04-01", ("council:C1:funding", "holder:H1:dp", 1000))]
    (report,) = budget_report([budget(90_000, funders)], journals, "H1")
    assert report["funders"] == [
        {"funder": "C1", "budget_minor": 30_000, "paid_minor": 334, "remaining_minor": 29_666},
        {"funder": "NHS", "budget_minor": 30_000, "paid_minor": 333, "remaining_minor": 29_667},
        {"funder": "ILF", "budget_minor": 30_000, "paid_minor": 333, "remaining_minor": 29_667},
    ]
    assert report["remaining_minor"] == 89_000


def test_report_reversal_of_a_payment_cancels_it():
    paid = journal("2026-04-01", ("council:C1:funding", "holder:H1:dp", 5000))
    undo = reversal_of(paid, "undo", dt.date(2026, 4, 2), "undo", "duplicate payment")
    (report,) = budget_report([budget()], [paid, undo], "H1")
    assert report["paid_minor"] == 0
    assert [f["paid_minor"] for f in report["funders"]] == [0]


def test_report_ignores_bursaries():
    journals = [journal("2026-04-01", ("fund:F1", "fund:F1:award:H1", 5000), holder="H1")]
    (report,) = budget_report([budget()], journals, "H1")
    assert report["paid_minor"] == 0


def test_report_for_a_budget_from_the_event_state(ledger):
    ledger.apply(type="budget", holder="H1", amount=600, funders={"C1": 400, "NHS": 200},
                 **YEAR)
    journals = [journal("2026-05-01", ("council:C1:funding", "holder:H1:dp", 30_001))]
    (report,) = budget_report(ledger.budgets(), journals, "H1")
    assert [f["paid_minor"] for f in report["funders"]] == [20_001, 10_000]
    assert report["holder"] == "H1" and report["from"] == "2026-04-01"


@given(paid_minor=st.integers(-10**7, 10**7),
       weights=st.lists(st.integers(1, 10**6), min_size=1, max_size=6))
def test_funder_attribution_adds_up_and_is_within_a_penny_of_the_exact_share(paid_minor,
                                                                            weights):
    funders = [{"funder": f"F{n}", "amount_minor": w} for n, w in enumerate(weights)]
    source, target = ("council:C1:funding", "holder:H1:dp")
    if paid_minor < 0:
        source, target = target, source
    journals = [journal("2026-04-01", (source, target, abs(paid_minor)))] if paid_minor else []
    (report,) = budget_report([budget(sum(weights), funders)], journals, "H1")
    parts = [f["paid_minor"] for f in report["funders"]]
    assert sum(parts) == report["paid_minor"] == paid_minor
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(paid_minor * weight, sum(weights))) < 1
