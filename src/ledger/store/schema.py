"""Opening a database: the URL, engine settings per dialect, and the Alembic upgrade every
`ledger` command runs first."""

from __future__ import annotations

import os
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ledger.errors import UsageError

DEFAULT_URL = "sqlite:///ledger.db"


def database_url(given: str | None) -> str:
    return given or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_URL


def _normalise(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver; accept the plain forms people paste.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    try:
        engine = create_engine(_normalise(url))
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as err:
        raise UsageError(f"--db {url!r}: not a database URL this ledger can use ({err})") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name != "postgresql":
        raise UsageError(f"--db {url!r}: only SQLite and PostgreSQL are supported")
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction begins (for savepoints).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # One writer at a time: take the write lock up front, so two writers queue
        # instead of failing half-way with "database is locked".
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("ledger_migrations")))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with engine.begin() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DBAPIError as err:  # unreachable server, not a database file, no permission
        raise UsageError(f"cannot open the database {_shown(engine)}: {err.orig}") from None
    except CommandError as err:  # e.g. a revision from a newer version of this program
        raise UsageError(f"the database {_shown(engine)} has a schema this version of "
                         f"ledger does not know ({err}); was it made by a newer version?"
                         ) from None


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def open_database(url: str | None) -> Engine:
    engine = make_engine(database_url(url))
    upgrade(engine)
    return engine
