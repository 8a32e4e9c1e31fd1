"""Direct payments (docs/scenarios.md): one-off and scheduled payments from the council
into the holder's DP account, the holder's own contribution, spending from the account,
and the review that recovers a surplus.

Rules the file format leaves open are in docs/rules-dp-isf.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BeforeValidator, model_validator

from ledger.core.amounts import Unit, format_pence, parse_pence, parse_rate, round_half_away
from ledger.core.calendar import add_months  # schedules: the same day, clamped to month end
from ledger.core.journal import check_account, transfer
from ledger.domain.base import Ctx, Event, PartyId, Pence, handles, lift
from ledger.errors import LedgerError

# Put a limit on everything (docs/architecture.md#limits): one payment run posts at most this many
# payments; a bigger backlog is run in steps with an earlier `until`.
MAX_PAYMENTS_PER_RUN = 10_000
MAX_REVIEW_WEEKS = 520  # ten years of payments is already far beyond any council policy


def not_negative(parse: Callable[[object, str], int]) -> Callable[[object], int]:
    """A field validator for a number that may be zero (a contingency, a cap)."""

    def check(value: object) -> int:
        minor = parse(value, "value")
        if minor < 0:
            raise LedgerError("invalid", "must not be negative")
        return minor

    return lift(check)


def number_text(least: int, most: int, *, least_allowed: bool = True
                ) -> Callable[[object], str]:
    """A count or percentage (weeks, a fee percent) kept as its exact decimal text."""

    def check(value: object) -> str:
        number = parse_rate(value, "value")
        too_small = number < least or (number == least and not least_allowed)
        if too_small or number > most:
            bound = "at least" if least_allowed else "more than"
            raise LedgerError("invalid", f"must be {bound} {least} and at most {most}")
        return str(value).strip()

    return lift(check)


NonNegativePence = Annotated[int, BeforeValidator(not_negative(parse_pence))]
# 0 weeks is allowed: a final review keeps nothing back beyond the contingency.
Weeks = Annotated[str, BeforeValidator(number_text(0, MAX_REVIEW_WEEKS))]


# ---------------------------------------------------------------- shared helpers


def dp_account(holder: str) -> str:
    return f"holder:{holder}:dp"


def holder_council(ctx: Ctx, holder: str, council: str | None) -> str:
    """The council an event is for: the one given (it must be declared), else the
    holder's own council (docs/scenarios.md, "Every event type")."""
    ctx.party("holder", holder)
    if council is None:
        return ctx.council_of(holder)
    ctx.party("council", council)
    return council


def external_account(payee: str) -> str:
    """`external:{payee}`; a payee written with its `external:` prefix means the same."""
    name = payee.removeprefix("external:")
    if ":" in name:
        raise LedgerError("invalid", f"payee {payee!r}: a name may not contain a colon")
    return check_account(f"external:{name}")


# ---------------------------------------------------------------- one-off payments


class DpPayment(Event):
    type: Literal["dp_payment"]
    holder: PartyId
    amount: Pence
    council: PartyId | None = None


@handles(DpPayment)
def dp_payment(ctx: Ctx, event: DpPayment) -> None:
    council = holder_council(ctx, event.holder, event.council)
    ctx.post(
        "dp_payment",
        transfer(f"council:{council}:funding", dp_account(event.holder), Unit.GBP, event.amount),
        holder=event.holder,
        memo={"council": council},
    )


class Contribution(Event):
    type: Literal["contribution"]
    holder: PartyId
    amount: Pence
    council: PartyId | None = None


@handles(Contribution)
def contribution(ctx: Ctx, event: Contribution) -> None:
    """The person's assessed contribution paid into their DP account."""
    council = holder_council(ctx, event.holder, event.council)
    ctx.post(
        "contribution",
        transfer(f"holder:{event.holder}:own", dp_account(event.holder), Unit.GBP, event.amount),
        holder=event.holder,
        memo={"council": council},
    )


class DpSpend(Event):
    type: Literal["dp_spend"]
    holder: PartyId
    payee: str
    amount: Pence
    category: str | None = None
    council: PartyId | None = None


