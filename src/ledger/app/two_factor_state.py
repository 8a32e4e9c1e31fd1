"""A sign-in's two-factor as its audit records say (docs/web.md#two-factor): the record
kinds and the state they add up to. Apart from `ledger.app.two_factor`, which holds the
rules, so the sign-in itself (`ledger.app.access`) can ask whether a code is still to
come without the two importing each other."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ledger.store import audit

TWO_FACTOR_SET = "two_factor_set"
TWO_FACTOR_REMOVED = "two_factor_removed"
CODE_USED = "two_factor_code_used"
RECOVERY_CODE_USED = "recovery_code_used"
_KINDS = (TWO_FACTOR_SET, TWO_FACTOR_REMOVED, CODE_USED, RECOVERY_CODE_USED)


@dataclass
class State:
    """A sign-in's two-factor as its records say (`state` is None when it is off)."""

    secret: str
    since: dt.datetime
    seq: int
    recovery: list[str]  # Argon2id hashes, in the order they were shown
    used: set[int] = field(default_factory=set)  # recovery codes spent (their places)
    last_step: int = -1  # the newest code's time step accepted

    @property
    def recovery_left(self) -> int:
        return len(self.recovery) - len(self.used)


def state(conn: Connection, lid: int, uid: int) -> State | None:
    """The sign-in's two-factor, or None when it is off (never set, or turned off)."""
    found: State | None = None
    for r in audit.records(conn, lid, kinds=_KINDS, user_id=uid):
        if r.kind == TWO_FACTOR_SET:
            found = State(r.body["secret"], r.at, r.seq, list(r.body["recovery"]),
                          last_step=r.body["step"])
        elif r.kind == TWO_FACTOR_REMOVED:
            found = None
        elif found is None:
            continue
        elif r.kind == CODE_USED:
            found.last_step = max(found.last_step, r.body["step"])
        elif r.kind == RECOVERY_CODE_USED:
            found.used.add(r.body["index"])
    return found


def is_on(conn: Connection, lid: int, uid: int) -> bool:
    """Is a code asked for after this sign-in's password?"""
    return state(conn, lid, uid) is not None
