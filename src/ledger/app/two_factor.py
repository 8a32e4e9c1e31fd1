"""Two-factor sign-in (docs/web.md#two-factor): a time-based code (TOTP, RFC 6238, as
every authenticator app makes them) asked for after the password, and ten one-time
recovery codes for a lost device.

Everything is a record of the ledger's audit chain (`ledger.store.audit`), like the
sign-ins themselves: `two_factor_set` holds the sign-in's key and the Argon2id hashes of
its recovery codes (turning it on again replaces both), `two_factor_removed` turns it
off, `two_factor_code_used` and `recovery_code_used` record each second step passed (a
code's time step is never accepted twice, a recovery code only once). Turning it on or
off ends every session of the sign-in, as a new password does. A wrong code counts in the
sign-in rate limit exactly as a wrong password does (`access.check_limit`).

A deployment may require it for some kinds of role (`ledger serve --require-two-factor
council provider auditor`): a sign-in with such a role and no two-factor must set it up
before it may read anything. Everyone else signs in as before.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from ledger.app import access
from ledger.app.access import User
from ledger.app.two_factor_state import (  # noqa: F401 (the record kinds, for callers)
    CODE_USED,
    RECOVERY_CODE_USED,
    TWO_FACTOR_REMOVED,
    TWO_FACTOR_SET,
    State,
    is_on,
)
from ledger.app.two_factor_state import state as _state
from ledger.errors import UsageError
from ledger.store import audit

ROLE_KINDS = ("council", "provider", "auditor", "holder", "pool")
PENDING = dt.timedelta(minutes=5)  # password right, code still to come
ENROL = dt.timedelta(minutes=15)  # password right, two-factor still to be set up
STEP = 30  # seconds a code lasts (RFC 6238's default, every app's)
DIGITS = 6
RECOVERY_CODES = 10
# Recovery codes: 10 characters from 30 that cannot be mistaken for each other (no 0/o,
# 1/l/i), about 49 bits each, written in two groups of five.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY = re.compile(rf"^[{_ALPHABET}]{{10}}$")


def seconds() -> float:
    """Now, in seconds since 1970 (UTC): the clock codes are reckoned by."""
    return time.time()


def _recovery_hasher():
    """Argon2id at OWASP's second recommended setting (19 MiB, 2 passes): a recovery code
    is random (49 bits), not a person's choice, and a wrong one is checked against every
    unused code, so the password's heavier setting would cost ten times over."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def check_kinds(kinds: Iterable[str]) -> frozenset[str]:
    """`--require-two-factor ROLE...`: role kinds, or exit 2 with one line."""
    found = frozenset(kinds)
    for kind in sorted(found):
        if kind not in ROLE_KINDS:
            raise UsageError(f"--require-two-factor {kind[:60]!r}: give a kind of role: "
                             f"{', '.join(ROLE_KINDS)}")
    return found


def required(user: User, kinds: Iterable[str]) -> bool:
    """Does the deployment require two-factor sign-in of this user (any of its roles)?"""
    kinds = frozenset(kinds)
    return any(role.split(":", 1)[0] in kinds for role in user.roles)


# ---------------------------------------------------------------- codes


def new_key() -> str:
    """A new secret key (160 bits, base 32, as authenticator apps take it)."""
    import pyotp

    return pyotp.random_base32()


def key_uri(key: str, username: str, ledger: str) -> str:
    """The otpauth:// address a QR code carries: the app names it `care-ledger (ledger)`
    and the username."""
    import pyotp

    issuer = "care-ledger" if ledger == "main" else f"care-ledger ({ledger})"
    return pyotp.TOTP(key).provisioning_uri(name=username, issuer_name=issuer)


def qr_code(uri: str) -> str:
    """The QR code of `uri` as an SVG data: address (made here, nothing fetched)."""
    import segno

    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#0b0c0c",
                                                   light="#ffffff")


def spaced(key: str) -> str:
    """The key in groups of four, for a person to read and type."""
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


def _digits(code: str) -> str:
    return re.sub(r"[\s-]", "", code)[:20]


def _step_of(key: str, code: str, at: float) -> int | None:
    """The time step (the one before, now or the one after, for a clock a little out)
    whose code is `code`; None if none is."""
    import pyotp

    code = _digits(code)
    if not re.fullmatch(rf"\d{{{DIGITS}}}", code):
        return None
    totp = pyotp.TOTP(key)
    now_step = int(at) // STEP
    found = None
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _new_recovery_codes() -> list[str]:
    return ["".join(secrets.choice(_ALPHABET) for _ in range(10))
            for _ in range(RECOVERY_CODES)]


