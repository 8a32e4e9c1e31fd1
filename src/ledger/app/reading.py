"""Reading the books: how the read commands, the exports and the web view open a ledger
and ask it something (docs/reading.md, docs/exports.md). Nothing here writes the books.

`Books` is one ledger in one database, named by URL and ledger name. The database is
opened (for the read commands, read-only: docs/architecture.md#read-commands) only when
something is first read from it, so every check of a command's own input comes first.
Each question opens a connection, checks that the ledger exists, asks and closes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import TextIO

from ledger.errors import UsageError
from ledger.store.repo import DbStore

# What an export is handed to write itself with: `deliver(write)` calls `write(out)` once
# with the open output (standard output, or a file written whole or not at all).
Deliver = Callable[[Callable[[TextIO], object]], None]


class Books:
    """One ledger in one database. `mode` says how the database is opened when first
    used: "read" (read-only, creates nothing: the read commands), "write" (creates or
    upgrades the schema first: `ledger user`, `ledger serve` before it starts) or "serve"
    (as it is: the web view's requests, after `serve` has upgraded it)."""

    def __init__(self, db_url: str | None, ledger: str, mode: str = "read") -> None:
        self.db_url = db_url
        self.ledger = ledger
        self.mode = mode
        self._engine = None
        self._reader = None

    @classmethod
    def at(cls, db_url: str | None, ledger: str, mode: str = "read") -> Books:
        return cls(db_url, ledger, mode)

    @property
    def url(self) -> str:
        """The database's URL: as given, else $LEDGER_DATABASE_URL, else ledger.db."""
        from ledger.store.schema import database_url

        return database_url(self.db_url)

    @property
    def engine(self):
        if self._engine is None:
            from ledger.app.db import engine
            from ledger.store.schema import make_engine

            self._engine = (make_engine(self.url) if self.mode == "serve" else
                            engine(self.db_url, read_only=self.mode == "read"))
        return self._engine

    @contextmanager
    def read(self) -> Iterator[DbStore]:
        """A store on one connection; exit 2 if the database has no such ledger."""
        with self._read_engine().connect() as conn:
            yield self._existing(DbStore(conn, self.ledger))

    def _read_engine(self):
        """The web view's reads of a SQLite file go through a read-only connection (a
        deferred transaction), so in WAL mode they never queue behind a write (the access
        log, a sign-in) nor make one wait: docs/reliability.md#audit-log."""
        if self.mode != "serve" or not self.url.startswith("sqlite:///"):
            return self.engine
        if self._reader is None:
            self.engine  # noqa: B018 (the write engine first: it made the WAL files)
            from ledger.store.schema import make_engine

            self._reader = make_engine(self.url, read_only=True)
        return self._reader

    @contextmanager
    def begin(self) -> Iterator[DbStore]:
        """A store in one transaction, committed if the block ends well (for the sign-in
        tables: nothing here writes the books)."""
        with self.engine.begin() as conn:
            yield self._existing(DbStore(conn, self.ledger))

    def _existing(self, store: DbStore) -> DbStore:
        return existing(store)

    def check(self) -> None:
        """Only that the database opens and holds the ledger."""
        with self.read():
            pass

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._reader is not None:
            self._reader.dispose()
            self._reader = None


# ---------------------------------------------------------------- the ids a command names

ID_KINDS = ("council", "provider", "holder", "pool")


def existing(store: DbStore) -> DbStore:
    """The store, if the database holds its ledger; else exit 2 naming the ledger and
    the ones it does hold. A writing job that must not make a ledger (a month end) asks
    before it takes the write lock, which would make it."""
    from ledger.app.db import no_such_ledger

    if not store.exists():
        raise no_such_ledger(store.conn, store.ledger)
    return store


def known(store, kind: str, ident: str) -> str:
    """The one check of an id that a read, statement, export or month-end command names
    (docs/reading.md#ids): a council, provider or holder the ledger has a record of (at
    any date), or a pool it holds; else exit 2 with one line naming the id and the
    ledger. The ledger's own name is checked when it is opened (`Books.read`)."""
    assert kind in ID_KINDS, kind
    found = store.get_state("pool", ident) if kind == "pool" else store.party(kind, ident)
    if found is None:
        raise UsageError(f"{kind} {ident!r} is not in ledger "
                         f"{getattr(store, 'ledger', 'main')!r}")
    return ident


# ---------------------------------------------------------------- the read commands


def balances(books: Books, as_of: dt.date | None, prefix: str | None) -> list:
    """Each account's balance per unit (`BalanceRow`s), on `as_of` or now."""
    from ledger.reports.balances import balances as rows

    with books.read() as store:
        return rows(store.conn, as_of, prefix, store.lid)


def movements(books: Books, start: dt.date, end: dt.date, prefix: str | None) -> list[dict]:
    """Each account's net movement per unit over a period."""
    from ledger.reports.reading import movements as rows

    with books.read() as store:
        return rows(store.conn, store.lid, start, end, prefix)


def accounts(books: Books, prefix: str | None) -> list[dict]:
    from ledger.reports.reading import accounts as rows

    with books.read() as store:
        return rows(store.conn, store.lid, prefix)


def parties(books: Books, kind: str | None, as_of: dt.date | None) -> list[dict]:
    from ledger.reports.reading import parties as rows

    with books.read() as store:
        return rows(store, kind, as_of)


def register(books: Books, prefix: str, start: dt.date | None,
             end: dt.date | None) -> list[dict]:
    from ledger.reports.reading import register as rows

    with books.read() as store:
        return list(rows(store.conn, store.lid, prefix, start, end))


def journals(books: Books, prefix: str | None, start: dt.date | None,
             end: dt.date | None) -> list[dict]:
    from ledger.reports.reading import journals as rows

    with books.read() as store:
        return rows(store, prefix, start, end)


# ---------------------------------------------------------------- exports


def _mapping(path: Path | None) -> tuple:
    """(finance codes, their file's name for errors) from a mapping file, or (None, "")."""
    from ledger.reports.council_exports import read_mapping

    return (read_mapping(path), str(path)) if path is not None else (None, "")


def _check_period(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")


def export_beancount(books: Books, deliver: Deliver) -> None:
    """The whole ledger as a Beancount file."""
    from ledger.reports.beancount import write_beancount

    with books.read() as store:
        deliver(lambda out: write_beancount(store.conn, out, store.lid))


def export_council_file(books: Books, kind: str, council: str, start: dt.date,
                        end: dt.date, excel: bool, mapping_file: Path | None,
                        deliver: Deliver, unit: str | None = None, split: bool = False,
                        control: Deliver | None = None) -> None:
    """`gl` or `payments`: with a mapping, every account must have a code, else no file.
    `gl` takes `unit` (only that unit's rows) and `split` (debit and credit columns);
    `payments` with `control` writes its count and totals there, not as a TOTAL line."""
    from ledger.reports import council_exports as files

    _check_period(start, end)
    mapping, where = _mapping(mapping_file)
    with books.read() as store:
        known(store, "council", council)
        conn, lid = store.conn, store.lid
        if kind == "gl":
            if mapping is not None:  # never a blank code: every unmapped account, no file
                files.check_mapped(mapping, where,
                                   files.rows_gl(conn, lid, council, start, end, unit))
            deliver(lambda out: files.write_gl(conn, lid, council, start, end, out, excel,
                                               mapping, unit, split))
            return
        if mapping is not None:
            files.check_mapped(mapping, where,
                               files.rows_payments(conn, lid, council, start, end))
        totals = []
        deliver(lambda out: totals.append(files.write_payments(
            conn, lid, council, start, end, out, excel, mapping, control is None)))
        if control is not None:
            control(lambda out: files.write_control(out, totals[0], council, start, end,
                                                    excel))


def export_dp_monitoring(books: Books, council: str, as_of: dt.date, weeks: Fraction,
                         contingency_pence: int, excel: bool, mapping_file: Path | None,
                         deliver: Deliver) -> None:
    from ledger.reports.council_exports import write_dp_monitoring

    mapping = _mapping(mapping_file)
    with books.read() as store:
        known(store, "council", council)
        deliver(lambda out: write_dp_monitoring(store, council, as_of, weeks,
                                                contingency_pence, out, excel, *mapping))


def export_contracts(books: Books, council: str, start: dt.date, end: dt.date, excel: bool,
                     mapping_file: Path | None, deliver: Deliver) -> None:
    from ledger.reports.council_exports import write_contracts

    _check_period(start, end)
    mapping = _mapping(mapping_file)
    with books.read() as store:
        known(store, "council", council)
        deliver(lambda out: write_contracts(store, council, start, end, out, excel,
                                            *mapping))


def export_isf_returns(books: Books, council: str, month: str, excel: bool,
                       mapping_file: Path | None, deliver: Deliver) -> None:
    from ledger.reports.council_exports import write_isf_returns

    mapping = _mapping(mapping_file)
    with books.read() as store:
        known(store, "council", council)
        deliver(lambda out: write_isf_returns(store, council, month, out, excel, *mapping))
