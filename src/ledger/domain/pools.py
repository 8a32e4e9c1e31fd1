"""Pooled budgets: the `pool_*` events of docs/scenarios.md (rules in docs/pools.md).

Several budget holders "tie up all or parts of their personal budgets" to buy together
(docs/sources.md#s003, Richmond: shared PAs, a venue, outings). Each member's money stays
theirs: the pool is one account per member, `pool:{L}:{H}`, plus `pool:{L}:common` for
money that belongs to no one member (trading income). A shared cost is split among the
members who share it and each part comes out of that member's own share, so one member's
budget never pays for another's support.

State (kind "pool", ref = pool id), JSON-able, dates as ISO text:
    {"pool", "name" (display name or None), "opened", "opened_by", "status": "open"|"closed",
     "closed", "closed_by", "common_left_minor", "closes_reversed": [event keys],
     "history": [{"holder", "joined", "joined_by", "left", "left_by"}]}
`history` is in join order; the current members are its periods with no `left`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from ledger.core.amounts import Unit, format_pence, largest_remainder, parse_rate
from ledger.core.journal import Posting, check_account, transfer
from ledger.domain.base import Ctx, Event, PartyId, Pence, handles
from ledger.domain.dp import dp_account
from ledger.errors import LedgerError

KIND = "pool"
MAX_MEMBERS = 200  # a pooling group, not a council: put a limit on everything
MAX_ID_CHARS = 64
MAX_TEXT_CHARS = 200
MAX_NAME_CHARS = 100  # the pool's display name, said in the statement's title
GBP = Unit.GBP

# ---------------------------------------------------------------- field types


def _segment(max_chars: int, what: str):
    """Text that can sit in an account path: no colon, no surrounding spaces."""

    def check(value: object) -> str:
        if not isinstance(value, str) or not value or len(value) > max_chars:
            raise ValueError(f"{what} must be text of 1 to {max_chars} characters")
        if value != value.strip():
            raise ValueError(f"{what} {value!r} has spaces at its ends")
        if ":" in value or not value.isprintable():
            raise ValueError(f"{what} {value!r} may not contain a colon or control characters")
        return value

    return check


def _weight(value: object) -> Decimal:
    try:
        exact = parse_rate(value, "weight")
    except LedgerError as err:
        raise ValueError(err.message.removeprefix("weight: ")) from None
    if exact <= 0:
        raise ValueError("a weight must be greater than zero (leave a member out with members)")
    return Decimal(exact.numerator) / Decimal(exact.denominator)


PoolId = Annotated[str, AfterValidator(_segment(MAX_ID_CHARS, "pool id"))]
ExternalName = Annotated[str, AfterValidator(_segment(MAX_TEXT_CHARS, "name"))]
Weight = Annotated[Decimal, BeforeValidator(_weight)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def _display_name(value: str) -> str:
    """A title for people to read: no control characters, no spaces at its ends."""
    if value != value.strip() or not value.isprintable():
        raise ValueError("name may not have spaces at its ends or control characters")
    return value


DisplayName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS),
                        AfterValidator(_display_name)]


class PoolEvent(Event):
    pool: PoolId


class PoolOpen(PoolEvent):
    type: Literal["pool_open"]
    members: list[PartyId] = Field(max_length=MAX_MEMBERS)
    name: DisplayName | None = None  # extension: the name the group knows the pool by


class PoolJoin(PoolEvent):
    type: Literal["pool_join"]
    holder: PartyId


class PoolLeave(PoolEvent):
    type: Literal["pool_leave"]
    holder: PartyId


class PoolContribute(PoolEvent):
    type: Literal["pool_contribute"]
    holder: PartyId
    amount: Pence
    provider: PartyId | None = None  # extension: pay in from the ISF isf:{H}:{P}


class PoolSpend(PoolEvent):
    type: Literal["pool_spend"]
    payee: ExternalName
    amount: Pence
    split: Literal["equal", "ratio"] = "equal"
    weights: dict[PartyId, Weight] | None = Field(default=None, max_length=MAX_MEMBERS)
    members: list[PartyId] | None = Field(default=None, max_length=MAX_MEMBERS)
    description: Text | None = None  # extension: what was bought, for the statement


class PoolIncome(PoolEvent):
    type: Literal["pool_income"]
    payer: ExternalName
    amount: Pence
    description: Text | None = None


class PoolClose(PoolEvent):
    type: Literal["pool_close"]


class PoolDistribute(PoolEvent):
    """Extension: share the pool's common money (trading income, a grant) out to members'
    shares, split like a cost. Without `amount`, everything in common goes."""

    type: Literal["pool_distribute"]
    amount: Pence | None = None
    split: Literal["equal", "ratio"] = "equal"
    weights: dict[PartyId, Weight] | None = Field(default=None, max_length=MAX_MEMBERS)
    members: list[PartyId] | None = Field(default=None, max_length=MAX_MEMBERS)
    description: Text | None = None


# ---------------------------------------------------------------- accounts and state


def share_account(pool: str, holder: str) -> str:
    return f"pool:{pool}:{holder}"


def common_account(pool: str) -> str:
    return f"pool:{pool}:common"


def current_members(state: dict) -> list[str]:
    """Holders in the pool now, in join order (the order ties in a split go by)."""
    return [period["holder"] for period in state["history"] if period["left"] is None]


def member_labels(state: dict, parties: dict[str, dict], extra: Iterable[str] = ()
                  ) -> dict[str, str]:
    """Holder id -> how the group's statements show them (docs/pools.md, "Names are
    shown only with consent"), in
    first-join order, then `extra` (anyone else the statement lists) sorted by id. Their
    name only when their party record consents (`show_name`), else their pseudonym, else
    "Member N": N is their place in that order, so it never changes when others leave.
    Two who would read alike are told apart by their number. Give the party records in
    force on the statement's last day, so a consent given later never reaches it. Every
    statement, report and page that names a pool member asks here."""
    order: list[str] = []
    for period in state.get("history", []):
        if period["holder"] not in order:
            order.append(period["holder"])
    order += sorted(set(extra) - set(order))
    labels: dict[str, str] = {}
    for number, holder in enumerate(order, start=1):
        party = parties.get(holder) or {}
        if party.get("show_name") and party.get("name"):
            label = str(party["name"])
        elif party.get("pseudonym"):
            label = str(party["pseudonym"])
        else:
            label = f"Member {number}"
        while label in labels.values():  # two members must never read as one
            label += f" ({number})"
        labels[holder] = label
    return labels


def current_period(state: dict, holder: str) -> dict | None:
    return next((p for p in state["history"] if p["holder"] == holder and p["left"] is None),
                None)


def _joined(state: dict, member: str) -> dt.date:
    period = current_period(state, member)
    assert period is not None, member  # only called for current members
    return dt.date.fromisoformat(period["joined"])


def _new_period(holder: str, ctx: Ctx) -> dict:
    return {"holder": holder, "joined": ctx.date.isoformat(), "joined_by": ctx.event_key,
            "left": None, "left_by": None}


def _open_pool(ctx: Ctx, pool: str) -> dict:
    """The pool's state, if it exists, is open, and had opened by the event's date."""
    state = ctx.state(KIND, pool)
    if state is None:
        raise LedgerError("invalid", f"there is no pool {pool!r}; open it with pool_open first")
    if state["status"] == "closed":
        raise LedgerError("invalid", f"pool {pool} was closed on {state['closed']}; "
                                     "a closed pool takes no more events")
    if ctx.date < dt.date.fromisoformat(state["opened"]):
        raise LedgerError("invalid", f"pool {pool} opened on {state['opened']}, after "
                                     f"this event's date {ctx.date}")
    return state


def _member_period(state: dict, holder: str, on: dt.date) -> dict:
    """A holder's current membership, which must have begun by `on`."""
    period = current_period(state, holder)
    if period is None:
        raise LedgerError("invalid", f"{holder} is not a member of pool {state['pool']}")
    if on < dt.date.fromisoformat(period["joined"]):
        raise LedgerError("invalid", f"{holder} joined pool {state['pool']} on "
                                     f"{period['joined']}, after this event's date {on}")
    return period


