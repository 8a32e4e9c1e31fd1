"""Opening a database and a ledger in it, for every door (docs/architecture.md#ledgers).

A writer creates or upgrades the schema as needed. A reader never creates anything, never
waits for a writer and works on a read-only SQLite file (docs/architecture.md
#read-commands); asked for a ledger the database does not hold, it is one line and exit 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from ledger.errors import UsageError
from ledger.store.repo import DbStore, ledger_id_of, ledger_names
from ledger.store.schema import database_url, make_engine, open_database, upgrade


def engine(db_url: str | None, read_only: bool = False) -> Engine:
    """A write engine (the schema created or upgraded), or a read-only one that never
    creates a database."""
    return open_database(db_url, read_only=read_only)


def no_such_ledger(conn: Connection, ledger: str) -> UsageError:
    names = ", ".join(ledger_names(conn)) or "none yet"
    return UsageError(f"there is no ledger named {ledger!r} in this database "
                      f"(ledgers: {names})")


def existing_ledger(conn: Connection, ledger: str) -> int:
    """A read command's ledger: its id, or exit 2 if the database has no such ledger."""
    found = ledger_id_of(conn, ledger)
    if found is None:
        raise no_such_ledger(conn, ledger)
    return found


def names(conn: Connection) -> list[str]:
    """Every ledger in the database, by name."""
    return ledger_names(conn)


@contextmanager
def writing(db_url: str | None, ledger: str) -> Iterator[DbStore]:
    """A batched store on one connection of a write engine, for `submit`: nothing is read
    before `submit` takes the ledger's lock."""
    with engine(db_url).connect() as conn:
        yield DbStore(conn, ledger, batch=True)


@contextmanager
def reading(db_url: str | None, ledger: str) -> Iterator[DbStore]:
    """A store on a read-only connection; exit 2 if there is no such ledger."""
    with engine(db_url, read_only=True).connect() as conn:
        existing_ledger(conn, ledger)
        yield DbStore(conn, ledger)


@contextmanager
def dry_running(db_url: str | None, ledger: str) -> Iterator[DbStore]:
    """A store for a dry run: on the database when it exists, else on an empty ledger in
    memory, so a dry run never creates a database file (docs/scenarios.md#dry-run)."""
    url = database_url(db_url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path is not None and not Path(path).is_file():
        eng = make_engine("sqlite://")
        upgrade(eng)
    else:
        eng = engine(db_url)
    with eng.connect() as conn:
        yield DbStore(conn, ledger, batch=True)


def init(db_url: str | None, ledger: str) -> str:
    """Create or upgrade the schema and the ledger NAME in it; the database as shown."""
    eng = engine(db_url)
    with eng.connect() as conn:
        DbStore(conn, ledger).lock_for_write()
        conn.commit()
    return eng.url.render_as_string(hide_password=True)


def stats(db_url: str | None, ledger: str) -> dict:
    """Counts of journals, postings and accounts in the ledger."""
    from ledger.reports.balances import stats as count

    with engine(db_url, read_only=True).connect() as conn:
        return count(conn, existing_ledger(conn, ledger))


def distribute(db_url: str | None, shard_count: int | None = None):
    """Spread the books over the Citus cluster whose coordinator `db_url` names, by
    ledger (docs/scaling.md#setting-up); the schema is brought to the newest revision
    first. One transaction: on failure nothing has changed."""
    from ledger.store.citus import distribute as spread

    if shard_count is not None and not 1 <= shard_count <= 1024:
        raise UsageError(f"--shard-count {shard_count}: must be from 1 to 1024")
    from sqlalchemy.exc import DBAPIError

    try:
        with engine(db_url).begin() as conn:
            return spread(conn, shard_count)
    except DBAPIError as err:
        reason = str(err.orig).strip().splitlines()[0]
        raise UsageError(f"cannot distribute the database: {reason} (nothing was changed)"
                         ) from None


def placements(db_url: str | None) -> list[tuple[str, int, str]]:
    """Which worker holds each ledger: (name, shard id, host:port), by name."""
    from ledger.store.citus import is_distributed
    from ledger.store.citus import placements as where

    with engine(db_url, read_only=True).connect() as conn:
        if not is_distributed(conn):
            raise UsageError("this database is not distributed (`ledger db distribute` "
                             "spreads it over a Citus cluster)")
        return where(conn)


__all__ = ["distribute", "dry_running", "engine", "existing_ledger", "init", "names",
           "no_such_ledger", "placements", "reading", "stats", "writing"]
