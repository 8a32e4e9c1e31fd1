"""Balances and counts: read-only queries over posted journals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, func, or_, select

from ledger.core.amounts import Unit
from ledger.store import models as m


@dataclass(frozen=True)
class BalanceRow:
    account: str
    unit: Unit
    minor: int


def account_filter(prefix: str):
    """PREFIX matches whole path segments: `holder:H1` is holder:H1 and holder:H1:dp, not
    holder:H10:dp. A prefix ending in ':' matches everything below it."""
    if prefix.endswith(":"):
        return m.Account.path.startswith(prefix, autoescape=True)
    return or_(m.Account.path == prefix, m.Account.path.startswith(prefix + ":", autoescape=True))


def balances(conn: Connection, as_of: dt.date | None = None,
             prefix: str | None = None) -> list[BalanceRow]:
    """One row per account and unit with postings (zero balances included), dated on or
    before `as_of` when given, sorted by account then unit."""
    query = (
        select(m.Account.path, m.Posting.unit, func.sum(m.Posting.amount_minor))
        .join(m.Posting, m.Posting.account_id == m.Account.id)
        .join(m.Journal, m.Journal.id == m.Posting.journal_id)
        .where(m.Journal.status == "posted")
        .group_by(m.Account.path, m.Posting.unit)
    )
    if as_of is not None:
        query = query.where(m.Journal.date <= as_of)
    if prefix:
        query = query.where(account_filter(prefix))
    rows = [BalanceRow(path, Unit(unit), int(total)) for path, unit, total in conn.execute(query)]
    return sorted(rows, key=lambda r: (r.account, r.unit.value))


def stats(conn: Connection) -> dict[str, int]:
    def count(table) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    return {
        "journals": count(m.Journal.__table__),
        "postings": count(m.Posting.__table__),
        "accounts": count(m.Account.__table__),
        "events": count(m.Event.__table__),
        "period_locks": count(m.PeriodLock.__table__),
    }