def shown(code: str) -> str:
    """A recovery code as shown: two groups of five."""
    return f"{code[:5]}-{code[5:]}"


def _recovery_place(state: State, code: str) -> int | None:
    """The place of the unused recovery code `code`, or None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    code = _digits(code).lower()
    if not _RECOVERY.match(code):
        return None
    hasher = _recovery_hasher()
    for place, hashed in enumerate(state.recovery):
        if place in state.used:
            continue
        try:
            hasher.verify(hashed, code)
        except (VerificationError, InvalidHashError):
            continue
        return place
    return None


# ---------------------------------------------------------------- signing in


@dataclass(frozen=True)
class Pending:
    """A password checked, a second step still to come. It grants nothing: the web view
    keeps it in the browser's signed cookie and it ends after PENDING (or ENROL)."""

    uid: int
    seq: int  # the sign-in's newest password or roles record: a change voids it
    step: str  # "code" (two-factor is on) or "enrol" (required, not yet set up)
    started: float  # seconds() when the password was checked

    def expired(self, at: float) -> bool:
        limit = PENDING if self.step == "code" else ENROL
        return not 0 <= at - self.started < limit.total_seconds()


def after_password(books, user: User, require: Iterable[str]) -> Pending | None:
    """What a right password leads to: None (sign in now: no two-factor, not required),
    or the step still to come."""
    with books.read() as store:
        conn, lid = store.conn, store.lid
        sign_in = access._state(conn, lid, user.id)
        if sign_in is None or sign_in.removed:
            return None
        if is_on(conn, lid, user.id):
            step = "code"
        elif required(user, require):
            step = "enrol"
        else:
            return None
        return Pending(user.id, sign_in.changed_seq, step, seconds())


def _pending_sign_in(conn: Connection, lid: int, pending: Pending, at: float
                     ) -> access.SignIn | None:
    """The sign-in a pending step is for, while it still holds: not expired, not removed,
    no new password or roles since."""
    if pending.expired(at):
        return None
    found = access._state(conn, lid, pending.uid)
    if found is None or found.removed or found.changed_seq != pending.seq:
        return None
    return found


def pending_user(books, pending: Pending) -> User | None:
    """The user a pending step is for, if it still holds (for showing its page)."""
    with books.read() as store:
        found = _pending_sign_in(store.conn, store.lid, pending, seconds())
        return found.user() if found else None


def second_step(books, pending: Pending, code: str, address: str,
                recovery: bool = False) -> User | None:
    """Complete a sign-in with the code from the app (or a recovery code, which is then
    spent): the user, or None after counting the failure (`access.TooManyAttempts`, with
    nothing checked, past the rate limit). A code's time step is accepted only once.
    A recovery code is checked (Argon2) with no transaction open, as a password is, and
    counts as a failure until it is found right."""
    at, when = seconds(), access.now()
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _pending_sign_in(conn, lid, pending, at)
        state = _state(conn, lid, found.id) if found is not None else None
        if found is None or state is None or pending.step != "code":
            return None
        access.check_limit(conn, lid, found.username, address, when)
        access.count_failure(conn, lid, found.username, address, when)
        if not recovery:
            step = _step_of(state.secret, code, at)
            if step is None or step <= state.last_step:
                return None
            access.uncount_failure(conn, lid, found.username, address, when)
            audit.append(conn, lid, CODE_USED, user_id=found.id, key=found.username,
                         body={"step": step})
            access.clear_failures(conn, lid, found.username)
            return found.user()
    place = _recovery_place(state, code)
    if place is None:
        return None
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = _pending_sign_in(conn, lid, pending, seconds())
        now = _state(conn, lid, pending.uid)
        if found is None or now is None or now.seq != state.seq or place in now.used:
            return None  # changed meanwhile, or the code spent by a sign-in racing this
        access.uncount_failure(conn, lid, found.username, address, when)
        audit.append(conn, lid, RECOVERY_CODE_USED, user_id=found.id, key=found.username,
                     body={"index": place, "left": now.recovery_left - 1})
        access.clear_failures(conn, lid, found.username)
        return found.user()


# ---------------------------------------------------------------- turning it on and off


def _confirm(books, uid: int, key: str, code: str, address: str, at: float,
             pending: Pending | None) -> tuple[access.SignIn, int] | None:
    """The sign-in and the step of a right code from the new key (None after counting a
    wrong one); `pending`, when setting up right after the password, must still hold."""
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        found = (access._state(conn, lid, uid) if pending is None
                 else _pending_sign_in(conn, lid, pending, at))
        if found is None or found.removed:
            return None
        access.check_limit(conn, lid, found.username, address, access.now())
        step = _step_of(key, code, at)
        if step is None:
            access.count_failure(conn, lid, found.username, address, access.now())
            return None
        return found, step


