"""A ledger's audit chain (docs/rules-trust.md#audit-chain): sign-ins, roles, passwords,
sessions, invitations and the access log, as append-only records chained apart from the
books, so that signing in or reading a statement never moves the books' head.

Each record has its place `seq` (1, 2, 3, ... per ledger) and its `hash`, which covers
the hash before it and every field of the record: `seq`, `at`, `kind`, `user_id`, `key`
and `body` (canonical JSON). Triggers on both engines (migrations/versions/0007) refuse
UPDATE, DELETE, TRUNCATE (PostgreSQL) and an insert that does not continue the chain;
`verify_chain` recomputes every hash and checks that the records make sense together.

A sign-in's id is the id of its `user_added` record, whose `user_id` is that same id (so
the hash covers it). Ids are never reused: SQLite AUTOINCREMENT, a PostgreSQL identity.

Two appends never fork the chain: `append` takes the ledger's audit lock first (on
PostgreSQL a transaction-level advisory lock of its own, so it never waits for a books
writer and a books writer never waits for it; on SQLite the write transaction the caller
holds, BEGIN IMMEDIATE, is the lock). The migration keeps its own copy of the hash.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, text

from ledger.core.journal import sha256_text
from ledger.store import models as m
from ledger.store.chain import GENESIS_HASH, canonical

# The kinds this module's callers write (others add theirs: two_factor_set, ...).
USER_ADDED = "user_added"
PASSWORD_SET = "password_set"
ROLES_SET = "roles_set"
USER_REMOVED = "user_removed"
SESSION_STARTED = "session_started"
SESSION_ENDED = "session_ended"
INVITE_CREATED = "invite_created"
INVITE_USED = "invite_used"
INVITE_WITHDRAWN = "invite_withdrawn"
READ = "read"

# Kinds that change a sign-in: the sign-in must exist and not be removed when they are
# written. Any other record naming a user must name one added before it.
_CHANGES_USER = {PASSWORD_SET, ROLES_SET, USER_REMOVED, SESSION_STARTED}

# `append(..., user_id=SELF)`: the record is about the sign-in it makes (`user_added`),
# whose id is the record's own.
SELF = -1

_LOCK_CLASS = 4242021  # pg_advisory_xact_lock(_LOCK_CLASS, ledger id)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    seq: int
    at: dt.datetime
    kind: str
    user_id: int | None
    key: str | None
    body: dict
    prev_hash: str
    hash: str


def record_hash(prev_hash: str, seq: int, at: dt.datetime, kind: str, user_id: int | None,
                key: str | None, body: str) -> str:
    """The hash of one record: the previous record's hash and every field of this one."""
    return sha256_text(json.dumps(
        [prev_hash, seq, at.isoformat(sep=" ", timespec="microseconds"), kind, user_id, key,
         body], separators=(",", ":"), ensure_ascii=False))


def now() -> dt.datetime:
    """UTC, naive (as the sign-ins reckon time)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def lock(conn: Connection, lid: int) -> None:
    """The ledger's audit lock, held to the end of the caller's transaction. Take it before
    reading anything an append depends on (is the username free, is the invitation still
    unused), so the check and the append are one step."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :l)"), {"c": _LOCK_CLASS, "l": lid})


def _head(conn: Connection, lid: int) -> tuple[int, str]:
    row = conn.execute(select(m.AuditRecord.seq, m.AuditRecord.hash)
                       .where(m.AuditRecord.ledger_id == lid)
                       .order_by(m.AuditRecord.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def _next_id(conn: Connection) -> int:
    """The id the next record will have (the lock is held)."""
    if conn.dialect.name == "postgresql":
        return conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('audit_record', 'id'))")).scalar_one()
    seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'audit_record'")
                       ).scalar()
    return (seq or 0) + 1


def append(conn: Connection, lid: int, kind: str, *, user_id: int | None = None,
           key: str | None = None, body: dict, at: dt.datetime | None = None) -> int:
    """Add one record to the ledger's audit chain, in the caller's transaction; its id.
    `user_id=SELF` (a `user_added` record) makes the record's user its own id."""
    lock(conn, lid)
    seq, prev = _head(conn, lid)
    at = (at or now()).replace(tzinfo=None)
    values: dict = {}
    if user_id == SELF:
        user_id = values["id"] = _next_id(conn)
    text_body = canonical(body)
    digest = record_hash(prev, seq + 1, at, kind, user_id, key, text_body)
    return conn.execute(insert(m.AuditRecord).values(
        ledger_id=lid, seq=seq + 1, at=at, kind=kind, user_id=user_id, key=key,
        body=text_body, prev_hash=prev, hash=digest, **values)
        .returning(m.AuditRecord.id)).scalar_one()


