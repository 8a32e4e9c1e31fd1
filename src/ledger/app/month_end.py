"""A provider's month end (docs/month-end.md): which ISFs `isf advance` and `isf reconcile`
take for a month, under which keys, and the month's report.

The plan is made after the ledger's write lock is taken, inside the transaction that
writes it, so two runs at once post each event once (the second finds the first's work
done) and print the same report. All or nothing: any refusal and nothing is posted.

Which ISFs (docs/month-end.md#which-isfs):
- advance: those open at some time in the month (opened on or before its last day) and
  still open, not yet advanced for it. One closed since is listed as skipped, with why.
  The advance is dated the month's first day, or the opening day of an ISF opened during
  the month.
- reconcile: those advanced for the month and not yet reconciled for it. One open in the
  month but never advanced for it is listed as "not advanced" and left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ledger.app import db
from ledger.app.reading import existing, known
from ledger.app.submit import Outcome, Refusal, submit
from ledger.core.calendar import month_bounds, month_index
from ledger.core.change import Backend
from ledger.core.items import Item
from ledger.reports.isf_month import provider_isfs, report


@dataclass(frozen=True)
class Skipped:
    holder: str
    why: str


@dataclass
class MonthEnd:
    provider: str
    month: str
    outcome: Outcome = field(default_factory=Outcome)
    skipped: list[Skipped] = field(default_factory=list)
    report: dict | None = None  # reconcile: the month's report (reports/isf_month.py)

    @property
    def ok(self) -> bool:
        return self.outcome.ok


def key_base(provider: str, state: dict, month: str) -> str:
    """`isf-month-end/{P}/{H}/{M}`; an ISF's second or later agreement (reopened after a
    closure) adds `/agreement-{n}`, so its month end never meets the first one's keys."""
    agreement = state.get("agreement", 1)
    return (f"isf-month-end/{provider}/{state['holder']}/{month}"
            + (f"/agreement-{agreement}" if agreement > 1 else ""))


def advance_key(provider: str, state: dict, month: str) -> str:
    """`.../advance`; after n advances of the month were reversed, `.../advance/{n+1}`, so
    the month can be advanced again (a reversed advance no longer counts)."""
    reversed_count = state.get("advance_reversals", {}).get(month, 0)
    return (f"{key_base(provider, state, month)}/advance"
            + (f"/{reversed_count + 1}" if reversed_count else ""))


def _open_in(state: dict, first: str, last: str) -> bool:
    """Open at some time in the month: opened by its last day, not closed before its
    first (an ISF is open on the day it closes)."""
    return state["opened"] <= last and (state["closed"] is None or state["closed"] >= first)


def plan_advance(store: Backend, provider: str, month: str
                 ) -> tuple[list[Item], list[Skipped]]:
    """The advances to post for the month, and the ISFs skipped with why."""
    first, last = (d.isoformat() for d in month_bounds(month))
    items, skipped = [], []
    for state in provider_isfs(store, provider):
        if not _open_in(state, first, last) or month in state["advanced"]:
            continue
        if state["closed"] is not None:
            skipped.append(Skipped(state["holder"], f"closed on {state['closed']}"))
            continue
        event = {"date": max(first, state["opened"]), "type": "isf_advance",
                 "holder": state["holder"], "provider": provider, "month": month}
        items.append(Item(event, advance_key(provider, state, month)))
    return items, skipped


def plan_reconcile(store: Backend, provider: str, month: str
                   ) -> tuple[list[Item], list[Skipped]]:
    """The reconciliations to post for the month, and the ISFs left alone with why."""
    first, last = (d.isoformat() for d in month_bounds(month))
    items, skipped = [], []
    for state in provider_isfs(store, provider):
        done = state["last_reconciled"]
        if done is not None and month_index(done) >= month_index(month):
            continue
        if month not in state["advanced"]:
            if _open_in(state, first, last):
                skipped.append(Skipped(state["holder"], "not advanced"))
            continue
        if state["closed"] is not None:
            skipped.append(Skipped(state["holder"], f"closed on {state['closed']}"))
            continue
        event = {"date": last, "type": "isf_reconcile", "holder": state["holder"],
                 "provider": provider, "month": month}
        items.append(Item(event, f"{key_base(provider, state, month)}/reconcile"))
    return items, skipped


def run(store: Backend, kind: str, provider: str, month: str) -> MonthEnd:
    """Plan (under the lock) and post the month's advances or reconciliations of every
    ISF of the provider, all or nothing."""
    planner = {"advance": plan_advance, "reconcile": plan_reconcile}[kind]
    done = MonthEnd(provider, month)

    def plan(locked: Backend) -> list[Item]:
        known(locked, "provider", provider)
        items, done.skipped = planner(locked, provider, month)
        return items

    done.outcome = submit(store, plan, atomic=True)
    return done


def advance(db_url: str | None, ledger: str, provider: str, month: str) -> MonthEnd:
    """`ledger isf advance`."""
    with db.writing(db_url, ledger) as store:
        return run(existing(store), "advance", provider, month)


def reconcile(db_url: str | None, ledger: str, provider: str, month: str,
              tolerance_percent: Fraction) -> MonthEnd:
    """`ledger isf reconcile`: the reconciliations, then the month's report as the ledger
    stands once they are committed (the same report however often it is run)."""
    with db.writing(db_url, ledger) as store:
        done = run(existing(store), "reconcile", provider, month)
    if done.ok:
        with db.reading(db_url, ledger) as reader:
            done.report = report(reader, provider, month, tolerance_percent)
    return done


def refusal_text(refusal: Refusal) -> str:
    """`H1: isf_reconcile 2026-05: code: reason`."""
    event = refusal.item.event if isinstance(refusal.item, Item) else {}
    return f"{event.get('holder')}: {event.get('type')} {event.get('month')}: {refusal.reason}"


__all__ = ["MonthEnd", "Skipped", "advance", "advance_key", "plan_advance", "plan_reconcile",
           "reconcile", "refusal_text", "run"]
