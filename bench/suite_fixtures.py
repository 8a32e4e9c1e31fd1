"""What the test suite's shared set-up costs, each way beside the other in the same run
(docs/performance.md, "The test suite"). Quick: about a minute.

    LEDGER_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/suite_fixtures.py [--repeat 10]

1. A database at the newest schema, per test: the migrations run on an empty database
   (`ledger.store.schema.upgrade`, as before) against a copy of this process's template
   (tests/dbutil.py `migrate`), on SQLite and, when the URL is set, PostgreSQL. Wall and
   this process's CPU; on PostgreSQL the server's work is in the wall time only.
2. A `ledger` process's start-up (`ledger --help`), without bytecode caches (as in an
   environment with PYTHONDONTWRITEBYTECODE set) and with them (.ci/run writes them).
Prints medians and their ratios, and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dbutil import PG_URL, empty_database, migrate  # noqa: E402

from ledger.store.schema import make_engine, upgrade  # noqa: E402


def _clock(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _fresh(kind: str, folder: Path, how: str) -> tuple[float, float]:
    with empty_database(kind, folder) as url:
        def make() -> None:
            if how == "migrations":
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
            else:
                migrate(url)
        return _clock(make)


def databases(repeat: int) -> None:
    kinds = ["sqlite"] + (["postgres"] if PG_URL else [])
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            _fresh(kind, Path(folder), "migrations")  # imports and Alembic's first load
            _fresh(kind, Path(folder), "template")  # the template itself, made once
            runs: dict[str, list[tuple[float, float]]] = {"migrations": [], "template": []}
            for _ in range(repeat):  # interleaved: a load spike hits both alike
                for how in runs:
                    runs[how].append(_fresh(kind, Path(folder), how))
            (mw, mc), (tw, tc) = ((statistics.median(r[0] for r in runs[h]),
                                   statistics.median(r[1] for r in runs[h])) for h in runs)
            print(f"{kind:8} migrations {mw * 1000:7.1f} ms wall {mc * 1000:6.1f} ms cpu | "
                  f"template copy {tw * 1000:6.1f} ms wall {tc * 1000:6.1f} ms cpu | "
                  f"{mw / tw:5.1f}x wall")


def start_up(repeat: int) -> None:
    """The installed packages have their caches either way (pip writes them); what differs
    is the project's own modules (an editable install: src/ and migrations/)."""
    ledger = str(Path(sys.executable).with_name("ledger"))
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    caches, without = tempfile.mkdtemp(), tempfile.mkdtemp()
    try:
        subprocess.run([ledger, "--help"], env={**base, "PYTHONPYCACHEPREFIX": caches},
                       capture_output=True, check=True)  # writes every module's cache
        shutil.copytree(caches, without, dirs_exist_ok=True)
        for own in ("src", "migrations"):  # the project's own: compiled at each start
            shutil.rmtree(Path(without + str(ROOT)) / own, ignore_errors=True)
        runs: dict[str, dict] = {
            "without": {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": without},
            "with": {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": caches}}
        spent: dict[str, list[float]] = {how: [] for how in runs}
        for _ in range(repeat):
            for how, env in runs.items():
                before = os.times()
                subprocess.run([ledger, "--help"], env={**base, **env}, capture_output=True,
                               check=True)
                after = os.times()
                spent[how].append(after.children_user + after.children_system
                                  - before.children_user - before.children_system)
        cold, warm = (statistics.median(spent[how]) for how in runs)
        print(f"`ledger --help` CPU: the project's bytecode not cached {cold * 1000:5.0f} ms | "
              f"cached {warm * 1000:5.0f} ms | {cold / warm:4.2f}x")
    finally:
        shutil.rmtree(caches, ignore_errors=True)
        shutil.rmtree(without, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    databases(args.repeat)
    start_up(args.repeat)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
