"""The weekly amount of a person paid by one-off direct payments, with no schedule in force:
worked out from what they were paid (docs/exports.md#dp-monitoring).

The period is the 52 weeks that end on the day asked about, or, for a person whose first
payment came later, from the day of that first payment. Its weeks are its days divided
by 7, rounded up to a whole week. What the person was paid is every `dp_payment` into
`holder:{H}:dp` dated in the period, less any of those reversed. The weekly amount is the
one divided by the other, exactly (`Fraction`); whoever shows or multiplies it rounds it
once, halves away from zero, to whole pence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction

from sqlalchemy import and_, case, func, or_, select

from ledger.store import models as m
from ledger.store.tables import aliased

PERIOD_WEEKS = 52


def period_weeks(first: dt.date, as_of: dt.date) -> int:
    """Whole weeks from `first` to `as_of`, both included, rounded up: 1 to 7 days is 1."""
    return -(-((as_of - first).days + 1) // 7)


def paid_weekly(store, holders: Iterable[str], as_of: dt.date) -> dict[str, Fraction]:
    """Each of `holders` paid anything in the period: what they were paid there a week,
    exactly. One query, whatever the number of people."""
    wanted = {f"holder:{h}:dp": h for h in holders}
    earliest = as_of - dt.timedelta(days=7 * PERIOD_WEEKS - 1)
    journal, posting, account = m.Journal, m.Posting, m.Account
    original = aliased(m.Journal)
    query = (
        select(account.path,
               func.min(case((journal.type == "dp_payment", posting.date))),
               func.sum(case((posting.date >= earliest, posting.amount_minor), else_=0)))
        .join(posting, (posting.ledger_id == account.ledger_id)
              & (posting.account_id == account.id))
        .join(journal, (journal.ledger_id == posting.ledger_id)
              & (journal.id == posting.journal_id))
        .outerjoin(original, (original.ledger_id == journal.ledger_id)
                   & (original.id == journal.reverses_id))
        .where(account.ledger_id == store.lid, account.path.like("holder:%:dp"),
               posting.unit == "GBP", journal.status == "posted", posting.date <= as_of,
               or_(journal.type == "dp_payment",
                   and_(journal.type == "reversal", original.type == "dp_payment")))
        .group_by(account.path))
    found = {}
    for path, first, paid in store.conn.execute(query):
        if path not in wanted or first is None or not paid or paid <= 0:
            continue
        first = first if isinstance(first, dt.date) else dt.date.fromisoformat(str(first))
        found[wanted[path]] = Fraction(int(paid), period_weeks(max(first, earliest), as_of))
    return found


__all__ = ["PERIOD_WEEKS", "paid_weekly", "period_weeks"]
