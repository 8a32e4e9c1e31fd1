"""Shared fixtures: a fresh database per test on each engine (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.store.schema import make_engine, upgrade
from tests.dbutil import empty_database


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A URL to an empty database on each engine (schema not yet created)."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def axe():
    """One headless Chromium with axe-core for the whole run (tests/a11y/axe.py)."""
    from tests.a11y.axe import axe_session

    yield from axe_session()
