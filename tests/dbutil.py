"""Fresh databases for tests, on SQLite always, on PostgreSQL when
LEDGER_TEST_POSTGRES_URL is set (each gets its own schema there, dropped afterwards), and
on a Citus cluster when LEDGER_TEST_CITUS_URL names its coordinator (a schema of its own,
at the newest revision and already distributed by `ledger db distribute`: spreading the
books is an operator's step after the schema exists, so a Citus database's first run is
not something a test can start from). Under CI=true a missing URL is a failure, never a
skip.

`empty_database` is a database with nothing in it (the first `ledger` command migrates
it). `migrate` brings one to the newest schema the way `ledger.store.schema.upgrade` does,
but by copying a template: each test process runs the real migrations once, into its
template, and copies that for every test that asks, because running Alembic for each test
was a large part of the suite's time (docs/performance.md, "The test suite")."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import MetaData, create_engine, select, text

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL")
CITUS_URL = os.environ.get("LEDGER_TEST_CITUS_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"
# Shards per table in a test's schema: two workers, one shard each (a test that needs
# more ledgers on more shards distributes its own).
CITUS_TEST_SHARDS = 2
# Citus's refusal when another distribution or shard move holds the lock it needs.
BUSY = "could not acquire the lock required to"


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith(
        "postgresql://") else url


def require_postgres() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but LEDGER_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need LEDGER_TEST_POSTGRES_URL")
    return PG_URL


def require_citus() -> str:
    if not CITUS_URL:
        if IN_CI:
            pytest.fail("CI=true but LEDGER_TEST_CITUS_URL is not set (.ci/run starts the "
                        "Citus cluster)")
        pytest.skip("Citus tests need LEDGER_TEST_CITUS_URL (a Citus coordinator)")
    return CITUS_URL


def is_citus(url: str) -> bool:
    return bool(CITUS_URL) and url.startswith(CITUS_URL)


def with_schema(base: str, schema: str) -> str:
    """`base` with every connection's search path set to `schema`."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """A URL to a new, empty database (schema not yet created; on Citus: created and
    distributed, with no ledger in it yet), removed afterwards."""
    if kind == "sqlite":
        path = folder / f"ledger-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    if kind == "citus":
        with _citus_schema(require_citus()) as url:
            yield url
        return
    with bare_schema(require_postgres()) as url:
        yield url


@contextmanager
def bare_schema(base: str) -> Iterator[str]:
    """A URL to a new schema on the server at `base`, with nothing in it (on Citus: not
    distributed), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _admin(base).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield with_schema(base, schema)
    finally:
        _retrying(lambda: _drop(base, schema))


# ------------------------------------------------------------------ Citus schemas
# Making a distributed schema (the template's statements, then `distribute`) takes about
# 2.7 s, and the Citus tests take turns on the cluster (`citus_turn`), so those seconds
# added up along the whole suite. A schema a test has finished with is emptied instead
# (0.1 s) and handed to the next Citus test of the same process: the rows go, with the
# guards off for that one transaction, and every row and sequence is put back as a new
# schema has it. It is handed on only if nothing of its shape changed: its columns,
# constraints, indexes, triggers (enabled or not) and functions, on the coordinator and
# on each worker's shards, and where each of its shards lies. A test that changed any of
# them (moved or isolated a shard, dropped a trigger on a worker) gets its schema dropped
# as before.

_CITUS_SPARE: list[str] = []  # emptied schemas' URLs, ready for the next test
_CITUS_NEW: dict[str, object] = {}  # what a new schema holds: rows, sequences, shape

_SHAPE_SQL = """
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT 'trigger:' || c.relname || ':' || t.tgname || ':' || t.tgenabled::text AS x
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = '{schema}' AND NOT t.tgisinternal
  UNION ALL
  SELECT 'function:' || p.proname || ':' || md5(p.prosrc) || ':'
         || coalesce(array_to_string(p.proconfig, ';'), '')
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = '{schema}'
  UNION ALL
  SELECT 'constraint:' || c.relname || ':' || k.conname || ':' || k.convalidated
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = '{schema}'
  UNION ALL
  SELECT 'column:' || c.relname || ':' || a.attname || ':' || format_type(a.atttypid, a.atttypmod)
         || ':' || a.attnotnull
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = '{schema}' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'relation:' || c.relkind::text || ':' || c.relname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = '{schema}'
) shape"""

