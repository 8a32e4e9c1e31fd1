"""Reversal hooks for Individual Service Funds: a `reverse` posts the opposite journals;
these keep the hour lots (state kind "isf") in step with the HRS balance.

Under the rules of 2026-12-06 the lots are worked out from the ISF's dated entries
(ledger/domain/isf_lots.py): a reversal is an entry of its own, dated on its own date (or
on the date of what it reverses, if that is later), that undoes what the reversed advance,
delivery or expiry did at that point, so the lots agree with the balance on every date
(docs/rules-dp-isf.md#reversals)."""

from __future__ import annotations

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.domain.base import Ctx, month_index, on_reverse
from ledger.domain.isf import (
    dated_rules,
    isf_ref,
    journal_agreement,
    month_of,
    reconciled_month,
    save,
)
from ledger.domain.isf_lots import (
    add_entry,
    dated_entry,
    give_back_delivery,
    give_back_expiry,
    settle,
    start_log,
    take_back_advance,
)
from ledger.errors import LedgerError

# Money-only journals only need the ISF to be open.


def _isf_posting_account(journal: Journal) -> str:
    return next(p.account for p in journal.postings if p.account.startswith("isf:"))


def _state_for(ctx: Ctx, journal: Journal, *, closed_ok: bool = False,
               earlier_ok: bool = False) -> dict:
    account = _isf_posting_account(journal)
    _, holder, provider = account.split(":")
    state = ctx.state("isf", isf_ref(holder, provider))
    assert state is not None, account
    if state["closed"] is not None and not closed_ok:
        raise LedgerError("invalid", f"{account} is closed; reverse its closure first")
    if not earlier_ok and journal_agreement(journal.memo) != state.get("agreement", 1):
        # Its hours were settled when that agreement closed; they are not the new
        # agreement's to take back or give (docs/rules-trust.md#isf-agreements).
        raise LedgerError("invalid", f"{journal.key} belongs to an earlier agreement of "
                          f"{account}, which is closed")
    if dated_rules(ctx) and reconciled_month(state, ctx.date):
        raise LedgerError("period_closed", f"{month_of(ctx.date)} is already reconciled "
                          f"for {account} (up to {state['last_reconciled']}): date the "
                          "reversal in the open month")
    return state


def _undo(ctx: Ctx, state: dict, journal: Journal, undoes: str, **what) -> None:
    """Under the rules of 2026-12-06: an `undo` entry for `journal`, dated on the
    reversal's date, which may not be before the journal's own (the hours cannot come
    back before they went: the lots would not agree with the balance in between)."""
    if ctx.date < journal.date:
        raise LedgerError("invalid", f"{journal.key} is dated {journal.date}: its reversal "
                          "may not be dated before it")
    start_log(state)
    add_entry(state, ctx.date.isoformat(), "undo", f"{ctx.event_key}|{journal.key}",
              undoes=undoes, of=journal.key, **what)


@on_reverse("isf_purchase")
@on_reverse("isf_fee")
@on_reverse("isf_underspend_return")
def reverse_money_only(ctx: Ctx, journal: Journal) -> None:
    """No lots move, but money must not come back into a closed ISF. Money of an earlier
    agreement stays that agreement's: reversing its purchase lowers what it left owing,
    never adds to the new agreement's money."""
    state = _state_for(ctx, journal, earlier_ok=True)
    if journal_agreement(journal.memo) != state.get("agreement", 1):
        account = _isf_posting_account(journal)
        moved = sum(p.amount_minor for p in journal.postings
                    if p.account == account and p.unit is Unit.GBP)
        state["earlier_money_pence"] = state.get("earlier_money_pence", 0) - moved
        save(ctx, state)


@on_reverse("isf_delivery")
def reverse_delivery(ctx: Ctx, journal: Journal) -> None:
    """The minutes go back to the lots they came from; borrowed minutes are un-borrowed,
    or, if an advance has repaid them since, go back to the newest lot (the repayer)."""
    state = _state_for(ctx, journal)
    if dated_rules(ctx):
        start_log(state)
        ran = {} if dated_entry(state, journal.key) else {
            "lots": journal.memo["lots"], "borrowed": journal.memo["borrowed_minutes"]}
        _undo(ctx, state, journal, "delivery", **ran)
    else:
        give_back_delivery(state, journal.memo["lots"], journal.memo["borrowed_minutes"],
                           max(state["advanced"], key=month_index, default=""))
    save(ctx, state)


@on_reverse("isf_advance")
def reverse_advance(ctx: Ctx, journal: Journal) -> None:
    """Removes the month's lot; whatever it had already given (deliveries, repaying a
    borrow) is taken back from the other lots oldest first, else borrowed. A month that is
    already reconciled cannot lose its advance: its expiry and returns depended on it.
    Under the rules of 2026-12-06 the month may then be advanced again, and the state
    counts its reversed advances (`advance_reversals`), so the next one gets a new key."""
    state = _state_for(ctx, journal)
    month = journal.memo["month"]
    last = state["last_reconciled"]
    if last is not None and month_index(month) <= month_index(last):
        raise LedgerError("invalid", f"{month} is already reconciled; its advance stands")
    if dated_rules(ctx):
        _undo(ctx, state, journal, "advance", month=month, minutes=journal.memo["minutes"])
        counts = state.setdefault("advance_reversals", {})
        counts[month] = counts.get(month, 0) + 1
    else:
        take_back_advance(state, month, journal.memo["minutes"], whole_lot=True)
    state["advanced"].pop(month, None)
    save(ctx, state)


@on_reverse("isf_hours_expiry")
def reverse_expiry(ctx: Ctx, journal: Journal) -> None:
    """Expired hours go back to their lots; the month stays reconciled, so they expire
    again at the next reconciliation if they are still too old or over the cap."""
    state = _state_for(ctx, journal)
    if dated_rules(ctx):
        _undo(ctx, state, journal, "expiry", lots=journal.memo["lots"])
    else:
        give_back_expiry(state, journal.memo["lots"])
    save(ctx, state)


@on_reverse("closure_return")
def reverse_closure(ctx: Ctx, journal: Journal) -> None:
    """Reopens the ISF with the bank it had when it closed."""
    state = _state_for(ctx, journal, closed_ok=True)
    if state["closed"] is None:
        raise LedgerError("invalid", "the ISF has been reopened since; close it first")
    state["closed"] = None
    if dated_rules(ctx) and "entries" in state:
        settle(state)  # the bank the closure returned: its entries are all kept
    else:
        state.update(lots=journal.memo["lots"],
                     borrowed_minutes=journal.memo["borrowed_minutes"])
    save(ctx, state)