def _set(books, uid: int, seq: int, key: str, step: int, pending: Pending | None
         ) -> tuple[User, list[str]] | None:
    """Record the key and ten new recovery codes (hashed before the transaction, so no
    lock is held while Argon2 works), ending every session of the sign-in; None if the
    sign-in changed meanwhile."""
    codes = _new_recovery_codes()
    hasher = _recovery_hasher()
    hashes = [hasher.hash(c) for c in codes]
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = access._state(conn, lid, uid)
        if found is None or found.removed or found.changed_seq != seq:
            return None
        if pending is not None and is_on(conn, lid, uid):
            return None  # set up meanwhile in another browser
        access._end_sessions(conn, lid, found, "two-factor turned on")
        audit.append(conn, lid, TWO_FACTOR_SET, user_id=uid, key=found.username, body={
            "secret": key, "recovery": hashes, "step": step, "via": "web"})
        access.clear_failures(conn, lid, found.username)
        return found.user(), [shown(c) for c in codes]


def turn_on(books, user: User, key: str, code: str, address: str) -> list[str] | None:
    """A signed-in user sets up two-factor (or a new device: it replaces the old key and
    codes) with the key they were shown and a code their app made from it. The ten new
    recovery codes, to show once; None after counting a wrong code. Every session of the
    user ends (the page starts a new one for the browser that did it)."""
    confirmed = _confirm(books, user.id, key, code, address, seconds(), None)
    if confirmed is None:
        return None
    done = _set(books, user.id, confirmed[0].changed_seq, key, confirmed[1], None)
    return done[1] if done else None


def enrol(books, pending: Pending, key: str, code: str, address: str
          ) -> tuple[User, list[str]] | None:
    """A sign-in that must have two-factor sets it up right after its password: the user
    and the recovery codes (the sign-in is then complete), or None (a wrong code, counted;
    or the pending step no longer holds)."""
    if pending.step != "enrol":
        return None
    confirmed = _confirm(books, pending.uid, key, code, address, seconds(), pending)
    if confirmed is None:
        return None
    return _set(books, pending.uid, pending.seq, key, confirmed[1], pending)


def turn_off(books, user: User, code: str, address: str) -> bool:
    """A signed-in user turns two-factor off with a current code from their app. False
    after counting a wrong code. Every session of the user ends."""
    at, when = seconds(), access.now()
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = access._state(conn, lid, user.id)
        state = _state(conn, lid, user.id)
        if found is None or found.removed or state is None:
            return False
        access.check_limit(conn, lid, found.username, address, when)
        step = _step_of(state.secret, code, at)
        if step is None or step <= state.last_step:
            access.count_failure(conn, lid, found.username, address, when)
            return False
        audit.append(conn, lid, CODE_USED, user_id=found.id, key=found.username,
                     body={"step": step})
        access._end_sessions(conn, lid, found, "two-factor turned off")
        audit.append(conn, lid, TWO_FACTOR_REMOVED, user_id=found.id, key=found.username,
                     body={"via": "web"})
        return True


@dataclass(frozen=True)
class Status:
    on: bool
    since: dt.datetime | None = None
    recovery_left: int = 0


def status_of(books, user: User) -> Status:
    with books.read() as store:
        state = _state(store.conn, store.lid, user.id)
    return Status(True, state.since, state.recovery_left) if state else Status(False)


def status(books, username: str) -> Status:
    """`ledger user two-factor U`: on or off, since when, recovery codes left."""
    return status_of(books, access.sign_in_named(books, username))


def reset(books, username: str) -> int:
    """`ledger user two-factor U --off`: an administrator turns it off for someone who
    lost their device (a `two_factor_removed` record); every session of the sign-in ends.
    The number of sessions ended."""
    with books.begin() as store:
        conn, lid = store.conn, store.lid
        audit.lock(conn, lid)
        found = access._live(conn, lid, username)
        if not is_on(conn, lid, found.id):
            raise UsageError(f"{username} does not have two-factor sign-in on")
        ended = access._end_sessions(conn, lid, found, "two-factor reset")
        audit.append(conn, lid, TWO_FACTOR_REMOVED, user_id=found.id, key=username,
                     body=access._by())
        return ended


def needs_enrolment(books, user: User, require: Iterable[str]) -> bool:
    """A signed-in user whose roles require two-factor and who has not set it up (a
    session from before the requirement): they may only set it up or sign out."""
    if not required(user, require):
        return False
    with books.read() as store:
        return not is_on(store.conn, store.lid, user.id)