@handles(DpSpend)
def dp_spend(ctx: Ctx, event: DpSpend) -> None:
    holder_council(ctx, event.holder, event.council)
    payee_account = external_account(event.payee)
    account = dp_account(event.holder)
    # A DP account is a real bank account or card: it cannot go overdrawn, on the
    # spend's date or on any later date (docs/rules-trust.md#floors).
    balance_pence, on = ctx.lowest_balance(account, Unit.GBP, event.date)
    if balance_pence < event.amount:
        raise LedgerError(
            "insufficient_funds",
            f"{account} holds £{format_pence(balance_pence)} on {on}, not enough to pay "
            f"£{format_pence(event.amount)} to {payee_account} on {event.date}",
        )
    memo = {"payee": payee_account.removeprefix("external:")}
    if event.category is not None:
        memo["category"] = event.category
    ctx.post(
        "dp_spend",
        transfer(account, payee_account, Unit.GBP, event.amount),
        holder=event.holder,
        memo=memo,
    )


# ---------------------------------------------------------------- review


class DpReview(Event):
    type: Literal["dp_review"]
    holder: PartyId
    weekly_amount: Pence
    max_weeks: Weeks
    contingency: NonNegativePence = 0
    council: PartyId | None = None


def review_computation(balance_pence: int, event: DpReview) -> dict:
    """surplus = balance - contingency - weekly_amount x max_weeks (rounded once)."""
    allowed_pence = round_half_away(event.weekly_amount * Fraction(parse_rate(event.max_weeks)))
    surplus_pence = balance_pence - event.contingency - allowed_pence
    return {
        "balance_pence": balance_pence,
        "contingency_pence": event.contingency,
        "weekly_amount_pence": event.weekly_amount,
        "max_weeks": event.max_weeks,
        "allowed_pence": allowed_pence,
        "surplus_pence": surplus_pence,
    }


@handles(DpReview)
def dp_review(ctx: Ctx, event: DpReview) -> None:
    """Recover a surplus as its own typed journal, never as a negative payment. The
    balance is the one on the review's date, so a backdated review sees what the
    reviewer would have seen."""
    council = holder_council(ctx, event.holder, event.council)
    account = dp_account(event.holder)
    balance_pence = ctx.backend.balance_as_of(account, Unit.GBP, event.date)
    computation = {"date": event.date.isoformat(), "event": ctx.event_key, "council": council,
                   **review_computation(balance_pence, event)}
    surplus_pence = computation["surplus_pence"]
    if surplus_pence > 0:
        ctx.post(
            "surplus_recovery",
            transfer(account, f"council:{council}:funding", Unit.GBP, surplus_pence),
            holder=event.holder,
            memo=computation,
        )
    reviews = ctx.state("dp_reviews", event.holder) or {"reviews": []}
    reviews["reviews"].append(computation)
    ctx.put_state("dp_reviews", event.holder, reviews)


# ---------------------------------------------------------------- schedules

Every = Literal["weekly", "four_weekly", "monthly"]
Timing = Literal["advance", "arrears"]


class DpSchedule(Event):
    type: Literal["dp_schedule"]
    holder: PartyId
    amount: Pence
    every: Every
    start: dt.date
    end: dt.date | None = None
    timing: Timing = "advance"
    council: PartyId | None = None

    @model_validator(mode="after")
    def _end_after_start(self) -> DpSchedule:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


def period_start(start: dt.date, every: str, k: int) -> dt.date:
    if every == "weekly":
        return start + dt.timedelta(weeks=k)
    if every == "four_weekly":
        return start + dt.timedelta(weeks=4 * k)
    assert every == "monthly", every
    return add_months(start, k)


def pay_date(start: dt.date, every: str, timing: str, k: int) -> dt.date:
    """Advance: the period's first day. Arrears: the day after it ends, which is the
    first day of the next period."""
    return period_start(start, every, k if timing == "advance" else k + 1)


def schedule_periods(schedule: dict, from_k: int, until: dt.date):
    """(k, period start, period end, pay date) for periods from `from_k` paid on or
    before `until`; a period belongs to the schedule when it starts on or before `end`."""
    start = dt.date.fromisoformat(schedule["start"])
    end = dt.date.fromisoformat(schedule["end"]) if schedule["end"] else None
    every, timing = schedule["every"], schedule["timing"]
    k = from_k
    while True:
        first_day = period_start(start, every, k)
        paid_on = pay_date(start, every, timing, k)
        if (end is not None and first_day > end) or paid_on > until:
            return
        last_day = period_start(start, every, k + 1) - dt.timedelta(days=1)
        yield k, first_day, last_day, paid_on
        k += 1


