"""Who may read what (docs/web.md#roles). One question per kind of page; each answers
yes or no from the user's roles and the ledger, never why: a page that is not yours and a
page that does not exist get the same answer.

- `holder:H`: H's own statements.
- `pool:L`: pool L's shared statement (others by pseudonym unless they consented); with
  a `holder:H` role for a member H, it is H's own copy.
- `provider:P`: P's month end, and the statements of the people whose ISF P holds.
- `council:C`: C's overview, its own people's statements (holders whose record names C),
  and the pools with one of its people as a member.
- `auditor`: everything.

A `Reader` is made per request: what it needs from the ledger (the people of the
reader's councils, the people whose ISFs the reader's providers hold) is read once, with
one query per kind, however many pages or links it answers for.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

from ledger.store.repo import DbStore
from ledger.web.users import User


def can_invite(user: User) -> bool:
    """Councils, providers and auditors may invite people (`Reader.may_invite` says whom)."""
    return any(r == "auditor" or r.startswith(("council:", "provider:")) for r in user.roles)


def _ids(user: User, kind: str) -> set[str]:
    return {role.split(":", 1)[1] for role in user.roles if role.startswith(kind + ":")}


class Reader:
    def __init__(self, store: DbStore, user: User, on: dt.date) -> None:
        self.store, self.user, self.on = store, user, on
        self.auditor = "auditor" in user.roles
        self.holders = _ids(user, "holder")
        self.pools = _ids(user, "pool")
        self.providers = _ids(user, "provider")
        self.councils = _ids(user, "council")

    @cached_property
    def _parties(self) -> dict[str, dict]:
        return self.store.parties("holder", as_of=self.on)

    @cached_property
    def council_people(self) -> set[str]:
        """Holders whose record on the day names one of the reader's councils."""
        if not self.councils:
            return set()
        return {hid for hid, p in self._parties.items() if p.get("council") in self.councils}

    @cached_property
    def provider_people(self) -> set[str]:
        """Holders of an ISF one of the reader's providers holds."""
        if not self.providers:
            return set()
        return {state["holder"] for state in self.store.states("isf").values()
                if state.get("provider") in self.providers}

    @cached_property
    def _pools(self) -> dict[str, dict]:
        return self.store.states("pool")

    def members(self, pool: str) -> set[str]:
        state = self._pools.get(pool) or {}
        return {period["holder"] for period in state.get("history", [])}

    # ---------------------------------------------------------------- the questions

    def holder(self, holder: str) -> bool:
        if holder not in self._parties:
            return False
        return (self.auditor or holder in self.holders or holder in self.council_people
                or holder in self.provider_people)

    def pool(self, pool: str) -> bool:
        if pool not in self._pools:
            return False
        return (self.auditor or pool in self.pools
                or bool(self.members(pool) & self.council_people))

    def own_member(self, pool: str) -> str | None:
        """The member whose own copy this reader reads: a holder role for one of the
        pool's members, given with the pool role."""
        if pool not in self.pools:
            return None
        mine = sorted(self.holders & self.members(pool))
        return mine[0] if mine else None

    def provider(self, provider: str) -> bool:
        if self.store.party("provider", provider) is None:
            return False
        return self.auditor or provider in self.providers

    def council(self, council: str) -> bool:
        if self.store.party("council", council) is None:
            return False
        return self.auditor or council in self.councils

    def may_invite(self, role: str) -> bool:
        """A council may invite its own people, their pools and its own staff; a provider
        its own staff and the people whose ISF it holds; an auditor anyone."""
        if self.auditor:
            return True
        kind, _, ident = role.partition(":")
        if kind == "council":
            return ident in self.councils
        if kind == "provider":
            return ident in self.providers
        if kind == "holder":
            return ident in self.council_people or ident in self.provider_people
        if kind == "pool":
            return bool(self.councils) and self.pool(ident)
        return False  # only an auditor makes an auditor
