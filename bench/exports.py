"""The GL export against a plain SELECT plus csv.writer of the same rows, same run.

    .venv/bin/python bench/exports.py [--journals 1085000] [--write-doc]

Posts --journals generated journals (about 2.7 postings each) with the bulk path, in
chunks of 5,000, with every council account put under one council, so that council's
GL for the year has about 0.92 rows a journal: about a million rows by default. Then
times, each twice (the faster kept), each in a fresh child process:
  - `write_gl` for the council, to a file;
  - the baseline: one plain SELECT of the same rows (date, key, type, account, unit,
    amount) through the bare sqlite3 driver, written with csv.writer.
Both are run for two periods of the same database: the first tenth or so of the year
(about 100,000 rows) and the whole year (about 1,000,000 rows). Each child reports its
own peak memory (VmHWM in /proc/self/status: a child's getrusage ru_maxrss would carry
over the parent's peak). The target (issue "council finance"): the export at no less
than half the baseline's speed at a million rows, with flat memory, taken here as a peak
at the year within 1.2 times the peak at the tenth. Each pair of files must have the
same number of rows. Progress goes to stderr. About 12 to 15 minutes on a 2-core
machine, most of it posting.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from doc_section import write_section  # bench/, on the path as the script's folder

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "exports.json"
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
CHUNK = 5000
SMALL_SHARE = 10  # the short period holds about 1/SMALL_SHARE of the year's rows
FLAT = 1.2  # memory is flat when the year's peak is within this times the short period's
TARGET = 0.5


def log(message: str) -> None:
    print(f"exports: {message}", file=sys.stderr, flush=True)


def peak_mib() -> float:
    """This process's own peak resident memory, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------- the child


def child(kind: str, db: str, council: str, first: str, last: str, out_path: str) -> int:
    """Run one export in this (fresh) process and print its time, rows and memory."""
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    if kind == "ledger":
        from ledger.reports.council_exports import write_gl
        from ledger.store.schema import make_engine

        engine = make_engine(f"sqlite:///{db}")
        with engine.connect() as conn, open(out_path, "w", newline="") as out:
            conn.exec_driver_sql("SELECT 1")  # connected before the clock starts
            before = peak_mib()
            started, cpu = time.perf_counter(), time.process_time()
            rows = write_gl(conn, 1, council, start, end, out)
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
    else:
        conn = sqlite3.connect(db)
        before = peak_mib()
        started, cpu = time.perf_counter(), time.process_time()
        rows = 0
        with open(out_path, "w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            for row in conn.execute(BASELINE_SQL, (start.isoformat(), end.isoformat(),
                                                   f"council:{council}:%")):
                writer.writerow(row)
                rows += 1
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        conn.close()
    print(json.dumps({"rows": rows, "seconds": took, "cpu_s": cpu, "before_mib": before,
                      "peak_mib": peak_mib()}))
    return 0


