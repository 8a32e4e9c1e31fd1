"""Who may read a person's records (docs/web.md#who-may-read): `ledger user readers
--holder H` answers an information governance lead's first question from the same rules
the web view applies (`ledger.app.statements.Scope`), never a second copy of them.

For each sign-in not removed, every statement that holds something of H's, with the days
on which that sign-in may read it *and* H is in it:

- H's own statement (`holder H`), all of it about H;
- each ISF statement of H's (`isf H:P`), all of it about H;
- each pool H was a member of, for the days H was a member;
- each provider's month end for a provider H had an ISF with, for the days it was open;
- each council's overview for a council H's records named, for the days they named it.

What they have read is the access log's answer (`ledger access-log --holder H`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ledger.app import access
from ledger.app.dated import (
    EVER,
    Span,
    isf_spans,
    meet,
    member_spans,
    record_spans,
)
from ledger.app.reading import known
from ledger.app.statements import Scope


@dataclass(frozen=True)
class Reader:
    """One sign-in's reach into one statement holding something of the person's."""

    user_id: int
    username: str
    roles: tuple[str, ...]
    open_sessions: int
    kind: str
    ident: str
    spans: tuple[Span, ...]  # the days, first and last included; EVER for every day


def _concerning(store, holder: str) -> list[tuple[str, str, list[Span]]]:
    """(kind, id, the days it holds something of `holder`'s) of each statement that does."""
    found: list[tuple[str, str, list[Span]]] = [("holder", holder, [EVER])]
    providers = sorted(ref.partition(":")[2] for ref in store.states("isf")
                       if ref.partition(":")[0] == holder)
    for provider in providers:
        found.append(("isf", f"{holder}:{provider}", [EVER]))
    for pool, state in sorted(store.states("pool").items()):
        spans = [span for _, span in member_spans(state, holder)]
        if spans:
            found.append(("pool", pool, spans))
    for provider in providers:
        found.append(("provider", provider, isf_spans(store, holder, provider)))
    councils: dict[str, list[Span]] = {}
    for span, record in record_spans(store, "holder", holder):
        if record.get("council"):
            councils.setdefault(record["council"], []).append(span)
    for council, spans in sorted(councils.items()):
        found.append(("council", council, spans))
    return found


def readers_of(books, holder: str, on: dt.date | None = None) -> list[Reader]:
    """Every sign-in that may read something of `holder`'s, and what, for which days
    (exit 2 with one line if the ledger has never seen `holder`)."""
    on = on or access.now().date()
    sign_ins = access.sign_ins(books)
    found: list[Reader] = []
    with books.read() as store:
        known(store, "holder", holder)
        concerning = _concerning(store, holder)
        for sign_in, sessions in sign_ins:
            for kind, ident, reach in _reach(Scope(sign_in.roles).view(store, on),
                                             concerning):
                found.append(Reader(sign_in.id, sign_in.username, tuple(sign_in.roles),
                                    sessions, kind, ident, reach))
    return found


def _reach(view, concerning) -> list[tuple[str, str, tuple[Span, ...]]]:
    """(kind, id, days) of each statement concerning the person that `view` may read,
    with the days on which it may read it *and* the person is in it."""
    found = []
    for kind, ident, about in concerning:
        reach = sorted({both for span in view.spans(kind, ident) for part in about
                        if (both := meet(span, part)) is not None})
        if reach:
            found.append((kind, ident, tuple(reach)))
    return found


def invitations_reaching(books, holder: str, on: dt.date | None = None
                         ) -> list[tuple[access.Invitation, tuple[str, ...]]]:
    """Each open invitation whose roles would let the sign-in it makes read something of
    `holder`'s, with those statements (`kind id`): a link not yet used is access waiting
    to be taken (docs/web.md#who-may-read). `ledger user invitations --withdraw N`
    withdraws one."""
    on = on or access.now().date()
    found = []
    invitations = access.open_invitations(books)
    with books.read() as store:
        known(store, "holder", holder)
        concerning = _concerning(store, holder)
        for invitation in invitations:
            view = Scope(frozenset(invitation.roles)).view(store, on)
            reached = tuple(f"{kind} {ident}" for kind, ident, _ in _reach(view, concerning))
            if reached:
                found.append((invitation, reached))
    return found


def span_text(span: Span) -> str:
    """'every day', 'from 2026-04-01', 'until 2026-06-30' or '2026-04-01 to 2026-06-30'."""
    start, end = span
    if span == EVER:
        return "every day"
    if start == dt.date.min:
        return f"until {end.isoformat()}"
    if end == dt.date.max:
        return f"from {start.isoformat()}"
    return f"{start.isoformat()} to {end.isoformat()}"


__all__ = ["Reader", "invitations_reaching", "readers_of", "span_text"]
