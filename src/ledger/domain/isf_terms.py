"""An ISF's terms and what one month's advance is (docs/rules-dp-isf.md): pure functions of
the ISF's state, shared by the handlers (ledger/domain/isf.py), the month end and the
statements. Money from hours is exact and rounded once (docs/scenarios.md#numbers)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from ledger.core.amounts import parse_pence, parse_rate, round_half_away
from ledger.core.calendar import last_day, month_index, month_of

TERMS = ("hours_per_month_minutes", "rate_pence_per_hour", "expire_after_months",
         "max_minutes", "max_borrow_minutes", "fee", "underspend")


def terms_for(state: dict, month: str) -> dict:
    """The ISF's state with the terms in force for `month`: those it opened with, then
    each `isf_vary` from its month on (docs/rules-dp-isf.md#isf-vary)."""
    varied = [v for v in state.get("variations", [])
              if month_index(v["from"]) <= month_index(month)]
    if not varied:
        return state
    view = dict(state)
    for variation in varied:
        view.update(variation["terms"])
    return view


def reconciled_month(state: dict, day: dt.date) -> bool:
    """Whether `day` falls in a month the ISF has reconciled (this one or an earlier)."""
    last = state["last_reconciled"]
    return last is not None and month_index(month_of(day)) <= month_index(last)


def money_for_month_exact(state: dict) -> Fraction:
    return Fraction(state["hours_per_month_minutes"] * state["rate_pence_per_hour"], 60)


def fee_pence(state: dict, share: Fraction = Fraction(1)) -> int:
    """The month's fee (or the fee of `share` of the month): a percent of
    hours_per_month x rate (exact, rounded once), or a fixed sum."""
    fee = state["fee"]
    if fee is None:
        return 0
    if fee["kind"] == "fixed":
        return round_half_away(parse_pence(fee["value"]) * share)
    return round_half_away(money_for_month_exact(state) * share * parse_rate(fee["value"]) / 100)


def first_month(state: dict, month: str) -> tuple[dt.date | None, Fraction]:
    """For the month an ISF opened in, when it opened after the 1st: the opening day (its
    advance is dated that day) and the share of the month advanced, all of it or, with
    `first_month: pro_rata`, the days open over the days in the month
    (docs/rules-dp-isf.md#first-month). Any other month: (None, 1)."""
    opened = dt.date.fromisoformat(state["opened"])
    if month_of(opened) != month or opened.day == 1:
        return None, Fraction(1)
    if state.get("first_month") != "pro_rata":
        return opened, Fraction(1)
    days = last_day(month).day
    return opened, Fraction(days - opened.day + 1, days)


def advance_amounts(terms: dict, share: Fraction, dated: bool) -> dict:
    """One month's advance (or `share` of one): its minutes, the money (rounded once),
    the fee and the part of it paid on top. Under the rules of 2026-12-06 (`dated`) an
    inside fee grants the whole minutes the money less the fee buys at the rate
    (docs/rules-dp-isf.md#inside-fee); otherwise the lot is hours_per_month (x share,
    rounded down to the minute)."""
    budget_pence = round_half_away(money_for_month_exact(terms) * share)
    fee = fee_pence(terms, share)
    basis = terms["fee"]["basis"] if terms["fee"] else None
    if dated and fee and basis == "inside":
        minutes = (budget_pence - fee) * 60 // terms["rate_pence_per_hour"]
    else:
        minutes = terms["hours_per_month_minutes"] * share.numerator // share.denominator
    return {"minutes": minutes, "budget_pence": budget_pence, "fee_pence": fee,
            "on_top_pence": fee if basis == "on_top" else 0}
