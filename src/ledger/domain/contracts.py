"""Council contracts with providers (docs/scenarios.md): grants, framework rate cards and
call-offs, spot purchases, and block contracts with their monthly payment and utilisation.

All of these are paid from `council:{C}:funding`, never from a personal budget. State:
kind "framework" ref = framework id (the rate card), kind "block" ref = contract id (terms,
and per month whether it is paid and the hours used). The rules where the file format is
silent are in docs/rules-contracts-bursaries-budgets.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ledger.core.amounts import Unit, format_minutes, format_pence, pence_for_minutes
from ledger.core.calendar import month_index, month_of
from ledger.core.journal import Journal, Posting, check_account, transfer
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
    on_reverse,
)
from ledger.errors import LedgerError

MAX_RATES_PER_CARD = 500  # put a limit on everything: a rate card is a page, not a table
MAX_REF_CHARS = 100  # ids go into account paths (200 characters in the store) and keys


def _segment(value: str) -> str:
    """An instrument's own id (framework, block contract, fund, payee) becomes part of an
    account path or a key, so it must be one path segment: no colon, no leading space."""
    try:
        if ":" in value:
            raise LedgerError("invalid", "a colon")
        check_account(f"x:{value}")
    except LedgerError:
        raise ValueError(
            f"{value!r} must be non-empty text without a colon, not starting with a space"
        ) from None
    return value


Ref = Annotated[str, Field(max_length=MAX_REF_CHARS), AfterValidator(_segment)]
"""An instrument id or an external name: one account-path segment."""


def _minutes_moved(postings: tuple[Posting, ...]) -> int:
    return sum(p.amount_minor for p in postings if p.unit is Unit.HRS and p.amount_minor > 0)


def _council_funding(council: str) -> str:
    return f"council:{council}:funding"


def _provider_income(provider: str) -> str:
    return f"provider:{provider}:income"


def _check_holder(ctx: Ctx, holder: str | None) -> None:
    if holder is not None:
        ctx.party("holder", holder)


# ---------------------------------------------------------------- grant and spot


class Grant(Event):
    type: Literal["grant"]
    council: PartyId
    provider: PartyId
    amount: Pence


@handles(Grant)
def grant(ctx: Ctx, event: Grant) -> None:
    """A grant or SLA payment; instalments (Surrey: April and October) are one event each."""
    ctx.party("council", event.council)
    ctx.party("provider", event.provider)
    postings = transfer(_council_funding(event.council), _provider_income(event.provider),
                        Unit.GBP, event.amount)
    ctx.post("grant", postings, memo={"council": event.council, "provider": event.provider})


class SpotPurchase(Event):
    type: Literal["spot_purchase"]
    council: PartyId
    provider: PartyId
    amount: Pence
    holder: PartyId | None = None


@handles(SpotPurchase)
def spot_purchase(ctx: Ctx, event: SpotPurchase) -> None:
    ctx.party("council", event.council)
    ctx.party("provider", event.provider)
    _check_holder(ctx, event.holder)
    postings = transfer(_council_funding(event.council), _provider_income(event.provider),
                        Unit.GBP, event.amount)
    ctx.post("spot_purchase", postings, holder=event.holder,
             memo={"council": event.council, "provider": event.provider})


# ---------------------------------------------------------------- framework and call-off


Service = Annotated[str, Field(min_length=1, max_length=200)]


class RateLine(Strict):
    service: Service
    rate: RatePence
    from_: dt.date = Field(alias="from")


class FrameworkOpen(Event):
    type: Literal["framework_open"]
    framework: Ref
    council: PartyId
    rates: Annotated[list[RateLine], Field(min_length=1, max_length=MAX_RATES_PER_CARD)]


class FrameworkRates(Event):
    """Extension: add dated rates to an open card (an annual uplift) without a new card."""

    type: Literal["framework_rates"]
    framework: Ref
    rates: Annotated[list[RateLine], Field(min_length=1, max_length=MAX_RATES_PER_CARD)]


def _add_rates(card: list[dict], lines: list[RateLine]) -> list[dict]:
    """Two rates for one service from the same day would make the rate in force a guess."""
    seen = {(r["service"], r["from"]) for r in card}
    for line in lines:
        key = (line.service, line.from_.isoformat())
        if key in seen:
            raise LedgerError("invalid", f"two rates for {line.service!r} from {key[1]}")
        seen.add(key)
        card.append({"service": line.service, "rate_pence_per_hour": line.rate,
                     "from": key[1]})
    if len(card) > MAX_RATES_PER_CARD:
        raise LedgerError("invalid", f"a rate card holds at most {MAX_RATES_PER_CARD} rates")
    return card


@handles(FrameworkOpen)
def framework_open(ctx: Ctx, event: FrameworkOpen) -> None:
    ctx.party("council", event.council)
    if ctx.state("framework", event.framework) is not None:
        raise LedgerError("invalid", f"framework {event.framework} is already open")
    ctx.put_state("framework", event.framework, {
        "council": event.council,
        "opened": event.date.isoformat(),
        "rates": _add_rates([], event.rates),
    })


@handles(FrameworkRates)
def framework_rates(ctx: Ctx, event: FrameworkRates) -> None:
    card = _framework(ctx, event.framework)
    card["rates"] = _add_rates(card["rates"], event.rates)
    ctx.put_state("framework", event.framework, card)


def _framework(ctx: Ctx, framework: str) -> dict:
    card = ctx.state("framework", framework)
    if card is None:
        raise LedgerError("invalid", f"there is no framework {framework!r}")
    return card


def rate_in_force(card: dict, service: str, on: dt.date) -> dict:
    """The rate for `service` with the latest `from` on or before `on`: a later `from`
    supersedes an earlier one (docs/scenarios.md, `framework_open`)."""
    lines = [r for r in card["rates"] if r["service"] == service]
    if not lines:
        raise LedgerError("invalid", f"the framework has no rate for service {service!r}")
    in_force = [r for r in lines if r["from"] <= on.isoformat()]
    if not in_force:
        first = min(r["from"] for r in lines)
        raise LedgerError("invalid", f"no rate for {service!r} is in force on {on} "
                                     f"(the first starts {first})")
    return max(in_force, key=lambda r: r["from"])


class Calloff(Event):
    type: Literal["calloff"]
    framework: Ref
    provider: PartyId
    service: Service
    hours: Minutes
    holder: PartyId | None = None


@handles(Calloff)
def calloff(ctx: Ctx, event: Calloff) -> None:
    """Paid in arrears by results: hours delivered times the rate in force that day."""
    card = _framework(ctx, event.framework)
    council = card["council"]
    ctx.party("provider", event.provider)
    _check_holder(ctx, event.holder)
    rate = rate_in_force(card, event.service, event.date)
    pence = pence_for_minutes(event.hours, rate["rate_pence_per_hour"])
    if pence == 0:
        raise LedgerError("invalid", f"{format_minutes(event.hours)} hours at "
                                     f"{format_pence(rate['rate_pence_per_hour'])} "
                                     "an hour rounds to nothing")
    postings = [
        *transfer(_council_funding(council), _provider_income(event.provider),
                  Unit.GBP, pence),
        *transfer(f"council:{council}:hours", f"provider:{event.provider}:delivered",
                  Unit.HRS, event.hours),
    ]
    ctx.post("calloff", postings, holder=event.holder, memo={
        "framework": event.framework, "service": event.service,
        "rate_pence_per_hour": rate["rate_pence_per_hour"], "rate_from": rate["from"],
        "minutes": event.hours,
    })


# ---------------------------------------------------------------- block contracts


class BlockOpen(Event):
    type: Literal["block_open"]
    contract: Ref
    council: PartyId
    provider: PartyId
    amount_per_month: Pence
    capacity_hours_per_month: Minutes


class BlockPayment(Event):
    type: Literal["block_payment"]
    contract: Ref
    month: Month


class BlockUsage(Event):
    type: Literal["block_usage"]
    contract: Ref
    hours: Minutes


class BlockClose(Event):
    """Extension: the contract ends on this date. Nothing is posted."""

    type: Literal["block_close"]
    contract: Ref


@handles(BlockOpen)
def block_open(ctx: Ctx, event: BlockOpen) -> None:
    ctx.party("council", event.council)
    ctx.party("provider", event.provider)
    if ctx.state("block", event.contract) is not None:
        raise LedgerError("invalid", f"block contract {event.contract} is already open")
    ctx.put_state("block", event.contract, {
        "council": event.council,
        "provider": event.provider,
        "amount_per_month_pence": event.amount_per_month,
        "capacity_minutes_per_month": event.capacity_hours_per_month,
        "opened": event.date.isoformat(),
        "closed": None,
        "months": {},  # "YYYY-MM": {"paid_key": str | None, "repaid": n, "used_minutes": n}
    })


def _block(ctx: Ctx, contract: str) -> dict:
    block = ctx.state("block", contract)
    if block is None:
        raise LedgerError("invalid", f"there is no block contract {contract!r}")
    return block


def _block_month(block: dict, month: str) -> dict:
    return block["months"].setdefault(month, {"paid_key": None, "repaid": 0,
                                              "used_minutes": 0})


def _check_month_in_term(block: dict, contract: str, month: str) -> None:
    """A block pays for whole months from the month it opens to the month it closes."""
    if month_index(month) < month_index(block["opened"][:7]):
        raise LedgerError("invalid", f"block contract {contract} starts in "
                                     f"{block['opened'][:7]}, after {month}")
    if block["closed"] and month_index(month) > month_index(block["closed"][:7]):
        raise LedgerError("invalid", f"block contract {contract} closed on "
                                     f"{block['closed']}, before {month}")


@handles(BlockPayment)
def block_payment(ctx: Ctx, event: BlockPayment) -> None:
    block = _block(ctx, event.contract)
    _check_month_in_term(block, event.contract, event.month)
    month = _block_month(block, event.month)
    if month["paid_key"] is not None:
        raise LedgerError("invalid", f"block contract {event.contract} is already paid for "
                                     f"{event.month}")
    # The key names the contract and month, not the event, so that no second event can
    # ever post the same month; a reversed payment may be made again under a new key.
    key = f"block_payment/{event.contract}/{event.month}"
    if month["repaid"]:
        key += f"/again-{month['repaid']}"
    postings = transfer(_council_funding(block["council"]),
                        _provider_income(block["provider"]), Unit.GBP,
                        block["amount_per_month_pence"])
    ctx.post("block_payment", postings, key=key,
             memo={"contract": event.contract, "month": event.month})
    month["paid_key"] = key
    ctx.put_state("block", event.contract, block)


@handles(BlockUsage)
def block_usage(ctx: Ctx, event: BlockUsage) -> None:
    """Hours used against the month's capacity. Going over is allowed (the provider did the
    work and the block price does not change) but recorded, so the block report shows it."""
    block = _block(ctx, event.contract)
    if event.date.isoformat() < block["opened"]:
        raise LedgerError("invalid", f"block contract {event.contract} opens on "
                                     f"{block['opened']}, after {event.date}")
    if block["closed"] and event.date.isoformat() > block["closed"]:
        raise LedgerError("invalid", f"block contract {event.contract} closed on "
                                     f"{block['closed']}")
    month_name = month_of(event.date)
    month = _block_month(block, month_name)
    month["used_minutes"] += event.hours
    capacity = block["capacity_minutes_per_month"]
    postings = transfer(f"council:{block['council']}:hours",
                        f"provider:{block['provider']}:delivered", Unit.HRS, event.hours)
    ctx.post("block_usage", postings, memo={
        "contract": event.contract, "month": month_name, "minutes": event.hours,
        "used_minutes_in_month": month["used_minutes"],
        "capacity_minutes_per_month": capacity,
        "over_capacity_minutes": max(0, month["used_minutes"] - capacity),
    })
    ctx.put_state("block", event.contract, block)


@handles(BlockClose)
def block_close(ctx: Ctx, event: BlockClose) -> None:
    block = _block(ctx, event.contract)
    if block["closed"]:
        raise LedgerError("invalid", f"block contract {event.contract} is already closed")
    if event.date.isoformat() < block["opened"]:
        raise LedgerError("invalid", "a block contract cannot close before it opens")
    late = [m for m, v in block["months"].items()
            if month_index(m) > month_index(month_of(event.date))
            and (v["paid_key"] or v["used_minutes"])]
    if late:
        raise LedgerError("invalid", f"block contract {event.contract} already has "
                                     f"payments or usage in {min(late)}; reverse them first")
    block["closed"] = event.date.isoformat()
    ctx.put_state("block", event.contract, block)


def block_utilisation(block: dict) -> list[dict]:
    """Per month, in order: paid or not, hours used against capacity, and any excess.
    Integer minutes; `utilisation_basis_points` is used/capacity in 1/100ths of a percent,
    rounded down so that 100% means the capacity was really reached."""
    capacity = block["capacity_minutes_per_month"]
    rows = []
    for month in sorted(block["months"]):
        used = block["months"][month]["used_minutes"]
        rows.append({
            "month": month,
            "paid": block["months"][month]["paid_key"] is not None,
            "paid_minor": block["amount_per_month_pence"]
            if block["months"][month]["paid_key"] else 0,
            "capacity_minor": capacity,
            "used_minor": used,
            "unused_minor": max(0, capacity - used),
            "over_capacity_minor": max(0, used - capacity),
            "utilisation_basis_points": used * 10_000 // capacity,
        })
    return rows


# ---------------------------------------------------------------- reversals


def _contract_of(journal: Journal) -> str:
    return journal.memo["contract"]


@on_reverse("block_payment")
def _unpay_block_month(ctx: Ctx, journal: Journal) -> None:
    """A reversed month is unpaid again, so the right payment can be made."""
    block = _block(ctx, _contract_of(journal))
    month = _block_month(block, journal.memo["month"])
    month["paid_key"] = None
    month["repaid"] += 1
    ctx.put_state("block", _contract_of(journal), block)


@on_reverse("block_usage")
def _unuse_block_hours(ctx: Ctx, journal: Journal) -> None:
    block = _block(ctx, _contract_of(journal))
    month = _block_month(block, journal.memo["month"])
    month["used_minutes"] -= _minutes_moved(journal.postings)
    ctx.put_state("block", _contract_of(journal), block)
