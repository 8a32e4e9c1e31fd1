"""The sign-ins that say who is reading (docs/web.md#sign-in): users and their roles,
Argon2id password hashes, sessions kept on the server, one-time invitations, the sign-in
rate limit and the cookie key. What a user's roles let them read is
`ledger.app.statements.Scope`.

Sign-ins, roles, passwords, sessions and invitations are records of the ledger's audit
chain (`ledger.store.audit`, docs/rules-trust.md#audit-chain): nothing is changed in
place, a change is a new record, and a sign-in's state is what its records say. Only the
failed sign-in attempts (for the rate limit) and the cookie-signing key are ordinary
tables: they grant nothing. Nothing here writes the books.

Everything is per ledger: a sign-in reads one set of books. The functions that take
`books` are what the doors call; those that take a connection and a ledger id are their
parts.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select, text

from ledger.app import two_factor_state
from ledger.errors import UsageError
from ledger.store import audit
from ledger.store import models as m
from ledger.store.tables import aliased

ROLE = re.compile(r"^(holder|pool|provider|council):([A-Z0-9][A-Z0-9_-]{0,59})$|^auditor$")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10  # characters (NCSC: length over complexity)
MAX_PASSWORD = 1024  # bounds the work of hashing an attacker's input
INVITE_DAYS = 14
SESSION_DAYS = 1  # a session ends a day after signing in, whatever the cookie says

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

# The records that make a sign-in what it is; a session is valid only if it began after
# the newest password or roles record (and did not end).
_USER_KINDS = (audit.USER_ADDED, audit.PASSWORD_SET, audit.ROLES_SET, audit.USER_REMOVED)


@dataclass(frozen=True)
class SignIn:
    """A sign-in as its records say: for `ledger user list` and the session checks."""

    id: int
    username: str
    roles: tuple[str, ...]
    created: dt.datetime
    password_hash: str
    changed_seq: int  # the newest record setting its password or roles (or adding it)
    removed: bool

    def user(self) -> User:
        return User(self.id, self.username, frozenset(self.roles))


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


def _by() -> dict:
    """Who made a change from the command line: the operating-system user."""
    try:
        return {"via": "cli", "by": getpass.getuser()}
    except (KeyError, OSError):
        return {"via": "cli", "by": None}


def _state(conn: Connection, lid: int, uid: int) -> SignIn | None:
    """A sign-in as its records say, removed or not; None if there never was one."""
    found = None
    for r in audit.records(conn, lid, kinds=_USER_KINDS, user_id=uid):
        if r.kind == audit.USER_ADDED:
            found = SignIn(uid, r.body["username"], tuple(r.body["roles"]), r.at,
                           r.body["password_hash"], r.seq, False)
        elif found is None:
            continue
        elif r.kind == audit.PASSWORD_SET:
            found = _replace(found, password_hash=r.body["password_hash"], changed_seq=r.seq)
        elif r.kind == audit.ROLES_SET:
            found = _replace(found, roles=tuple(r.body["roles"]), changed_seq=r.seq)
        elif r.kind == audit.USER_REMOVED:
            found = _replace(found, removed=True)
    return found


def _replace(sign_in: SignIn, **changes) -> SignIn:
    from dataclasses import replace

    return replace(sign_in, **changes)


def _live_id(conn: Connection, lid: int, username: str) -> int | None:
    """The id of the sign-in called `username` that is not removed, or None."""
    r, gone = m.AuditRecord, aliased(m.AuditRecord)
    return conn.execute(select(r.user_id).where(
        r.ledger_id == lid, r.key == username, r.kind == audit.USER_ADDED,
        ~select(gone.id).where(and_(gone.ledger_id == lid, gone.user_id == r.user_id,
                                    gone.kind == audit.USER_REMOVED)).exists())
        .order_by(r.seq.desc()).limit(1)).scalar()


def _live(conn: Connection, lid: int, username: str) -> SignIn:
    """The sign-in `username`, or exit 2 with one line."""
    uid = _live_id(conn, lid, username)
    found = _state(conn, lid, uid) if uid is not None else None
    if found is None or found.removed:
        raise UsageError(f"there is no sign-in {username[:110]!r} in this ledger")
    return found


def add_user(conn: Connection, lid: int, username: str, password: str,
             roles: list[str], via: dict | None = None, password_hash: str | None = None
             ) -> int:
    """A new sign-in with its roles (a `user_added` record); its id, never used before.
    The username is unique among the ledger's sign-ins not removed. `password_hash`:
    the password's hash, made before the transaction (an invitation's acceptance)."""
    if not USERNAME.match(username):
        raise UsageError(f"username {username[:110]!r}: letters, digits and . _ @ - only, "
                         "at most 100")
    if not roles:
        raise UsageError("a sign-in needs at least one --role")
    for role in roles:
        check_role(role)
    check_password(password)
    audit.lock(conn, lid)
    if _live_id(conn, lid, username) is not None:
        raise UsageError(f"username {username!r} is taken in this ledger")
    return audit.append(conn, lid, audit.USER_ADDED, user_id=audit.SELF, key=username, body={
        "username": username, "password_hash": password_hash or _hasher().hash(password),
        "roles": sorted(set(roles)), **(via if via is not None else _by())})


def load_user(conn: Connection, lid: int, uid: int) -> User | None:
    found = _state(conn, lid, uid)
    return None if found is None or found.removed else found.user()


# A hash of a password no one has, so a sign-in with an unknown username costs the same
# time as one with a known username and a wrong password.
_DUMMY = None


def authenticate(conn: Connection, lid: int, username: str, password: str) -> User | None:
    """The user, if the password is theirs; None otherwise (same time either way)."""
    return _check(_stored(conn, lid, username), password)


def _stored(conn: Connection, lid: int, username: str) -> SignIn | None:
    """The sign-in `username` as its records say (its password hash), or None."""
    uid = _live_id(conn, lid, username) if USERNAME.match(username) else None
    return _state(conn, lid, uid) if uid is not None else None


def _check(found: SignIn | None, password: str) -> User | None:
    """Argon2: the user if the password is theirs, else None; the same work for a
    sign-in that is not there (a hash of a password no one has)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    global _DUMMY
    hasher = _hasher()
    if _DUMMY is None:
        _DUMMY = hasher.hash(secrets.token_hex(16))
    try:
        hasher.verify(found.password_hash if found else _DUMMY, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return None
    return found.user() if found and not found.removed else None


def sign_in(books, username: str, password: str, address: str) -> User | None:
    """The user, or None after recording the failure. Raises `TooManyAttempts`, without
    checking the password, past the rate limit (docs/web.md#rate-limit)."""
    at = now()
    with books.begin() as store:  # short: the password is checked after it ends
        conn, lid = store.conn, store.lid
        check_limit(conn, lid, username, address, at)
        # Counted as failed until the password is found right, so attempts made at the
        # same time cannot all slip under the limit while their hashes are checked.
        count_failure(conn, lid, username, address, at)
        found = _stored(conn, lid, username)
    # Argon2 holds no transaction (on SQLite, the write lock every reader's access-log
    # record needs), so a flood of wrong passwords never makes readers wait for it.
    user = _check(found, password)
    if user is None or found is None:
        return None
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        now_found = _state(conn, lid, user.id)  # not removed nor changed meanwhile
        if (now_found is None or now_found.removed
                or now_found.changed_seq != found.changed_seq):
            return None
        uncount_failure(conn, lid, username, address, at)
        if not two_factor_state.is_on(conn, lid, user.id):  # a code to come keeps the count
            clear_failures(conn, lid, username)
        return user


def _limit_keys(username: str, address: str) -> tuple[str, str]:
    """The rate limit's two counters: one per username, one per address's network."""
    return f"user:{username.lower()[:150]}", f"ip:{limit_network(address)[:150]}"


def limit_network(address: str) -> str:
    """What one address counter covers (docs/web.md#rate-limit): an IPv4 address on its
    own; an IPv6 address's /64, the network one household or one server is given, so
    stepping through the addresses of one's own /64 gains nothing. An IPv4-mapped IPv6
    address is its IPv4 address. Anything else (a test client's name) as it is."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def check_limit(conn: Connection, lid: int, username: str, address: str,
                at: dt.datetime) -> None:
    """`TooManyAttempts` past the rate limit (a wrong password or a wrong two-factor code
    counts alike: ledger.app.two_factor). The counters stay locked to the end of the
    caller's transaction, so the failure it then counts is counted before anyone else's
    check (`_hold_counters`)."""
    user_key, address_key = _limit_keys(username, address)
    _refuse_past_limit(conn, lid, {user_key: MAX_FAILURES_PER_USER,
                                   address_key: MAX_FAILURES_PER_ADDRESS}, at)


def _refuse_past_limit(conn: Connection, lid: int, limits: dict[str, int],
                       at: dt.datetime) -> None:
    """`TooManyAttempts` if any counter (key: most failures allowed in the window) is at
    its limit; else the counters are held to the end of the transaction."""
    _hold_counters(conn, lid, limits)
    failures = m.WebLoginFailure
    counts = dict(conn.execute(
        select(failures.key, func.count()).where(
            failures.ledger_id == lid, failures.at > at - WINDOW,
            failures.key.in_(list(limits))).group_by(failures.key)).all())
    if any(counts.get(key, 0) >= most for key, most in limits.items()):
        raise TooManyAttempts


_LIMIT_LOCK_CLASS = 4242031  # pg_advisory_xact_lock(_LIMIT_LOCK_CLASS, counter's hash)


def _hold_counters(conn: Connection, lid: int, keys) -> None:
    """Each counter's lock, to the end of the transaction (docs/web.md#rate-limit): the
    count read and the failure then added are one step, so attempts made at the same
    moment are counted one after another and cannot all pass under the limit. SQLite's
    write transaction (BEGIN IMMEDIATE) already is that lock; PostgreSQL reads each
    transaction's own snapshot, so there one advisory lock per counter and ledger, taken
    in one order (no two attempts wait on each other)."""
    if conn.dialect.name != "postgresql":
        return
    import zlib

    hashes = sorted({zlib.crc32(f"{lid}:{key}".encode()) - 2**31 for key in keys})
    for h in hashes:  # (two counters that hash alike only share a lock: never unsafe)
        conn.execute(text("SELECT pg_advisory_xact_lock(:c, :h)"),
                     {"c": _LIMIT_LOCK_CLASS, "h": h})


def count_failure(conn: Connection, lid: int, username: str, address: str,
                  at: dt.datetime) -> None:
    """One failed attempt, for the username and for the address (older ones forgotten)."""
    _count(conn, lid, _limit_keys(username, address), at)


def _count(conn: Connection, lid: int, keys, at: dt.datetime) -> None:
    failures = m.WebLoginFailure
    conn.execute(insert(failures), [{"ledger_id": lid, "key": key, "at": at}
                                    for key in keys])
    conn.execute(delete(failures).where(failures.ledger_id == lid, failures.at < at - WINDOW))


def uncount_failure(conn: Connection, lid: int, username: str, address: str,
                    at: dt.datetime) -> None:
    """The attempt made at `at` was right after all: it is no longer a failure."""
    _uncount(conn, lid, _limit_keys(username, address), at)


def _uncount(conn: Connection, lid: int, keys, at: dt.datetime) -> None:
    failures = m.WebLoginFailure
    conn.execute(delete(failures).where(failures.ledger_id == lid, failures.at == at,
                                        failures.key.in_(list(keys))))


def clear_failures(conn: Connection, lid: int, username: str) -> None:
    """A sign-in completed: the username's failed attempts are forgotten."""
    failures = m.WebLoginFailure
    conn.execute(delete(failures).where(failures.ledger_id == lid,
                                        failures.key == _limit_keys(username, "")[0]))


class TooManyAttempts(Exception):
    """Past the sign-in rate limit."""


def user_of(books, uid: int) -> User | None:
    with books.read() as store:
        return load_user(store.conn, store.lid, uid)


def add_sign_in(books, username: str, password: str, roles: list[str]) -> int:
    """`ledger user add`: the new sign-in's id."""
    with books.begin() as store:
        return add_user(store.conn, store.lid, username, password, roles)


def sign_ins(books) -> list[tuple[SignIn, int]]:
    """`ledger user list`: every sign-in not removed, by id, with its open sessions."""
    with books.read() as store:
        conn, lid = store.conn, store.lid
        ids = [r.user_id for r in audit.records(conn, lid, kinds=[audit.USER_ADDED])
               if r.user_id is not None]
        found = []
        for uid in ids:
            state = _state(conn, lid, uid)
            if state is not None and not state.removed:
                found.append((state, len(_open_sessions(conn, lid, state, now()))))
        return found


def sign_in_named(books, username: str) -> User:
    """The sign-in `username` (not removed), or exit 2 with one line."""
    with books.read() as store:
        return _live(store.conn, store.lid, username).user()


def remove_sign_in(books, username: str) -> int:
    """`ledger user remove`: the sign-in's sessions end at once, then it is removed (its
    records stay; its id is never given again). The number of sessions ended."""
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _live(conn, lid, username)
        ended = _end_sessions(conn, lid, found, "removed")
        audit.append(conn, lid, audit.USER_REMOVED, user_id=found.id, key=username,
                     body=_by())
        return ended


def set_password(books, username: str, password: str) -> int:
    """`ledger user passwd`: a new password (a `password_set` record); every session of
    the sign-in ends at once. The number of sessions ended."""
    check_password(password)
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _live(conn, lid, username)
        ended = _end_sessions(conn, lid, found, "password changed")
        audit.append(conn, lid, audit.PASSWORD_SET, user_id=found.id, key=username,
                     body={"password_hash": _hasher().hash(password), **_by()})
        return ended


def set_roles(books, username: str, add: list[str], remove: list[str]
              ) -> tuple[list[str], int]:
    """`ledger user roles`: the sign-in's roles with `add` added and `remove` taken away,
    as a new `roles_set` record; every session of the sign-in ends at once. (The new
    roles, the number of sessions ended.) Nothing changes if the roles stay the same."""
    for role in [*add, *remove]:
        check_role(role)
    if not add and not remove:
        raise UsageError("give --add ROLE or --remove ROLE")
    both = sorted(set(add) & set(remove))
    if both:  # which was meant cannot be told: refused, never guessed
        raise UsageError(f"--add and --remove both name {both[0]}: give it once")
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _live(conn, lid, username)
        missing = [r for r in remove if r not in found.roles]
        if missing:
            raise UsageError(f"--remove {missing[0]}: {username} does not have that role "
                             f"(roles: {', '.join(found.roles)})")
        roles = sorted((set(found.roles) | set(add)) - set(remove))
        if not roles:
            raise UsageError(f"{username} would have no role left; remove the sign-in with "
                             "`ledger user remove` instead")
        if roles == sorted(found.roles):
            return roles, 0
        ended = _end_sessions(conn, lid, found, "roles changed")
        audit.append(conn, lid, audit.ROLES_SET, user_id=found.id, key=username,
                     body={"roles": roles, **_by()})
        return roles, ended


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    key: str  # the SHA-256 of its token: the token itself is never stored
    started: dt.datetime
    expires: dt.datetime


def _stamp(at: dt.datetime) -> str:
    return at.isoformat(sep=" ", timespec="microseconds")


def start_session(books, uid: int) -> str | None:
    """A new session for the sign-in `uid` (a `session_started` record); its token, for
    the cookie, or None if the sign-in was removed since its password was checked. Only
    the token's SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    at = now()
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)  # a removal cannot slip in between the check and the start
        state = _state(conn, lid, uid)
        if state is None or state.removed:
            return None
        audit.append(conn, lid, audit.SESSION_STARTED, user_id=uid, key=_digest(token),
                     at=at, body={"expires": _stamp(at + dt.timedelta(days=SESSION_DAYS))})
    return token


def session_user(books, token: str) -> User | None:
    """The user a session's token belongs to, if the session is open: started, not
    ended, not past its day, begun after the sign-in's newest password or roles, and the
    sign-in not removed. Otherwise None."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    with books.read() as store:
        conn, lid = store.conn, store.lid
        found = _session(conn, lid, _digest(token), now())
        if found is None:
            return None
        state = _state(conn, lid, found[0])
        if state is None or state.removed or found[1] <= state.changed_seq:
            return None
        return state.user()


def _session(conn: Connection, lid: int, key: str, at: dt.datetime
             ) -> tuple[int, int] | None:
    """(user id, seq) of the open session under `key`, or None."""
    started = None
    for r in audit.records(conn, lid, kinds=[audit.SESSION_STARTED, audit.SESSION_ENDED],
                           key=key):
        if r.kind == audit.SESSION_ENDED:
            return None
        if started is None:
            started = r
    if started is None or started.user_id is None:
        return None
    if dt.datetime.fromisoformat(started.body["expires"]) <= at:
        return None
    return started.user_id, started.seq


def end_session(books, token: str) -> None:
    """Sign-out: the session ends (a `session_ended` record), if it was open."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _session(conn, lid, _digest(token), now())
        if found is not None:
            audit.append(conn, lid, audit.SESSION_ENDED, user_id=found[0],
                         key=_digest(token), body={"why": "signed out"})


def _open_sessions(conn: Connection, lid: int, state: SignIn, at: dt.datetime
                   ) -> list[Session]:
    started: dict[str, Session] = {}
    for r in audit.records(conn, lid, kinds=[audit.SESSION_STARTED, audit.SESSION_ENDED],
                           user_id=state.id):
        if r.key is None:
            continue
        if r.kind == audit.SESSION_ENDED:
            started.pop(r.key, None)
        elif r.seq > state.changed_seq:
            started[r.key] = Session(r.key, r.at,
                                     dt.datetime.fromisoformat(r.body["expires"]))
    return [s for s in started.values() if s.expires > at]


def _end_sessions(conn: Connection, lid: int, state: SignIn, why: str) -> int:
    """End every open session of a sign-in at once (the lock is held)."""
    found = _open_sessions(conn, lid, state, now())
    for session in found:
        audit.append(conn, lid, audit.SESSION_ENDED, user_id=state.id, key=session.key,
                     body={"why": why, **_by()})
    return len(found)


def sessions(books, username: str, revoke: bool = False) -> list[Session]:
    """`ledger user sessions`: the sign-in's open sessions; with `revoke`, each of them
    ends at once (and the list is what was ended)."""
    with books.begin() if revoke else books.read() as store:
        conn, lid = store.conn, store.lid
        if revoke:
            audit.lock(conn, lid)
        found = _live(conn, lid, username)
        open_now = _open_sessions(conn, lid, found, now())
        if revoke:
            _end_sessions(conn, lid, found, "revoked")
        return open_now


# ---------------------------------------------------------------- invitations


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(conn: Connection, lid: int, roles: list[str], by: int | None,
                  at: dt.datetime) -> str:
    """A one-time token for making a sign-in with `roles`, valid for INVITE_DAYS days
    from `at` (an `invite_created` record). Only its SHA-256 is stored, so the database
    never holds a usable invitation."""
    for role in roles:
        check_role(role)
    token = secrets.token_urlsafe(32)
    audit.append(conn, lid, audit.INVITE_CREATED, user_id=by, key=_digest(token), body={
        "roles": sorted(set(roles)),
        "expires": _stamp(at + dt.timedelta(days=INVITE_DAYS)),
        **({"via": "web"} if by is not None else _by())})
    return token


def open_invite(store, token: str, at: dt.datetime) -> list[str] | None:
    """The roles an unused, unexpired invitation gives, or None. One made on the web
    gives them only while its inviter could still give them (`_inviter_may_give`)."""
    conn, lid = store.conn, store.lid
    made = None
    for r in audit.records(conn, lid, kinds=_INVITE_KINDS, key=_digest(token)):
        if r.kind != audit.INVITE_CREATED:  # used, or withdrawn
            return None
        made = made or r
    if made is None or dt.datetime.fromisoformat(made.body["expires"]) <= at:
        return None
    roles = list(made.body["roles"])
    if made.user_id is not None and _inviter_may_give(store, made.user_id, roles, at) is None:
        return None
    return roles


_INVITE_KINDS = (audit.INVITE_CREATED, audit.INVITE_USED, audit.INVITE_WITHDRAWN)


@dataclass(frozen=True)
class Invitation:
    """An invitation nobody has used or withdrawn, not out of date, that still gives its
    roles (`ledger user invitations`). `number` is its `invite_created` record's number
    in the audit chain: the link itself is never stored."""

    number: int
    made: dt.datetime
    by: str  # the sign-in that made it on the web, or the operating-system user
    roles: tuple[str, ...]
    expires: dt.datetime
    maker: int | None = None  # the id of the sign-in that made it; None: command line


def open_invitations(books, made_by: User | None = None) -> list[Invitation]:
    """Every invitation that would make a sign-in if its link were used now, oldest
    first (docs/web.md#invitations); with `made_by`, only those that sign-in made."""
    with books.read() as store:
        return [invitation for invitation, _ in _open_invitations(store)
                if made_by is None or invitation.maker == made_by.id]


def _open_invitations(store) -> list[tuple[Invitation, str]]:
    """(invitation, the SHA-256 of its token) for each open invitation, oldest first."""
    conn, lid, at = store.conn, store.lid, now()
    made: dict[str | None, audit.AuditRecord] = {}
    spent: set[str | None] = set()
    for r in audit.records(conn, lid, kinds=_INVITE_KINDS):
        if r.kind == audit.INVITE_CREATED:
            made.setdefault(r.key, r)
        else:
            spent.add(r.key)
    found = []
    for key, r in made.items():
        roles = list(r.body["roles"])
        expires = dt.datetime.fromisoformat(r.body["expires"])
        if key is None or key in spent or expires <= at:
            continue
        if r.user_id is None:
            by = f"{r.body.get('by') or 'unknown'} (command line)"
        elif (maker := _inviter_may_give(store, r.user_id, roles, at)) is not None:
            by = maker.username
        else:
            continue
        found.append((Invitation(r.seq, r.at, by, tuple(roles), expires, r.user_id), key))
    return sorted(found, key=lambda pair: pair[0].number)


def withdraw_invitation(books, number: int, by: User | None = None) -> Invitation:
    """Withdraw open invitation `number`: its link makes nothing from now on (an
    `invite_withdrawn` record, with the operating-system user who ran the command, or
    the sign-in `by` on the web, who may withdraw only the invitations it made).
    UsageError, and nothing written, for a number that is not an open invitation (or,
    for `by`, not one of its own: the same words)."""
    with books.begin() as store:
        audit.lock(store.conn, store.lid)
        wanted = [pair for pair in _open_invitations(store) if pair[0].number == number
                  and (by is None or pair[0].maker == by.id)]
        if not wanted:
            raise UsageError(f"invitation {number} is not an open invitation in ledger "
                             f"{store.ledger!r}; `ledger user invitations` lists them")
        invitation, key = wanted[0]
        if by is None:
            audit.append(store.conn, store.lid, audit.INVITE_WITHDRAWN, key=key, body=_by())
        else:
            audit.append(store.conn, store.lid, audit.INVITE_WITHDRAWN, user_id=by.id,
                         key=key, body={"via": "web"})
        return invitation


def _inviter_may_give(store, by: int, roles: list[str], at: dt.datetime) -> User | None:
    """The sign-in that made an invitation on the web, as it is now, if it may give
    `roles` now, as `invite` decides it when the invitation is made
    (docs/web.md#invitations); else None: a sign-in removed since, or one that lost the
    role or relationship that let it invite (a council's member of staff who has left, a
    provider whose ISF with the person has closed), leaves its open invitations giving
    nothing. One made at the command line (no inviter sign-in) is the database
    operator's and stands."""
    from ledger.app.statements import Scope

    current = load_user(store.conn, store.lid, by)
    if current is None:
        return None
    view = Scope(current.roles).view(store, at.date())
    return current if all(view.may_invite(role) for role in roles) else None


def use_invite(store, token: str, username: str, password: str,
               at: dt.datetime, password_hash: str | None = None) -> int:
    """Make the sign-in and spend the invitation, in the caller's transaction. The audit
    lock is taken first, so two people racing with one link get one sign-in."""
    conn, lid = store.conn, store.lid
    audit.lock(conn, lid)
    roles = open_invite(store, token, at)
    if roles is None:
        raise UsageError(INVALID_INVITE)
    uid = add_user(conn, lid, username, password, roles, via={"via": "web"},
                   password_hash=password_hash)
    audit.append(conn, lid, audit.INVITE_USED, user_id=uid, key=_digest(token), body={})
    return uid


def invite(books, roles: list[str], by: User | None = None) -> str | None:
    """An invitation link's token. Made by a signed-in user `by`, it is None when a role
    is malformed, unknown or not one `by` may give (the same None for each). What `by`
    may give is read under the audit lock from their sign-in as it is now, not as it was
    when their request began: a sign-in removed, or a role taken away, a moment before
    gives nothing."""
    with books.begin() as store:
        if by is not None:
            try:
                for role in roles:
                    check_role(role)
            except UsageError:
                return None
            audit.lock(store.conn, store.lid)
            if _inviter_may_give(store, by.id, roles, now()) is None:
                return None
        return create_invite(store.conn, store.lid, roles, by.id if by else None, now())


def invitation(books, token: str) -> list[str] | None:
    """The roles an unused, unexpired invitation gives, or None."""
    with books.read() as store:
        return open_invite(store, token, now())


# One refusal for a username that is taken and for one that, or whose password, is not
# allowed: accepting an invitation must not tell which usernames exist (docs/web.md
# #invitations).
CANNOT_USE = ("that username and password cannot be used. A username is letters, numbers "
              "and . _ @ - only, at most 100, and not one someone already has; a password "
              "is 10 to 1,024 characters. Please choose again")
INVALID_INVITE = "this invitation is not valid: it may be used or out of date"


def accept_invitation(books, token: str, username: str, password: str,
                      address: str = "unknown") -> int:
    """The new sign-in's number; UsageError, and nothing made, if it cannot be (the
    same CANNOT_USE whether the username is taken or the username or password is not
    allowed, after the same work: one Argon2 hash). Each refusal counts as a failed
    attempt from the address's network, in the sign-in rate limit's table and under its
    limit (TooManyAttempts, before anything is checked)."""
    at = now()
    key = _limit_keys("", address)[1]
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        _refuse_past_limit(conn, lid, {key: MAX_FAILURES_PER_ADDRESS}, at)
        _count(conn, lid, [key], at)  # until made
        valid = open_invite(store, token, at) is not None
    if not valid:  # (raised once the attempt is counted and committed)
        raise UsageError(INVALID_INVITE)
    # Hashed before the transaction (no lock held meanwhile), and always, so a taken
    # username costs the same time as a password too short.
    hashed = _hasher().hash(password[:MAX_PASSWORD])
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        try:
            uid = use_invite(store, token, username, password, at, password_hash=hashed)
        except UsageError as err:
            raise UsageError(INVALID_INVITE if str(err) == INVALID_INVITE
                             else CANNOT_USE) from None
        _uncount(conn, lid, [key], at)
        return uid


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
