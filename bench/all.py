"""Every benchmark of docs/performance.md, and its tables rewritten, in one command.

    .venv/bin/python bench/all.py            # about an hour on a 2-core machine

Runs, one after another (never at once: they would measure each other):
  bench/compare.py               the council workload against bean-check, hledger, start-up
                                 and a plain GROUP BY, on SQLite and PostgreSQL;
  bench/run.py --engine both     bulk posting, single commits, verify, trial balance and
                                 replay against plain-driver baselines;
  bench/ledgers.py               writers in 1, 2 and 4 ledgers of one PostgreSQL database;
  bench/month_end.py             a provider's month end with 5,000 ISFs;
  bench/exports.py               the GL export of a million rows against a plain SELECT +
                                 csv.writer, and its memory at two sizes;
  bench/statements.py            10,000 holder statements as JSON and as HTML;
  bench/web_load.py              50 readers for 60 s against 2,000 people on PostgreSQL;
each writing its own marked section of docs/performance.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEPS = [["compare.py"], ["run.py", "--engine", "both", "--write-doc"],
         ["ledgers.py", "--write-doc"], ["month_end.py", "--write-doc"],
         ["exports.py", "--write-doc"], ["statements.py", "--write-doc"],
         ["web_load.py", "--write-doc"]]


def main() -> int:
    for step in STEPS:
        print(f"== bench/{' '.join(step)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / step[0]), *step[1:]], check=False)
        if done.returncode != 0:
            print(f"bench/{step[0]} failed ({done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
