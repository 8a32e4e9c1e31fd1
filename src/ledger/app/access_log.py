"""The access log (docs/web.md#access-log): every statement or export read, through the
web view or the command line, is a `read` record in the ledger's audit chain
(ledger.store.audit), so that a council can answer "who has seen this person's
statement, and when". The audit chain is apart from the books: recording a read never
moves the books' head.

`record` is the one place a read is written. `ledger.app.statements.statement` (every
statement, on the web and at the command line), `holder_files` (`ledger statement
holders`) and `exported` (every `ledger export`) call it; no door writes a read itself.

A read record's body: `via` (web or cli), `reader` (the web username, or the
operating-system user at the command line), `kind` and `id` of what was read, `from` and
`to` (the period), `version` (standard, large_print, easy_read; none for JSON and
spreadsheets), `format`, and `address` (the web reader's network: IPv4 /24, IPv6 /64;
none at the command line). Its key is the subject: `holder:H` (a person's statement, or a
provider's statement of its ISF with H), `pool:L`, `provider:P` or `council:C`.

`search` answers `ledger access-log --holder H | --user U`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import UsageError

# How long a command-line read waits for the database's write lock before it gives up
# recording (a scenario run holding SQLite's one write lock, say): the statement is still
# given, and a line on standard error says it was not recorded.
CLI_WAIT_SECONDS = 3


@dataclass(frozen=True)
class Who:
    """Who reads: `via` web or cli; `reader` the web username or the operating-system
    user; `user_id` the web sign-in's id; `address` the network it read from. `strict`:
    a read that cannot be recorded is refused (the web), else given with a warning (the
    command line, whose operator holds the database anyway)."""

    via: str
    reader: str
    user_id: int | None = None
    address: str | None = None
    strict: bool = True


@dataclass(frozen=True)
class Read:
    """One statement or export read: what, for which period, in which version and format.
    `key` is the subject it is looked up by (`holder:H`, `pool:L`, ...)."""

    kind: str
    ident: str
    key: str
    first: dt.date
    last: dt.date
    fmt: str
    version: str | None = None


class NotRecorded(UsageError):
    """The read could not be written to the access log (a strict reader gets nothing)."""


def operating_system_user() -> str:
    """Who runs the command: the login name, else the numeric user id."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's user)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def command_line() -> Who:
    return Who(via="cli", reader=operating_system_user(), strict=False)