def _as_time(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.combine(value, dt.time())


def records(conn: Connection, lid: int, *, kinds: Iterable[str] | None = None,
            user_id: int | None = None, key: str | None = None,
            since: dt.date | dt.datetime | None = None,
            until: dt.date | dt.datetime | None = None) -> Iterator[AuditRecord]:
    """The ledger's records in chain order, only those of `kinds`, about `user_id`, under
    `key`, and at or after `since` and before `until` (a date means its midnight, so
    `until=day + 1` takes in the whole of `day`)."""
    r = m.AuditRecord
    query = select(r.id, r.seq, r.at, r.kind, r.user_id, r.key, r.body, r.prev_hash,
                   r.hash).where(r.ledger_id == lid)
    if kinds is not None:
        query = query.where(r.kind.in_(list(kinds)))
    if user_id is not None:
        query = query.where(r.user_id == user_id)
    if key is not None:
        query = query.where(r.key == key)
    if since is not None:
        query = query.where(r.at >= _as_time(since))
    if until is not None:
        query = query.where(r.at < _as_time(until))
    for row in conn.execute(query.order_by(r.seq)):
        yield AuditRecord(row.id, row.seq, row.at, row.kind, row.user_id, row.key,
                          json.loads(row.body), row.prev_hash, row.hash)


@dataclass
class AuditHead:
    """How far `verify_chain` read: the number of records and the newest one's hash;
    `held` whether the chain passed through `watch` (an earlier head, `N:HASH`)."""

    records: int = 0
    hash: str = GENESIS_HASH
    watch: tuple[int, str] | None = None
    held: bool = False

    def text(self) -> str:
        return f"{self.records}:{self.hash}"

    def reached(self) -> None:
        if self.watch == (self.records, self.hash):
            self.held = True


def verify_chain(conn: Connection, lid: int, head: AuditHead | None = None) -> list[str]:
    """Every problem of the ledger's audit chain (empty when it is intact): records
    numbered 1, 2, ... each chained to the one before, each hash covering its fields, ids
    growing with the chain; and the records make sense together: a sign-in's id is its
    `user_added` record's, a username is not taken twice at once, roles, passwords,
    removals and sessions are only for sign-ins that exist (and are not removed), a
    session ends only once it started, an invitation is used only once it was made and
    only once. `head`, when given, is filled in with the chain's head (and whether it
    passed through its `watch`)."""
    head = head if head is not None else AuditHead()
    problems: list[str] = []
    r = m.AuditRecord
    users: dict[int, str] = {}  # every sign-in ever added: its username
    live: dict[str, int] = {}  # username -> id, for sign-ins not removed
    removed: set[int] = set()
    sessions: set[str] = set()
    invites: set[str] = set()
    used: set[str] = set()
    expect_prev, expect_seq, last_id = GENESIS_HASH, 1, 0
    head.reached()
    rows = conn.execute(select(r.id, r.seq, r.at, r.kind, r.user_id, r.key, r.body,
                               r.prev_hash, r.hash).where(r.ledger_id == lid).order_by(r.seq)
                        .execution_options(yield_per=5000))  # years of reads: streamed
    for row in rows:
        where = f"audit record {row.seq}"
        if row.seq != expect_seq:
            problems.append(f"audit record {expect_seq} is missing (the next is {row.seq})")
            expect_seq = row.seq
        if row.prev_hash != expect_prev:
            problems.append(f"{where} does not follow the record before it")
        if row.hash != record_hash(row.prev_hash, row.seq, row.at, row.kind, row.user_id,
                                   row.key, row.body):
            problems.append(f"{where} ({row.kind}) was changed after it was written: "
                            "its hash does not match")
        if row.id <= last_id:
            problems.append(f"{where} has id {row.id}, not after the record before it")
        problems.extend(f"{where} ({row.kind}): {p}" for p in _sense(
            row, users, live, removed, sessions, invites, used))
        expect_prev, expect_seq, last_id = row.hash, row.seq + 1, row.id
        head.records, head.hash = row.seq, row.hash
        head.reached()
    return problems


def _sense(row, users: dict[int, str], live: dict[str, int], removed: set[int],
           sessions: set[str], invites: set[str], used: set[str]) -> list[str]:
    """What is wrong with one record given the records before it (and take it in)."""
    kind, uid = row.kind, row.user_id
    try:
        body = json.loads(row.body)
    except ValueError:
        return ["its body is not JSON"]
    if kind == USER_ADDED:
        name = body.get("username") if isinstance(body, dict) else None
        problems = []
        if uid != row.id:
            problems.append(f"a sign-in's id must be its record's ({row.id}), not {uid}")
        if not isinstance(name, str) or name != row.key:
            problems.append("the username is not the record's key")
        elif name in live:
            problems.append(f"username {name!r} is already taken by sign-in {live[name]}")
        if problems or not isinstance(name, str):
            return problems
        users[row.id] = name
        live[name] = row.id
        return []
    if uid is not None and uid not in users:
        return [f"sign-in {uid} does not exist"]
    if kind in _CHANGES_USER:
        if uid is None:
            return ["it names no sign-in"]
        if uid in removed:
            return [f"sign-in {uid} was removed before it"]
    if kind == USER_REMOVED:
        removed.add(uid)
        live.pop(users[uid], None)
    elif kind == SESSION_STARTED:
        sessions.add(row.key)
    elif kind == SESSION_ENDED and row.key not in sessions:
        return ["it ends a session that never started"]
    elif kind == INVITE_CREATED:
        invites.add(row.key)
    elif kind == INVITE_USED:
        if row.key not in invites:
            return ["it uses an invitation that was never made"]
        if row.key in used:
            return ["it uses an invitation already used"]
        used.add(row.key)
    elif kind == INVITE_WITHDRAWN:  # spent as a use spends it: never usable after
        if row.key not in invites:
            return ["it withdraws an invitation that was never made"]
        if row.key in used:
            return ["it withdraws an invitation already used or withdrawn"]
        used.add(row.key)
    return []


__all__ = ["READ", "SELF", "AuditHead", "AuditRecord", "append", "lock", "now",
           "record_hash", "records", "verify_chain"]
