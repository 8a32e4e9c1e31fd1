"""An ISF's month end, `isf_reconcile` (docs/scenarios.md, docs/rules-dp-isf.md): hours
expire by age and over the carry-over cap, and, with underspend `return`, the money
they are worth goes back to the council.

Under the rules of 2026-12-06 (docs/rules-dp-isf.md#month-end-in-date-order) the month is
worked out as it stood at its last day: the lots from the ISF's entries dated on or
before it, and the money the agreement held then less what later months' advances had
brought in; the journals are dated that day. Recording next month's advance and support
before or after the reconciliation gives the same answer.
"""

from __future__ import annotations

import datetime as dt

from ledger.core.amounts import Unit, format_minutes, pence_for_minutes
from ledger.core.journal import transfer
from ledger.domain.base import Ctx, handles, month_index, month_name
from ledger.domain.isf import (
    IsfReconcile,
    agreement_memo,
    dated_rules,
    isf_account,
    isf_ref,
    last_day,
    open_isf,
    own_money,
    save,
    terms_for,
)
from ledger.domain.isf_lots import (
    bank_at,
    bank_minutes,
    carry_forward,
    expire_lots,
    start_log,
)
from ledger.errors import LedgerError


def check_reconcile_order(state: dict, month: str) -> None:
    """The rules before 2026-12-06: months one by one after the last reconciled; the
    first not before the ISF began nor past its first advanced month."""
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


def check_advanced_order(state: dict, month: str) -> None:
    """The rules of 2026-12-06: only a month advanced (and not reversed) is reconciled,
    once, and the advanced months in order (a month never advanced is not counted)."""
    last = state["last_reconciled"]
    if last is not None and month_index(month) <= month_index(last):
        raise LedgerError("invalid", f"{month} is already reconciled (up to {last})")
    if month not in state["advanced"]:
        raise LedgerError("invalid", f"{month} is not advanced to this ISF: a month is "
                          "reconciled after its advance")
    waiting = sorted((m for m in state["advanced"] if month_index(m) < month_index(month)
                      and (last is None or month_index(m) > month_index(last))),
                     key=month_index)
    if waiting:
        raise LedgerError("invalid", f"reconcile {waiting[0]} first (advanced months are "
                          "reconciled once each, in order)")


def later_advances(ctx: Ctx, state: dict, month: str, end: dt.date) -> tuple[int, int]:
    """What advances for months after `month`, dated on or before `end`, brought in:
    (money less their fees, minutes)."""
    account = isf_account(state)
    pence = minutes = 0
    for later, key in state["advanced"].items():
        if month_index(later) > month_index(month):
            for journal in ctx.backend.journals_for_event(key):
                if journal.date <= end:
                    pence += sum(p.amount_minor for p in journal.postings
                                 if p.account == account and p.unit is Unit.GBP)
                    minutes += sum(p.amount_minor for p in journal.postings
                                   if p.account == account and p.unit is Unit.HRS)
    return pence, minutes


def money_of_months_to(ctx: Ctx, state: dict, end: dt.date, later_pence: int) -> int:
    """The money that belongs to the months up to the one ending on `end`: the current
    agreement's own money at the end of that day (the balance then less what earlier
    agreements left), less what later months' advances had brought in by then."""
    held = ctx.balance_as_of(isf_account(state), Unit.GBP, end)
    return held - state.get("earlier_money_pence", 0) - later_pence


def check_later_support(ctx: Ctx, account: str, month: str, end: dt.date) -> None:
    """The expiry must leave the bank within its borrowing limit on every later date. It
    cannot when support dated after the month, recorded before this reconciliation, used
    hours that expire at the month's end (docs/rules-dp-isf.md#month-end)."""
    lowest, on = ctx.lowest_balance(account, Unit.HRS, end)
    floor = ctx.floor(account, Unit.HRS)
    if floor is not None and lowest < floor:
        raise LedgerError("insufficient_funds", (
            f"{month}'s expiry would leave {account} at {format_minutes(lowest)} hours on "
            f"{on}, beyond the {format_minutes(-floor)} hours it may borrow: support dated "
            f"after {month} used hours that expire at its end. Reverse that support (dated "
            f"its own day), reconcile {month}, then record what the bank allows"))


@handles(IsfReconcile)
def isf_reconcile(ctx: Ctx, event: IsfReconcile) -> None:
    state = open_isf(ctx, event)
    month = event.month
    account, council = isf_account(state), state["council"]
    terms = terms_for(state, month)  # the carry-over terms in force for the month
    on: dt.date | None = None
    if dated_rules(ctx):
        check_advanced_order(state, month)
        start_log(state)
        on = last_day(month)
        bank, done = bank_at(state, on.isoformat())
        expired = expire_lots(bank, month, terms["expire_after_months"], terms["max_minutes"])
        carry_forward(state, on.isoformat(), bank, done)
        later_pence, later_minutes = later_advances(ctx, state, month, on)
        money_pence = money_of_months_to(ctx, state, on, later_pence)
        bank_after = bank_minutes(bank) - later_minutes  # the months up to this one
    else:
        check_reconcile_order(state, month)
        expired = expire_lots(state, month, terms["expire_after_months"],
                              terms["max_minutes"])
        money_pence = own_money(ctx, state)
    expired_minutes = sum(lot["minutes"] for lot in expired)
    returned_pence = 0
    worth_pence = pence_for_minutes(expired_minutes, terms["rate_pence_per_hour"])
    if expired_minutes:
        ctx.post("isf_hours_expiry",
                 transfer(account, f"council:{council}:hours", Unit.HRS, expired_minutes),
                 suffix="expiry", holder=state["holder"], on=on,
                 memo={**agreement_memo(state), "month": month,
                       "minutes": expired_minutes, "lots": expired})
        if on is not None:
            check_later_support(ctx, account, month, on)
        if terms["underspend"] == "return":
            returned_pence = min(worth_pence, max(money_pence, 0))
    if returned_pence:
        ctx.post("isf_underspend_return",
                 transfer(account, f"council:{council}:funding", Unit.GBP, returned_pence),
                 suffix="return", holder=state["holder"], on=on,
                 memo={**agreement_memo(state), "month": month,
                       "expired_minutes": expired_minutes,
                       "rate_pence_per_hour": terms["rate_pence_per_hour"],
                       "worth_pence": worth_pence, "returned_pence": returned_pence})
    state["last_reconciled"] = month
    save(ctx, state)
    if on is None:  # as it stood when it was recorded
        bank_after, money_after = bank_minutes(state), own_money(ctx, state)
    else:  # as it stood at the month's last day
        money_after = money_pence - returned_pence
    ctx.put_state("isf_reconcile", f"{isf_ref(state['holder'], state['provider'])}:{month}", {
        "date": event.date.isoformat(), "event": ctx.event_key,
        "expired_minutes": expired_minutes, "returned_pence": returned_pence,
        "bank_minutes": bank_after, "money_pence": money_after})
