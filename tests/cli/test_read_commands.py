"""Read commands (balance, statement, stats, verify) as docs/architecture.md#read-commands
promises: on a database that does not exist they exit 2 and create nothing; they work on
a read-only SQLite file; they never wait for a writer. And several first runs at once on
an empty database all succeed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from ledger.store.schema import make_engine

LEDGER = str(Path(sys.executable).with_name("ledger"))
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "dp-holder.yaml"
READS = [["stats"], ["verify"], ["balance", "--format", "csv"],
         ["statement", "holder", "H1", "--month", "2026-04"]]


def _ledger(*args: str, db: str, cwd: Path, timeout: float = 60, user: int | None = None):
    prefix = []
    if user is not None:
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"]
    return subprocess.run([*prefix, LEDGER, *args, "--db", db], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.parametrize("args", READS, ids=lambda a: a[0])
def test_a_read_command_on_a_missing_sqlite_file_exits_2_and_creates_nothing(tmp_path, args):
    path = tmp_path / "mistyped.db"
    done = _ledger(*args, db=str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "no ledger" in done.stderr
    assert "every invariant holds" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_a_read_command_on_an_empty_database_exits_2_and_creates_nothing(db_url, tmp_path):
    for args in READS:
        done = _ledger(*args, db=db_url, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
    if db_url.startswith("sqlite"):
        assert list(tmp_path.iterdir()) == []
    else:
        engine = make_engine(db_url)
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
        engine.dispose()


def _read_only_copy(tmp_path: Path) -> tuple[Path, int | None]:
    folder = tmp_path / "shared"
    folder.mkdir()
    db = folder / "ledger.db"
    made = _ledger("scenario", "run", str(SCENARIO), db=str(db), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    db.chmod(0o444)
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root ignores permissions: read as an ordinary user instead
        if shutil.which("setpriv") is None:
            pytest.fail("setpriv (util-linux) is needed to read as another user")
        for parent in [*reversed(tmp_path.parents), tmp_path]:
            parent.chmod(parent.stat().st_mode | 0o005)
        return db, 65534
    return db, None


def test_read_commands_work_on_a_read_only_file_and_change_nothing(tmp_path):
    db, user = _read_only_copy(tmp_path)
    before = db.read_bytes()
    for args in READS:
        done = _ledger(*args, db=str(db), cwd=tmp_path, user=user)
        assert done.returncode == 0, (args, done.stderr)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["ledger.db"]


def test_read_commands_never_wait_for_a_writer(db_url, tmp_path):
    made = _ledger("scenario", "run", str(SCENARIO), db=db_url, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    engine = make_engine(db_url)
    with engine.begin() as conn:  # a writer holding the write lock, mid-transaction
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT id FROM ledger WHERE name = 'main' FOR UPDATE"))
        conn.execute(text("INSERT INTO account (ledger_id, path) VALUES (1, 'external:Someone')"))
        for args in READS:
            started = time.monotonic()
            done = _ledger(*args, db=db_url, cwd=tmp_path, timeout=25)
            assert done.returncode == 0, (args, done.stderr)
            assert time.monotonic() - started < 20, f"{args[0]} waited for the writer"
        conn.rollback()
    engine.dispose()


def test_six_first_runs_at_once_on_an_empty_database_all_succeed(db_url, tmp_path):
    def first_run(n: int):
        return _ledger("scenario", "run", str(SCENARIO), db=db_url, cwd=tmp_path,
                       timeout=120)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(first_run, range(6)))
    assert [r.returncode for r in results] == [0] * 6, [r.stderr for r in results]
    applied = [int(r.stdout.split(": ")[1].split(" applied")[0]) for r in results]
    assert sorted(applied)[-1] > 0 and sorted(applied)[:-1] == [0] * 5  # posted once
    assert _ledger("verify", db=db_url, cwd=tmp_path).returncode == 0
