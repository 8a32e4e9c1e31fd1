"""A provider's month end at scale (docs/month-end.md), beside a plain-driver baseline.

    .venv/bin/python bench/month_end.py [--isfs 5000] [--rows 100000] [--write-doc]

A provider with --isfs ISFs (set up first, not timed), then, each timed as the user runs
it (wall time of the command, peak memory from GNU time):
  1. `ledger isf advance --provider P --month M`;
  2. `ledger isf import-timesheet FILE --provider P` of --rows rows (visits spread over
     the month, H:MM durations);
  3. `ledger isf reconcile --provider P --month M --format csv`.
Baseline, in the same run: the same timesheet rows (holder, date, minutes, worker)
inserted with plain `sqlite3.executemany` into a bare table in a fresh file, one
transaction. The targets (issue 22): the import of 100,000 rows under 10 s, and all three
steps (a provider's month end: advance, import, reconcile and its report) under 20 s, on
SQLite on a 2-core machine, memory bounded by the batch size. The load average at the start
and the end of the run is written beside the figures (other work on the machine counts in
it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doc_section import write_section  # bench/, on the path as the script's folder

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS = Path(__file__).resolve().parent / "results" / "month_end.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:month-end:start -->", "<!-- bench:month-end:end -->"
MONTH = "2026-05"


def _setup_yaml(path: Path, isfs: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("format: 1\nname: month-end-setup\nparties:\n"
                  "  councils: [{id: C1, name: Council}]\n"
                  "  providers: [{id: P1, name: Provider}]\n  holders:\n")
        for n in range(isfs):
            out.write(f"    - {{id: H{n:05d}, name: Person {n}, council: C1}}\n")
        out.write("events:\n")
        for n in range(isfs):
            out.write(f"  - {{date: 2026-04-01, type: isf_open, holder: H{n:05d}, "
                      f"provider: P1, hours_per_month: 40, rate: \"20.00\", "
                      f"carry: {{expire_after_months: 1, max_hours: 10}}}}\n")


def _rows(isfs: int, rows: int, seed: int = 1) -> list[tuple[str, str, int, str]]:
    rng = random.Random(seed)
    per = max(1, rows // isfs)
    out = []
    for n in range(isfs):
        budget = 40 * 60  # never more than the month's hours: nothing borrows
        seen: set[tuple[int, int]] = set()  # (day, worker): no two rows alike (a duplicate)
        for _ in range(per):
            if len(out) == rows:
                break
            minutes = min(rng.choice([30, 45, 60, 75, 90]), budget // per)
            day, worker = rng.randint(1, 28), rng.randint(1, 200)
            while (day, worker) in seen:
                day, worker = rng.randint(1, 28), rng.randint(1, 200)
            seen.add((day, worker))
            out.append((f"H{n:05d}", f"{MONTH}-{day:02d}", max(minutes, 15), f"W{worker}"))
    return out


def _timed(args: list[str]) -> tuple[float, int, str]:
    with tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *args],
                              capture_output=True, text=True)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args[:3])} failed: {done.stderr[-500:]}")
        peak = int(Path(rss.name).read_text().split()[-1])
    return took, peak // 1024, done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isfs", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="ledger-month-end-"))
    db = f"sqlite:///{work / 'ledger.db'}"
    ledger = str(BIN / "ledger")
    setup = work / "setup.yaml"
    _setup_yaml(setup, args.isfs)
    t0 = time.perf_counter()
    subprocess.run([ledger, "scenario", "run", str(setup), "--db", db], check=True,
                   capture_output=True)
    setup_s = time.perf_counter() - t0
    rows = _rows(args.isfs, args.rows)
    sheet = work / "timesheet.csv"
    with sheet.open("w", encoding="utf-8") as out:
        out.write("holder,date,hours,worker\n")
        for holder, on, minutes, worker in rows:
            out.write(f"{holder},{on},{minutes // 60}:{minutes % 60:02d},{worker}\n")
    steps = {}
    steps["advance"] = _timed([ledger, "isf", "advance", "--provider", "P1", "--month", MONTH,
                               "--db", db])
    steps["import"] = _timed([ledger, "isf", "import-timesheet", str(sheet), "--provider",
                              "P1", "--db", db])
    steps["reconcile"] = _timed([ledger, "isf", "reconcile", "--provider", "P1", "--month",
                                 MONTH, "--format", "csv", "--db", db])
    base = sqlite3.connect(work / "bare.db", isolation_level=None)
    base.execute("PRAGMA journal_mode = WAL")
    base.execute("CREATE TABLE visit (holder TEXT, date TEXT, minutes INTEGER, worker TEXT)")
    t0 = time.perf_counter()
    base.execute("BEGIN")
    base.executemany("INSERT INTO visit VALUES (?, ?, ?, ?)", rows)
    base.execute("COMMIT")
    baseline_s = time.perf_counter() - t0
    base.close()
    total = sum(s[0] for s in steps.values())
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "load": load_start[0],
                    "load_at_start": load_start, "load_at_end": os.getloadavg()},
        "isfs": args.isfs, "rows": len(rows), "setup_s": round(setup_s, 1),
        "steps": {k: {"s": round(v[0], 2), "peak_mib": v[1]} for k, v in steps.items()},
        "total_s": round(total, 2),
        "import_rows_per_s": round(len(rows) / steps["import"][0]),
        "baseline_rows_per_s": round(len(rows) / baseline_s),
        "import_ratio": round(steps["import"][0] / baseline_s, 1),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.write_doc:
        _write_doc(result)
    return 0


def _write_doc(r: dict) -> None:
    m = r["machine"]
    s = r["steps"]
    met = "met" if r["total_s"] < 20 else f"**missed** by {r['total_s'] / 20:.1f}x"
    imp = s["import"]["s"]
    import_met = "met" if imp < 10 else f"**missed** by {imp / 10:.1f}x"
    load_end = m.get("load_at_end", [m["load"]])[0]
    block = "\n".join([
        START, "",
        f"Run {r['date']}: {m['cpus']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, "
        f"load average {m['load']:.1f} at the start and {load_end:.1f} at the end; "
        "`bench/month_end.py --write-doc` regenerates this. "
        f"{r['isfs']:,} ISFs of one provider (set up first in {r['setup_s']} s, not timed), "
        f"{r['rows']:,} timesheet rows.", "",
        "| step | time | peak memory | target |", "|---|---:|---:|---|",
        f"| `ledger isf advance` | {s['advance']['s']} s | {s['advance']['peak_mib']} MiB "
        "| - |",
        f"| `ledger isf import-timesheet` | {s['import']['s']} s ({r['import_rows_per_s']:,} "
        f"rows/s; plain `executemany` of the same rows: {r['baseline_rows_per_s']:,} rows/s, "
        f"{r['import_ratio']}x) | {s['import']['peak_mib']} MiB | under 10 s: "
        f"{import_met} |",
        f"| `ledger isf reconcile --format csv` | {s['reconcile']['s']} s | "
        f"{s['reconcile']['peak_mib']} MiB | - |",
        f"| all three (the month end) | {r['total_s']} s | | under 20 s: {met} |", "",
        END])
    write_section(DOC, "month-end", block, heading="## A provider's month end at scale")


if __name__ == "__main__":
    sys.exit(main())
