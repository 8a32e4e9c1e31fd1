"""The GL export against a plain SELECT plus csv.writer of the same rows, same run.

    .venv/bin/python bench/exports.py [--journals 400000] [--write-doc]

Posts --journals generated journals (about 2.7 postings each) with the bulk path, then
times, each twice (the faster kept):
  - `write_gl` for one council over the whole year, to a file;
  - the baseline: one plain SELECT of the same rows (date, key, type, account, unit,
    amount) through the bare sqlite3 driver, written with csv.writer.
The target (issue "council finance"): the export at no less than half the baseline's
speed, with flat memory. The two files must have the same number of rows.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402

from ledger.reports.council_exports import write_gl  # noqa: E402
from ledger.store.repo import DbStore  # noqa: E402
from ledger.store.schema import make_engine, upgrade  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "exports.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:exports:start -->", "<!-- bench:exports:end -->"
BASELINE_SQL = """
SELECT j.date, j.key, j.type, a.path, p.unit, p.amount_minor
FROM journal j JOIN posting p ON p.journal_id = j.id JOIN account a ON a.id = p.account_id
WHERE j.date BETWEEN ? AND ? AND j.id IN (
  SELECT q.journal_id FROM posting q JOIN account b ON b.id = q.account_id
  WHERE b.path LIKE ?)
ORDER BY j.date, j.id, p.id
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journals", type=int, default=400_000)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ledger-exports-"))
    path = work / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    journals = generate.journals(args.journals, seed=1)
    council = sorted({p.account.split(":")[1] for j in journals for p in j.postings
                      if p.account.startswith("council:")})[0]
    for start in range(0, len(journals), 5000):
        with engine.connect() as conn:
            DbStore(conn).post(journals[start:start + 5000])
            conn.commit()
    first, last = dt.date(2000, 1, 1), dt.date(2199, 12, 31)

    def ledger_export() -> int:
        with engine.connect() as conn, (work / "gl.csv").open("w", newline="") as out:
            return write_gl(conn, 1, council, first, last, out)

    def baseline() -> int:
        conn = sqlite3.connect(path)
        rows = 0
        with (work / "plain.csv").open("w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            for row in conn.execute(BASELINE_SQL, (first.isoformat(), last.isoformat(),
                                                   f"council:{council}:%")):
                writer.writerow(row)
                rows += 1
        conn.close()
        return rows

    timings = {}
    for name, fn in (("baseline", baseline), ("ledger", ledger_export)):
        best = None
        for _ in range(2):
            started = time.perf_counter()
            rows = fn()
            took = time.perf_counter() - started
            best = took if best is None else min(best, took)
        timings[name] = (best, rows)
    engine.dispose()
    (ledger_s, rows), (base_s, base_rows) = timings["ledger"], timings["baseline"]
    if rows != base_rows:
        raise SystemExit(f"the export wrote {rows} rows, the baseline {base_rows}")
    result = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "cpus": os.cpu_count(), "journals": args.journals, "rows": rows,
              "ledger_s": round(ledger_s, 2), "baseline_s": round(base_s, 2),
              "ledger_rows_per_s": round(rows / ledger_s),
              "baseline_rows_per_s": round(rows / base_s),
              "speed_ratio": round(base_s / ledger_s, 2),
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.write_doc:
        met = "met" if result["speed_ratio"] >= 0.5 else \
            f"**missed** ({result['speed_ratio']}x of the baseline's speed)"
        block = "\n".join([
            START, "",
            f"Run {result['date']}, {result['cpus']} CPUs, `bench/exports.py --write-doc`: "
            f"{args.journals:,} journals posted, {rows:,} GL rows for one council.", "",
            "| | time | rows/s |", "|---|---:|---:|",
            f"| `ledger export gl` (`write_gl`) | {result['ledger_s']} s | "
            f"{result['ledger_rows_per_s']:,} |",
            f"| plain SELECT + `csv.writer`, same rows | {result['baseline_s']} s | "
            f"{result['baseline_rows_per_s']:,} |",
            f"| speed against the baseline | {result['speed_ratio']}x | target at least "
            f"0.5x: {met} |", "",
            f"Peak memory of the whole benchmark process (posting included): "
            f"{result['peak_rss_mib']} MiB; the export streams its rows "
            "(`yield_per`), so its own memory does not grow with the ledger.", "", END])
        text = DOC.read_text(encoding="utf-8")
        if START in text:
            text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text,
                          flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n## Council exports\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
