"""Shared fixtures: a fresh database per test on each engine (see tests/dbutil.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.store.schema import make_engine, upgrade
from tests.dbutil import citus_turn, empty_database, migrate

# The modules with the longest single tests (docs/performance.md, "The test suite"),
# longest first. They run first: under pytest-xdist a worker that picked one up near the
# end would keep the whole run waiting while the other sat idle. Each keeps its own order.
SLOW_FIRST = (
    "tests/app/test_one_answer.py",
    "tests/app/test_concurrency.py",
    "tests/oracle/test_oracle.py",
    "tests/oracle/test_oracle_month_end.py",
    "tests/test_readme.py",
    "tests/store/test_crash.py",
    "tests/app/test_order.py",
    "tests/app/test_who_reads.py",
    "tests/test_static.py",  # mypy over src/ from no cache: about 11 s of CPU
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {module: n for n, module in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(autouse=True)
def _citus_turn(request) -> Iterator[None]:
    """A test elsewhere that uses the cluster (its id names citus) takes its turn; the
    modules of tests/citus/ take theirs for the whole module (tests/citus/conftest.py)."""
    node = request.node.nodeid
    if "citus" not in node.lower() or node.startswith("tests/citus/"):
        yield
        return
    with citus_turn():
        yield


ENGINES = ["sqlite", "postgres"]


def pytest_generate_tests(metafunc) -> None:
    """Every test that takes `db_url` (or `engine`) runs on SQLite and PostgreSQL; a test
    module or test marked `citus` also runs on the Citus cluster (tests/dbutil.py)."""
    own = any("db_url" in (m.args[0] if isinstance(m.args[0], (list, tuple))
                           else [a.strip() for a in m.args[0].split(",")])
              for m in metafunc.definition.iter_markers("parametrize"))
    if "db_url" in metafunc.fixturenames and not own:  # a test may choose its own engines
        engines = ENGINES + (["citus"] if metafunc.definition.get_closest_marker("citus")
                             else [])
        metafunc.parametrize("db_url", engines, indirect=True)


@pytest.fixture
def db_url(request, tmp_path) -> Iterator[str]:
    """A URL to an empty database on each engine (schema not yet created; on Citus,
    created and distributed with no ledger yet)."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url):
    """An engine on `db_url` at the newest schema: what `upgrade` makes of the empty
    database, copied from a template the migrations built once per process."""
    migrate(db_url)
    eng = make_engine(db_url)
    upgrade(eng)  # a no-op at the newest revision, as for any command on this database
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def axe():
    """One headless Chromium with axe-core for the whole run (tests/a11y/axe.py)."""
    from tests.a11y.axe import axe_session

    yield from axe_session()
