"""Bursary and grant funds (docs/scenarios.md): a council-funded pot, awards to people up
to a cap each, spending from awards (alone or pooled with others), and closing the pot.

State: kind "fund" ref = fund id, holding the council, the total and cap, whether it is
closed, and each person's awarded total (what the cap is checked against; spending does
not lower it, reversing an award does). The fund and award accounts cannot go below zero
(core default floor); the checks here come first only to give a clearer message. Rules
where the file format is silent: docs/rules-contracts-bursaries-budgets.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ledger.core.amounts import Unit, format_pence, largest_remainder
from ledger.core.journal import Journal, transfer
from ledger.domain.base import Ctx, Event, PartyId, Pence, handles, on_reverse
from ledger.domain.contracts import Ref
from ledger.errors import LedgerError

MAX_HOLDERS_PER_PURCHASE = 1000  # a pooled purchase is a group, not a population


def fund_account(fund: str) -> str:
    return f"fund:{fund}"


def award_account(fund: str, holder: str) -> str:
    return f"fund:{fund}:award:{holder}"


def _distinct(holders: list[str]) -> list[str]:
    if len(set(holders)) != len(holders):
        raise ValueError("a holder is listed twice")
    return holders


Holders = Annotated[
    list[PartyId],
    Field(min_length=1, max_length=MAX_HOLDERS_PER_PURCHASE),
    AfterValidator(_distinct),
]


class FundOpen(Event):
    type: Literal["fund_open"]
    fund: Ref
    council: PartyId
    total: Pence
    cap_per_person: Pence


class BursaryAward(Event):
    type: Literal["bursary_award"]
    fund: Ref
    holder: PartyId
    amount: Pence


class BursarySpend(Event):
    type: Literal["bursary_spend"]
    fund: Ref
    holders: Holders
    payee: Ref
    amount: Pence


class FundClose(Event):
    type: Literal["fund_close"]
    fund: Ref


# ---------------------------------------------------------------- state helpers


def _fund(ctx: Ctx, fund: str, *, open_only: bool = True) -> dict:
    state = ctx.state("fund", fund)
    if state is None:
        raise LedgerError("invalid", f"there is no fund {fund!r}")
    if open_only and state["closed"]:
        # After closing, the money is back with the council; a late award or spend would
        # spend money the fund no longer holds.
        raise LedgerError("invalid", f"fund {fund} closed on {state['closed']}")
    return state


def awarded_pence(state: dict, holder: str) -> int:
    """What `holder` has been awarded from the fund so far (net of reversed awards)."""
    return next((a["awarded_pence"] for a in state["awards"] if a["holder"] == holder), 0)


def _set_awarded(state: dict, holder: str, pence: int) -> None:
    for award in state["awards"]:
        if award["holder"] == holder:
            award["awarded_pence"] = pence
            return
    state["awards"].append({"holder": holder, "awarded_pence": pence})


# ---------------------------------------------------------------- handlers


@handles(FundOpen)
def fund_open(ctx: Ctx, event: FundOpen) -> None:
    ctx.party("council", event.council)
    if ctx.state("fund", event.fund) is not None:
        raise LedgerError("invalid", f"fund {event.fund} is already open; use a new id "
                                     "for a new year's fund")
    postings = transfer(f"council:{event.council}:funding", fund_account(event.fund),
                        Unit.GBP, event.total)
    ctx.post("fund_open", postings, memo={"fund": event.fund, "council": event.council,
                                          "cap_per_person_pence": event.cap_per_person})
    ctx.put_state("fund", event.fund, {
        "council": event.council,
        "total_pence": event.total,
        "cap_per_person_pence": event.cap_per_person,
        "opened": event.date.isoformat(),
        "closed": None,
        "awards": [],  # [{"holder": H, "awarded_pence": n}] in order of first award
    })


@handles(BursaryAward)
def bursary_award(ctx: Ctx, event: BursaryAward) -> None:
    state = _fund(ctx, event.fund)
    ctx.party("holder", event.holder)
    cap = state["cap_per_person_pence"]
    before = awarded_pence(state, event.holder)
    if before + event.amount > cap:
        raise LedgerError("over_cap", f"{event.holder} has been awarded "
                                      f"{format_pence(before)} from {event.fund}; "
                                      f"{format_pence(event.amount)} more would exceed "
                                      f"the cap of {format_pence(cap)}")
    available, on = ctx.lowest_balance(fund_account(event.fund), Unit.GBP, ctx.date)
    if available < event.amount:
        raise LedgerError("insufficient_funds", f"fund {event.fund} has "
                                                f"{format_pence(available)} left on {on}, "
                                                f"less than {format_pence(event.amount)}")
    postings = transfer(fund_account(event.fund), award_account(event.fund, event.holder),
                        Unit.GBP, event.amount)
    ctx.post("bursary_award", postings, holder=event.holder, memo={
        "fund": event.fund, "awarded_total_pence": before + event.amount,
        "cap_per_person_pence": cap,
    })
    _set_awarded(state, event.holder, before + event.amount)
    ctx.put_state("fund", event.fund, state)


def split_equally(amount_pence: int, holders: list[str]) -> list[int]:
    """Equal parts by largest remainder: they add up exactly; ties go to the first listed."""
    if amount_pence < len(holders):
        raise LedgerError("invalid", f"{format_pence(amount_pence)} cannot be split among "
                                     f"{len(holders)} people: each part must be at least 1p")
    return largest_remainder(amount_pence, [1] * len(holders))


@handles(BursarySpend)
def bursary_spend(ctx: Ctx, event: BursarySpend) -> None:
    """Several holders make a pooled purchase: each pays an equal part from their award."""
    _fund(ctx, event.fund)
    for holder in event.holders:
        ctx.party("holder", holder)
    parts = split_equally(event.amount, event.holders)
    for holder, part in zip(event.holders, parts, strict=True):
        left, on = ctx.lowest_balance(award_account(event.fund, holder), Unit.GBP, ctx.date)
        if left < part:
            raise LedgerError("insufficient_funds", f"{holder}'s award from {event.fund} has "
                                                    f"{format_pence(left)} left on {on}, "
                                                    f"less than their part {format_pence(part)}")
    shares = [{"holder": h, "pence": p} for h, p in zip(event.holders, parts, strict=True)]
    for holder, part in zip(event.holders, parts, strict=True):
        postings = transfer(award_account(event.fund, holder), f"external:{event.payee}",
                            Unit.GBP, part)
        suffix = None if len(event.holders) == 1 else holder
        ctx.post("bursary_spend", postings, suffix=suffix, holder=holder, memo={
            "fund": event.fund, "payee": event.payee, "amount_pence": event.amount,
            "part_pence": part, "parts": shares,
        })


@handles(FundClose)
def fund_close(ctx: Ctx, event: FundClose) -> None:
    """Every award's unspent remainder back to the fund, then the whole fund back to the
    council it came from; afterwards every account of the fund is at zero."""
    state = _fund(ctx, event.fund)
    for award in state["awards"]:
        holder = award["holder"]
        left = ctx.balance(award_account(event.fund, holder), Unit.GBP)
        if left > 0:
            postings = transfer(award_account(event.fund, holder), fund_account(event.fund),
                                Unit.GBP, left)
            ctx.post("bursary_award_return", postings, suffix=f"award/{holder}",
                     holder=holder, memo={"fund": event.fund, "returned_pence": left})
    balance = ctx.balance(fund_account(event.fund), Unit.GBP)
    if balance > 0:
        postings = transfer(fund_account(event.fund), f"council:{state['council']}:funding",
                            Unit.GBP, balance)
        ctx.post("fund_close_return", postings, suffix="fund",
                 memo={"fund": event.fund, "returned_pence": balance})
    state["closed"] = event.date.isoformat()
    ctx.put_state("fund", event.fund, state)


# ---------------------------------------------------------------- reversals


@on_reverse("bursary_award")
def _unaward(ctx: Ctx, journal: Journal) -> None:
    """A reversed award no longer counts towards the person's cap. Only its unspent part
    can come back, so an award already spent must have its spending reversed first."""
    fund, holder = journal.memo["fund"], journal.holder
    assert holder is not None, journal.key
    state = _fund(ctx, fund)
    amount = next(p.amount_minor for p in journal.postings if p.amount_minor > 0)
    if ctx.balance(award_account(fund, holder), Unit.GBP) < 0:
        raise LedgerError("insufficient_funds", f"{holder}'s award from {fund} is already "
                                                "partly spent; reverse the spending first")
    _set_awarded(state, holder, awarded_pence(state, holder) - amount)
    ctx.put_state("fund", fund, state)


@on_reverse("bursary_spend")
def _unspend(ctx: Ctx, journal: Journal) -> None:
    _fund(ctx, journal.memo["fund"])  # money cannot go back into a closed fund's awards


def _reopen(ctx: Ctx, journal: Journal) -> None:
    """Reversing a closure reopens the fund: its money is back where it was."""
    state = _fund(ctx, journal.memo["fund"], open_only=False)
    state["closed"] = None
    ctx.put_state("fund", journal.memo["fund"], state)


on_reverse("bursary_award_return")(_reopen)
on_reverse("fund_close_return")(_reopen)


@on_reverse("fund_open")
def _unopen(ctx: Ctx, journal: Journal) -> None:
    """A reversed fund_open (opened by mistake) leaves the fund closed for good."""
    fund = journal.memo["fund"]
    state = _fund(ctx, fund)
    if any(a["awarded_pence"] for a in state["awards"]):
        raise LedgerError("invalid", f"fund {fund} has awards; reverse them first")
    state["closed"] = ctx.date.isoformat()
    ctx.put_state("fund", fund, state)
