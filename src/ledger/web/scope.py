"""Who may read what (docs/web.md#roles). One function per kind of page; each answers
yes or no from the user's roles and the ledger, never why: a page that is not yours and a
page that does not exist get the same answer.

- `holder:H`: H's own statements.
- `pool:L`: pool L's shared statement (others by pseudonym unless they consented); with
  a `holder:H` role for a member H, it is H's own copy.
- `provider:P`: P's month end, and the statements of the people whose ISF P holds.
- `council:C`: C's overview, its own people's statements (holders whose record names C),
  and the pools with one of its people as a member.
- `auditor`: everything.
"""

from __future__ import annotations

import datetime as dt

from ledger.store.repo import DbStore
from ledger.web.users import User


def _ids(user: User, kind: str) -> set[str]:
    return {role.split(":", 1)[1] for role in user.roles if role.startswith(kind + ":")}


def holders_of_provider(store: DbStore, provider: str) -> set[str]:
    holders = set()
    for ref in store.state_refs("isf"):
        state = store.get_state("isf", ref) or {}
        if state.get("provider") == provider:
            holders.add(state["holder"])
    return holders


def may_read_holder(store: DbStore, user: User, holder: str, on: dt.date) -> bool:
    if "auditor" in user.roles or holder in _ids(user, "holder"):
        return True
    councils = _ids(user, "council")
    if councils:
        party = store.party("holder", holder, as_of=on)
        if party is not None and party.get("council") in councils:
            return True
    return any(holder in holders_of_provider(store, p) for p in _ids(user, "provider"))


def pool_members(store: DbStore, pool: str) -> set[str]:
    state = store.get_state("pool", pool) or {}
    return {period["holder"] for period in state.get("history", [])}


def may_read_pool(store: DbStore, user: User, pool: str, on: dt.date) -> bool:
    if store.get_state("pool", pool) is None:
        return False
    if "auditor" in user.roles or pool in _ids(user, "pool"):
        return True
    councils = _ids(user, "council")
    if councils:
        for member in pool_members(store, pool):
            party = store.party("holder", member, as_of=on)
            if party is not None and party.get("council") in councils:
                return True
    return False


def own_member(store: DbStore, user: User, pool: str) -> str | None:
    """The member whose own copy this user reads: a holder role for one of the pool's
    members, given with the pool role (docs/web.md#roles)."""
    if pool not in _ids(user, "pool"):
        return None
    mine = sorted(_ids(user, "holder") & pool_members(store, pool))
    return mine[0] if mine else None


def may_read_provider(store: DbStore, user: User, provider: str) -> bool:
    if store.party("provider", provider) is None:
        return False
    return "auditor" in user.roles or provider in _ids(user, "provider")


def may_read_council(store: DbStore, user: User, council: str) -> bool:
    if store.party("council", council) is None:
        return False
    return "auditor" in user.roles or council in _ids(user, "council")


def may_invite(user: User, role: str, store: DbStore, on: dt.date) -> bool:
    """A council may invite its own people, their pools and its own staff; a provider its
    own staff and the people whose ISF it holds; an auditor anyone."""
    if "auditor" in user.roles:
        return True
    kind, _, ident = role.partition(":")
    if kind == "council":
        return ident in _ids(user, "council")
    if kind == "provider":
        return ident in _ids(user, "provider")
    if kind == "holder":
        councils, providers = _ids(user, "council"), _ids(user, "provider")
        party = store.party("holder", ident, as_of=on)
        if party is not None and party.get("council") in councils:
            return True
        return any(ident in holders_of_provider(store, p) for p in providers)
    if kind == "pool":
        return bool(_ids(user, "council")) and may_read_pool(store, user, ident, on)
    return False  # only an auditor makes an auditor
