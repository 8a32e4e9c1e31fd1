"""Fresh databases for tests, on SQLite always and on PostgreSQL when
LEDGER_TEST_POSTGRES_URL is set (each gets its own schema there, dropped afterwards).
Under CI=true a missing PostgreSQL URL is a failure, never a skip."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import MetaData, create_engine, select, text

PG_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith(
        "postgresql://") else url


def require_postgres() -> str:
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true but LEDGER_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL tests need LEDGER_TEST_POSTGRES_URL")
    return PG_URL


@contextmanager
def empty_database(kind: str, folder: Path) -> Iterator[str]:
    """A URL to a new, empty database (schema not yet created), removed afterwards."""
    if kind == "sqlite":
        path = folder / f"ledger-{uuid.uuid4().hex[:8]}.db"
        yield f"sqlite:///{path}"
        return
    pg_url = require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg_admin_url(pg_url))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
