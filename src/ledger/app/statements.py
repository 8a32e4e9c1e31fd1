"""One statement, whoever asks (docs/statements.md#one-door): `statement(books, kind, id,
period, reader)` is what `ledger statement holder|pool|provider|council`, the web view's
statement pages and the bulk writer (`ledger statement holders`) all call.

It gives a `Statement`: the data (the JSON output), the document people read, and the
version the reader gets by default. The reader is who reads: `Operator` for the person
at the command line, who may read everything and names a pool member's own copy with
`--member`; a signed-in web user's `Scope` (their roles), which may read only their own
statements and reads a pool as its member when they are one. What a reader may not read
is `NotReadable`, the same as what is not there. An id the ledger has never seen is a
`UsageError` from `ledger.app.reading.known` ("holder 'X' is not in ledger 'main'").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from ledger.app.reading import known
from ledger.core.calendar import month_bounds, month_of
from ledger.errors import UsageError
from ledger.reports.bulk import holder_statements, holders_for

KINDS = ("holder", "pool", "provider", "council")
FORMATS = ("json", "html", "pdf")  # of the bulk writer's files


class NotReadable(UsageError):
    """Not this reader's to read, or not there: the one answer for both."""


@dataclass(frozen=True)
class Period:
    """The days a statement covers, first and last included."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise UsageError(f"--to {self.last} is before --from {self.first}")

    @classmethod
    def of_month(cls, month: str) -> Period:
        """The calendar month YYYY-MM (years as any date); ValueError if it is not one."""
        return cls(*month_bounds(month))

    @property
    def month(self) -> str:
        """YYYY-MM of the first day: a provider's month end is for one month."""
        return month_of(self.first)


class _View(Protocol):
    def may_read(self, kind: str, ident: str) -> bool: ...

    def own_member(self, pool: str) -> tuple[str | None, bool]: ...


class Reader(Protocol):
    def view(self, store, on: dt.date) -> _View: ...


@dataclass(frozen=True)
class Operator:
    """The person at the command line: may read every statement. `member` asks for a pool
    member's own copy (`--member H`): H must be a member, else a UsageError."""

    member: str | None = None

    def view(self, store, on: dt.date) -> Operator:
        return self

    def may_read(self, kind: str, ident: str) -> bool:
        return True

    def own_member(self, pool: str) -> tuple[str | None, bool]:
        return self.member, True


class Statement:
    """One statement: its data, its document (built when first asked for) and the
    version its reader gets unless they ask for another."""

    def __init__(self, kind: str, ident: str, period: Period, data: dict,
                 build: Callable[[], object], preference: str | None) -> None:
        self.kind, self.ident, self.period, self.data = kind, ident, period, data
        self._build = build
        self.preference = preference

    @cached_property
    def document(self):
        return self._build()

    def version(self, asked: str | None = None) -> str:
        """The version asked for, else the reader's recorded one, else standard."""
        from ledger.reports.html import version_for

        return version_for(self.preference, asked)

    def render(self, fmt: str, version: str) -> bytes:
        """The file: JSON is the data; text, HTML and PDF the document in `version`."""
        from ledger.reports.html import render_statement

        return render_statement(self.document, self.data, fmt, version)


def statement(books, kind: str, ident: str, period: Period, reader: Reader) -> Statement:
    """The statement of holder, pool, provider or council `ident` over `period`, as
    `reader` may read it (raises `NotReadable` otherwise)."""
    if kind not in KINDS:
        raise NotReadable(f"there are no statements of kind {kind!r}")
    with books.read() as store:
        view = reader.view(store, period.last)
        if not view.may_read(kind, ident):
            raise NotReadable(f"{kind} {ident!r} is not there for this reader")
        known(store, kind, ident)
        return _BUILDERS[kind](store, ident, period, view)


def _holder(store, holder: str, period: Period, view: _View) -> Statement:
    from ledger.reports.statements import holder_statement

    return holder_of(holder_statement(store, holder, period.first, period.last), period)


def holder_of(data: dict, period: Period) -> Statement:
    """A person's statement from its data (one person's, or one of many read at once),
    in the person's recorded format by default."""
    from ledger.reports.holder_doc import holder_document

    return Statement("holder", data["holder"], period, data, lambda: holder_document(data),
                     data.get("statement_format"))


