"""Every benchmark of docs/performance.md, and its tables rewritten, in one command.

    .venv/bin/python bench/all.py                  # every row of the speed table (about 75 min)
    .venv/bin/python bench/all.py --skip suite     # without CI's whole run (about 60 min)
    .venv/bin/python bench/all.py --also exports statements   # and the two bulk-output runs

Runs, one after another (never at once: they would measure each other), each writing its
own marked section of docs/performance.md with its same-run baseline and the machine's load
average at its start and end:
  bench/compare.py               replay against `bean-check -C`, `ledger balance` against
                                 hledger, a statement's wall time against
                                 `python -c 'import sqlalchemy'`, verify against GROUP BY,
                                 the replay into PostgreSQL against SQLite;
  bench/run.py --engine both     bulk posting and single durable journals against plain
                                 driver inserts, verify, trial balance, replay;
  bench/verify.py                full verify per million postings and its memory as history
                                 grows, `verify --since-checkpoint` of a month;
  bench/month_end.py             a provider's month end with 5,000 ISFs, the timesheet
                                 import against plain executemany;
  bench/statement_engines.py     one person's statement on PostgreSQL against SQLite;
  bench/ledgers.py               writers in 1, 2 and 4 ledgers of one PostgreSQL database;
  bench/web_load.py              50 readers for 60 s against 2,000 people on PostgreSQL,
                                 beside commit d06182a in the same run;
  bench/suite.py                 CI's whole run (.ci/run) in a fresh clone, beside the
                                 install alone;
then bench/targets.py, which gathers one row per target of the speed issue into the
`bench:targets` table. With --also: bench/exports.py (the GL of a million rows) and
bench/statements.py (10,000 statements), which have no row in that table.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEPS = {"compare": ["compare.py"], "run": ["run.py", "--engine", "both", "--write-doc"],
         "verify": ["verify.py", "--write-doc"], "month_end": ["month_end.py", "--write-doc"],
         "statement_engines": ["statement_engines.py", "--write-doc"],
         "ledgers": ["ledgers.py", "--write-doc"], "web_load": ["web_load.py", "--write-doc"],
         "suite": ["suite.py", "--write-doc"]}
EXTRA = {"exports": ["exports.py", "--write-doc"],
         "statements": ["statements.py", "--write-doc"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(STEPS))
    parser.add_argument("--also", nargs="*", default=[], choices=sorted(EXTRA))
    args = parser.parse_args(argv)
    steps = [s for name, s in STEPS.items() if name not in args.skip]
    steps += [EXTRA[name] for name in args.also]
    for step in steps:
        load = os.getloadavg()[0]
        print(f"== bench/{' '.join(step)} (load average {load:.1f})", flush=True)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / step[0]), *step[1:]], check=False)
        print(f"== bench/{step[0]}: {time.perf_counter() - began:.0f} s", flush=True)
        if done.returncode != 0:
            print(f"bench/{step[0]} failed ({done.returncode})", file=sys.stderr)
            return done.returncode
    return subprocess.run([sys.executable, str(HERE / "targets.py"), "--write-doc"],
                          check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
