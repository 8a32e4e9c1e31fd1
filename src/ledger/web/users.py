"""Sign-ins for the web view (docs/web.md#sign-in): users and roles, Argon2id password
hashes, one-time invitations, the sign-in rate limit and the session key.

Everything here is per ledger: a sign-in reads one set of books.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from ledger.errors import UsageError
from ledger.store import models as m

ROLE = re.compile(r"^(holder|pool|provider|council):([A-Z0-9][A-Z0-9_-]{0,59})$|^auditor$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10  # characters (NCSC: length over complexity)
MAX_PASSWORD = 1024  # bounds the work of hashing an attacker's input
INVITE_DAYS = 14

# The rate limit (docs/web.md#rate-limit): failed sign-ins in the window, per username
# and per address. Past either, sign-in is refused without checking the password.
WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True)
class User:
    id: int
    username: str
    roles: frozenset[str]


def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # Argon2id with the library's recommended parameters


def check_role(role: str) -> str:
    if not ROLE.match(role):
        raise UsageError(f"--role {role[:130]!r}: a role is holder:H, pool:L, provider:P, "
                         "council:C or auditor")
    return role


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UsageError(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def add_user(conn: Connection, lid: int, username: str, password: str,
             roles: list[str]) -> int:
    """A new sign-in with its roles. The username is unique in the ledger."""
    if not USERNAME.match(username):
        raise UsageError(f"username {username[:110]!r}: letters, digits and . _ @ - only, "
                         "at most 100")
    if not roles:
        raise UsageError("a sign-in needs at least one --role")
    for role in roles:
        check_role(role)
    check_password(password)
    taken = conn.execute(select(m.WebUser.id).where(
        m.WebUser.ledger_id == lid, m.WebUser.username == username)).first()
    if taken:
        raise UsageError(f"username {username!r} is taken in this ledger")
    uid = conn.execute(insert(m.WebUser).values(
        ledger_id=lid, username=username, password_hash=_hasher().hash(password))
        .returning(m.WebUser.id)).scalar_one()
    for role in sorted(set(roles)):
        conn.execute(insert(m.WebRole).values(user_id=uid, role=role))
    return uid


def load_user(conn: Connection, lid: int, uid: int) -> User | None:
    row = conn.execute(select(m.WebUser.id, m.WebUser.username).where(
        m.WebUser.ledger_id == lid, m.WebUser.id == uid)).first()
    if row is None:
        return None
    roles = conn.execute(select(m.WebRole.role).where(m.WebRole.user_id == uid)).scalars()
    return User(row.id, row.username, frozenset(roles))


# A hash of a password no one has, so a sign-in with an unknown username costs the same
# time as one with a known username and a wrong password.
_DUMMY = None


def authenticate(conn: Connection, lid: int, username: str, password: str) -> User | None:
    """The user, if the password is theirs; None otherwise (same time either way)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    global _DUMMY
    row = conn.execute(select(m.WebUser.id, m.WebUser.password_hash).where(
        m.WebUser.ledger_id == lid, m.WebUser.username == username)).first()
    hasher = _hasher()
    if _DUMMY is None:
        _DUMMY = hasher.hash(secrets.token_hex(16))
    try:
        hasher.verify(row.password_hash if row else _DUMMY, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    return load_user(conn, lid, row.id) if row else None


# ---------------------------------------------------------------- rate limit


def too_many_failures(conn: Connection, lid: int, username: str, address: str,
                      now: dt.datetime) -> bool:
    since = now - WINDOW
    counts = dict(conn.execute(
        select(m.WebLoginFailure.key, func.count()).where(
            m.WebLoginFailure.ledger_id == lid, m.WebLoginFailure.at > since,
            m.WebLoginFailure.key.in_([f"user:{username.lower()}", f"ip:{address}"]))
        .group_by(m.WebLoginFailure.key)).all())
    return (counts.get(f"user:{username.lower()}", 0) >= MAX_FAILURES_PER_USER
            or counts.get(f"ip:{address}", 0) >= MAX_FAILURES_PER_ADDRESS)


def record_failure(conn: Connection, lid: int, username: str, address: str,
                   now: dt.datetime) -> None:
    conn.execute(insert(m.WebLoginFailure), [
        {"ledger_id": lid, "key": f"user:{username.lower()[:150]}", "at": now},
        {"ledger_id": lid, "key": f"ip:{address[:150]}", "at": now}])
    conn.execute(delete(m.WebLoginFailure).where(m.WebLoginFailure.ledger_id == lid,
                                                 m.WebLoginFailure.at < now - WINDOW))


def clear_failures(conn: Connection, lid: int, username: str) -> None:
    conn.execute(delete(m.WebLoginFailure).where(
        m.WebLoginFailure.ledger_id == lid,
        m.WebLoginFailure.key == f"user:{username.lower()}"))


# ---------------------------------------------------------------- invitations


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(conn: Connection, lid: int, roles: list[str], by: int | None,
                  now: dt.datetime) -> str:
    """A one-time token for making a sign-in with `roles`, valid for INVITE_DAYS days.
    Only its SHA-256 is stored, so the database never holds a usable invitation."""
    for role in roles:
        check_role(role)
    token = secrets.token_urlsafe(32)
    conn.execute(insert(m.WebInvite).values(
        ledger_id=lid, token_sha256=_digest(token), roles=json.dumps(sorted(set(roles))),
        created_by=by, expires_at=now + dt.timedelta(days=INVITE_DAYS)))
    return token


def open_invite(conn: Connection, lid: int, token: str, now: dt.datetime) -> list[str] | None:
    """The roles an unused, unexpired invitation gives, or None."""
    row = conn.execute(select(m.WebInvite.roles).where(
        m.WebInvite.ledger_id == lid, m.WebInvite.token_sha256 == _digest(token),
        m.WebInvite.used_at.is_(None), m.WebInvite.expires_at > now)).first()
    return json.loads(row.roles) if row else None


def use_invite(conn: Connection, lid: int, token: str, username: str, password: str,
               now: dt.datetime) -> int:
    """Make the sign-in and spend the invitation, in the caller's transaction. The
    invitation is marked used first, so two people racing with one link get one sign-in."""
    roles = open_invite(conn, lid, token, now)
    if roles is None:
        raise UsageError("this invitation is not valid: it may be used or out of date")
    spent = conn.execute(update(m.WebInvite).where(
        m.WebInvite.ledger_id == lid, m.WebInvite.token_sha256 == _digest(token),
        m.WebInvite.used_at.is_(None)).values(used_at=now))
    if spent.rowcount != 1:
        raise UsageError("this invitation is not valid: it may be used or out of date")
    return add_user(conn, lid, username, password, roles)


# ---------------------------------------------------------------- the session key


def session_secret(conn: Connection, lid: int) -> str:
    """The ledger's key for signing session cookies: made once, kept in the database, so
    every worker (and a restart) signs and checks cookies with the same key."""
    row = conn.execute(select(m.WebSecret.secret).where(m.WebSecret.ledger_id == lid)).first()
    if row:
        return row.secret
    secret = secrets.token_hex(32)
    conn.execute(insert(m.WebSecret).values(ledger_id=lid, secret=secret))
    return secret