def _check_holders(ctx: Ctx, holders: list[str] | None) -> None:
    for holder in holders or []:
        ctx.party("holder", holder)
    if holders and len(set(holders)) != len(holders):
        raise LedgerError("invalid", "a holder is named twice")


def _pounds(pence: int) -> str:
    return "£" + format_pence(pence)  # error messages only; reports format their own


# ---------------------------------------------------------------- membership


@handles(PoolOpen)
def pool_open(ctx: Ctx, event: PoolOpen) -> None:
    _check_holders(ctx, event.members)
    if ctx.state(KIND, event.pool) is not None:
        # Pool ids are never reused: the accounts pool:{L}:* keep their history.
        raise LedgerError("invalid", f"pool {event.pool} already exists")
    ctx.put_state(KIND, event.pool, {
        "pool": event.pool, "name": event.name, "opened": ctx.date.isoformat(),
        "opened_by": ctx.event_key,
        "status": "open", "closed": None, "closed_by": None, "common_left_minor": None,
        "closes_reversed": [], "history": [_new_period(holder, ctx) for holder in event.members],
    })


@handles(PoolJoin)
def pool_join(ctx: Ctx, event: PoolJoin) -> None:
    ctx.party("holder", event.holder)
    state = _open_pool(ctx, event.pool)
    if current_period(state, event.holder) is not None:
        raise LedgerError("invalid", f"{event.holder} is already a member of pool {event.pool}")
    if len(current_members(state)) >= MAX_MEMBERS:
        raise LedgerError("invalid", f"pool {event.pool} has {MAX_MEMBERS} members already")
    state["history"].append(_new_period(event.holder, ctx))
    ctx.put_state(KIND, event.pool, state)


