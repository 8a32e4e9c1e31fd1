"""A provider's month end (docs/month-end.md): advance or reconcile every ISF of the
provider for a month, then the month's report, one row per ISF and a total.

Opening is the balance of `isf:{H}:{P}` before the month's first day, closing its balance
at the month's last day, in each unit. Movements dated in the month are sorted into the
kinds of `isf_kinds` (the one table every ISF view uses); anything else (a reversal, a
pool contribution, a closure) is `other`, signed, so in every row:

    hours: opening + allocated - delivered - expired + other = closing
    money: opening + in - delivered - fees - purchases - returned + other = closing
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from ledger.core.amounts import Unit
from ledger.core.calendar import month_bounds
from ledger.core.change import Backend
from ledger.reports.isf_kinds import key_of
from ledger.store import models as m
from ledger.store.repo import DbStore

ROW_KEYS = (
    "holder", "hours_opening_minutes", "hours_allocated_minutes", "hours_delivered_minutes",
    "hours_expired_minutes", "hours_other_minutes", "hours_closing_minutes",
    "money_opening_minor", "money_in_minor", "money_delivered_minor", "money_fees_minor",
    "money_purchases_minor", "money_returned_minor", "money_other_minor",
    "money_closing_minor", "flag",
)


def provider_isfs(store: Backend, provider: str) -> list[dict]:
    """Every ISF state of the provider, newest agreement of each, sorted by holder (from
    the database store, or any backend a handler reads through)."""
    found = []
    for ref in store.state_refs("isf"):
        holder, _, of = ref.partition(":")
        if of == provider:
            state = store.get_state("isf", ref)
            if state is not None:
                found.append(state)
    return sorted(found, key=lambda s: s["holder"])


def open_on(state: dict, first: dt.date) -> bool:
    """Open on the month's first day: opened by then and not closed by then."""
    return state["opened"] <= first.isoformat() and (
        state["closed"] is None or state["closed"] > first.isoformat())


def report(store: DbStore, provider: str, month: str, tolerance_percent: Fraction,
           holders: list[str] | None = None) -> dict:
    """The month's report for the provider's ISFs (all opened by the month's end, or just
    `holders`), from one grouped query over their postings."""
    first, last = month_bounds(month)
    states = [s for s in provider_isfs(store, provider)
              if s["opened"] <= last.isoformat()
              and (holders is None or s["holder"] in holders)]
    rows = {s["holder"]: _empty(s["holder"]) for s in states}
    for holder, kind, unit, before, amount in _movements(store, provider, first, last):
        row = rows.get(holder)
        if row is None:
            continue
        hours = unit == Unit.HRS.value
        if before:
            row["hours_opening_minutes" if hours else "money_opening_minor"] += amount
            continue
        key, counted = key_of(kind, hours, amount)
        row[key] += counted
    for row in rows.values():
        _close(row, tolerance_percent)
    ordered = [rows[h] for h in sorted(rows)]
    totals = {key: sum(r[key] for r in ordered) for key in ROW_KEYS
              if key not in ("holder", "flag")}
    return {"provider": provider, "month": month,
            "tolerance_percent": str(tolerance_percent),
            "isfs": ordered, "totals": {"holder": "TOTAL", **totals, "flag": ""}}


def _empty(holder: str) -> dict:
    row: dict = {key: 0 for key in ROW_KEYS}
    row["holder"] = holder
    return row


def _movements(store: DbStore, provider: str, first: dt.date, last: dt.date):
    """(holder, journal type, unit, dated before the month, signed sum) for every ISF
    account of the provider: postings of one sign together, so each group is counted
    exactly as its postings would be one by one."""
    from sqlalchemy import case, func, select

    # One expression object for SELECT and GROUP BY: PostgreSQL must see the same
    # parameter in both.
    before = case((m.Posting.date < first, 1), else_=0)
    positive = case((m.Posting.amount_minor > 0, 1), else_=0)
    query = (
        select(m.Account.holder, m.Journal.type, m.Posting.unit, before,
               func.sum(m.Posting.amount_minor))
        .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
              & (m.Posting.account_id == m.Account.id))
        .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
              & (m.Journal.id == m.Posting.journal_id))
        .where(m.Account.ledger_id == store.lid,
               m.Account.path.startswith("isf:", autoescape=True),
               m.Account.path.endswith(f":{provider}", autoescape=True),
               m.Journal.status == "posted", m.Posting.date <= last)
        .group_by(m.Account.holder, m.Journal.type, m.Posting.unit, before, positive)
    )
    for holder, kind, unit, was_before, amount in store.conn.execute(query):
        yield holder, kind, unit, bool(was_before), int(amount)


def _close(row: dict, tolerance_percent: Fraction) -> None:
    row["hours_closing_minutes"] = (
        row["hours_opening_minutes"] + row["hours_allocated_minutes"]
        - row["hours_delivered_minutes"] - row["hours_expired_minutes"]
        + row["hours_other_minutes"])
    row["money_closing_minor"] = (
        row["money_opening_minor"] + row["money_in_minor"] - row["money_delivered_minor"]
        - row["money_fees_minor"] - row["money_purchases_minor"]
        - row["money_returned_minor"] + row["money_other_minor"])
    row["flag"] = _flag(row, tolerance_percent)


def _flag(row: dict, tolerance_percent: Fraction) -> str:
    """`over` or `under` when the hours delivered in the month differ from the hours
    allocated to it by more than the tolerance (docs/month-end.md#flags)."""
    allocated, delivered = row["hours_allocated_minutes"], row["hours_delivered_minutes"]
    if allocated == 0:
        return "over" if delivered > 0 else ""
    margin = Fraction(allocated) * tolerance_percent / 100
    if delivered > allocated + margin:
        return "over"
    if delivered < allocated - margin:
        return "under"
    return ""


def touching(store: DbStore, account: str):
    """The ids of the journals with a posting to `account` (a subquery)."""
    from sqlalchemy import select

    return (select(m.Posting.journal_id)
            .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                  & (m.Account.id == m.Posting.account_id))
            .where(m.Account.ledger_id == store.lid, m.Account.path == account))


__all__ = ["ROW_KEYS", "month_bounds", "open_on", "provider_isfs", "report"]
