"""Opening a database: the URL, engine settings per dialect, and the Alembic upgrade every
`ledger` command runs first."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ledger.errors import UsageError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_URL = "sqlite:///ledger.db"
# The newest migration. Commands compare the database's revision with it by one query and
# import Alembic only when there is something to upgrade (start-up time: most commands
# are reads); a test checks it is Alembic's head.
SCHEMA_HEAD = "0010"


def database_url(given: str | None) -> str:
    """The URL given, else $LEDGER_DATABASE_URL, else ledger.db here. A plain path
    (`--db ledger.db`) means that SQLite file."""
    url = given or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_URL
    if "://" not in url:
        url = f"sqlite:///{url}"
    return url


def _normalise(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver; accept the plain forms people paste.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine on `url`. Its errors never carry the statement's values
    (`hide_parameters`): a failed write's values can be a password's hash, a session's
    digest or a person's name and figures, and an error can reach a server's log or a
    terminal (docs/web.md#logs)."""
    url = database_url(url)
    try:
        probe = make_url(_normalise(url))
        if read_only and probe.get_backend_name() == "sqlite":
            # The file itself, opened read-only: nothing is created, nothing written.
            path = probe.database or ""
            flags = "mode=ro"
            folder = os.path.dirname(os.path.abspath(path))
            if not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
                # A file nobody here may write (a copy sent to an auditor, a read-only
                # share): SQLite cannot even make its shared-memory file beside it, so
                # it is read as immutable, which it is for us.
                flags += "&immutable=1"
            engine = create_engine(f"sqlite:///file:{quote(path)}?{flags}&uri=true",
                                   hide_parameters=True)
        elif read_only and probe.get_backend_name() == "postgresql":
            engine = create_engine(probe, isolation_level="REPEATABLE READ",
                                   execution_options={"postgresql_readonly": True},
                                   hide_parameters=True)
        else:
            engine = create_engine(probe, hide_parameters=True)
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as err:
        raise UsageError(f"--db {url!r}: not a database URL this ledger can use ({err})") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, read_only)
    elif engine.dialect.name == "postgresql":
        _configure_postgres(engine)
    else:
        raise UsageError(f"--db {url!r}: only SQLite and PostgreSQL are supported")
    return engine


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # psycopg prepares a statement once it has run five times, and PostgreSQL may
        # then keep one generic plan for the session. A bulk run starts on empty tables
        # (or ones autovacuum has not analysed yet): that plan is a sequential scan, and
        # every key lookup after it read the whole table (0.5 s each by 70,000 events).
        # A plan made for each execution's values uses the index whatever the statistics.
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()


def _configure_sqlite(engine: Engine, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not pysqlite, say when a transaction begins (for savepoints).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not read_only and engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # One writer at a time: take the write lock up front, so two writers queue
        # instead of failing half-way with "database is locked". A reader takes a plain
        # (deferred) transaction: one consistent snapshot, and in WAL mode it never waits
        # for a writer nor makes one wait.
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("ledger_migrations")))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is already there)."""
    if current_revision(engine) == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.util import CommandError

    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several first runs at once on an empty database: one creates the
                # schema, the others wait for it and then find it there.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242000)")
            if _revision(conn) == SCHEMA_HEAD:
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


def _revision(conn) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None: no schema). One query when there is one (every
    command asks, so no reflection first); only when it fails, the table is looked for."""
    try:
        with engine.connect() as conn:
            try:
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except DBAPIError:
                conn.rollback()
            return _revision(conn)
    except DBAPIError as err:
        raise UsageError(f"cannot open the database {_shown(engine)}: {err.orig}") from None


def open_database(url: str | None, read_only: bool = False) -> Engine:
    """An engine on the ledger at `url`. A writer creates or upgrades the schema. A reader
    (docs/architecture.md#read-commands) never creates anything: a missing database or
    one without a ledger is a UsageError; an older schema is upgraded first when the
    database can be written, else a UsageError."""
    url = database_url(url)
    if not read_only:
        engine = make_engine(url)
        upgrade(engine)
        return engine
    probe = make_url(_normalise(url))
    if probe.get_backend_name() == "sqlite":
        path = probe.database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            raise UsageError(f"there is no ledger at {path or url!r} (a read command never "
                             "creates one; replay a scenario or run `ledger init` first)")
    engine = make_engine(url, read_only=True)
    revision = current_revision(engine)
    if revision is None:
        raise UsageError(f"{_shown(engine)} holds no ledger (a read command never creates "
                         "one; replay a scenario or run `ledger init` first)")
    if revision != SCHEMA_HEAD:
        writer = make_engine(url)
        try:
            upgrade(writer)
        except UsageError as err:
            raise UsageError(f"{err}; the schema is older than this version of ledger "
                             "and could not be upgraded here") from None
        finally:
            writer.dispose()
    return engine