def _refund_share(ctx: Ctx, pool: str, holder: str, reason: str, **memo: object) -> None:
    """The member's whole share back to their direct payment account (docs/pools.md)."""
    share_pence = ctx.balance(share_account(pool, holder), GBP)
    if share_pence <= 0:
        return
    ctx.post("pool_refund",
             transfer(share_account(pool, holder), dp_account(holder), GBP, share_pence),
             suffix=holder if reason == "close" else None, holder=holder,
             memo={"pool": pool, "reason": reason, "amount_minor": share_pence, **memo})


@handles(PoolLeave)
def pool_leave(ctx: Ctx, event: PoolLeave) -> None:
    ctx.party("holder", event.holder)
    state = _open_pool(ctx, event.pool)
    period = _member_period(state, event.holder, ctx.date)
    _refund_share(ctx, event.pool, event.holder, "leave")
    period["left"] = ctx.date.isoformat()
    period["left_by"] = ctx.event_key
    ctx.put_state(KIND, event.pool, state)


@handles(PoolClose)
def pool_close(ctx: Ctx, event: PoolClose) -> None:
    """Dissolve the pool: every share back to its owner; common money stays put, because
    who it belongs to is the group's decision (trading income, a grant), not the ledger's."""
    state = _open_pool(ctx, event.pool)
    common_pence = ctx.balance(common_account(event.pool), GBP)
    note = (f"{_pounds(common_pence)} is left in common in pool:{event.pool}:common; "
            "the group decides where it goes")
    for holder in current_members(state):
        _refund_share(ctx, event.pool, holder, "close", common_left_minor=common_pence,
                      note=note)
    state.update(status="closed", closed=ctx.date.isoformat(), closed_by=ctx.event_key,
                 common_left_minor=common_pence)
    ctx.put_state(KIND, event.pool, state)