_PLACEMENTS_SQL = """
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT s.logicalrelid::regclass::text || ':' || s.shardid || ':'
         || coalesce(s.shardminvalue, '') || ':' || coalesce(s.shardmaxvalue, '') || ':'
         || d.nodeport AS x
    FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
    JOIN pg_dist_node d ON d.groupid = p.groupid
   WHERE s.logicalrelid::regclass::text LIKE '{schema}.%'
) placed"""


def _schema_of(url: str) -> str:
    return url.rsplit("search_path%3D", 1)[1]


def _shape(conn, schema: str) -> tuple:
    """The schema's shape on the coordinator and on every worker, and its placements."""
    here = conn.execute(text(_SHAPE_SQL.format(schema=schema))).scalar_one()
    workers = conn.execute(text(
        "SELECT nodeport, success, result FROM run_command_on_workers(:sql)"
        " ORDER BY nodeport"), {"sql": _SHAPE_SQL.format(schema=schema)}).all()
    placed = conn.execute(text(_PLACEMENTS_SQL.format(schema=schema))).scalar_one()
    return here, tuple(tuple(w) for w in workers), placed


def _contents(conn, schema: str) -> tuple[dict, dict]:
    """A new schema's rows (the tables that have any: the `main` ledger and its name)
    and its sequences' positions."""
    tables = [t for (t,) in conn.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = :s"
        " AND tablename <> 'alembic_version'"), {"s": schema}).all()]
    rows = {}
    for table in tables:
        found = [dict(r._mapping) for r in conn.execute(text(
            f"SELECT * FROM {schema}.{table}")).all()]
        if found:
            rows[table] = found
    sequences = dict(conn.execute(text(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = :s"),
        {"s": schema}).all())
    return {"tables": tables, "rows": rows}, sequences


@contextmanager
def _citus_schema(base: str) -> Iterator[str]:
    """A distributed schema at the newest revision with nothing in it but what a new one
    holds: an emptied one this process used before, else a new one."""
    if _CITUS_SPARE:
        url = _CITUS_SPARE.pop()
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with _admin(base).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        url = with_schema(base, schema)
        try:
            distributed(url)
            with _admin(base).connect() as conn:
                if not _CITUS_NEW:  # this process's first: what every new one holds
                    contents, sequences = _contents(conn, schema)
                    _CITUS_NEW.update(contents=contents, sequences=sequences, shapes={})
                    atexit.register(_drop_spares, base)
                _CITUS_NEW["shapes"][schema] = _shape(conn, schema)
        except BaseException:
            _retrying(lambda: _drop(base, schema))
            raise
    try:
        yield url
    finally:
        if _emptied(base, _schema_of(url)):
            _CITUS_SPARE.append(url)
        else:
            _retrying(lambda: _drop(base, _schema_of(url)))


def _emptied(base: str, schema: str) -> bool:
    """Empty the schema as a new one is, if its shape is as it was made; False (nothing
    done) if its shape changed or it could not be emptied at once."""
    from sqlalchemy.exc import DBAPIError

    made = _CITUS_NEW["shapes"].get(schema) if _CITUS_NEW else None
    try:
        with _admin(base).begin() as conn:
            # What this transaction sets goes to the workers' transactions it opens too.
            conn.execute(text("SET LOCAL citus.propagate_set_commands = 'local'"))
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            if made is None or _shape(conn, schema) != made:
                return False
            # The guards refuse DELETE (rightly): off for this one transaction.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            contents = _CITUS_NEW["contents"]
            for table in contents["tables"]:
                conn.execute(text(f"DELETE FROM {schema}.{table}"))
            for table, rows in contents["rows"].items():
                columns = list(rows[0])
                conn.execute(text(
                    f"INSERT INTO {schema}.{table} ({', '.join(columns)}) VALUES "
                    f"({', '.join(':' + c for c in columns)})"), rows)
            for sequence, last in _CITUS_NEW["sequences"].items():
                conn.execute(text(
                    f"SELECT setval('{schema}.{sequence}', :at, :called)"),
                    {"at": last or 1, "called": last is not None})
        return True
    except DBAPIError:
        return False


def _drop_spares(base: str) -> None:
    with citus_turn():
        while _CITUS_SPARE:
            schema = _schema_of(_CITUS_SPARE.pop())
            _retrying(lambda: _drop(base, schema))  # noqa: B023 (called at once)


def _drop(base: str, schema: str) -> None:
    with _admin(base).begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def _retrying(step) -> None:
    """`step` again while the Citus cluster is busy with another test's distribution,
    shard move or schema drop (Citus refuses at once, "could not acquire the lock
    required to ...", or the two deadlock on its catalogs and one is cancelled): each
    attempt is one transaction, so a refused one changed nothing."""
    from sqlalchemy.exc import DBAPIError

    deadline = time.monotonic() + 120
    while True:
        try:
            step()
            return
        except DBAPIError as err:
            busy = BUSY in str(err) or "deadlock detected" in str(err)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def distributed(url: str, shard_count: int = CITUS_TEST_SHARDS) -> None:
    """Bring the empty schema at `url`, on a Citus coordinator, to the newest revision and
    distribute it as `ledger db distribute` does."""
    from ledger.store.citus import distribute
    from ledger.store.schema import make_engine, upgrade

    if PG_URL:  # the PostgreSQL template's statements: the same schema, faster
        _replay_template(url, require_citus())
    engine = make_engine(url)

    def spread() -> None:
        with engine.begin() as conn:
            distribute(conn, shard_count)

    try:
        upgrade(engine)  # a no-op after the template
        _retrying(spread)
    finally:
        engine.dispose()


_ADMIN: dict[str, object] = {}


def _admin(base: str | None = None):
    """This process's one engine per server for making and dropping schemas: a new server
    backend (a connection) for every test was part of each PostgreSQL test's cost."""
    base = base or require_postgres()
    if base not in _ADMIN:
        engine = create_engine(_pg_admin_url(base), pool_size=1)
        _ADMIN[base] = engine
        atexit.register(engine.dispose)
    return _ADMIN[base]


@contextmanager
def migrated_database(kind: str, folder: Path) -> Iterator[str]:
    """A URL to a new database at the newest schema (`migrate`), removed afterwards."""
    with empty_database(kind, folder) as url:
        migrate(url)
        yield url


def migrate(url: str) -> None:
    """Bring the empty database at `url` (from `empty_database`) to the newest schema,
    as `ledger.store.schema.upgrade` would, from this process's template, which the real
    migrations built: on SQLite a copy of its file, on PostgreSQL the statements that
    built it, run again in the new schema as one script."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        assert not path.exists(), f"{path} is not a new database"
        shutil.copyfile(_template("sqlite"), path)
        return
    if is_citus(url):
        return  # made at the newest revision, and distributed, by empty_database
    _replay_template(url, require_postgres())


def _replay_template(url: str, base: str) -> None:
    script = _template("postgres")
    schema = url.rsplit("search_path%3D", 1)[1]
    with _admin(base).begin() as conn:
        raw = conn.connection.driver_connection
        raw.execute(f"SET LOCAL search_path TO {schema}")  # for this transaction only
        # psycopg's own execute, without parameters: one round trip for the whole
        # script, and its `%` signs (RAISE EXCEPTION formats) left alone.
        raw.execute(script)


# ------------------------------------------------------------------ templates
# One per engine per process (each pytest-xdist worker is a process), made on first use
# by `ledger.store.schema.upgrade` on an empty database. SQLite: that file, copied byte for
# byte (so ledger `main` keeps the template's created_at, a moment earlier in the run).
# PostgreSQL: every statement the upgrade sent, its parameters bound in, replayed in each
# new schema in one transaction; the server parses the same text, so the catalogs match.

_TEMPLATES: dict[str, object] = {}


def _template(kind: str):
    if kind not in _TEMPLATES:
        _TEMPLATES[kind] = _sqlite_template() if kind == "sqlite" else _postgres_template()
    return _TEMPLATES[kind]


def _sqlite_template() -> Path:
    from ledger.store.schema import make_engine, upgrade

    folder = Path(tempfile.mkdtemp(prefix="ledger-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    # Closing the last connection checkpointed the write-ahead log into the file: the
    # file alone is the whole database (journal mode WAL stays set in its header).
    assert not Path(f"{path}-wal").exists(), "the template's WAL was not checkpointed"
    return path


def _postgres_template() -> str:
    import psycopg
    from sqlalchemy import event

    from ledger.store.schema import make_engine, upgrade

    sent: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, executemany) -> None:
        sent.extend((statement, p) for p in (parameters if executemany else [parameters]))

    with empty_database("postgres", Path(tempfile.gettempdir())) as url:
        engine = make_engine(url)
        # After, not before: only statements that succeeded (the schema check's first
        # probe of an empty database fails by design and is rolled back).
        event.listen(engine, "after_cursor_execute", record)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        with psycopg.connect(_pg_admin_url(url).replace("+psycopg", "")) as conn:
            bind = psycopg.ClientCursor(conn)
            script = ";\n".join(bind.mogrify(s, p) for s, p in sent)
    assert "alembic_version" in script, "the upgrade sent no statements"
    return script


# Tables in an order their references allow, as revision 0004 made them.
TABLES = ["ledger", "account", "balance", "account_floor", "journal", "posting", "event",
          "period_lock", "party_record", "instrument_state", "web_user", "web_role",
          "web_invite", "web_login_failure", "web_secret"]
SERIALS = {"ledger": "id", "account": "id", "account_floor": "id", "journal": "id",
           "posting": "id", "period_lock": "id", "party_record": "seq", "web_user": "id",
           "web_invite": "id", "web_login_failure": "id"}


def copy_rows_to_postgres(url: str, fixture: Path, revision: str) -> None:
    """Every row of a SQLite fixture into a PostgreSQL database built by the migrations up
    to the fixture's `revision`, the guards off while the already sealed rows go in, as a
    dump would load (the upgrade tests: tests/store/test_upgrade.py,
    tests/app/test_import_upgrade.py)."""
    from alembic import command

    from ledger.store.schema import alembic_config, make_engine

    target = make_engine(url)
    cfg = alembic_config()
    with target.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    source = create_engine(f"sqlite:///{fixture}")
    old, new = MetaData(), MetaData()
    old.reflect(source)
    new.reflect(target)
    with source.connect() as src, target.begin() as dst:
        for table in TABLES:
            dst.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        for table in reversed(TABLES):  # the empty `main` ledger the migrations made
            dst.execute(text(f"DELETE FROM {table}"))
        for table in TABLES:
            rows = [dict(r._mapping) for r in src.execute(select(old.tables[table]))]
            if rows:
                dst.execute(new.tables[table].insert(), rows)
        for table in TABLES:
            dst.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
        for table, column in SERIALS.items():
            dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                             f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"))
    source.dispose()
    target.dispose()


@contextmanager
def citus_turn() -> Iterator[None]:
    """The Citus cluster to oneself, across pytest-xdist's processes (a lock file beside
    the cluster's URL): moving a shard changes the cluster's shard map, and a write
    another test has in flight at that moment fails ("could not find valid entry for
    shard"; rolled back whole, docs/scaling.md#moves); and distributing or dropping
    schemas while another test writes can deadlock on Citus's own catalogs."""
    import fcntl
    import hashlib
    import os
    import tempfile

    key = hashlib.sha256(os.environ.get("LEDGER_TEST_CITUS_URL", "").encode()).hexdigest()
    path = os.path.join(tempfile.gettempdir(), f"ledger-citus-{key[:16]}.lock")
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