def network(address: str | None) -> str | None:
    """The address shortened to its network, as the log keeps it: IPv4 to its /24
    (`192.0.2.0/24`), IPv6 to its /64 (`2001:db8:1:2::/64`); an IPv4-mapped IPv6 address
    as IPv4. Not an address (a test client's name): None."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def body(who: Who, read: Read) -> dict:
    return {"via": who.via, "reader": who.reader, "kind": read.kind, "id": read.ident,
            "from": read.first.isoformat(), "to": read.last.isoformat(),
            "version": read.version if read.fmt in ("text", "html", "pdf") else None,
            "format": read.fmt, "address": who.address}


def record(books, who: Who, reads: Iterable[Read]) -> bool:
    """Write each read to the ledger's audit chain, in one transaction; True when written.
    A strict reader's read that cannot be written raises `NotRecorded`; otherwise False
    (a read-only copy of a SQLite ledger, or a writer holding the lock too long)."""
    from sqlalchemy.exc import DBAPIError

    from ledger.store import audit
    from ledger.store.repo import ledger_id_of

    reads = list(reads)
    if not reads:
        return True
    try:
        with _writer(books) as conn:
            lid = ledger_id_of(conn, books.ledger)
            if lid is None:
                raise NotRecorded(f"there is no ledger named {books.ledger!r}")
            for read in reads:
                audit.append(conn, lid, audit.READ, user_id=who.user_id, key=read.key,
                             body=body(who, read))
        return True
    except (DBAPIError, OSError, _ReadOnly) as err:
        if who.strict:
            raise NotRecorded(f"the read could not be recorded in the access log: "
                              f"{getattr(err, 'orig', err)}") from None
        return False


class _ReadOnly(Exception):
    pass


class _writer:
    """A write transaction for the record. The web's books are opened for writing (its
    sign-ins are written too); a command's are opened read-only, so it gets a writer of
    its own that waits at most CLI_WAIT_SECONDS for the lock, and none at all for a
    SQLite file this user may not write (an auditor's copy)."""

    def __init__(self, books) -> None:
        self.books = books
        self.engine = None
        self.conn = None
        self.trans = None

    def __enter__(self):
        from ledger.store.schema import make_engine

        own = self.books.mode == "read"
        if own:
            url = self.books.url
            if url.startswith("sqlite"):
                from sqlalchemy.engine import make_url

                path = Path(make_url(url).database or "")
                if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
                    raise _ReadOnly("the database file cannot be written here")
            self.engine = make_engine(url)
        engine = self.engine or self.books.engine
        self.conn = engine.connect()
        try:
            if own:
                if engine.dialect.name == "sqlite":
                    self.conn.connection.dbapi_connection.execute(
                        f"PRAGMA busy_timeout = {CLI_WAIT_SECONDS * 1000}")
                self.trans = self.conn.begin()
                if engine.dialect.name == "postgresql":
                    from sqlalchemy import text

                    self.conn.execute(text(f"SET LOCAL lock_timeout = "
                                           f"'{CLI_WAIT_SECONDS}s'"))
            else:
                self.trans = self.conn.begin()
        except BaseException:
            self._close()
            raise
        return self.conn

    def __exit__(self, kind, value, traceback) -> None:
        try:
            if self.trans is not None:
                if kind is None:
                    self.trans.commit()
                else:
                    self.trans.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()


# ---------------------------------------------------------------- exports


def exported(books, who: Who, kind: str, council: str | None, first: dt.date,
             last: dt.date, fmt: str, deliver: Callable) -> Callable:
    """An export's `deliver` (ledger.app.reading.Deliver) that records the read first, once
    the export has checked its input and is about to write: `kind` export-gl,
    export-payments, ..., its council (the subject: `council:C`; the whole ledger for
    Beancount, `ledger`)."""
    done: list[bool] = []

    def logged(write) -> None:
        if not done:
            done.append(record(books, who, [Read(kind, council or books.ledger,
                                                 f"council:{council}" if council else "ledger",
                                                 first, last, fmt)]))
        deliver(write)

    logged.recorded = done  # type: ignore[attr-defined]
    return logged


# ---------------------------------------------------------------- the query


@dataclass(frozen=True)
class Found:
    """One read as `ledger access-log` lists it."""

    at: dt.datetime
    via: str
    reader: str
    kind: str
    ident: str
    first: str
    last: str
    version: str | None
    fmt: str
    address: str | None
    subject: str | None

    def row(self) -> dict:
        return {"at": self.at.isoformat(sep=" ", timespec="seconds"), "via": self.via,
                "reader": self.reader, "kind": self.kind, "id": self.ident,
                "from": self.first, "to": self.last, "version": self.version,
                "format": self.fmt, "address": self.address, "subject": self.subject}


COLUMNS = ("at", "via", "reader", "kind", "id", "from", "to", "version", "format",
           "address", "subject")


def search(books, *, holder: str | None = None, user: str | None = None,
           since: dt.date | None = None, until: dt.date | None = None) -> list[Found]:
    """Reads of holder H's statements and of every pool, council or provider statement
    (and export) that includes H, or every read by user U; read between `since` and
    `until` (both days included), oldest first. An unknown holder or user is a
    UsageError."""
    from ledger.app.reading import known
    from ledger.store import audit

    if (holder is None) == (user is None):
        raise UsageError("give either --holder H or --user U")
    if since is not None and until is not None and until < since:
        raise UsageError(f"--to {until} is before --from {since}")
    end = until + dt.timedelta(days=1) if until is not None else None
    with books.read() as store:
        conn, lid = store.conn, store.lid
        reads = audit.records(conn, lid, kinds=[audit.READ], since=since, until=end)
        if user is not None:
            found = [r for r in reads if r.body.get("reader") == user]
            if not found and not _user_known(conn, lid, user):
                raise UsageError(f"user {user!r} is not in ledger {books.ledger!r} and has "
                                 "read nothing there")
            return [_found(r) for r in found]
        assert holder is not None
        known(store, "holder", holder)
        includes = _Includes(store, holder)
        return [_found(r) for r in reads if includes(r)]


def _found(r) -> Found:
    b = r.body
    return Found(r.at, b.get("via", ""), b.get("reader", ""), b.get("kind", ""),
                 str(b.get("id", "")), b.get("from", ""), b.get("to", ""), b.get("version"),
                 b.get("format", ""), b.get("address"), r.key)


def _user_known(conn, lid: int, user: str) -> bool:
    from ledger.store import audit

    return any(True for _ in audit.records(conn, lid, kinds=["user_added"], key=user))


class _Includes:
    """Whether a read record's statement includes holder H over its period: H's own
    statement (or a provider's of its ISF with H: key `holder:H`); a pool's while H was a
    member; a provider's month end while H had an ISF with it open; a council's
    statement or export while H's record named the council; a whole-ledger export."""

    def __init__(self, store, holder: str) -> None:
        self.store, self.holder = store, holder
        self._records: list[tuple[dt.date | None, dict]] | None = None

    def __call__(self, r) -> bool:
        key = r.key or ""
        kind, _, ident = key.partition(":")
        try:
            first = dt.date.fromisoformat(r.body["from"])
            last = dt.date.fromisoformat(r.body["to"])
        except (KeyError, TypeError, ValueError):
            return False
        if key == f"holder:{self.holder}":
            return True
        if key == "ledger":
            return True
        if kind == "pool":
            state = self.store.get_state("pool", ident) or {}
            return any(p["holder"] == self.holder and _overlaps(
                (dt.date.fromisoformat(p["joined"]),
                 dt.date.fromisoformat(p["left"]) if p.get("left") else dt.date.max),
                first, last) for p in state.get("history", []))
        if kind == "provider":
            from ledger.app.dated import isf_spans

            return any(_overlaps(span, first, last)
                       for span in isf_spans(self.store, self.holder, ident))
        if kind == "council":
            return any(party.get("council") == ident and _overlaps(span, first, last)
                       for span, party in self._spans())
        return False

    def _spans(self) -> Iterator[tuple[tuple[dt.date, dt.date], dict]]:
        from ledger.app.dated import record_spans

        yield from record_spans(self.store, "holder", self.holder)


def _overlaps(span: tuple[dt.date, dt.date], first: dt.date, last: dt.date) -> bool:
    return span[0] <= last and span[1] >= first




def write(found: list[Found], fmt: str, out) -> None:
    """The reads as CSV (a header, a row each, the formula guard on text:
    docs/exports.md#csv) or JSON (a list of objects)."""
    if fmt == "json":
        import json

        out.write(json.dumps([f.row() for f in found], indent=2, ensure_ascii=False) + "\n")
        return
    import csv

    from ledger.reports.council_exports import safe

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in found:
        row = f.row()
        writer.writerow(["" if row[c] is None else safe(str(row[c])) for c in COLUMNS])


__all__ = ["COLUMNS", "Found", "NotRecorded", "Read", "Who", "command_line", "exported",
           "network", "operating_system_user", "record", "search", "write"]
