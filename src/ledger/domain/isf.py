"""Individual Service Funds (docs/scenarios.md): a provider holds a person's budget as
money and a bank of hours. Hours arrive monthly as dated lots, are used oldest first,
may be borrowed a little, and expire by age and by a carry-over cap at reconciliation.

The lot bookkeeping lives in state kind "isf" (ref "H:P"); the HRS balance of
`isf:{H}:{P}` is the truth, and always equals the lots' minutes less any borrowed
minutes. Rules the file format leaves open are in docs/rules-dp-isf.md.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from ledger.core.amounts import (
    Unit,
    format_minutes,
    parse_minutes,
    parse_pence,
    parse_rate,
    pence_for_minutes,
    round_half_away,
)
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
    month_name,
)
from ledger.domain.dp import external_account, holder_council, not_negative, number_text
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


# ---------------------------------------------------------------- state and lots


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


def take_oldest_first(lots: list[dict], minutes: int) -> tuple[list[dict], int]:
    """Consume up to `minutes` from the oldest lots; returns what each lot gave and the
    shortfall. Emptied lots are dropped."""
    taken = []
    for lot in lots:
        if minutes == 0:
            break
        used = min(lot["minutes"], minutes)
        if used:
            taken.append({"month": lot["month"], "minutes": used})
            lot["minutes"] -= used
            minutes -= used
    lots[:] = [lot for lot in lots if lot["minutes"] > 0]
    return taken, minutes


def restore_lot(lots: list[dict], month: str, minutes: int) -> None:
    """Give minutes back to the lot dated `month`, recreating it in month order."""
    for lot in lots:
        if lot["month"] == month:
            lot["minutes"] += minutes
            return
    lots.append({"month": month, "minutes": minutes})
    lots.sort(key=lambda lot: month_index(lot["month"]))


def settle_borrowing(state: dict) -> int:
    """A negative bank is repaid first from whatever lots there are; returns minutes repaid."""
    if state["borrowed_minutes"] == 0:
        return 0
    taken, short = take_oldest_first(state["lots"], state["borrowed_minutes"])
    repaid = state["borrowed_minutes"] - short
    state["borrowed_minutes"] = short
    return repaid


def bank_minutes(state: dict) -> int:
    return sum(lot["minutes"] for lot in state["lots"]) - state["borrowed_minutes"]


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


def month_of(day) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def money_for_month_exact(state: dict) -> Fraction:
    return Fraction(state["hours_per_month_minutes"] * state["rate_pence_per_hour"], 60)


def fee_pence(state: dict) -> int:
    """The month's fee: a percent of hours_per_month x rate (exact, rounded once), or a
    fixed sum."""
    fee = state["fee"]
    if fee is None:
        return 0
    if fee["kind"] == "fixed":
        return parse_pence(fee["value"])
    return round_half_away(money_for_month_exact(state) * parse_rate(fee["value"]) / 100)


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
    minutes = terms["hours_per_month_minutes"]
    budget_pence = round_half_away(money_for_month_exact(terms))
    fee = fee_pence(terms)
    on_top_pence = fee if terms["fee"] and terms["fee"]["basis"] == "on_top" else 0
    restore_lot(state["lots"], month, minutes)
    repaid = settle_borrowing(state)
    postings = transfer(f"council:{council}:hours", account, Unit.HRS, minutes)
    postings += moves(f"council:{council}:funding", account, Unit.GBP,
                      budget_pence + on_top_pence)
    journal = ctx.post("isf_advance", postings, holder=state["holder"], memo={
        **agreement_memo(state),
        "month": month, "minutes": minutes, "rate_pence_per_hour": terms["rate_pence_per_hour"],
        "budget_pence": budget_pence, "fee_on_top_pence": on_top_pence,
        "repaid_borrowed_minutes": repaid})
    if fee:
        ctx.post("isf_fee", transfer(account, f"provider:{state['provider']}:fees", Unit.GBP, fee),
                 suffix="fee", holder=state["holder"],
                 memo={**agreement_memo(state), "month": month, **terms["fee"],
                       "fee_pence": fee,
                       "of_pence": budget_pence if terms["fee"]["kind"] == "percent" else None})
    state["advanced"][month] = journal.key
    save(ctx, state)


@handles(IsfDelivery)
def isf_delivery(ctx: Ctx, event: IsfDelivery) -> None:
    state = open_isf(ctx, event)
    account, minutes = isf_account(state), event.hours
    terms = terms_for(state, month_of(event.date))  # valued at the rate of its month
    # The bank on the delivery's date and every later date (docs/rules-trust.md#floors).
    lowest, on = ctx.lowest_balance(account, Unit.HRS, event.date)
    after = min(lowest, bank_minutes(state)) - minutes
    if after < -terms["max_borrow_minutes"]:
        raise LedgerError("insufficient_funds", (
            f"{account} has {format_minutes(lowest)} hours on {on}; delivering "
            f"{format_minutes(minutes)} would leave {format_minutes(after)}, beyond the "
            f"{format_minutes(terms['max_borrow_minutes'])} hours it may borrow"))
    lots, borrowed = take_oldest_first(state["lots"], minutes)
    state["borrowed_minutes"] += borrowed
    state["last_delivery"] = max(state.get("last_delivery") or "", event.date.isoformat())
    rate = terms["rate_pence_per_hour"]
    amount_pence = pence_for_minutes(minutes, rate)
    provider = state["provider"]
    postings = transfer(account, f"provider:{provider}:delivered", Unit.HRS, minutes)
    postings += moves(account, f"provider:{provider}:income", Unit.GBP, amount_pence)
    ctx.post("isf_delivery", postings, holder=state["holder"], memo={
        **agreement_memo(state),
        "minutes": minutes, "rate_pence_per_hour": rate, "amount_pence": amount_pence,
        "lots": lots, "borrowed_minutes": borrowed,
        **{k: v for k in ("worker", "reference", "notes")
           if (v := getattr(event, k)) is not None}})
    save(ctx, state)


@handles(IsfPurchase)
def isf_purchase(ctx: Ctx, event: IsfPurchase) -> None:
    """Money only; an overspend is allowed and shows as a negative ISF balance."""
    state = open_isf(ctx, event)
    payee = external_account(event.payee)
    ctx.post("isf_purchase", transfer(isf_account(state), payee, Unit.GBP, event.amount),
             holder=state["holder"],
             memo={**agreement_memo(state), "payee": payee.removeprefix("external:")})


def check_reconcile_order(state: dict, month: str) -> None:
    last = state["last_reconciled"]
    if last is not None:
        if month_index(month) != month_index(last) + 1:
            raise LedgerError("invalid", f"reconcile {month_name(month_index(last) + 1)} next "
                              f"(months are reconciled once each, in order; last was {last})")
        return
    opened = state["opened"][:7]
    earliest = min([*state["advanced"], opened], key=month_index)
    if month_index(month) < month_index(earliest):
        raise LedgerError("invalid", f"{month} is before the ISF began ({earliest})")
    first_lot = min(state["advanced"], key=month_index, default=None)
    if first_lot is not None and month_index(month) > month_index(first_lot):
        raise LedgerError("invalid", f"reconcile {first_lot} first: months are reconciled "
                          "in order and none has been yet")


def expire_hours(state: dict, month: str) -> list[dict]:
    """(1) lots old enough expire; (2) if the hours left in lots of this month and earlier
    (less any borrowed) exceed the cap, the excess expires, oldest lots first. A later
    month's lot, advanced before this reconciliation, is never touched by it
    (docs/rules-dp-isf.md#carry-over-cap)."""
    expired = []
    kept = []
    terms = terms_for(state, month)  # the carry-over terms in force for the month
    for lot in state["lots"]:
        if month_index(lot["month"]) + terms["expire_after_months"] <= month_index(month):
            expired.append({"month": lot["month"], "minutes": lot["minutes"], "reason": "age"})
        else:
            kept.append(lot)
    state["lots"] = kept
    cap = terms["max_minutes"]
    counted = [lot for lot in kept if month_index(lot["month"]) <= month_index(month)]
    excess = (sum(lot["minutes"] for lot in counted) - state["borrowed_minutes"] - cap
              if cap is not None else 0)
    if excess > 0:
        taken, short = take_oldest_first(counted, excess)  # the same lot objects as `kept`
        assert short == 0
        expired += [{**lot, "reason": "cap"} for lot in taken]
        state["lots"] = [lot for lot in kept if lot["minutes"] > 0]
    return expired


@handles(IsfReconcile)
def isf_reconcile(ctx: Ctx, event: IsfReconcile) -> None:
    state = open_isf(ctx, event)
    check_reconcile_order(state, event.month)
    account, council = isf_account(state), state["council"]
    terms = terms_for(state, event.month)
    expired = expire_hours(state, event.month)
    expired_minutes = sum(lot["minutes"] for lot in expired)
    returned_pence = 0
    if expired_minutes:
        ctx.post("isf_hours_expiry",
                 transfer(account, f"council:{council}:hours", Unit.HRS, expired_minutes),
                 suffix="expiry", holder=state["holder"],
                 memo={**agreement_memo(state), "month": event.month,
                       "minutes": expired_minutes, "lots": expired})
        if terms["underspend"] == "return":
            worth_pence = pence_for_minutes(expired_minutes, terms["rate_pence_per_hour"])
            returned_pence = min(worth_pence, max(own_money(ctx, state), 0))
    if returned_pence:
        ctx.post("isf_underspend_return",
                 transfer(account, f"council:{council}:funding", Unit.GBP, returned_pence),
                 suffix="return", holder=state["holder"],
                 memo={**agreement_memo(state), "month": event.month,
                       "expired_minutes": expired_minutes,
                       "rate_pence_per_hour": terms["rate_pence_per_hour"],
                       "worth_pence": pence_for_minutes(expired_minutes,
                                                        terms["rate_pence_per_hour"]),
                       "returned_pence": returned_pence})
    state["last_reconciled"] = event.month
    save(ctx, state)
    ctx.put_state("isf_reconcile", f"{isf_ref(state['holder'], state['provider'])}:{event.month}", {
        "date": event.date.isoformat(), "event": ctx.event_key,
        "expired_minutes": expired_minutes, "returned_pence": returned_pence,
        "bank_minutes": bank_minutes(state), "money_pence": own_money(ctx, state)})


@handles(IsfVary)
def isf_vary(ctx: Ctx, event: IsfVary) -> None:
    """New terms from month `from` on; the bank, its lots and the money are kept
    (docs/rules-dp-isf.md#isf-vary)."""
    state = open_isf(ctx, event)
    start = event.from_
    given = {name for name in ("hours_per_month", "rate", "carry", "fee", "underspend")
             if getattr(event, name) is not None}
    if not given:
        raise LedgerError("invalid", "isf_vary needs at least one of hours_per_month, rate, "
                          "carry, fee, underspend")
    advanced = sorted((m for m in state["advanced"] if month_index(m) >= month_index(start)),
                      key=month_index)
    if advanced:
        raise LedgerError("invalid", f"{advanced[0]} is already advanced to this ISF: new "
                          f"terms may start only from a month not yet advanced")
    first_day = f"{start}-01"
    if (state.get("last_delivery") or "") >= first_day:
        raise LedgerError("invalid", f"support dated {state['last_delivery']} is already "
                          f"valued at the old rate: new terms may start only after it")
    terms: dict[str, Any] = {}
    if event.hours_per_month is not None:
        terms["hours_per_month_minutes"] = event.hours_per_month
    if event.rate is not None:
        terms["rate_pence_per_hour"] = event.rate
    if event.carry is not None:
        terms.update(expire_after_months=event.carry.expire_after_months,
                     max_minutes=event.carry.max_hours,
                     max_borrow_minutes=event.carry.max_borrow_hours)
    if event.fee is not None:
        terms["fee"] = event.fee.model_dump()
    if event.underspend is not None:
        terms["underspend"] = event.underspend
    # In month order; two from the same month apply in the order they were made.
    state["variations"] = sorted(
        [*state.get("variations", []), {"from": start, "date": event.date.isoformat(),
                                        "event": ctx.event_key, "terms": terms}],
        key=lambda v: month_index(v["from"]))
    new = terms_for(state, start)
    if new["fee"] and new["fee"]["basis"] == "inside":
        if 0 < fee_pence(new) >= round_half_away(money_for_month_exact(new)):
            raise LedgerError("invalid", "an inside fee must be less than the month's budget")
    save(ctx, state)
    # The floor allows the most borrowing any month's terms allow; each delivery is held
    # to its own month's limit above.
    most = max(terms_for(state, m)["max_borrow_minutes"]
               for m in [start, *(v["from"] for v in state["variations"])])
    most = max(most, state["max_borrow_minutes"])
    ctx.set_floor(isf_account(state), Unit.HRS, -most)


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
