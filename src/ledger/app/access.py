"""The sign-ins that say who is reading (docs/web.md#sign-in): users and their roles,
Argon2id password hashes, one-time invitations, the sign-in rate limit and the session
key. What a user's roles let them read is `ledger.app.statements.Scope`.

Everything here is per ledger: a sign-in reads one set of books. The only tables
written are the sign-in tables, never the books. The functions that take `books` are
what the doors call; those that take a connection and a ledger id are their parts.
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


def now() -> dt.datetime:
    """The time sign-ins, sessions and invitations are reckoned in (UTC, naive)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    roles: frozenset[str]


def can_invite(user: User) -> bool:
    """Councils, providers and auditors may invite people (`Scope` says whom)."""
    return any(r == "auditor" or r.startswith(("council:", "provider:")) for r in user.roles)


# ---------------------------------------------------------------- sign-ins


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


def sign_in(books, username: str, password: str, address: str) -> User | None:
    """The user, or None after recording the failure. Raises `TooManyAttempts`, without
    checking the password, past the rate limit (docs/web.md#rate-limit)."""
    at = now()
    keys = (f"user:{username.lower()}", f"ip:{address}")
    failures = m.WebLoginFailure
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        counts = dict(conn.execute(
            select(failures.key, func.count()).where(
                failures.ledger_id == lid, failures.at > at - WINDOW,
                failures.key.in_(keys)).group_by(failures.key)).all())
        if (counts.get(keys[0], 0) >= MAX_FAILURES_PER_USER
                or counts.get(keys[1], 0) >= MAX_FAILURES_PER_ADDRESS):
            raise TooManyAttempts
        user = authenticate(conn, lid, username, password)
        if user is None:
            conn.execute(insert(failures), [
                {"ledger_id": lid, "key": f"user:{username.lower()[:150]}", "at": at},
                {"ledger_id": lid, "key": f"ip:{address[:150]}", "at": at}])
            conn.execute(delete(failures).where(failures.ledger_id == lid,
                                                failures.at < at - WINDOW))
        else:
            conn.execute(delete(failures).where(failures.ledger_id == lid,
                                                failures.key == keys[0]))
        return user


class TooManyAttempts(Exception):
    """Past the sign-in rate limit."""


def user_of(books, uid: int) -> User | None:
    with books.read() as store:
        return load_user(store.conn, store.lid, uid)


def add_sign_in(books, username: str, password: str, roles: list[str]) -> None:
    """`ledger user add`."""
    with books.begin() as store:
        add_user(store.conn, store.lid, username, password, roles)


# ---------------------------------------------------------------- invitations


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(conn: Connection, lid: int, roles: list[str], by: int | None,
                  at: dt.datetime) -> str:
    """A one-time token for making a sign-in with `roles`, valid for INVITE_DAYS days.
    Only its SHA-256 is stored, so the database never holds a usable invitation."""
    for role in roles:
        check_role(role)
    token = secrets.token_urlsafe(32)
    conn.execute(insert(m.WebInvite).values(
        ledger_id=lid, token_sha256=_digest(token), roles=json.dumps(sorted(set(roles))),
        created_by=by, expires_at=at + dt.timedelta(days=INVITE_DAYS)))
    return token


def open_invite(conn: Connection, lid: int, token: str, at: dt.datetime) -> list[str] | None:
    """The roles an unused, unexpired invitation gives, or None."""
    row = conn.execute(select(m.WebInvite.roles).where(
        m.WebInvite.ledger_id == lid, m.WebInvite.token_sha256 == _digest(token),
        m.WebInvite.used_at.is_(None), m.WebInvite.expires_at > at)).first()
    return json.loads(row.roles) if row else None


def use_invite(conn: Connection, lid: int, token: str, username: str, password: str,
               at: dt.datetime) -> int:
    """Make the sign-in and spend the invitation, in the caller's transaction. The
    invitation is marked used first, so two people racing with one link get one sign-in."""
    roles = open_invite(conn, lid, token, at)
    if roles is None:
        raise UsageError("this invitation is not valid: it may be used or out of date")
    spent = conn.execute(update(m.WebInvite).where(
        m.WebInvite.ledger_id == lid, m.WebInvite.token_sha256 == _digest(token),
        m.WebInvite.used_at.is_(None)).values(used_at=at))
    if spent.rowcount != 1:
        raise UsageError("this invitation is not valid: it may be used or out of date")
    return add_user(conn, lid, username, password, roles)


def invite(books, roles: list[str], by: User | None = None) -> str | None:
    """An invitation link's token. Made by a signed-in user `by`, it is None when a role
    is malformed, unknown or not one `by` may give (the same None for each)."""
    with books.begin() as store:
        if by is not None:
            try:
                for role in roles:
                    check_role(role)
            except UsageError:
                return None
            from ledger.app.statements import Scope

            view = Scope(by.roles).view(store, now().date())
            if not all(view.may_invite(role) for role in roles):
                return None
        return create_invite(store.conn, store.lid, roles, by.id if by else None, now())


def invitation(books, token: str) -> list[str] | None:
    """The roles an unused, unexpired invitation gives, or None."""
    with books.read() as store:
        return open_invite(store.conn, store.lid, token, now())


def accept_invitation(books, token: str, username: str, password: str) -> int:
    """The new sign-in's number (UsageError, and nothing made, if it cannot be)."""
    with books.begin() as store:
        return use_invite(store.conn, store.lid, token, username, password, now())


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


def session_key(books) -> str:
    with books.begin() as store:
        return session_secret(store.conn, store.lid)