def _pool(store, pool: str, period: Period, view: _View) -> Statement:
    """The shared copy, or a member's own: it says how they appear and marks their rows.
    A member asked for by name must be one; a web member not in the period's statement
    reads the shared copy."""
    from ledger.reports.pool_doc import label_for, pool_document
    from ledger.reports.statements import pool_statement_from_store

    data = pool_statement_from_store(store, pool, period.first, period.last)
    member, strict = view.own_member(pool)
    label = preference = None
    if member is not None:
        parties = store.parties("holder", as_of=period.last)
        state = store.get_state("pool", pool) or {}
        if strict and (member not in parties or member not in {
                p["holder"] for p in state.get("history", [])}):
            raise UsageError(f"--member {member}: not a member of pool {pool}")
        preference = (parties.get(member) or {}).get("statement_format")
        try:
            label = label_for(state, parties, member)
        except ValueError:
            if strict:
                raise

    def document():
        try:
            return pool_document(data, member_label=label)
        except ValueError as err:
            if strict:
                raise UsageError(f"--member {member}: {err}") from None
            return pool_document(data)

    return Statement("pool", pool, period, data, document, preference)


def _provider(store, provider: str, period: Period, view: _View) -> Statement:
    from ledger.reports.provider_statement import provider_document, provider_statement

    data = provider_statement(store, provider, period.month)
    return Statement("provider", provider, period, data, lambda: provider_document(data), None)


def _council(store, council: str, period: Period, view: _View) -> Statement:
    from ledger.reports.council_doc import council_document
    from ledger.reports.council_statement import council_statement

    data = council_statement(store, council, period.first, period.last)
    return Statement("council", council, period, data, lambda: council_document(data), None)


_BUILDERS = {"holder": _holder, "pool": _pool, "provider": _provider, "council": _council}


# ---------------------------------------------------------------- the web's reader


class Scope:
    """A signed-in user's roles as a reader (docs/web.md#roles). For one request and one
    day it answers yes or no per page, never why, so a page that is not yours and a page
    that does not exist get the same answer:

    - `holder:H`: H's own statements.
    - `pool:L`: pool L's shared statement (others by pseudonym unless they consented);
      with a `holder:H` role for a member H, it is H's own copy.
    - `provider:P`: P's month end, and the statements of the people whose ISF P holds.
    - `council:C`: C's overview, its own people's statements (holders whose record names
      C), and the pools with one of its people as a member.
    - `auditor`: everything.
    """

    def __init__(self, roles: Iterable[str]) -> None:
        roles = set(roles)
        self.auditor = "auditor" in roles
        self.holders, self.pools, self.providers, self.councils = (
            {r.split(":", 1)[1] for r in roles if r.startswith(kind + ":")}
            for kind in ("holder", "pool", "provider", "council"))

    def view(self, store, on: dt.date) -> _ScopeView:
        return _ScopeView(self, store, on)


class _ScopeView:
    """What the answers need from the ledger (the people of the reader's councils, the
    people whose ISFs its providers hold) is read once, one query per kind, however many
    pages or links it answers for."""

    def __init__(self, scope: Scope, store, on: dt.date) -> None:
        self.scope, self.store, self.on = scope, store, on

    @cached_property
    def _parties(self) -> dict[str, dict]:
        return self.store.parties("holder", as_of=self.on)

    @cached_property
    def council_people(self) -> set[str]:
        """Holders whose record on the day names one of the reader's councils."""
        if not self.scope.councils:
            return set()
        return {hid for hid, p in self._parties.items()
                if p.get("council") in self.scope.councils}

    @cached_property
    def provider_people(self) -> set[str]:
        """Holders of an ISF one of the reader's providers holds."""
        if not self.scope.providers:
            return set()
        return {state["holder"] for state in self.store.states("isf").values()
                if state.get("provider") in self.scope.providers}

    @cached_property
    def _pools(self) -> dict[str, dict]:
        return self.store.states("pool")

    def _members(self, pool: str) -> set[str]:
        return {period["holder"] for period in (self._pools.get(pool) or {}).get("history", [])}

    def may_read(self, kind: str, ident: str) -> bool:
        s = self.scope
        if kind == "holder":
            return ident in self._parties and (
                s.auditor or ident in s.holders or ident in self.council_people
                or ident in self.provider_people)
        if kind == "pool":
            return ident in self._pools and (
                s.auditor or ident in s.pools or bool(self._members(ident) & self.council_people))
        if kind in ("provider", "council"):
            return self.store.party(kind, ident) is not None and (
                s.auditor or ident in (s.providers if kind == "provider" else s.councils))
        return False

    def own_member(self, pool: str) -> tuple[str | None, bool]:
        """The member whose own copy this reader reads (a holder role for one of the
        pool's members, given with the pool role), and False: a member not in the
        period's statement reads the shared copy instead."""
        if pool not in self.scope.pools:
            return None, False
        mine = sorted(self.scope.holders & self._members(pool))
        return (mine[0] if mine else None), False

    def may_invite(self, role: str) -> bool:
        """A council may invite its own people, their pools and its own staff; a provider
        its own staff and the people whose ISF it holds; an auditor anyone."""
        s = self.scope
        if s.auditor:
            return True
        kind, _, ident = role.partition(":")
        if kind in ("council", "provider"):
            return ident in (s.councils if kind == "council" else s.providers)
        if kind == "holder":
            return ident in self.council_people or ident in self.provider_people
        if kind == "pool":
            return bool(s.councils) and self.may_read("pool", ident)
        return False  # only an auditor makes an auditor


