"""`ledger db distribute` (docs/scaling.md#setting-up): on a Citus coordinator every table
of the books is spread by ledger and co-located, names are a reference table, and every
guard is back on every shard; anywhere else it is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.store.citus import DISTRIBUTED, REFERENCE
from ledger.store.schema import make_engine
from tests.dbutil import bare_schema, empty_database, require_citus

LEDGER = str(Path(sys.executable).with_name("ledger"))


def _ledger(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LEDGER, *args], capture_output=True, text=True)


def test_distribute_spreads_every_table_by_ledger_and_puts_every_guard_on_every_shard(
        tmp_path):
    base = require_citus()
    with empty_database("postgres", tmp_path) as plain:
        # The same schema on one PostgreSQL: the guards it holds are the ones to expect.
        assert _ledger("init", "--db", plain).returncode == 0
        engine = make_engine(plain)
        with engine.connect() as conn:
            expected = set(conn.execute(text(
                "SELECT c.relname || '.' || t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
                "AND c.relnamespace = current_schema()::regnamespace")).scalars())
        engine.dispose()
    with bare_schema(base) as url:
        assert _ledger("init", "--db", url).returncode == 0
        done = _ledger("db", "distribute", "--db", url, "--shard-count", "4")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("distributed: 4 shards per table over 2 workers")
        again = _ledger("db", "distribute", "--db", url)
        assert again.returncode == 0 and again.stdout.startswith("already distributed: 4")
        engine = make_engine(url)
        with engine.connect() as conn:
            kinds = dict(conn.execute(text(
                "SELECT c.relname, CASE p.partmethod WHEN 'h' THEN 'distributed' "
                "WHEN 'n' THEN 'reference' ELSE p.partmethod::text END || ':' || "
                "COALESCE(column_to_column_name(p.logicalrelid, p.partkey), '') || ':' || "
                "p.colocationid FROM pg_dist_partition p JOIN pg_class c "
                "ON c.oid = p.logicalrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace")).all())
            held = set(conn.execute(text(
                "SELECT c.relname || '.' || t.tgname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal "
                "AND c.relnamespace = current_schema()::regnamespace")).scalars())
            # On every worker, each shard of `posting` carries the posting guards.
            shard_guards = conn.execute(text(
                "SELECT result FROM run_command_on_shards('posting', $$SELECT string_agg("
                "regexp_replace(tgname, '_[0-9]+$', ''), ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = '%s'::regclass"
                " AND NOT tgisinternal$$)")).scalars().all()
        engine.dispose()
        for table in DISTRIBUTED:
            kind, column, group = kinds[table].split(":")
            assert kind == "distributed", table
            assert column == ("id" if table == "ledger" else "ledger_id"), table
            assert group == kinds["ledger"].split(":")[2], f"{table} is not with ledger"
        for table in REFERENCE:
            assert kinds[table].startswith("reference"), table
        assert held == expected
        assert len(shard_guards) == 4
        assert set(shard_guards) == {"posting_append_only,posting_insert_guard"}
        placed = _ledger("db", "placements", "--db", url)
        assert placed.returncode == 0
        name, shard, node = placed.stdout.strip().split("\t")
        assert name == "main" and int(shard) > 0
        assert node in done.stdout  # one of the workers distribute named


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_distribute_anywhere_but_citus_is_one_line_and_exit_2(kind, tmp_path):
    with empty_database(kind, tmp_path) as url:
        done = _ledger("db", "distribute", "--db", url)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no Citus extension" in done.stderr
    assert "Traceback" not in done.stderr
