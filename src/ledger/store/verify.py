"""`ledger verify`: recompute every invariant from the stored rows and name the first break.

Checked, in one pass over journals in chain order: each journal is sealed, has postings,
sums to zero per unit, its payload hash matches its postings, and its chain hash follows
from the one before. Then the stored running balances against the posted sums, and the
period lock against the journals dated inside it.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, func, select

from ledger.core.journal import payload_hash_of
from ledger.store import models as m
from ledger.store.repo import GENESIS_HASH, chain_hash

STREAM_ROWS = 5000


def first_break(conn: Connection) -> str | None:
    """None when every invariant holds, else one sentence naming the first break."""
    return _check_journals(conn) or _check_balances(conn)


_JOURNALS_SQL = (
    "SELECT j.id, j.key, j.type, j.date, j.event_key, j.holder, r.key, j.payload_hash,"
    " j.status, j.prev_hash, j.hash FROM journal j LEFT JOIN journal r ON r.id = j.reverses_id"
    " ORDER BY j.id"
)
_POSTINGS_SQL = (
    "SELECT p.journal_id, a.path, p.unit, p.amount_minor FROM posting p"
    " JOIN account a ON a.id = p.account_id ORDER BY p.journal_id, p.id"
)


def _stream(conn: Connection, sql: str):
    # Plain driver tuples, streamed (yield_per set on the statement, never the connection,
    # where it would stay set and make every later query a server-side cursor).
    return iter(conn.exec_driver_sql(sql, execution_options={"yield_per": STREAM_ROWS}))


def _check_journals(conn: Connection) -> str | None:
    postings = _stream(conn, _POSTINGS_SQL)
    pending = next(postings, None)
    prev_hash = GENESIS_HASH
    for (journal_id, key, journal_type, date, event_key, holder, reverses_key, stored_payload,
         status, stored_prev, stored_hash) in _stream(conn, _JOURNALS_SQL):
        if pending is not None and pending[0] < journal_id:
            return f"postings exist for journal id {pending[0]}, which is not a journal"
        mine: list[list] = []
        sums: dict[str, int] = defaultdict(int)
        while pending is not None and pending[0] == journal_id:
            _, path, unit, amount = pending
            mine.append([path, unit, amount])
            sums[unit] += amount
            pending = next(postings, None)
        where = f"journal {journal_id} ({key})"
        if status != "posted":
            return f"{where} was never sealed (status {status})"
        if not mine:
            return f"{where} has no postings"
        for unit, total in sorted(sums.items()):
            if total != 0:
                return f"{where} does not sum to zero in {unit}: {total}"
        payload = payload_hash_of(journal_type, str(date), holder, reverses_key, mine)
        if payload != stored_payload:
            return f"{where}: its postings do not match its payload hash"
        if stored_prev != prev_hash:
            return f"{where}: hash chain broken (previous hash does not match)"
        if chain_hash(prev_hash, key, payload, event_key) != stored_hash:
            return f"{where}: hash chain broken (its hash does not match its content)"
        prev_hash = stored_hash
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
