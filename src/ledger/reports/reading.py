"""Reading commands as hledger users know them (docs/reading.md): accounts, parties,
register, print, and balances over a period. Each returns plain rows; the CLI writes them
as a table, CSV or JSON."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from sqlalchemy import Connection, func, select

from ledger.core.amounts import Unit, format_amount
from ledger.reports.balances import account_filter
from ledger.store import models as m

STREAM_ROWS = 5000


def accounts(conn: Connection, lid: int, prefix: str | None) -> list[dict]:
    """Every account with postings or a floor: its units, first and last posting date."""
    query = (select(m.Account.path, m.Posting.unit, func.min(m.Posting.date),
                    func.max(m.Posting.date), func.count())
             .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
                   & (m.Posting.account_id == m.Account.id))
             .where(m.Account.ledger_id == lid)
             .group_by(m.Account.path, m.Posting.unit)
             .order_by(m.Account.path, m.Posting.unit))
    if prefix:
        query = query.where(account_filter(prefix))
    return [{"account": path, "unit": unit, "first": str(first), "last": str(last),
             "postings": int(n)} for path, unit, first, last, n in conn.execute(query)]


def parties(store, kind: str | None, as_of: dt.date | None) -> list[dict]:
    """Councils, providers and holders (each record as in force on `as_of`), and pools."""
    rows = []
    for each in ("council", "provider", "holder"):
        if kind not in (None, each):
            continue
        for pid, record in sorted(store.parties(each, as_of).items()):
            rows.append({"kind": each, "id": pid, "name": record.get("name", ""),
                         "council": record.get("council", "")})
    if kind in (None, "pool"):
        for ref in store.state_refs("pool"):
            state = store.get_state("pool", ref) or {}
            rows.append({"kind": "pool", "id": ref, "name": state.get("name", ""),
                         "council": ""})
    return rows


def register(conn: Connection, lid: int, prefix: str, start: dt.date | None,
             end: dt.date | None) -> Iterator[dict]:
    """Each posting to the accounts at or below `prefix`, in date then journal order, with
    the running balance of its account and unit (from the balance before `start`)."""
    running: dict[tuple[str, str], int] = {}
    if start is not None:
        for path, unit, total in conn.execute(
                select(m.Account.path, m.Posting.unit, func.sum(m.Posting.amount_minor))
                .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
                      & (m.Posting.account_id == m.Account.id))
                .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                      & (m.Journal.id == m.Posting.journal_id))
                .where(m.Account.ledger_id == lid, account_filter(prefix),
                       m.Journal.status == "posted", m.Posting.date < start)
                .group_by(m.Account.path, m.Posting.unit)):
            running[(path, unit)] = int(total)
    query = (select(m.Posting.date, m.Journal.key, m.Journal.type, m.Account.path,
                    m.Posting.unit, m.Posting.amount_minor)
             .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                   & (m.Journal.id == m.Posting.journal_id))
             .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                   & (m.Account.id == m.Posting.account_id))
             .where(m.Account.ledger_id == lid, account_filter(prefix),
                    m.Journal.status == "posted")
             .order_by(m.Posting.date, m.Journal.id, m.Posting.id))
    if start is not None:
        query = query.where(m.Posting.date >= start)
    if end is not None:
        query = query.where(m.Posting.date <= end)
    for on, key, kind, path, unit, minor in conn.execute(
            query.execution_options(yield_per=STREAM_ROWS)):
        total = running.get((path, unit), 0) + int(minor)
        running[(path, unit)] = total
        yield {"date": str(on), "journal": key, "type": kind, "account": path, "unit": unit,
               "amount": format_amount(int(minor), Unit(unit)), "minor_units": int(minor),
               "running": format_amount(total, Unit(unit)), "running_minor": total}


def journals(store, prefix: str | None, start: dt.date | None,
             end: dt.date | None) -> list[dict]:
    """Posted journals (those touching `prefix`, if given) with their type, key, memo,
    reversal link and postings, in date then posting order."""
    where = []
    if start is not None:
        where.append(m.Journal.date >= start)
    if end is not None:
        where.append(m.Journal.date <= end)
    if prefix:
        where.append(m.Journal.id.in_(
            select(m.Posting.journal_id)
            .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                  & (m.Account.id == m.Posting.account_id))
            .where(m.Account.ledger_id == store.lid, account_filter(prefix))))
    found = store.load_journals(*where)
    found.sort(key=lambda j: j.date)  # stable: posting order within a date
    return [{"date": j.date.isoformat(), "journal": j.key, "type": j.type,
             "event": j.event_key, "holder": j.holder, "reverses": j.reverses_key,
             "memo": j.memo,
             "postings": [{"account": p.account, "unit": p.unit.value,
                           "amount": format_amount(p.amount_minor, p.unit),
                           "minor_units": p.amount_minor} for p in j.postings]}
            for j in found]


def movements(conn: Connection, lid: int, start: dt.date, end: dt.date,
              prefix: str | None) -> list[dict]:
    """Per account and unit with postings dated `start` to `end`: their net movement."""
    query = (select(m.Account.path, m.Posting.unit, func.sum(m.Posting.amount_minor))
             .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
                   & (m.Posting.account_id == m.Account.id))
             .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                   & (m.Journal.id == m.Posting.journal_id))
             .where(m.Account.ledger_id == lid, m.Journal.status == "posted",
                    m.Posting.date >= start, m.Posting.date <= end)
             .group_by(m.Account.path, m.Posting.unit)
             .order_by(m.Account.path, m.Posting.unit))
    if prefix:
        query = query.where(account_filter(prefix))
    return [{"account": path, "unit": unit,
             "balance": format_amount(int(total), Unit(unit)), "minor_units": int(total)}
            for path, unit, total in conn.execute(query)]


def print_text(rows: list[dict]) -> str:
    """Journals as hledger's `print` shows them: a header line, then each posting."""
    out = []
    for j in rows:
        link = f" (reverses {j['reverses']})" if j["reverses"] else ""
        out.append(f"{j['date']} {j['type']} {j['journal']}{link}")
        if j["memo"]:
            out.append(f"    ; {json.dumps(j['memo'], sort_keys=True, ensure_ascii=False)}")
        for p in j["postings"]:
            out.append(f"    {p['account']:<40} {p['amount']:>12} {p['unit']}")
        out.append("")
    return "\n".join(out)


__all__ = ["accounts", "journals", "movements", "parties", "print_text", "register"]