# ---------------------------------------------------------------- money in


def _isf_source(ctx: Ctx, holder: str, provider: str) -> str:
    """An ISF may pay into a pool only where the ISF's terms allow it (docs/pools.md:
    pooling between ISFs is untested, docs/sources.md#s003, so it is opt-in, never a
    default)."""
    ctx.party("provider", provider)
    isf = ctx.state("isf", f"{holder}:{provider}")
    if isf is None:
        raise LedgerError("invalid", f"there is no ISF for {holder} with {provider}")
    if isf.get("closed"):
        raise LedgerError("invalid", f"the ISF for {holder} with {provider} closed on "
                                     f"{isf['closed']}")
    if isf.get("allow_pool_contributions") is not True:
        raise LedgerError("invalid", f"the ISF for {holder} with {provider} does not allow "
                                     "pool contributions (allow_pool_contributions)")
    return f"isf:{holder}:{provider}"


@handles(PoolContribute)
def pool_contribute(ctx: Ctx, event: PoolContribute) -> None:
    ctx.party("holder", event.holder)
    state = _open_pool(ctx, event.pool)
    _member_period(state, event.holder, ctx.date)
    earlier_pence = 0
    if event.provider is None:
        source = dp_account(event.holder)
    else:
        source = _isf_source(ctx, event.holder, event.provider)
        # Only the current agreement's own money (docs/rules-trust.md#isf-agreements).
        isf = ctx.state("isf", f"{event.holder}:{event.provider}") or {}
        earlier_pence = isf.get("earlier_money_pence", 0)
    # An ISF may overspend on support, but it may not pay in money it does not hold: that
    # would turn an overspend into someone's pool share.
    # On its date and every later date with postings (docs/rules-trust.md#floors).
    available_pence, on = ctx.lowest_balance(source, GBP, ctx.date)
    available_pence -= earlier_pence
    if available_pence < event.amount:
        raise LedgerError("insufficient_funds", f"{source} holds {_pounds(available_pence)} "
                                                f"on {on}, less than {_pounds(event.amount)}")
    ctx.post("pool_contribution",
             transfer(source, share_account(event.pool, event.holder), GBP, event.amount),
             holder=event.holder,
             memo={"pool": event.pool, "source": "dp" if event.provider is None else "isf",
                   "provider": event.provider})


@handles(PoolIncome)
def pool_income(ctx: Ctx, event: PoolIncome) -> None:
    _open_pool(ctx, event.pool)
    ctx.post("pool_income",
             transfer(f"external:{event.payer}", common_account(event.pool), GBP, event.amount),
             memo={"pool": event.pool, "payer": event.payer, "description": event.description})


# ---------------------------------------------------------------- shared costs


def _charged_members(state: dict, event: PoolSpend | PoolDistribute, on: dt.date
                     ) -> list[str]:
    """Who shares this cost, always in join order so ties in a split are predictable."""
    order = current_members(state)
    if event.members is None:
        # Everyone in the pool on the date of the purchase (a backdated purchase is not
        # charged to someone who joined after it).
        chosen = {h for h in order if _joined(state, h) <= on}
    else:
        for holder in event.members:
            _member_period(state, holder, on)
        chosen = set(event.members)
    if not chosen:
        raise LedgerError("invalid", f"pool {state['pool']} has no member to charge")
    return [h for h in order if h in chosen]


