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
             prefix: str | None = None, lid: int = 1) -> list[BalanceRow]:
    """One row per account and unit of ledger `lid` with postings (zero balances
    included), dated on or before `as_of` when given, sorted by account then unit.

    With no date, the balances kept by the database as each journal is sealed are read
    (`verify` proves they equal the postings' sums); with a date, the postings are summed."""
    if as_of is None:
        posted = (select(m.Posting.id)
                  .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                        & (m.Journal.id == m.Posting.journal_id))
                  .where(m.Posting.ledger_id == lid, m.Journal.ledger_id == lid,
                         m.Posting.ledger_id == m.Balance.ledger_id,
                         m.Posting.account_id == m.Balance.account_id,
                         m.Posting.unit == m.Balance.unit, m.Journal.status == "posted")
                  .exists())
        query = (
            select(m.Account.path, m.Balance.unit, m.Balance.amount_minor)
            .join(m.Balance, (m.Balance.ledger_id == m.Account.ledger_id)
                  & (m.Balance.account_id == m.Account.id))
            .where(m.Account.ledger_id == lid, m.Balance.ledger_id == lid, posted)
        )
    else:
        query = (
            select(m.Account.path, m.Posting.unit, func.sum(m.Posting.amount_minor))
            .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
                  & (m.Posting.account_id == m.Account.id))
            .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                  & (m.Journal.id == m.Posting.journal_id))
            .where(m.Journal.status == "posted", m.Account.ledger_id == lid,
                   m.Posting.ledger_id == lid, m.Journal.ledger_id == lid,
                   m.Posting.date <= as_of)
            .group_by(m.Account.path, m.Posting.unit)
        )
    if prefix:
        query = query.where(account_filter(prefix))
    rows = [BalanceRow(path, Unit(unit), int(total)) for path, unit, total in conn.execute(query)]
    return sorted(rows, key=lambda r: (r.account, r.unit.value))


def stats(conn: Connection, lid: int = 1) -> dict[str, int]:
    def count(table) -> int:
        return int(conn.execute(select(func.count()).select_from(table)
                                .where(table.c.ledger_id == lid)).scalar_one())

    return {
        "journals": count(m.Journal.__table__),
        "postings": count(m.Posting.__table__),
        "accounts": count(m.Account.__table__),
        "events": count(m.Event.__table__),
        "period_locks": count(m.PeriodLock.__table__),
    }