def readable(books, reader: Reader, on: dt.date) -> list[tuple[str, str, str]]:
    """(kind, id, name) of everything `reader` may read on a day, each kind sorted by id:
    holders, pools, providers, councils."""
    with books.read() as store:
        view = reader.view(store, on)
        found = [("holder", hid, p.get("name") or hid)
                 for hid, p in sorted(store.parties("holder", as_of=on).items())]
        found += [("pool", ref, s.get("name") or ref)
                  for ref, s in sorted(store.states("pool").items())]
        for kind in ("provider", "council"):
            found += [(kind, pid, p.get("name") or pid)
                      for pid, p in sorted(store.parties(kind, as_of=on).items())]
        return [row for row in found if view.may_read(row[0], row[1])]


# ---------------------------------------------------------------- many at once


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


def holder_files(books, period: Period, fmt: str, out_dir: Path, *,
                 council: str | None = None, provider: str | None = None,
                 progress: Callable[[int], AbstractContextManager] | None = None) -> int:
    """`ledger statement holders`: a file for every person of `council` or `provider`
    (docs/statements.md#many). `progress(n)`, if given, is a context manager told of
    each file as it is written."""
    with books.read() as store:
        for kind, ident in (("council", council), ("provider", provider)):
            if ident is not None:
                known(store, kind, ident)
        holders = holders_for(store, council=council, provider=provider,
                              month_end=period.last)
        with (progress(len(holders)) if progress else nullcontext()) as bar:
            return write_holder_statements(store, holders, period.first, period.last, fmt,
                                           out_dir, progress=bar)


def write_holder_statements(store, holders: Iterable[str], start: dt.date, end: dt.date,
                            fmt: str, out_dir: Path, progress: Progress | None = None) -> int:
    """One file per holder in `out_dir` (created if missing), `{holder}.{fmt}`, byte for
    byte what `ledger statement holder H --format fmt` writes, in each person's recorded
    version; returns how many. The people are read a chunk at a time
    (ledger.reports.bulk). Every holder is checked before anything is written; each file
    is whole or not there, so a failure part way leaves whole files and no partial one."""
    import re

    from ledger.files import write_whole

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: give json, html or pdf")
    period = Period(start, end)
    holders = list(dict.fromkeys(holders))
    parties = store.parties("holder", as_of=end)
    for holder in holders:  # a party id (core.journal.PARTY_ID): a safe file name
        if holder not in parties or not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", holder):
            raise UsageError(f"holder {holder!r} is not in this ledger")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for data in holder_statements(store, holders, start, end, parties):
        one = holder_of(data, period)
        content = one.render(fmt, one.version())
        write_whole(out_dir / f"{one.ident}.{fmt}", lambda out, c=content: out.write(c),
                    binary=True)
        written += 1
        if progress is not None:
            progress.advance()
    return written


__all__ = ["KINDS", "NotReadable", "Operator", "Period", "Scope", "Statement", "holder_files",
           "holder_of", "holder_statements", "holders_for", "readable", "statement",
           "write_holder_statements"]
