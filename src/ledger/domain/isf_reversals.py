"""Reversal hooks for Individual Service Funds: a `reverse` posts the opposite journals;
these keep the hour lots (state kind "isf") in step with the HRS balance.

Under the rules of 2026-12-06 the lots are worked out from the ISF's dated entries
(ledger/domain/isf_lots.py): reversing an advance or a delivery still dated there drops
its entry, and the lots are worked out again in date order. One already carried (its month
reconciled, or recorded under the earlier rules) is undone on the carried bank as the
earlier rules undid it on the whole bank (docs/rules-dp-isf.md#reversals)."""

from __future__ import annotations

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.domain.base import Ctx, month_index, on_reverse
from ledger.domain.isf import dated_rules, isf_ref, journal_agreement, save
from ledger.domain.isf_lots import (
    drop_entry,
    restore_lot,
    settle,
    settle_borrowing,
    start_log,
    take_oldest_first,
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
    return state


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


def _undo(ctx: Ctx, state: dict, journal: Journal, on_bank) -> None:
    """Undo `journal`'s effect on the lots: `on_bank(bank)` undoes it on a bank (the
    whole state under the earlier rules; under the rules of 2026-12-06 the carried bank,
    unless the journal's entry is still dated, when dropping it is enough)."""
    if not dated_rules(ctx):
        on_bank(state)
        return
    start_log(state)
    if not drop_entry(state, journal.key):
        on_bank(state["carried"])
    settle(state)


@on_reverse("isf_delivery")
def reverse_delivery(ctx: Ctx, journal: Journal) -> None:
    """The minutes go back to the lots they came from; borrowed minutes are un-borrowed,
    or, if an advance has repaid them since, go back to the newest lot (the repayer)."""
    state = _state_for(ctx, journal)

    def give_back(bank: dict) -> None:
        for lot in journal.memo["lots"]:
            restore_lot(bank["lots"], lot["month"], lot["minutes"])
        borrowed = journal.memo["borrowed_minutes"]
        unborrowed = min(borrowed, bank["borrowed_minutes"])
        bank["borrowed_minutes"] -= unborrowed
        if borrowed > unborrowed:
            newest = max(state["advanced"], key=month_index)
            restore_lot(bank["lots"], newest, borrowed - unborrowed)
        settle_borrowing(bank)

    _undo(ctx, state, journal, give_back)
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

    def take_back(bank: dict) -> None:
        remaining = next((lot["minutes"] for lot in bank["lots"] if lot["month"] == month), 0)
        bank["lots"] = [lot for lot in bank["lots"] if lot["month"] != month]
        _, short = take_oldest_first(bank["lots"], journal.memo["minutes"] - remaining)
        bank["borrowed_minutes"] += short

    _undo(ctx, state, journal, take_back)
    state["advanced"].pop(month, None)
    if dated_rules(ctx):
        counts = state.setdefault("advance_reversals", {})
        counts[month] = counts.get(month, 0) + 1
    save(ctx, state)


@on_reverse("isf_hours_expiry")
def reverse_expiry(ctx: Ctx, journal: Journal) -> None:
    """Expired hours go back to their lots; the month stays reconciled, so they expire
    again at the next reconciliation if they are still too old or over the cap."""
    state = _state_for(ctx, journal)

    def give_back(bank: dict) -> None:
        for lot in journal.memo["lots"]:
            restore_lot(bank["lots"], lot["month"], lot["minutes"])
        settle_borrowing(bank)

    _undo(ctx, state, journal, give_back)
    save(ctx, state)


@on_reverse("closure_return")
def reverse_closure(ctx: Ctx, journal: Journal) -> None:
    """Reopens the ISF with the bank it had when it closed."""
    state = _state_for(ctx, journal, closed_ok=True)
    if state["closed"] is None:
        raise LedgerError("invalid", "the ISF has been reopened since; close it first")
    state["closed"] = None
    if dated_rules(ctx) and "entries" in state:
        settle(state)  # the lots the closure returned: its dated entries are all kept
    else:
        state.update(lots=journal.memo["lots"],
                     borrowed_minutes=journal.memo["borrowed_minutes"])
    save(ctx, state)
