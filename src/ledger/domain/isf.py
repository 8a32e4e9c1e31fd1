"""Individual Service Funds (docs/scenarios.md): a provider holds a person's budget as
money and a bank of hours. Hours arrive monthly as dated lots, are used oldest first,
may be borrowed a little, and expire by age and by a carry-over cap at reconciliation.

The lot bookkeeping lives in state kind "isf" (ref "H:P"); the HRS balance of
`isf:{H}:{P}` is the truth, and always equals the lots' minutes less any borrowed
minutes. Rules the file format leaves open are in docs/rules-dp-isf.md. A rule dated
2026-12-06 applies to records made under rules version 2 (`ctx.rules_version`); a record
made earlier is replayed under the rules it was made with
(docs/rules-trust.md#rules-versions). Its terms and a month's advance:
ledger/domain/isf_terms.py; the lots themselves: ledger/domain/isf_lots.py;
the month's reconciliation: ledger/domain/isf_reconcile.py.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ledger.core.amounts import (
    Unit,
    format_minutes,
    parse_minutes,
    parse_rate,
    pence_for_minutes,
    round_half_away,
)
from ledger.core.change import RULES_2026_12_06
from ledger.core.journal import Posting, transfer
from ledger.domain.base import (
    Ctx,
    Event,
    Minutes,
    Month,
    PartyId,
    Pence,
    RatePence,
    Strict,
    handles,
    month_index,
)
from ledger.domain.dp import external_account, holder_council, not_negative, number_text
from ledger.domain.isf_lots import (
    add_entry,
    bank_minutes,
    has_log,
    pending_expiry,
    restore_lot,
    settle_borrowing,
    start_log,
    take_oldest_first,
)
from ledger.domain.isf_terms import (  # noqa: F401 - importers of the ISF's terms
    TERMS,
    advance_amounts,
    fee_pence,
    first_month,
    last_day,
    money_for_month_exact,
    month_of,
    reconciled_month,
    terms_for,
)
from ledger.errors import LedgerError

MAX_EXPIRE_AFTER_MONTHS = 120  # a limit on everything: ten years of carry-over
MAX_FIXED_FEE_POUNDS = 1_000_000


NonNegativeMinutes = Annotated[int, BeforeValidator(not_negative(parse_minutes))]


class Carry(Strict):
    expire_after_months: int = Field(0, ge=0, le=MAX_EXPIRE_AFTER_MONTHS)
    max_hours: NonNegativeMinutes | None = None
    max_borrow_hours: NonNegativeMinutes = 0


class Fee(Strict):
    kind: Literal["percent", "fixed"]
    # A percent (at most 100), or pounds a month; kept as the text written.
    value: Annotated[str, BeforeValidator(number_text(0, MAX_FIXED_FEE_POUNDS, least_allowed=False))]
    basis: Literal["inside", "on_top"] = "inside"

    @model_validator(mode="after")
    def _value_fits_kind(self) -> Fee:
        number = parse_rate(self.value)
        if self.kind == "percent" and number > 100:
            raise ValueError("a percent fee cannot exceed 100")
        if self.kind == "fixed" and (number * 100).denominator != 1:
            raise ValueError(f"{self.value!r} has more than 2 decimal places")
        return self


class IsfEvent(Event):
    holder: PartyId
    provider: PartyId
    council: PartyId | None = None


class IsfOpen(IsfEvent):
    type: Literal["isf_open"]
    hours_per_month: Minutes
    rate: RatePence
    carry: Carry = Carry()
    fee: Fee | None = None
    underspend: Literal["return", "retain"] = "return"
    allow_pool_contributions: bool = False  # read by the pools module
    # Added 2026-12-06: the first month of an ISF opened after the 1st, in full or for
    # the days it is open (docs/rules-dp-isf.md#first-month).
    first_month: Literal["full", "pro_rata"] = "full"


class IsfAdvance(IsfEvent):
    type: Literal["isf_advance"]
    month: Month


class IsfDelivery(IsfEvent):
    type: Literal["isf_delivery"]
    hours: Minutes
    # From a timesheet (docs/month-end.md#timesheets): kept in the journal's memo; the
    # notes are shown on the person's statement.
    worker: str | None = None
    reference: str | None = None
    notes: str | None = None
    # Added 2026-12-06: the day late support was given, when it is recorded in a later
    # month (docs/rules-dp-isf.md#late-support).
    worked_on: dt.date | None = None


class IsfPurchase(IsfEvent):
    type: Literal["isf_purchase"]
    payee: str
    amount: Pence


class IsfReconcile(IsfEvent):
    type: Literal["isf_reconcile"]
    month: Month


class IsfClose(IsfEvent):
    type: Literal["isf_close"]


class IsfVary(IsfEvent):
    """New terms from a month on (docs/rules-dp-isf.md#isf-vary); posts nothing."""

    type: Literal["isf_vary"]
    from_: Month = Field(alias="from")
    hours_per_month: Minutes | None = None
    rate: RatePence | None = None
    carry: Carry | None = None
    fee: Fee | None = None
    underspend: Literal["return", "retain"] | None = None


def dated_rules(ctx: Ctx) -> bool:
    """Whether this event is recorded under the rules of 2026-12-06."""
    return ctx.rules_version >= RULES_2026_12_06


def refuse_later_fields(ctx: Ctx, event: Event, *names: str) -> None:
    """A field added on 2026-12-06 was an unknown field before: a record made earlier
    that gave it was refused, and is refused again when it is replayed."""
    if not dated_rules(ctx):
        for name in names:
            if name in event.model_fields_set:
                raise LedgerError("invalid", f"{name}: unknown field")


# ---------------------------------------------------------------- state


def isf_ref(holder: str, provider: str) -> str:
    return f"{holder}:{provider}"


def isf_account(state: dict) -> str:
    return f"isf:{state['holder']}:{state['provider']}"


def open_isf(ctx: Ctx, event: IsfEvent) -> dict:
    """The ISF's state; `invalid` if it was never opened or is closed."""
    ctx.party("holder", event.holder)
    ctx.party("provider", event.provider)
    state = ctx.state("isf", isf_ref(event.holder, event.provider))
    if state is None or state["closed"] is not None:
        why = "is not open" if state is None else f"was closed on {state['closed']}"
        raise LedgerError("invalid", f"the ISF isf:{event.holder}:{event.provider} {why}")
    if event.council is not None and event.council != state["council"]:
        ctx.party("council", event.council)
        raise LedgerError("invalid", f"the ISF is funded by council {state['council']}, "
                          f"not {event.council}")
    return state


def moves(from_account: str, to_account: str, unit: Unit, amount_minor: int) -> list[Posting]:
    """A transfer, or nothing when an amount derived from hours rounds to zero pence."""
    return transfer(from_account, to_account, unit, amount_minor) if amount_minor else []


def agreement_memo(state: dict) -> dict:
    """Journals of a reopened ISF name their agreement (2, 3, ...), so a reversal knows
    whose money it moves (docs/rules-trust.md#isf-agreements); the first agreement's
    journals carry nothing extra."""
    number = state.get("agreement", 1)
    return {"agreement": number} if number > 1 else {}


def journal_agreement(memo: dict) -> int:
    return int(memo.get("agreement", 1))


def own_money(ctx: Ctx, state: dict) -> int:
    """The current agreement's own money: the balance less what earlier agreements of
    the same ISF left (an overspend stays theirs; docs/rules-trust.md#isf-agreements)."""
    return ctx.balance(isf_account(state), Unit.GBP) - state.get("earlier_money_pence", 0)


def save(ctx: Ctx, state: dict) -> None:
    ctx.put_state("isf", isf_ref(state["holder"], state["provider"]), state)


# ---------------------------------------------------------------- handlers


@handles(IsfOpen)
def isf_open(ctx: Ctx, event: IsfOpen) -> None:
    refuse_later_fields(ctx, event, "first_month")
    council = holder_council(ctx, event.holder, event.council)
    ctx.party("provider", event.provider)
    ref = isf_ref(event.holder, event.provider)
    existing = ctx.state("isf", ref)
    if existing is not None and existing["closed"] is None:
        raise LedgerError("invalid", f"the ISF isf:{ref} is already open")
    # A reopened ISF is a new agreement: whatever the earlier ones left stays theirs.
    agreement = existing.get("agreement", 1) + 1 if existing is not None else 1
    earlier_pence = ctx.balance(f"isf:{ref}", Unit.GBP) if existing is not None else 0
    state: dict[str, Any] = {
        "holder": event.holder, "provider": event.provider, "council": council,
        "opened": event.date.isoformat(), "closed": None,
        "hours_per_month_minutes": event.hours_per_month,
        "rate_pence_per_hour": event.rate,
        "expire_after_months": event.carry.expire_after_months,
        "max_minutes": event.carry.max_hours,
        "max_borrow_minutes": event.carry.max_borrow_hours,
        "fee": event.fee.model_dump() if event.fee else None,
        "underspend": event.underspend,
        "allow_pool_contributions": event.allow_pool_contributions,
        "lots": [], "borrowed_minutes": 0, "advanced": {}, "last_reconciled": None,
    }
    if agreement > 1:
        state.update(agreement=agreement, earlier_money_pence=earlier_pence)
    if dated_rules(ctx):
        state["first_month"] = event.first_month
        start_log(state)
    if state["fee"] and state["fee"]["basis"] == "inside":
        if 0 < fee_pence(state) >= round_half_away(money_for_month_exact(state)):
            raise LedgerError("invalid", "an inside fee must be less than the month's budget")
    save(ctx, state)
    # Hours may be borrowed down to -max_borrow_hours; the core floor check enforces it.
    ctx.set_floor(isf_account(state), Unit.HRS, -event.carry.max_borrow_hours)


@handles(IsfAdvance)
def isf_advance(ctx: Ctx, event: IsfAdvance) -> None:
    state = open_isf(ctx, event)
    month = event.month
    if month in state["advanced"]:
        raise LedgerError("invalid", f"{month} has already been advanced to this ISF")
    last = state["last_reconciled"]
    if last is not None and month_index(month) <= month_index(last):
        raise LedgerError("invalid", f"{month} is already reconciled (up to {last})")
    account, council = isf_account(state), state["council"]
    terms = terms_for(state, month)  # an advance uses the terms in force for its month
    dated = dated_rules(ctx)
    opening_day, share = first_month(state, month) if dated else (None, Fraction(1))
    on = opening_day or ctx.date
    amounts = advance_amounts(terms, share, dated)
    minutes, budget_pence = amounts["minutes"], amounts["budget_pence"]
    fee, on_top_pence = amounts["fee_pence"], amounts["on_top_pence"]
    if dated:
        start_log(state)
        repaid = add_entry(state, on.isoformat(), "advance", ctx.event_key,
                           minutes=minutes, month=month)["repaid"]
    else:
        restore_lot(state["lots"], month, minutes)
        repaid = settle_borrowing(state)
    postings = moves(f"council:{council}:hours", account, Unit.HRS, minutes)
    postings += moves(f"council:{council}:funding", account, Unit.GBP,
                      budget_pence + on_top_pence)
    part = ({"days_open": share.numerator, "days_in_month": share.denominator}
            if share != 1 else {})
    journal = ctx.post("isf_advance", postings, holder=state["holder"], on=on, memo={
        **agreement_memo(state),
        "month": month, "minutes": minutes, "rate_pence_per_hour": terms["rate_pence_per_hour"],
        "budget_pence": budget_pence, "fee_on_top_pence": on_top_pence,
        "repaid_borrowed_minutes": repaid, **part})
    if fee:
        ctx.post("isf_fee", transfer(account, f"provider:{state['provider']}:fees", Unit.GBP, fee),
                 suffix="fee", holder=state["holder"], on=on,
                 memo={**agreement_memo(state), "month": month, **terms["fee"],
                       "fee_pence": fee,
                       "of_pence": budget_pence if terms["fee"]["kind"] == "percent" else None})
    state["advanced"][month] = journal.key
    save(ctx, state)


def check_support_date(state: dict, day: dt.date, worked_on: dt.date | None) -> None:
    """The rules of 2026-12-06 for a delivery's dates (docs/rules-dp-isf.md#support-dates):
    not before the ISF opened, not in a month already reconciled; `worked_on` on or
    before the date and not before the ISF opened."""
    opened = state["opened"]
    if day.isoformat() < opened:
        raise LedgerError("invalid", f"support dated {day} is before the ISF opened on "
                          f"{opened}")
    if worked_on is not None and worked_on > day:
        raise LedgerError("invalid", f"worked_on {worked_on} is after the support's date "
                          f"{day}: late support is recorded on or after the day it was given")
    if worked_on is not None and worked_on.isoformat() < opened:
        raise LedgerError("invalid", f"worked_on {worked_on} is before the ISF opened on "
                          f"{opened}")
    if reconciled_month(state, day):
        raise LedgerError("period_closed", f"{month_of(day)} is already reconciled for this "
                          f"ISF (up to {state['last_reconciled']}): record late support in "
                          "the open month, with worked_on")


@handles(IsfDelivery)
def isf_delivery(ctx: Ctx, event: IsfDelivery) -> None:
    state = open_isf(ctx, event)
    refuse_later_fields(ctx, event, "worked_on")
    dated = dated_rules(ctx)
    if dated:
        check_support_date(state, event.date, event.worked_on)
    account, minutes = isf_account(state), event.hours
    terms = terms_for(state, month_of(event.date))  # its month's borrowing limit
    # Valued at the rate in force on the day the support was given.
    rate = terms_for(state, month_of(event.worked_on or event.date))["rate_pence_per_hour"]
    # The bank on the delivery's date and every later date (docs/rules-trust.md#floors).
    lowest, on = ctx.lowest_balance(account, Unit.HRS, event.date)
    # Less what the reconciliations still due for earlier months will expire: support
    # never uses hours that are about to expire (docs/rules-dp-isf.md#hour-lots).
    expiring = pending_expiry(state, event.date.isoformat(), lambda m: (
        terms_for(state, m)["expire_after_months"], terms_for(state, m)["max_minutes"])
    ) if dated and has_log(state) else 0
    after = min(lowest, bank_minutes(state)) - expiring - minutes
    if after < -terms["max_borrow_minutes"]:
        due = (f" ({format_minutes(expiring)} of them expire when the months before it are "
               "reconciled)") if expiring else ""
        raise LedgerError("insufficient_funds", (
            f"{account} has {format_minutes(lowest)} hours on {on}{due}; delivering "
            f"{format_minutes(minutes)} would leave {format_minutes(after)}, beyond the "
            f"{format_minutes(terms['max_borrow_minutes'])} hours it may borrow"))
    if dated:
        start_log(state)
        done = add_entry(state, event.date.isoformat(), "delivery", ctx.event_key,
                         minutes=minutes)
        lots, borrowed = done["lots"], done["borrowed"]
    else:
        lots, borrowed = take_oldest_first(state["lots"], minutes)
        state["borrowed_minutes"] += borrowed
    state["last_delivery"] = max(state.get("last_delivery") or "", event.date.isoformat())
    amount_pence = pence_for_minutes(minutes, rate)
    provider = state["provider"]
    postings = transfer(account, f"provider:{provider}:delivered", Unit.HRS, minutes)
    postings += moves(account, f"provider:{provider}:income", Unit.GBP, amount_pence)
    ctx.post("isf_delivery", postings, holder=state["holder"], memo={
        **agreement_memo(state),
        "minutes": minutes, "rate_pence_per_hour": rate, "amount_pence": amount_pence,
        "lots": lots, "borrowed_minutes": borrowed,
        **{k: v for k in ("worker", "reference", "notes")
           if (v := getattr(event, k)) is not None},
        **({"worked_on": event.worked_on.isoformat()} if event.worked_on else {})})
    save(ctx, state)


@handles(IsfPurchase)
def isf_purchase(ctx: Ctx, event: IsfPurchase) -> None:
    """Money only; an overspend is allowed and shows as a negative ISF balance."""
    state = open_isf(ctx, event)
    if dated_rules(ctx) and reconciled_month(state, event.date):
        raise LedgerError("period_closed", f"{month_of(event.date)} is already reconciled "
                          f"for this ISF (up to {state['last_reconciled']})")
    payee = external_account(event.payee)
    ctx.post("isf_purchase", transfer(isf_account(state), payee, Unit.GBP, event.amount),
             holder=state["holder"],
             memo={**agreement_memo(state), "payee": payee.removeprefix("external:")})


@handles(IsfClose)
def isf_close(ctx: Ctx, event: IsfClose) -> None:
    """Every hour back to the council (a borrowed bank is made good by the council, since
    those hours were delivered); positive money back; an overspend stays visible."""
    state = open_isf(ctx, event)
    account, council = isf_account(state), state["council"]
    minutes = bank_minutes(state)
    money_pence = own_money(ctx, state)  # an earlier agreement's overspend is not netted
    postings: list[Posting] = []
    if minutes > 0:
        postings += transfer(account, f"council:{council}:hours", Unit.HRS, minutes)
    elif minutes < 0:
        postings += transfer(f"council:{council}:hours", account, Unit.HRS, -minutes)
    if money_pence > 0:
        postings += transfer(account, f"council:{council}:funding", Unit.GBP, money_pence)
    if postings:
        ctx.post("closure_return", postings, holder=state["holder"], memo={
        **agreement_memo(state),
            "hours_minutes": minutes, "money_pence": max(money_pence, 0),
            "overspend_pence": max(-money_pence, 0), "lots": state["lots"],
            "borrowed_minutes": state["borrowed_minutes"]})
    state.update(lots=[], borrowed_minutes=0, closed=event.date.isoformat())
    save(ctx, state)
