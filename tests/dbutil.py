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
from sqlalchemy import create_engine, text

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