def run_child(kind: str, db: Path, council: str, first: dt.date, last: dt.date,
              out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(db), council, first.isoformat(),
         last.isoformat(), str(out)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


# ---------------------------------------------------------------- the data


def one_council(journals: list, council: str) -> list:
    """The journals with every `council:{C}:...` account (and memo) made `council`'s."""
    import dataclasses

    from ledger.core.journal import Posting

    out = []
    for j in journals:
        if not any(p.account.startswith("council:") for p in j.postings):
            out.append(j)
            continue
        postings = tuple(
            Posting(f"council:{council}:{p.account.split(':', 2)[2]}", p.unit,
                    p.amount_minor) if p.account.startswith("council:") else p
            for p in j.postings)
        memo = {**j.memo, "council": council} if "council" in j.memo else j.memo
        out.append(dataclasses.replace(j, postings=postings, memo=memo))
    return out


def build(path: Path, count: int) -> tuple[str, dt.date, dt.date, dt.date, int, int, int,
                                          float]:
    """Post `count` journals to a new ledger at `path`. Returns the council, the first
    day, the last day of the short period, the last day of the year, the GL rows expected
    in each period, the postings posted and the seconds posting took."""
    sys.path.insert(0, str(HERE))
    import generate

    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine, upgrade

    started = time.perf_counter()
    journals = generate.journals(count, seed=1)
    council = generate.COUNCIL_NAMES[0][0]
    journals = one_council(journals, council)
    log(f"{count:,} journals generated in {time.perf_counter() - started:.0f} s")
    gl = [len(j.postings) if any(p.account.startswith("council:") for p in j.postings)
          else 0 for j in journals]
    year_rows = sum(gl)
    # The short period: whole days from the start until a tenth of the year's rows.
    seen, short_end = 0, journals[0].date
    for j, rows in zip(journals, gl, strict=True):
        if seen >= year_rows // SMALL_SHARE and j.date != short_end:
            break
        seen += rows
        short_end = j.date
    postings = sum(len(j.postings) for j in journals)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    started = time.perf_counter()
    for start in range(0, len(journals), CHUNK):
        with engine.connect() as conn:
            DbStore(conn).post(journals[start:start + CHUNK])
            conn.commit()
        done = min(start + CHUNK, len(journals))
        if done % (50 * CHUNK) == 0 or done == len(journals):
            took = time.perf_counter() - started
            log(f"posted {done:,} of {len(journals):,} journals in {took:.0f} s "
                f"({done / took:,.0f} a second)")
    posting_s = time.perf_counter() - started
    engine.dispose()
    return (council, journals[0].date, short_end, journals[-1].date, seen, year_rows,
            postings, posting_s)


# ---------------------------------------------------------------- the parent


def measure(work: Path, db: Path, council: str, first: dt.date, last: dt.date) -> dict:
    """Both exports of one period, each twice in a fresh process, alternating."""
    best: dict[str, dict] = {}
    for _ in range(2):
        for kind in ("baseline", "ledger"):
            got = run_child(kind, db, council, first, last, work / f"{kind}.csv")
            log(f"{kind} {first}..{last}: {got['rows']:,} rows in {got['seconds']:.2f} s, "
                f"peak {got['peak_mib']:.0f} MiB")
            mine = best.setdefault(kind, {"seconds": got["seconds"], "rows": got["rows"],
                                          "cpu_s": got["cpu_s"], "peak_mib": 0.0,
                                          "before_mib": 0.0})
            if got["rows"] != mine["rows"]:
                raise SystemExit(f"{kind} wrote {got['rows']} rows, then {mine['rows']}")
            mine["seconds"] = min(mine["seconds"], got["seconds"])
            mine["cpu_s"] = min(mine["cpu_s"], got["cpu_s"])
            mine["peak_mib"] = max(mine["peak_mib"], got["peak_mib"])
            mine["before_mib"] = max(mine["before_mib"], got["before_mib"])
    ledger, base = best["ledger"], best["baseline"]
    if ledger["rows"] != base["rows"]:
        raise SystemExit(f"the export wrote {ledger['rows']} rows, the baseline "
                         f"{base['rows']}")
    rows = ledger["rows"]
    return {"first": first.isoformat(), "last": last.isoformat(), "rows": rows,
            "ledger_s": round(ledger["seconds"], 2),
            "baseline_s": round(base["seconds"], 2),
            "ledger_rows_per_s": round(rows / ledger["seconds"]),
            "baseline_rows_per_s": round(rows / base["seconds"]),
            "speed_ratio": round(base["seconds"] / ledger["seconds"], 2),
            "ledger_cpu_s": round(ledger["cpu_s"], 2),
            "baseline_cpu_s": round(base["cpu_s"], 2),
            "cpu_ratio": round(base["cpu_s"] / ledger["cpu_s"], 2),
            "ledger_peak_mib": round(ledger["peak_mib"]),
            "ledger_before_mib": round(ledger["before_mib"]),
            "baseline_peak_mib": round(base["peak_mib"])}


def doc_block(result: dict) -> str:
    small, year = result["short_period"], result["year"]
    speed = "met" if result["speed_met"] else "**missed**"
    flat = "flat" if result["memory_flat"] else "**not flat**"

    def line(label: str, m: dict) -> str:
        return (f"| {label} | {m['rows']:,} | {m['ledger_s']} s | "
                f"{m['ledger_rows_per_s']:,} | {m['baseline_s']} s | "
                f"{m['baseline_rows_per_s']:,} | {m['speed_ratio']}x | "
                f"{m['ledger_peak_mib']} MiB | {m['baseline_peak_mib']} MiB |")

    return "\n".join([
        START, "",
        f"Run {result['date']}, {result['cpus']} CPUs, load average "
        f"{result['load_average'][0]} before the exports and {result['load_average'][1]} "
        f"after. `bench/exports.py --write-doc` posted {result['journals']:,} journals "
        f"({result['postings']:,} postings) to SQLite. Every council account is put "
        f"under one council, {result['council']}. So its GL for the year has "
        f"{year['rows']:,} rows. The short period is {small['first']} to "
        f"{small['last']}. Each export ran twice, each time in a new process. The table "
        "keeps the faster time and the higher peak memory of the process (VmHWM).", "",
        "| period | GL rows | `write_gl` | rows/s | plain SELECT + `csv.writer` | rows/s "
        "| speed against the baseline | peak memory, `write_gl` | peak memory, "
        "baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        line("short", small), line("year", year), "",
        f"Speed at {year['rows']:,} rows: {year['speed_ratio']}x the baseline's. The "
        f"target is at least {TARGET}x: {speed}. On CPU time alone the export is "
        f"{year['cpu_ratio']}x the baseline's ({year['ledger_cpu_s']} s against "
        f"{year['baseline_cpu_s']} s).", "",
        f"Memory: the export's peak is {year['ledger_peak_mib']} MiB for the year and "
        f"{small['ledger_peak_mib']} MiB for the short period. That is "
        f"{result['memory_ratio']} times as much for {year['rows'] / small['rows']:.0f} "
        f"times the rows. Flat means within {FLAT} times: {flat}. The process holds "
        f"{year['ledger_before_mib']} MiB before the export starts (Python, SQLAlchemy "
        "and the ledger's code).", "",
        "The plain SELECT is slower on the short period. Its subquery reads every "
        "posting, whatever the dates.", "",
        f"The whole run took {result['total_s'] / 60:.1f} minutes. Posting the "
        f"journals took {result['posting_s'] / 60:.1f} of them.", "", END])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journals", type=int, default=1_085_000)
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ledger-exports-"))
    try:
        db = work / "ledger.db"
        (council, year_start, short_end, year_end, small_rows, year_rows, postings,
         posting_s) = build(db, args.journals)
        load = [round(os.getloadavg()[0], 1)]
        small = measure(work, db, council, year_start, short_end)
        year = measure(work, db, council, year_start, year_end)
        load.append(round(os.getloadavg()[0], 1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for got, expected in ((small, small_rows), (year, year_rows)):
        if got["rows"] != expected:
            raise SystemExit(f"{got['rows']} GL rows exported, {expected} expected")
    memory_ratio = round(year["ledger_peak_mib"] / small["ledger_peak_mib"], 2)
    result = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "cpus": os.cpu_count(), "load_average": load, "journals": args.journals,
              "postings": postings,
              "council": council, "rows": year["rows"],
              "ledger_s": year["ledger_s"], "baseline_s": year["baseline_s"],
              "ledger_rows_per_s": year["ledger_rows_per_s"],
              "baseline_rows_per_s": year["baseline_rows_per_s"],
              "speed_ratio": year["speed_ratio"], "speed_target": TARGET,
              "speed_met": year["speed_ratio"] >= TARGET, "cpu_ratio": year["cpu_ratio"],
              "memory_ratio": memory_ratio, "memory_flat_within": FLAT,
              "memory_flat": memory_ratio <= FLAT,
              "short_period": small, "year": year,
              "posting_s": round(posting_s), "total_s": round(time.perf_counter() - began)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.write_doc:
        write_doc(result)
    return 0


def write_doc(result: dict) -> None:
    write_section(DOC, "exports", doc_block(result), heading="## Council exports")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(*sys.argv[2:8]))
    sys.exit(main())
