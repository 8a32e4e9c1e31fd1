"""Reversing a pool's journals (`reverse`; docs/pools.md, "Reversals"): what each
undoes in the pool's state, beside the opposite journal the core posts. Registered with
the handlers when `ledger.domain` is imported."""

from __future__ import annotations

from ledger.core.journal import Journal
from ledger.domain.base import Ctx, on_reverse
from ledger.domain.pools import KIND, current_members, current_period
from ledger.errors import LedgerError


def _pool_of(journal: Journal) -> str:
    for posting in journal.postings:
        parts = posting.account.split(":")
        if parts[0] == "pool":
            return parts[1]
    raise AssertionError(f"journal {journal.key} touches no pool")


@on_reverse("pool_refund")
def _reverse_refund(ctx: Ctx, journal: Journal) -> None:
    """Reversing a close reopens the pool; reversing a leave puts the member back in their
    old place in the join order (the leave was a mistake, so it never happened)."""
    pool = _pool_of(journal)
    state = ctx.state(KIND, pool)
    assert state is not None, pool
    reopened_by = state.setdefault("closes_reversed", [])
    if state["closed_by"] == journal.event_key:
        state.update(status="open", closed=None, closed_by=None, common_left_minor=None)
        reopened_by.append(journal.event_key)
    elif journal.event_key in reopened_by:
        return  # the same close, one of its other refunds: the pool is open already
    elif state["status"] == "closed":
        raise LedgerError("invalid", f"pool {pool} is closed; reverse its close first")
    else:
        _rejoin(state, journal)
    ctx.put_state(KIND, pool, state)


def _rejoin(state: dict, journal: Journal) -> None:
    holder = journal.holder
    assert holder is not None, journal.key  # pool refunds always name their holder
    if current_period(state, holder) is not None:
        raise LedgerError("invalid", f"{holder} has rejoined pool {state['pool']} since; "
                                     "their leave can no longer be reversed")
    for period in state["history"]:
        if period["holder"] == holder and period["left_by"] == journal.event_key:
            period["left"] = period["left_by"] = None
            return
    raise AssertionError(f"no membership of {holder} ended by {journal.event_key}")


@on_reverse("pool_spend")
@on_reverse("pool_distribution")
def _reverse_spend(ctx: Ctx, journal: Journal) -> None:
    """The money goes back to the members' shares (or, for a distribution, from them to
    common); refuse if that would touch the share of someone who has left, or a closed
    pool."""
    pool = _pool_of(journal)
    state = ctx.state(KIND, pool)
    assert state is not None, pool
    if state["status"] == "closed":
        raise LedgerError("invalid", f"pool {pool} is closed; reverse its close first")
    members = set(current_members(state))
    for posting in journal.postings:
        if not posting.account.startswith(f"pool:{pool}:"):
            continue
        holder = posting.account.split(":")[2]
        if holder != "common" and holder not in members:
            raise LedgerError("invalid", f"{holder} has left pool {pool}; reverse their "
                                         "leave first")
