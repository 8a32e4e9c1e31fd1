"""Shared helpers for the Citus tests: a fresh distributed schema on the test cluster, and
URLs that make the cluster itself refuse a statement needing more than one shard.

`citus.multi_task_query_log_level = error` is Citus's own detector: any statement the
coordinator has to split into more than one task (one per shard it reaches) fails with an
error instead of running. With it on for every connection a command opens, a command that
succeeds never left its ledger's shard (reference tables, such as `ledger_name`, are one
task however many copies they have)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, unquote

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from tests.dbutil import citus_turn, empty_database

DETECTOR = "-ccitus.multi_task_query_log_level=error"


def with_options(url: str, *options: str) -> str:
    """`url` (from `empty_database`, whose `options=` ends with its search path) with more
    server settings for every connection, put before the search path so it stays last."""
    base, sep, current = url.partition("options=")
    assert sep, f"{url} has no options"
    return f"{base}options={quote(' '.join([*options, unquote(current)]))}"


def detecting(url: str) -> str:
    """`url` with the multi-shard detector on."""
    return with_options(url, DETECTOR)


def invoke(*args: str, db: str):
    """`ledger ARGS --db DB` in this process, as tests/cli does."""
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.fixture
def citus_db(tmp_path) -> Iterator[str]:
    """A fresh schema on the Citus cluster, at the newest revision and distributed (two
    shards per table, one on each worker), with no ledger yet."""
    with empty_database("citus", tmp_path) as url:
        yield url


@pytest.fixture(autouse=True, scope="module")
def _citus_module_turn() -> Iterator[None]:
    """Each module here has the cluster to itself from its first fixture to its last
    (tests/conftest.py, citus_turn): its module-wide set-up and clean-up included."""
    with citus_turn():
        yield
