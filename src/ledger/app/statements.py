"""One statement, whoever asks (docs/statements.md#one-door): `statement(books, kind, id,
period, reader)` is what `ledger statement holder|pool|provider|council`, the web view's
statement pages and the bulk writer (`ledger statement holders`) all call.

It gives a `Statement`: the data (the JSON output), the document people read, and the
version the reader gets by default. The reader is who reads: `Operator` for the person
at the command line, who may read everything and names a pool member's own copy with
`--member`; a signed-in web user's `Scope` (their roles), which may read only what its
roles cover for the months they cover it (docs/web.md#roles) and reads a pool as its
member when they are one. What a reader may not read is `NotReadable`, the same as what
is not there. An id the ledger has never seen is a `UsageError` from
`ledger.app.reading.known` ("holder 'X' is not in ledger 'main'").

Every statement given is recorded in the access log (ledger.app.access_log) before it is
handed over: who read it, what, for which period, in which version and format.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, TypeVar, cast

from ledger.app import access_log
from ledger.app.dated import (
    EVER,
    Span,
    all_record_spans,
    covers,
    isf_spans,
    meet,
    member_spans,
    pool_span,
    record_spans,
)
from ledger.app.reading import known
from ledger.app.statement_cache import StatementCache, books_head
from ledger.core.calendar import month_bounds, month_of
from ledger.errors import UsageError
from ledger.reports.bulk import holder_statements, holders_for

# `isf` is a provider's statement of one ISF it holds, named `HOLDER:PROVIDER`.
KINDS = ("holder", "pool", "provider", "council", "isf")
FORMATS = ("json", "html", "pdf", "xlsx")  # of the bulk writer's files
CLI_FORMATS: tuple[str, ...] = ("text", "json", "html", "pdf", "xlsx")
WEB_FORMATS: tuple[str, ...] = ("html", "pdf", "xlsx")

_Made = TypeVar("_Made")  # what Statement.kept makes and keeps


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
    def may_read(self, kind: str, ident: str, period: Period | None = None) -> bool: ...

    def own_member(self, pool: str) -> tuple[str | None, bool]: ...


class Reader(Protocol):
    @property
    def formats(self) -> tuple[str, ...]: ...

    @property
    def key(self) -> Hashable: ...

    def view(self, store, on: dt.date) -> _View: ...

    def who(self) -> access_log.Who: ...


@dataclass(frozen=True)
class Operator:
    """The person at the command line: may read every statement. `member` asks for a pool
    member's own copy (`--member H`): H must be a member, else a UsageError. Their reads
    are logged under their operating-system user."""

    member: str | None = None
    formats: tuple[str, ...] = CLI_FORMATS

    @property
    def key(self) -> Hashable:
        """What decides what this reader is given: everything, as `member` if named."""
        return ("operator", self.member)

    def view(self, store, on: dt.date) -> Operator:
        return self

    def may_read(self, kind: str, ident: str, period: Period | None = None) -> bool:
        return True

    def own_member(self, pool: str) -> tuple[str | None, bool]:
        return self.member, True

    def who(self) -> access_log.Who:
        return access_log.command_line()


class Statement:
    """One statement: its data, its document (built when first asked for) and the
    version its reader gets unless they ask for another."""

    def __init__(self, kind: str, ident: str, period: Period, data: dict,
                 build: Callable[[], object], preference: str | None) -> None:
        self.kind, self.ident, self.period, self.data = kind, ident, period, data
        self._build = build
        self.preference = preference
        self.logged = True  # False: the access log could not be written (a read-only copy)
        self._kept: dict[Hashable, object] = {}  # shared by its copies (`given`)

    @cached_property
    def document(self):
        return self._build()

    def kept(self, key: Hashable, make: Callable[[], _Made]) -> _Made:
        """`make()`, made once for this statement and its copies: what is rendered from
        it (a file, a page's document) is the same every time."""
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = make()
        return cast(_Made, found)

    def given(self, logged: bool) -> Statement:
        """This statement as given to one more reader: the same data, document and
        files already rendered, with this read's own `logged`."""
        self.document  # noqa: B018 (built once, before the copies share it)
        one = copy.copy(self)
        one.logged = logged
        return one

    def version(self, asked: str | None = None) -> str:
        """The version asked for, else the reader's recorded one, else standard."""
        from ledger.reports.html import version_for

        return version_for(self.preference, asked)

    def render(self, fmt: str, version: str) -> bytes:
        """The file: JSON is the data; text, HTML and PDF the document in `version`."""
        from ledger.reports.html import render_statement

        return self.kept(("file", fmt, version), lambda: render_statement(  # type: ignore[return-value]
            self.document, self.data, fmt, version))


def statement(books, kind: str, ident: str, period: Period, reader: Reader, *,
              fmt: str = "json", version: str | None = None,
              cache: StatementCache | None = None) -> Statement:
    """The statement of holder, pool, provider, council or ISF (`HOLDER:PROVIDER`)
    `ident` over `period`, as `reader` may read it (raises `NotReadable` otherwise), to be
    given in format `fmt` and the version asked for (`version`; None: the reader's own).
    The read is recorded in the access log before the statement is returned, whether it
    was built now or taken from `cache` (the web view's: ledger.app.statement_cache),
    where it is kept under its kind, id, period, the reader's `key` and the books'
    chain head."""
    if kind not in KINDS or fmt not in reader.formats:
        raise NotReadable(f"there are no statements of kind {kind!r} as {fmt!r}")
    with books.read() as store:
        key = kept = None
        if cache is not None:  # the head first: what is built is never older than it
            key = (kind, ident, period, reader.key, books_head(store))
            kept = cache.get(key)
        if kept is None:
            view = reader.view(store, period.last)
            if not view.may_read(kind, ident, period):
                raise NotReadable(f"{kind} {ident!r} is not there for this reader")
            subject = _known(store, kind, ident)
            found = _BUILDERS[kind](store, ident, period, view)
            if cache is not None:
                kept = (found.given(True), subject)
                cache.put(key, kept)
        else:
            found, subject = kept
    logged = access_log.record(books, reader.who(), [access_log.Read(
        kind, ident, subject, period.first, period.last, fmt, found.version(version))])
    if kept is not None:
        return found.given(logged)
    found.logged = logged
    return found


def _known(store, kind: str, ident: str) -> str:
    """The access log's key for a statement whose id the ledger knows (else a
    UsageError): `holder:H` for a person's statement and for an ISF with them."""
    if kind != "isf":
        return f"{kind}:{known(store, kind, ident)}"
    holder, _, provider = ident.partition(":")
    known(store, "holder", holder)
    known(store, "provider", provider)
    if store.get_state("isf", ident) is None:
        raise UsageError(f"{provider} holds no ISF for {holder} in ledger "
                         f"{getattr(store, 'ledger', 'main')!r}")
    return f"holder:{holder}"


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


def _isf(store, ident: str, period: Period, view: _View) -> Statement:
    """A provider's statement of the ISF it holds for a person (docs/statements.md#isf):
    read from that ISF's account only."""
    from ledger.reports.isf_statement import isf_document, isf_statement

    holder, _, provider = ident.partition(":")
    data = isf_statement(store, holder, provider, period.first, period.last)
    return Statement("isf", ident, period, data, lambda: isf_document(data), None)


_BUILDERS = {"holder": _holder, "pool": _pool, "provider": _provider, "council": _council,
             "isf": _isf}


# ---------------------------------------------------------------- the web's reader


class Scope:
    """A signed-in user's roles as a reader (docs/web.md#roles). For one request it
    answers yes or no per page and period, never why, so a page that is not yours, a
    month that is not yours and a page that does not exist get the same answer. A reader
    may read a statement for a period when every month of it is a month in which the
    role covered it (on any day of the month):

    - `holder:H`: H's own statements, any month.
    - `pool:L`: pool L's shared statement; with a `holder:H` role for a member H, it is
      H's own copy, for the months H was a member; without one, for the months the pool
      existed.
    - `provider:P`: P's month end, and P's statement of each ISF it holds (kind `isf`,
      `H:P`), for the months that ISF was open (from each opening to its closing). Never
      a person's own statement.
    - `council:C`: C's overview; the statements of people recorded with C, for the
      months their record named C (the records as they stood then); and the pools with
      a member recorded with C, for the months the pool existed and had such a member.
    - `auditor`: everything.

    `who`, `user_id` and `address` say who reads, for the access log.
    """

    formats: tuple[str, ...] = WEB_FORMATS

    def __init__(self, roles: Iterable[str], who: str = "", user_id: int | None = None,
                 address: str | None = None) -> None:
        roles = set(roles)
        self.auditor = "auditor" in roles
        self.holders, self.pools, self.providers, self.councils = (
            {r.split(":", 1)[1] for r in roles if r.startswith(kind + ":")}
            for kind in ("holder", "pool", "provider", "council"))
        self.reader, self.user_id = who, user_id
        self.address = access_log.network(address)

    @property
    def key(self) -> Hashable:
        """What decides what this reader may read, and how (the statement cache's key):
        the roles, as this class reads them. Given the books, two readers with the same
        key may read the same statements for the same days and are given the same
        copies; who they are (`who`) only goes in the access log."""
        return ("scope", self.auditor, *(frozenset(found) for found in (
            self.holders, self.pools, self.providers, self.councils)))

    def view(self, store, on: dt.date) -> _ScopeView:
        """What the reader may read; `on` is today, for invitations (`may_invite`)."""
        return _ScopeView(self, store, on)

    def who(self) -> access_log.Who:
        return access_log.Who(via="web", reader=self.reader, user_id=self.user_id,
                              address=self.address)

    def opening_month(self, books, kind: str, ident: str, month: str) -> str:
        """The month a page opens on when none is asked for: `month` (the latest with
        something in it: ledger.app.months), or, when this reader may not read that
        month, the latest month before it they may read (else the first after it), so a
        link never opens on a refusal."""
        with books.read() as store:
            spans = self.view(store, dt.date.today()).spans(kind, ident)
        first, last = month_bounds(month)
        if not spans or covers(spans, first, last):
            return month
        before = [min(end, first - dt.timedelta(days=1)) for start, end in spans
                  if start < first]
        if before:
            return month_of(max(before))
        return month_of(min(start for start, _ in spans))


class _ScopeView:
    """What the answers need from the ledger (the records of the people, the ISFs, the
    pools) is read once, one query per kind, however many pages or links it answers for."""

    def __init__(self, scope: Scope, store, on: dt.date) -> None:
        self.scope, self.store, self.on = scope, store, on
        self._records: dict[str, list[tuple[Span, dict]]] = {}
        self._all_records = False

    def read_every_record(self) -> None:
        """Read every person's records in one query, for a caller about to ask about
        many people (the home page). Otherwise each person's are read when first asked
        about: a page about one person must not read all of them (at 2,000 people that
        was a third of a statement page's time)."""
        if not self._all_records:
            self._records = all_record_spans(self.store, "holder")
            self._all_records = True

    def _records_of(self, holder: str) -> list[tuple[Span, dict]] | None:
        """`holder`'s records, each with the days it was in force; None if the ledger
        has no record of them."""
        if holder not in self._records and not self._all_records:
            found = record_spans(self.store, "holder", holder)
            self._records[holder] = found
        return self._records.get(holder) or None

    @cached_property
    def _pools(self) -> dict[str, dict]:
        return self.store.states("pool")

    def _council_spans(self, holder: str) -> list[Span]:
        """The days `holder`'s record named one of the reader's councils."""
        if not self.scope.councils:
            return []
        return [span for span, record in self._records_of(holder) or []
                if record.get("council") in self.scope.councils]

    def spans(self, kind: str, ident: str) -> list[Span]:
        """The days on which the reader's roles cover statement `kind` `ident` (none if
        it does not exist)."""
        s = self.scope
        if kind == "holder":
            if self._records_of(ident) is None:
                return []
            if s.auditor or ident in s.holders:
                return [EVER]
            return self._council_spans(ident)
        if kind == "pool":
            state = self._pools.get(ident)
            if state is None:
                return []
            if s.auditor:
                return [EVER]
            found: list[Span] = []
            if ident in s.pools:
                mine = [span for holder, span in member_spans(state)
                        if holder in s.holders]
                found += mine or [pool_span(state)]
            for holder, span in member_spans(state):
                found += [both for council in self._council_spans(holder)
                          if (both := meet(span, council)) is not None]
            return found
        if kind == "isf":
            holder, _, provider = ident.partition(":")
            if not (s.auditor or provider in s.providers):
                return []
            spans = isf_spans(self.store, holder, provider)
            return [EVER] if spans and s.auditor else spans
        if kind in ("provider", "council"):
            if self.store.party(kind, ident) is None:
                return []
            ours = s.providers if kind == "provider" else s.councils
            return [EVER] if s.auditor or ident in ours else []
        return []

    def may_read(self, kind: str, ident: str, period: Period | None = None) -> bool:
        """Whether the reader may read the statement for `period`: every month of it a
        month the role covered it; without a period, on any day up to today."""
        spans = self.spans(kind, ident)
        if period is None:
            return any(start <= self.on for start, _ in spans)
        return covers(spans, period.first, period.last)

    def own_member(self, pool: str) -> tuple[str | None, bool]:
        """The member whose own copy this reader reads (a holder role for one of the
        pool's members, given with the pool role), and False: a member not in the
        period's statement reads the shared copy instead."""
        if pool not in self.scope.pools:
            return None, False
        members = {holder for holder, _ in member_spans(self._pools.get(pool) or {})}
        mine = sorted(self.scope.holders & members)
        return (mine[0] if mine else None), False

    def _today(self, spans: list[Span]) -> bool:
        return any(start <= self.on <= end for start, end in spans)

    def may_invite(self, role: str) -> bool:
        """A council may invite the people recorded with it today, their pools and its
        own staff; a provider its own staff and the people it holds an open ISF with
        today; an auditor anyone."""
        s = self.scope
        if s.auditor:
            return True
        kind, _, ident = role.partition(":")
        if kind in ("council", "provider"):
            return ident in (s.councils if kind == "council" else s.providers)
        if kind == "holder":
            return self._today(self._council_spans(ident)) or any(
                self._today(isf_spans(self.store, ident, provider))
                for provider in s.providers)
        if kind == "pool":
            return bool(s.councils) and self._today(self.spans("pool", ident))
        return False  # only an auditor makes an auditor


def readable(books, reader: Reader, on: dt.date) -> list[tuple[str, str, str]]:
    """(kind, id, name) of everything `reader` may read for some month up to `on`, each
    kind sorted by id: holders, pools, providers, councils, then ISFs (`H:P`)."""
    with books.read() as store:
        view = reader.view(store, on)
        if isinstance(view, _ScopeView):
            view.read_every_record()  # it is asked about every person
        people = store.parties("holder", as_of=on)
        found = [("holder", hid, p.get("name") or hid) for hid, p in sorted(people.items())]
        found += [("pool", ref, s.get("name") or ref)
                  for ref, s in sorted(store.states("pool").items())]
        names = {}
        for kind in ("provider", "council"):
            parties = store.parties(kind, as_of=on)
            names.update({pid: p.get("name") or pid for pid, p in parties.items()})
            found += [(kind, pid, p.get("name") or pid) for pid, p in sorted(parties.items())]
        for ref in sorted(store.states("isf")):  # read at once, kept for the spans
            holder, _, provider = ref.partition(":")
            person = (people.get(holder) or {}).get("name") or holder
            found.append(("isf", ref, f"{person} ({names.get(provider, provider)})"))
        return [row for row in found if view.may_read(row[0], row[1])]


# ---------------------------------------------------------------- many at once


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...


def holder_files(books, period: Period, fmt: str, out_dir: Path, *,
                 council: str | None = None, provider: str | None = None,
                 progress: Callable[[int], AbstractContextManager] | None = None,
                 reader: Reader | None = None) -> int:
    """`ledger statement holders`: a file for every person of `council` (their own
    statement), or for every person whose ISF `provider` held open on some day of the
    period (the provider's statement of that ISF) (docs/statements.md#many). Each file
    is recorded in the access log as a read. `progress(n)`, if given, is a context
    manager told of each file as it is written."""
    who = (reader or Operator()).who()
    with books.read() as store:
        for kind, ident in (("council", council), ("provider", provider)):
            if ident is not None:
                known(store, kind, ident)
        if council is not None or provider is None:
            holders = holders_for(store, council=council, provider=provider,
                                  month_end=period.last)
            kind, idents, subjects = "holder", holders, holders
        else:
            assert provider is not None
            holders = provider_people(store, provider, period)
            kind, idents, subjects = "isf", [f"{h}:{provider}" for h in holders], holders
        reads = [access_log.Read(kind, ident, f"holder:{holder}", period.first, period.last,
                                 fmt) for ident, holder in zip(idents, subjects, strict=True)]
        with (progress(len(holders)) if progress else nullcontext()) as bar:
            if kind == "holder":
                written = write_holder_statements(store, holders, period.first, period.last,
                                                  fmt, out_dir, progress=bar)
            else:
                assert provider is not None
                written = _write_isf_statements(store, provider, holders, period, fmt,
                                                out_dir, bar)
    access_log.record(books, who, reads)
    return written


def provider_people(store, provider: str, period: Period) -> list[str]:
    """The people whose ISF `provider` held open on some day of the period, sorted."""
    found = []
    for ref in sorted(store.states("isf")):  # read at once, kept for the spans
        holder, _, of = ref.partition(":")
        if of == provider and covers_any(isf_spans(store, holder, provider), period):
            found.append(holder)
    return sorted(found)


def covers_any(spans: list[Span], period: Period) -> bool:
    return any(start <= period.last and end >= period.first for start, end in spans)


def _write_isf_statements(store, provider: str, holders: list[str], period: Period,
                          fmt: str, out_dir: Path, progress: Progress | None) -> int:
    """`{holder}.{fmt}` for each person: byte for byte what `ledger statement isf H
    --provider P` writes."""

    _check_format(fmt)
    return _write_files(((holder, _isf(store, f"{holder}:{provider}", period, Operator()))
                         for holder in holders), fmt, out_dir, progress)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: give json, html, pdf or xlsx")


def _write_files(found: Iterable[tuple[str, Statement]], fmt: str, out_dir: Path,
                 progress: Progress | None) -> int:
    """`{name}.{fmt}` in `out_dir` (made if missing) for each (name, statement), in the
    statement's own version, each whole or not there; how many."""
    from ledger.files import write_whole

    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, one in found:
        content = one.render(fmt, one.version())
        write_whole(out_dir / f"{name}.{fmt}", lambda out, c=content: out.write(c),
                    binary=True)
        written += 1
        if progress is not None:
            progress.advance()
    return written


def write_holder_statements(store, holders: Iterable[str], start: dt.date, end: dt.date,
                            fmt: str, out_dir: Path, progress: Progress | None = None) -> int:
    """One file per holder in `out_dir` (created if missing), `{holder}.{fmt}`, byte for
    byte what `ledger statement holder H --format fmt` writes, in each person's recorded
    version; returns how many. The people are read a chunk at a time
    (ledger.reports.bulk). Every holder is checked before anything is written; each file
    is whole or not there, so a failure part way leaves whole files and no partial one."""
    import re

    _check_format(fmt)
    period = Period(start, end)
    holders = list(dict.fromkeys(holders))
    parties = store.parties("holder", as_of=end)
    for holder in holders:  # a party id (core.journal.PARTY_ID): a safe file name
        if holder not in parties or not re.fullmatch(r"[A-Z0-9][A-Z0-9_-]*", holder):
            raise UsageError(f"holder {holder!r} is not in this ledger")
    return _write_files(((one.ident, one) for one in (
        holder_of(data, period)
        for data in holder_statements(store, holders, start, end, parties))),
        fmt, out_dir, progress)


__all__ = ["KINDS", "NotReadable", "Operator", "Period", "Scope", "Statement", "holder_files",
           "holder_of", "holder_statements", "holders_for", "readable", "statement",
           "write_holder_statements"]
