"""`ledger verify`: recompute every invariant from the stored rows and name the first break.

Checked, in one pass over journals in chain order: each journal is sealed, has postings,
sums to zero per unit, its payload hash matches its postings, and its chain hash follows
from the one before. Then the stored running balances against the posted sums, and the
period lock against the journals dated inside it.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from sqlalchemy import Connection, func, select

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting
from ledger.store import models as m
from ledger.store.repo import GENESIS_HASH, chain_hash

STREAM_ROWS = 5000


def first_break(conn: Connection) -> str | None:
    """None when every invariant holds, else one sentence naming the first break."""
    return _check_journals(conn) or _check_balances(conn)


def _postings_by_journal(conn: Connection):
    # yield_per on the statement, not the connection: on the connection it would stay set
    # and turn every later query into a server-side cursor.
    rows = conn.execute(
        select(m.Posting.journal_id, m.Account.path, m.Posting.unit, m.Posting.amount_minor)
        .join(m.Account, m.Account.id == m.Posting.account_id)
        .order_by(m.Posting.journal_id, m.Posting.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    return itertools.groupby(rows, key=lambda r: r[0])


def _check_journals(conn: Connection) -> str | None:
    reversed_j = m.Journal.__table__.alias("reversed_j")
    journals = conn.execute(
        select(m.Journal.__table__, reversed_j.c.key.label("reverses_key"))
        .outerjoin(reversed_j, reversed_j.c.id == m.Journal.reverses_id)
        .order_by(m.Journal.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    postings = _postings_by_journal(conn)
    pending = next(postings, None)
    prev_hash = GENESIS_HASH
    for row in journals:
        while pending is not None and pending[0] < row.id:
            return f"postings exist for journal id {pending[0]}, which is not a journal"
        mine: list[Posting] = []
        if pending is not None and pending[0] == row.id:
            mine = [Posting(path, Unit(unit), amount) for _, path, unit, amount in pending[1]]
            pending = next(postings, None)
        where = f"journal {row.id} ({row.key})"
        if row.status != "posted":
            return f"{where} was never sealed (status {row.status})"
        if not mine:
            return f"{where} has no postings"
        sums: dict[str, int] = defaultdict(int)
        for p in mine:
            sums[p.unit] += p.amount_minor
        for unit, total in sorted(sums.items()):
            if total != 0:
                return f"{where} does not sum to zero in {unit}: {total}"
        rebuilt = Journal(row.key, row.type, row.date, tuple(mine), row.event_key,
                          row.holder, row.reverses_key)
        payload = rebuilt.payload_hash()
        if payload != row.payload_hash:
            return f"{where}: its postings do not match its payload hash"
        if row.prev_hash != prev_hash:
            return f"{where}: hash chain broken (previous hash does not match)"
        if chain_hash(prev_hash, row.key, payload, row.event_key) != row.hash:
            return f"{where}: hash chain broken (its hash does not match its content)"
        prev_hash = row.hash
    if pending is not None:
        return f"postings exist for journal id {pending[0]}, which is not a journal"
    return None


def _check_balances(conn: Connection) -> str | None:
    posted = dict(
        ((account_id, unit), total)
        for account_id, unit, total in conn.execute(
            select(m.Posting.account_id, m.Posting.unit, func.sum(m.Posting.amount_minor))
            .join(m.Journal, m.Journal.id == m.Posting.journal_id)
            .where(m.Journal.status == "posted")
            .group_by(m.Posting.account_id, m.Posting.unit)
        )
    )
    stored = {
        (account_id, unit): amount
        for account_id, unit, amount in conn.execute(
            select(m.Balance.account_id, m.Balance.unit, m.Balance.amount_minor)
        )
    }
    paths = dict(conn.execute(select(m.Account.id, m.Account.path)).all())
    for key in sorted(set(posted) | set(stored)):
        want, have = int(posted.get(key, 0)), int(stored.get(key, 0))
        if want != have:
            return (f"stored balance of {paths.get(key[0], key[0])} {key[1]} is {have} "
                    f"but its postings sum to {want}")
    totals: dict[str, int] = defaultdict(int)
    for (_, unit), amount in posted.items():
        totals[unit] += int(amount)
    for unit, total in sorted(totals.items()):
        if total != 0:
            return f"all balances in {unit} sum to {total}, not zero"
    late = conn.execute(
        select(m.Journal.key)
        .join(m.PeriodLock, m.PeriodLock.until >= m.Journal.date)
        .where(m.Journal.created_at > m.PeriodLock.created_at)
        .limit(1)
    ).scalar_one_or_none()
    if late is not None:
        return f"journal {late} was posted into a period after it was closed"
    return None
