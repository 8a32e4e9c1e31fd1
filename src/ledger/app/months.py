"""The month a statement opens on when the reader names none (docs/web.md#pages).

Not an empty month: the latest month that has ended with something posted for the
statement, else this month if only it has, else last month (nothing anywhere yet).
"Something for the statement" is a posted journal that is the person's own (a holder),
or that moves an account of the pool (`pool:L:...`), of the provider (`provider:P:...`
and the ISFs it holds, `isf:H:P`), of the council (`council:C:...`) or, for a
provider's statement of one ISF, that ISF's account (`isf:H:P`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select

from ledger.core.calendar import first_day, month_of, previous_month
from ledger.store import models as m


def latest_month(books, kind: str, ident: str, today: dt.date) -> str:
    """YYYY-MM: the month statement `kind` `ident` opens on, read on `today`."""
    this_month = month_of(today)
    with books.read() as store:
        ended = _last_posted(store, kind, ident, first_day(this_month) - dt.timedelta(days=1))
        last = ended or _last_posted(store, kind, ident, today)
    return month_of(last) if last else previous_month(this_month)


def _last_posted(store, kind: str, ident: str, until: dt.date) -> dt.date | None:
    query = select(func.max(m.Journal.date)).where(
        m.Journal.ledger_id == store.lid, m.Journal.status == "posted", m.Journal.date <= until)
    if kind == "holder":
        query = query.where(m.Journal.holder == ident)
    else:
        paths = {"pool": [m.Account.path.startswith(f"pool:{ident}:", autoescape=True)],
                 "provider": [m.Account.path.startswith(f"provider:{ident}:", autoescape=True),
                              m.Account.path.startswith("isf:")
                              & m.Account.path.endswith(f":{ident}", autoescape=True)],
                 "council": [m.Account.path.startswith(f"council:{ident}:", autoescape=True)],
                 "isf": [m.Account.path == f"isf:{ident}"]}  # a provider's ISF, H:P
        touching = (select(m.Posting.journal_id)
                    .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                          & (m.Account.id == m.Posting.account_id))
                    .where(m.Posting.ledger_id == store.lid, m.Account.ledger_id == store.lid,
                           or_(*paths.get(kind, [False]))))
        query = query.where(m.Journal.id.in_(touching))
    return store.conn.execute(query).scalar()