@handles(DpSchedule)
def dp_schedule(ctx: Ctx, event: DpSchedule) -> None:
    """Posts nothing: records the schedule under its own key for `run_payments`."""
    council = holder_council(ctx, event.holder, event.council)
    ctx.put_state("dp_schedule", ctx.event_key, {
        "holder": event.holder,
        "council": council,
        "amount_pence": event.amount,
        "every": event.every,
        "start": event.start.isoformat(),
        "end": event.end.isoformat() if event.end else None,
        "timing": event.timing,
        "next_period": 0,  # every period before this one has been paid (or skipped)
    })


class DpScheduleEnd(Event):
    """Extension: stop a schedule early (a move into residential care, a reassessment).
    Periods starting after `end` are not paid; a new amount is a new schedule."""

    type: Literal["dp_schedule_end"]
    schedule: str  # the dp_schedule event's id (its key)
    end: dt.date


@handles(DpScheduleEnd)
def dp_schedule_end(ctx: Ctx, event: DpScheduleEnd) -> None:
    schedule = ctx.state("dp_schedule", event.schedule)
    if schedule is None:
        raise LedgerError("invalid", f"there is no schedule {event.schedule!r} (give the "
                          "dp_schedule event an id to refer to it)")
    start = dt.date.fromisoformat(schedule["start"])
    if event.end < start:
        raise LedgerError("invalid", f"end {event.end} is before the schedule's start {start}")
    if schedule["next_period"] > 0:
        last_handled = period_start(start, schedule["every"], schedule["next_period"] - 1)
        if last_handled > event.end:
            raise LedgerError("invalid", f"the period starting {last_handled} is already "
                              "paid; reverse that payment run first, then end the schedule")
    schedule["end"] = event.end.isoformat()
    ctx.put_state("dp_schedule", event.schedule, schedule)


class RunPayments(Event):
    type: Literal["run_payments"]
    until: dt.date


def _pay_schedule(ctx: Ctx, schedule_key: str, until: dt.date, budget: int) -> int:
    """Post one schedule's due payments; returns how many were posted."""
    schedule = ctx.state("dp_schedule", schedule_key)
    assert schedule is not None, schedule_key
    locked = ctx.backend.locked_until()
    posted = 0
    next_period = schedule["next_period"]
    for k, first_day, last_day, paid_on in schedule_periods(schedule, next_period, until):
        key = f"{schedule_key}@{first_day.isoformat()}"
        next_period = k + 1
        if ctx.journal_exists(key):
            continue
        if posted >= budget:
            raise LedgerError("invalid", f"run_payments would post more than "
                              f"{MAX_PAYMENTS_PER_RUN} payments; run it with an earlier until")
        memo = {"council": schedule["council"], "schedule": schedule_key,
                "every": schedule["every"], "timing": schedule["timing"],
                "period_start": first_day.isoformat(), "period_end": last_day.isoformat()}
        if locked is not None and paid_on <= locked:
            # Due in a closed period: paid on the first day after the lock, under its
            # usual key, carrying its due date (docs/rules-trust.md#closed-periods).
            memo["due"] = paid_on.isoformat()
            paid_on = locked + dt.timedelta(days=1)
        ctx.post(
            "dp_payment",
            transfer(f"council:{schedule['council']}:funding", dp_account(schedule["holder"]),
                     Unit.GBP, schedule["amount_pence"]),
            key=key,
            holder=schedule["holder"],
            on=paid_on,
            memo=memo,
        )
        posted += 1
    if next_period != schedule["next_period"]:
        schedule["next_period"] = next_period
        ctx.put_state("dp_schedule", schedule_key, schedule)
    return posted


@handles(RunPayments)
def run_payments(ctx: Ctx, event: RunPayments) -> None:
    """Every scheduled payment dated on or before `until` not yet paid, each with its own
    date and key; all in one event, so a rejected run posts none of them."""
    posted = 0
    for schedule_key in ctx.state_refs("dp_schedule"):  # an index scan, not a growing row
        posted += _pay_schedule(ctx, schedule_key, event.until, MAX_PAYMENTS_PER_RUN - posted)
