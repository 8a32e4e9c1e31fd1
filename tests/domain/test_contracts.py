"""Grants, framework call-offs, spot purchases and block contracts (docs/scenarios.md),
driven through the scenario runner into the in-memory reference backend."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.app.scenarios import run_scenario
from ledger.core.amounts import format_pence
from ledger.domain.contracts import block_utilisation
from ledger.scenarios.schema import load_scenario
from ledger.store.memory import MemoryBackend
from tests.domain import support

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PARTIES = [
    {"kind": "council", "id": "C1", "name": "Council One"},
    {"kind": "council", "id": "C2", "name": "Council Two"},
    {"kind": "provider", "id": "P1", "name": "Provider One"},
    {"kind": "holder", "id": "H1", "name": "Holder One", "council": "C1"},
]
RATES = [
    # Listed latest first on purpose: supersession is by date, not by list order.
    {"service": "home care", "rate": "20.10", "from": "2026-10-01"},
    {"service": "home care", "rate": "19.50", "from": "2026-04-01"},
    {"service": "night", "rate": "19.38", "from": "2026-04-01"},
]


class Ledger(support.Ledger):
    parties = PARTIES


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def framework(ledger: Ledger) -> Ledger:
    ledger.apply(type="framework_open", framework="HC-FW", council="C1", rates=RATES)
    return ledger


# ---------------------------------------------------------------- grants and spot


def test_grant_instalments_each_pay_council_to_provider_income(ledger):
    ledger.apply(type="grant", council="C1", provider="P1", amount="6000.00")
    ledger.apply(type="grant", date="2026-10-01", council="C1", provider="P1", amount=6000)
    assert ledger.gbp("provider:P1:income") == 1_200_000
    assert ledger.gbp("council:C1:funding") == -1_200_000
    assert [j.type for j in ledger.backend.journals] == ["grant", "grant"]


@pytest.mark.parametrize("amount", [0, "-5", "1.005"])
def test_grant_amount_must_be_positive_with_at_most_two_places(ledger, amount):
    ledger.reject("invalid", type="grant", council="C1", provider="P1", amount=amount)


def test_grant_to_an_undeclared_provider_is_unknown_party(ledger):
    ledger.reject("unknown_party", type="grant", council="C1", provider="NOPE", amount=1)


def test_spot_purchase_for_a_holder_is_recorded_against_them(ledger):
    ledger.apply(type="spot_purchase", council="C1", provider="P1", amount="85.40", holder="H1")
    (journal,) = ledger.backend.journals
    assert journal.holder == "H1"
    assert ledger.gbp("provider:P1:income") == 8540


def test_spot_purchase_for_an_undeclared_holder_is_unknown_party(ledger):
    ledger.reject("unknown_party", type="spot_purchase", council="C1", provider="P1",
                  amount=10, holder="H9")


# ---------------------------------------------------------------- framework call-offs


def test_calloff_pays_hours_times_rate_and_records_hours(framework):
    framework.apply(type="calloff", date="2026-05-10", framework="HC-FW", provider="P1",
                    service="home care", hours=10, holder="H1")
    assert framework.gbp("provider:P1:income") == 19_500
    assert framework.gbp("council:C1:funding") == -19_500
    assert framework.hrs("provider:P1:delivered") == 600
    assert framework.hrs("council:C1:hours") == -600
    assert framework.backend.journals[0].holder == "H1"


def test_calloff_money_is_rounded_once_halves_away_from_zero(framework):
    # 0.25 h x £19.38 = 484.5p -> 485p (one rounding, half away from zero)
    framework.apply(type="calloff", framework="HC-FW", provider="P1", service="night",
                    hours="0.25")
    # 1.25 h x £19.50 = 2437.5p -> 2438p
    framework.apply(type="calloff", framework="HC-FW", provider="P1", service="home care",
                    hours="1.25")
    assert [j.postings[1].amount_minor for j in framework.backend.journals] == [485, 2438]


def test_later_rate_supersedes_earlier_from_its_date(framework):
    for day in ("2026-09-30", "2026-10-01"):
        framework.apply(type="calloff", date=day, framework="HC-FW", provider="P1",
                        service="home care", hours=1)
    first, second = framework.backend.journals
    assert first.memo["rate_pence_per_hour"] == 1950
    assert second.memo == {"framework": "HC-FW", "service": "home care",
                           "rate_pence_per_hour": 2010, "rate_from": "2026-10-01",
                           "minutes": 60}


def test_backdated_calloff_uses_the_rate_in_force_on_its_own_date(framework):
    framework.apply(type="calloff", date="2026-11-01", framework="HC-FW", provider="P1",
                    service="home care", hours=1)
    framework.apply(type="calloff", date="2026-06-01", framework="HC-FW", provider="P1",
                    service="home care", hours=1)
    assert [j.memo["rate_pence_per_hour"] for j in framework.backend.journals] == [2010, 1950]


def test_calloff_before_any_rate_is_in_force_is_invalid(framework):
    framework.reject("invalid", type="calloff", date="2026-03-31", framework="HC-FW",
                     provider="P1", service="home care", hours=1)


def test_calloff_for_a_service_not_on_the_card_is_invalid(framework):
    framework.reject("invalid", type="calloff", framework="HC-FW", provider="P1",
                     service="gardening", hours=1)


def test_calloff_on_an_unknown_framework_is_invalid(ledger):
    ledger.reject("invalid", type="calloff", framework="NONE", provider="P1",
                  service="home care", hours=1)


def test_calloff_hours_must_be_whole_minutes(framework):
    framework.reject("invalid", type="calloff", framework="HC-FW", provider="P1",
                     service="home care", hours="1.33")


def test_calloff_that_rounds_to_no_money_is_invalid(ledger):
    ledger.apply(type="framework_open", framework="CHEAP", council="C1",
                 rates=[{"service": "x", "rate": "0.01", "from": "2026-01-01"}])
    # 0.05 h (3 minutes) at 1p an hour is 0.05p
    ledger.reject("invalid", type="calloff", framework="CHEAP", provider="P1", service="x",
                  hours="0.05")


def test_framework_cannot_be_opened_twice(framework):
    framework.reject("invalid", type="framework_open", framework="HC-FW", council="C1",
                     rates=RATES)


def test_two_rates_for_one_service_from_the_same_day_are_invalid(ledger):
    rates = [{"service": "x", "rate": 1, "from": "2026-04-01"},
             {"service": "x", "rate": 2, "from": "2026-04-01"}]
    ledger.reject("invalid", type="framework_open", framework="F", council="C1", rates=rates)


def test_framework_rates_uplift_applies_from_its_date(framework):
    framework.apply(type="framework_rates", framework="HC-FW",
                    rates=[{"service": "night", "rate": "20.00", "from": "2027-04-01"}])
    framework.apply(type="calloff", date="2027-04-01", framework="HC-FW", provider="P1",
                    service="night", hours=2)
    assert framework.gbp("provider:P1:income") == 4000


def test_calloff_in_a_closed_period_is_period_closed(framework):
    framework.apply(type="close_period", date="2026-07-01", until="2026-06-30")
    framework.reject("period_closed", type="calloff", date="2026-06-30", framework="HC-FW",
                     provider="P1", service="home care", hours=1)


@given(tenths_of_minutes=st.integers(1, 40_000), rate_pence=st.integers(1, 100_000))
def test_calloff_money_is_within_half_a_penny_of_hours_times_rate(tenths_of_minutes,
                                                                  rate_pence):
    minutes = 3 * tenths_of_minutes  # hours as typed are whole 0.05 h steps (3 minutes)
    exact = Fraction(minutes * rate_pence, 60)
    ledger = Ledger()
    ledger.apply(type="framework_open", framework="F", council="C1",
                 rates=[{"service": "s", "rate": format_pence(rate_pence),
                         "from": "2026-01-01"}])
    raw = {"type": "calloff", "framework": "F", "provider": "P1", "service": "s",
           "hours": str(Decimal(minutes) / 60)}
    if exact < Fraction(1, 2):
        ledger.reject("invalid", **raw)  # rounds to nothing
        return
    ledger.apply(**raw)
    paid = ledger.gbp("provider:P1:income")
    assert abs(paid - exact) <= Fraction(1, 2)
    assert ledger.hrs("provider:P1:delivered") == minutes


# ---------------------------------------------------------------- block contracts


@pytest.fixture
def block(ledger: Ledger) -> Ledger:
    ledger.apply(type="block_open", contract="BLK-1", council="C1", provider="P1",
                 amount_per_month="12000.00", capacity_hours_per_month=500)
    return ledger


def test_block_payment_pays_the_monthly_amount(block):
    block.apply(type="block_payment", contract="BLK-1", month="2026-04")
    assert block.gbp("provider:P1:income") == 1_200_000
    assert block.backend.journals[0].key == "block_payment/BLK-1/2026-04"


def test_block_payment_once_per_contract_per_month(block):
    block.apply(type="block_payment", contract="BLK-1", month="2026-04")
    block.reject("invalid", type="block_payment", contract="BLK-1", date="2026-04-02", month="2026-04")
    block.apply(type="block_payment", contract="BLK-1", date="2026-05-01", month="2026-05")
    assert block.gbp("provider:P1:income") == 2_400_000


def test_block_payment_for_a_month_before_the_contract_opens_is_invalid(block):
    block.reject("invalid", type="block_payment", contract="BLK-1", month="2026-03")


def test_reversed_block_payment_can_be_paid_again_under_a_new_key(block):
    block.apply(type="block_payment", contract="BLK-1", month="2026-04", key="pay")
    block.apply(type="reverse", event="pay", reason="booked to the wrong contract")
    block.apply(type="block_payment", contract="BLK-1", month="2026-04")
    assert block.gbp("provider:P1:income") == 1_200_000
    assert block.backend.journals[-1].key == "block_payment/BLK-1/2026-04/again-1"


def test_block_usage_moves_hours_and_counts_against_the_month(block):
    block.apply(type="block_usage", contract="BLK-1", date="2026-04-10", hours=120)
    block.apply(type="block_usage", contract="BLK-1", date="2026-04-20", hours="80.5")
    assert block.hrs("provider:P1:delivered") == 200 * 60 + 30
    (april,) = block_utilisation(block.backend.states[("block", "BLK-1")])
    assert april["used_minor"] == 12_030
    assert april["over_capacity_minor"] == 0
    assert april["utilisation_basis_points"] == 4010  # 200.5 of 500 hours = 40.10%


def test_block_usage_over_capacity_is_allowed_and_recorded(block):
    block.apply(type="block_payment", contract="BLK-1", month="2026-04")
    block.apply(type="block_usage", contract="BLK-1", date="2026-04-10", hours=500)
    block.apply(type="block_usage", contract="BLK-1", date="2026-04-30", hours=10)
    assert block.backend.journals[-1].memo["over_capacity_minutes"] == 600
    (april,) = block_utilisation(block.backend.states[("block", "BLK-1")])
    assert april == {"month": "2026-04", "paid": True, "paid_minor": 1_200_000,
                     "capacity_minor": 30_000, "used_minor": 30_600, "unused_minor": 0,
                     "over_capacity_minor": 600, "utilisation_basis_points": 10_200}


def test_reversed_block_usage_lowers_the_month_utilisation(block):
    block.apply(type="block_usage", contract="BLK-1", date="2026-05-03", hours=40, key="use")
    block.apply(type="reverse", date="2026-05-04", event="use", reason="wrong contract")
    (may,) = block_utilisation(block.backend.states[("block", "BLK-1")])
    assert may["used_minor"] == 0
    assert block.hrs("provider:P1:delivered") == 0


def test_closed_block_takes_no_later_payment_or_usage(block):
    block.apply(type="block_close", date="2026-06-15", contract="BLK-1")
    block.apply(type="block_payment", contract="BLK-1", date="2026-06-30", month="2026-06")  # closing month ok
    block.reject("invalid", type="block_payment", contract="BLK-1", date="2026-07-01", month="2026-07")
    block.reject("invalid", type="block_usage", contract="BLK-1", date="2026-06-16", hours=1)
    block.reject("invalid", type="block_close", date="2026-06-20", contract="BLK-1")


def test_block_cannot_close_before_payments_already_made_for_later_months(block):
    block.apply(type="block_payment", contract="BLK-1", month="2026-07")
    block.reject("invalid", type="block_close", date="2026-06-15", contract="BLK-1")


def test_block_opened_twice_is_invalid(block):
    block.reject("invalid", type="block_open", contract="BLK-1", council="C1", provider="P1",
                 amount_per_month=1, capacity_hours_per_month=1)


def test_unknown_block_contract_is_invalid(ledger):
    ledger.reject("invalid", type="block_payment", contract="NONE", month="2026-04")


def test_unknown_field_is_invalid(block):
    block.reject("invalid", type="block_usage", contract="BLK-1", hours=1, holder="H1")


# ---------------------------------------------------------------- example scenarios


@pytest.mark.parametrize("name", ["framework-and-block", "bursary-pot", "grant-instalments"])
def test_example_scenario_runs_with_every_expectation_met(name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    backend = MemoryBackend()
    result = run_scenario(backend, scenario)
    assert result.failure is None
    assert result.rejected_as_expected == sum("expect_error" in e for e in scenario.events)
    assert result.applied + result.rejected_as_expected == len(scenario.events)
    assert any(e.get("type") == "expect" for e in scenario.events)
    again = run_scenario(backend, scenario)  # replaying posts nothing new
    assert again.failure is None and again.journals == 0
