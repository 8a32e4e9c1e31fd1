"""`ledger export beancount`: the whole ledger as a Beancount file (docs/exports.md#beancount).

Beancount's own `bean-check` accepts the file, and its balances equal `ledger balance`:
- every account becomes a Beancount account under a root chosen by what it is (sources
  under Equity, pots under Assets, where money and hours end up under Expenses), each
  path segment one component; a segment Beancount cannot spell (a payee's name with
  spaces, an id with `_`) is spelled with `-` and a short hash of the original, so two
  names never meet. The ledger's own path is kept as the account's `path` metadata;
- money is the commodity GBP, in pounds and pence; hours of support are the commodity
  MIN, in minutes, so every figure stays exact (an hour is 60 MIN);
- every journal is one transaction on its date, with its type as the narration and its
  key, type and reversal link as metadata.
Streams: journals are read in chunks and written as they are read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import TextIO

from sqlalchemy import Connection, func, select

from ledger.core.amounts import Unit, format_pence
from ledger.store import models as m

ROOTS = {"council": "Equity", "holder": "Assets", "isf": "Assets", "pool": "Assets",
         "fund": "Assets", "provider": "Expenses", "external": "Expenses"}
SOURCES = {("holder", "own")}  # a holder's own money is a source, like a council's
COMMODITY = {Unit.GBP: "GBP", Unit.HRS: "MIN"}
CHUNK = 2000
_COMPONENT = re.compile(r"^[A-Z0-9][A-Za-z0-9-]*$")


# The ledger's own words, at the places they stand in a path (kind first, then the word
# after the first id): spelled capitalised. Everything else is an id or a name.
KINDS = frozenset(ROOTS)
WORDS = frozenset({"funding", "hours", "dp", "own", "income", "fees", "delivered", "common",
                   "award"})


def component(segment: str, word: bool = False) -> str:
    """One path segment as a Beancount account component; distinct segments always give
    distinct components (a segment Beancount cannot spell carries a hash of itself)."""
    if word:
        return segment.capitalize()
    if _COMPONENT.match(segment):
        return segment
    spelled = re.sub(r"[^A-Za-z0-9-]+", "-", segment).strip("-") or "X"
    if not spelled[0].isalnum():
        spelled = "X" + spelled
    spelled = spelled[:1].upper() + spelled[1:]
    digest = hashlib.sha256(segment.encode()).hexdigest()[:6]
    return f"{spelled}-{digest}"


def account_name(path: str) -> str:
    parts = path.split(":")
    root = ROOTS.get(parts[0], "Equity")
    if (parts[0], parts[-1]) in SOURCES:
        root = "Equity"
    names = [component(p, word=(i == 0 and p in KINDS) or (i == 2 and p in WORDS))
             for i, p in enumerate(parts)]
    return ":".join([root, *names])


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _amount(minor: int, unit: Unit) -> str:
    return f"{format_pence(minor) if unit is Unit.GBP else minor} {COMMODITY[unit]}"


def _journals(conn: Connection, lid: int) -> Iterator[tuple]:
    """(id, key, type, date, reverses key, postings) in date then journal order."""
    reversed_j = m.Journal.__table__.alias("reversed_j")
    last = (None, 0)  # (date, id) of the last journal written
    while True:
        query = (select(m.Journal.id, m.Journal.key, m.Journal.type, m.Journal.date,
                        reversed_j.c.key)
                 .outerjoin(reversed_j, (reversed_j.c.ledger_id == m.Journal.ledger_id)
                            & (reversed_j.c.id == m.Journal.reverses_id))
                 .where(m.Journal.status == "posted", m.Journal.ledger_id == lid)
                 .order_by(m.Journal.date, m.Journal.id).limit(CHUNK))
        if last[0] is not None:
            query = query.where((m.Journal.date > last[0])
                                | ((m.Journal.date == last[0]) & (m.Journal.id > last[1])))
        rows = conn.execute(query).all()
        if not rows:
            return
        postings: dict[int, list[tuple[str, Unit, int]]] = {row[0]: [] for row in rows}
        for journal_id, path, unit, amount in conn.execute(
                select(m.Posting.journal_id, m.Account.path, m.Posting.unit,
                       m.Posting.amount_minor)
                .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                      & (m.Account.id == m.Posting.account_id))
                .where(m.Posting.ledger_id == lid, m.Posting.journal_id.in_(list(postings)))
                .order_by(m.Posting.id)):
            postings[journal_id].append((path, Unit(unit), amount))
        for journal_id, key, journal_type, date, reverses in rows:
            yield journal_id, key, journal_type, date, reverses, postings[journal_id]
        last = (rows[-1][3], rows[-1][0])


def write_beancount(conn: Connection, out: TextIO, lid: int = 1) -> int:
    """Write the ledger; returns the number of transactions written."""
    first = conn.execute(select(func.min(m.Journal.date))
                         .where(m.Journal.ledger_id == lid)).scalar_one()
    out.write('; care-ledger: every journal as a Beancount transaction (docs/exports.md)\n')
    out.write('option "title" "care-ledger"\noption "operating_currency" "GBP"\n\n')
    if first is None:
        return 0
    out.write(f'{first} commodity GBP\n  name: "pounds sterling"\n')
    out.write(f'{first} commodity MIN\n  name: "minutes of support (60 MIN = 1 hour)"\n\n')
    opened = conn.execute(
        select(m.Account.path, func.min(m.Journal.date))
        .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
              & (m.Posting.account_id == m.Account.id))
        .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
              & (m.Journal.id == m.Posting.journal_id))
        .where(m.Journal.status == "posted", m.Account.ledger_id == lid)
        .group_by(m.Account.path).order_by(m.Account.path)).all()
    for path, since in opened:
        out.write(f"{since} open {account_name(path)}\n  path: {_quoted(path)}\n")
    out.write("\n")
    count = 0
    for _, key, journal_type, date, reverses, postings in _journals(conn, lid):
        out.write(f"{date} * {_quoted(journal_type)}\n  key: {_quoted(key)}\n")
        if reverses:
            out.write(f"  reverses: {_quoted(reverses)}\n")
        for path, unit, amount in postings:
            out.write(f"  {account_name(path)}  {_amount(amount, unit)}\n")
        out.write("\n")
        count += 1
    return count


__all__ = ["account_name", "component", "write_beancount"]