def _split_weights(event: PoolSpend | PoolDistribute, charged: list[str]) -> list[int]:
    """Integer weights in charged order: 1 each for equal, the ratio scaled to whole
    numbers exactly (weights may be decimals, e.g. hours attended)."""
    if event.split == "equal":
        if event.weights is not None:
            raise LedgerError("invalid", "weights are for split: ratio only")
        return [1] * len(charged)
    if event.weights is None:
        raise LedgerError("invalid", "split: ratio needs weights {holder: n}")
    if set(event.weights) != set(charged):
        missing = sorted(set(charged) - set(event.weights))
        extra = sorted(set(event.weights) - set(charged))
        raise LedgerError("invalid", "weights must name exactly the members charged"
                                     f" (missing {missing or 'none'}, not charged "
                                     f"{extra or 'none'})")
    exact = [Fraction(event.weights[h]) for h in charged]
    scale = math.lcm(*(w.denominator for w in exact))
    return [int(w * scale) for w in exact]


def _weight_text(weight: Decimal) -> str:
    return format(weight.normalize(), "f")


@handles(PoolSpend)
def pool_spend(ctx: Ctx, event: PoolSpend) -> None:
    _check_holders(ctx, event.members)
    _check_holders(ctx, list(event.weights or {}))
    state = _open_pool(ctx, event.pool)
    charged = _charged_members(state, event, ctx.date)
    parts_pence = largest_remainder(event.amount, _split_weights(event, charged))
    split = dict(zip(charged, parts_pence, strict=True))
    for holder, part_pence in split.items():
        share_pence, on = ctx.lowest_balance(share_account(event.pool, holder), GBP, ctx.date)
        if share_pence < part_pence:
            # A member's budget must never pay for another member's support.
            raise LedgerError("insufficient_funds", f"{holder}'s share of pool {event.pool} "
                              f"is {_pounds(share_pence)} on {on}, less than their part "
                              f"{_pounds(part_pence)}")
    postings = [Posting(share_account(event.pool, h), GBP, -part)
                for h, part in split.items() if part > 0]
    postings.append(Posting(check_account(f"external:{event.payee}"), GBP, event.amount))
    weights = ({h: _weight_text(event.weights[h]) for h in charged}
               if event.weights is not None else None)
    ctx.post("pool_spend", postings, holder=charged[0] if len(charged) == 1 else None,
             memo={"pool": event.pool, "payee": event.payee, "amount_minor": event.amount,
                   "description": event.description, "method": event.split,
                   "weights": weights, "split": split,
                   # JSON stores may sort a dict's keys: the list keeps the join order.
                   "members": charged})


@handles(PoolDistribute)
def pool_distribute(ctx: Ctx, event: PoolDistribute) -> None:
    """Common money into members' shares, by largest remainder in join order; after that
    it is theirs like anything they put in (refunded when they leave)."""
    _check_holders(ctx, event.members)
    _check_holders(ctx, list(event.weights or {}))
    state = _open_pool(ctx, event.pool)
    common_pence = ctx.balance(common_account(event.pool), GBP)
    amount_pence = event.amount if event.amount is not None else common_pence
    if amount_pence <= 0:
        raise LedgerError("invalid", f"pool {event.pool} has nothing in common to share out")
    lowest_pence, on = ctx.lowest_balance(common_account(event.pool), GBP, ctx.date)
    if amount_pence > lowest_pence:
        raise LedgerError("insufficient_funds", f"pool {event.pool} holds "
                          f"{_pounds(lowest_pence)} in common on {on}, less than "
                          f"{_pounds(amount_pence)}")
    receiving = _charged_members(state, event, ctx.date)
    parts_pence = largest_remainder(amount_pence, _split_weights(event, receiving))
    split = dict(zip(receiving, parts_pence, strict=True))
    postings = [Posting(common_account(event.pool), GBP, -amount_pence)]
    postings += [Posting(share_account(event.pool, h), GBP, part)
                 for h, part in split.items() if part > 0]
    weights = ({h: _weight_text(event.weights[h]) for h in receiving}
               if event.weights is not None else None)
    ctx.post("pool_distribution", postings,
             holder=receiving[0] if len(receiving) == 1 else None,
             memo={"pool": event.pool, "amount_minor": amount_pence,
                   "description": event.description, "method": event.split,
                   "weights": weights, "split": split, "members": receiving})
