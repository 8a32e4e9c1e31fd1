"""A council's month of holder statements, one file a person, beside plain file writes.

    .venv/bin/python bench/statements.py [--people 10000] [--sample 200] [--write-doc]

Sets up (not timed) one council with --people budget holders (bench/generate.py
`council_year`, two months from April 2026, every person moved under the first council),
replayed into a fresh SQLite file. Then, for May 2026, each timed in this process:
  1. `bulk.write_holder_statements(..., "json")`: a JSON file for every person;
  2. the same as HTML (each person's recorded variant);
  3. the one-at-a-time path on --sample people spread over the council: what
     `ledger statement holder H --format F -o FILE` does for each (a fresh `DbStore`,
     `holder_statement`, the document, the file), for JSON and HTML;
  4. the baseline, in the same run: the N statement dicts, already built and held in
     memory, each `json.dumps`-ed (as the CLI does) to its own file with plain writes.
Figures are reported as a ratio to the baseline and against the targets (issue "bulk
holder statements"): 10,000 JSON statements in under 30 s and HTML in under 2 minutes on
a 2-core machine. Results go to bench/results/statements.json; --write-doc rewrites the
`bench:statements` section of docs/performance.md. Progress goes to stderr. About 6
minutes at 10,000 people (most of it the set-up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from doc_section import write_section  # noqa: E402

RESULTS = HERE / "results" / "statements.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:statements:start -->", "<!-- bench:statements:end -->"
FIRST, LAST = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
TARGETS = {"json": 30.0, "html": 120.0}  # seconds for 10,000 people
TARGET_PEOPLE = 10_000


def log(message: str) -> None:
    print(f"statements: {message}", file=sys.stderr, flush=True)


def setup(people: int, url: str, seed: int = 1) -> tuple[str, int, float]:
    """Replay the council into `url`; returns (council, events, seconds)."""
    from ledger.app.scenarios import BATCH_EVENTS, run_scenario
    from ledger.scenarios.schema import ScenarioFile
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    started = time.perf_counter()
    data = generate.council_year(people, seed=seed, months=2)
    council = data["parties"]["councils"][0]["id"]
    for holder in data["parties"]["holders"]:
        holder["council"] = council
    scenario = ScenarioFile.model_validate(data)
    log(f"replaying {len(data['events']):,} events for {people:,} people "
        f"(about {len(data['events']) / 2500:.0f} s)")
    engine = open_database(url)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if done[0] % 10_000 == 0:
            log(f"  {done[0]:,} events")

    with engine.connect() as conn:
        store = DbStore(conn, batch=True)
        result = run_scenario(store, scenario, progress=tick, commit_every=BATCH_EVENTS)
        store.commit()
    engine.dispose()
    if result.failure:
        raise SystemExit(f"set-up failed: {result.failure}")
    return council, len(data["events"]), time.perf_counter() - started


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def bench(url: str, council: str, work: Path, sample: int) -> dict:
    from ledger.app import statements as bulk
    from ledger.cli.common import _variant, _write_document
    from ledger.reports.holder_doc import holder_document
    from ledger.reports.statements import holder_statement
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    engine = open_database(url, read_only=True)
    out: dict = {}
    with engine.connect() as conn:
        holders = bulk.holders_for(DbStore(conn), council=council, month_end=LAST)
        out["people"] = len(holders)
        for fmt in ("json", "html"):
            log(f"bulk {fmt}: {len(holders):,} files")
            target = _fresh(work / f"bulk-{fmt}")
            started = time.perf_counter()
            written = bulk.write_holder_statements(DbStore(conn), holders, FIRST, LAST,
                                                   fmt, target)
            took = time.perf_counter() - started
            assert written == len(holders) == len(os.listdir(target))
            out[f"bulk_{fmt}_s"] = round(took, 2)
            out[f"bulk_{fmt}_ms_each"] = round(took / written * 1000, 2)
            out[f"bulk_{fmt}_mib"] = round(sum(p.stat().st_size for p in target.iterdir())
                                           / 2**20, 1)

        step = max(1, len(holders) // sample)
        picked = holders[::step][:sample]
        for fmt in ("json", "html"):
            log(f"one at a time {fmt}: {len(picked)} files")
            target = _fresh(work / f"single-{fmt}")
            started = time.perf_counter()
            for holder in picked:  # what `ledger statement holder H -o FILE` does
                result = holder_statement(DbStore(conn), holder, FIRST, LAST)
                _write_document(holder_document(result), result, fmt,
                                _variant(False, False, result.get("statement_format")),
                                target / f"{holder}.{fmt}")
            took = time.perf_counter() - started
            out[f"single_{fmt}_sample"] = len(picked)
            out[f"single_{fmt}_ms_each"] = round(took / len(picked) * 1000, 2)
            # Against the bulk path's files for the same people written just now: a
            # template edited since step 1 would otherwise read as a difference.
            again = _fresh(work / f"again-{fmt}")
            bulk.write_holder_statements(DbStore(conn), picked, FIRST, LAST, fmt, again)
            same = sum((target / f"{h}.{fmt}").read_bytes() ==
                       (again / f"{h}.{fmt}").read_bytes() for h in picked)
            out[f"single_{fmt}_identical"] = f"{same}/{len(picked)}"

        log("baseline: building the dicts (not timed)")
        built = list(bulk.holder_statements(DbStore(conn), holders, FIRST, LAST))
    engine.dispose()
    log(f"baseline: json.dumps of {len(built):,} built dicts to files")
    target = _fresh(work / "baseline")
    started = time.perf_counter()
    for statement in built:
        text = json.dumps(statement, indent=2, default=str, ensure_ascii=False) + "\n"
        with open(target / f"{statement['holder']}.json", "w", encoding="utf-8",
                  newline="") as f:
            f.write(text)
    out["baseline_s"] = round(time.perf_counter() - started, 2)
    for fmt in ("json", "html"):
        out[f"bulk_{fmt}_ratio"] = round(out[f"bulk_{fmt}_s"] / out["baseline_s"], 1)
        out[f"speedup_{fmt}"] = round(out[f"single_{fmt}_ms_each"]
                                      / out[f"bulk_{fmt}_ms_each"], 1)
        at_target = out[f"bulk_{fmt}_ms_each"] * TARGET_PEOPLE / 1000
        out[f"bulk_{fmt}_s_per_10000"] = round(at_target, 1)
        out[f"{fmt}_target_met"] = at_target < TARGETS[fmt]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=TARGET_PEOPLE)
    parser.add_argument("--sample", type=int, default=200,
                        help="people for the one-at-a-time path")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", type=Path, default=None,
                        help="reuse this SQLite file if it exists (made by an earlier run "
                             "with the same --people and --seed), else create it there")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="ledger-statements-"))
    try:
        db = args.db or work / "ledger.db"
        url = f"sqlite:///{db}"
        if db.exists():
            council, events, setup_s = generate.COUNCIL_NAMES[0][0], None, None
            log(f"reusing {db}")
        else:
            council, events, setup_s = setup(args.people, url, args.seed)
        measured = bench(url, council, work, args.sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "load": os.getloadavg()[0]},
        "month": f"{FIRST:%Y-%m}", "events": events,
        "setup_s": None if setup_s is None else round(setup_s, 1),
        **measured,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.write_doc:
        _write_doc(result)
    return 0


def _verdict(r: dict, fmt: str) -> str:
    limit = TARGETS[fmt]
    at = r[f"bulk_{fmt}_s_per_10000"]
    return "met" if at < limit else f"**missed** by {at / limit:.1f}x"


def _write_doc(r: dict) -> None:
    m = r["machine"]
    setup = ("reused from an earlier run" if r["setup_s"] is None else
             f"{r['events']:,} events replayed first in {r['setup_s']} s, not timed")
    rows = []
    for fmt, label in (("json", "JSON"), ("html", "HTML")):
        rows.append(
            f"| {label} | {r[f'bulk_{fmt}_s']} s ({r[f'bulk_{fmt}_ms_each']} ms each, "
            f"{r[f'bulk_{fmt}_mib']} MiB) | {r[f'bulk_{fmt}_ratio']}x | "
            f"{r[f'single_{fmt}_ms_each']} ms each ({r[f'single_{fmt}_sample']} people; "
            f"{r[f'speedup_{fmt}']}x slower; files identical: "
            f"{r[f'single_{fmt}_identical']}) | under {TARGETS[fmt]:.0f} s for 10,000: "
            f"{r[f'bulk_{fmt}_s_per_10000']} s, {_verdict(r, fmt)} |")
    block = "\n".join([
        START, "", "## A council's statements, one file a person", "",
        f"Run {r['date']}: {m['cpus']} CPUs, Python {m['python']}, SQLite {m['sqlite']}, "
        f"load average {m['load']:.1f}; `bench/statements.py --write-doc` regenerates "
        f"this. One council of {r['people']:,} people (DPs and ISFs, two months; {setup}), "
        f"a statement each for {r['month']} with `reports/bulk.py` "
        "`write_holder_statements` (what `ledger statement holders` runs). Baseline in "
        f"the same run: the {r['people']:,} statement dicts already built, each "
        f"`json.dumps`-ed to its own file with plain writes: {r['baseline_s']} s.", "",
        "| format | bulk, every person | ratio to baseline | one at a time "
        "(`ledger statement holder`'s path) | target |",
        "|---|---:|---:|---:|---|",
        *rows, "", END])
    write_section(DOC, "statements", block)


if __name__ == "__main__":
    sys.exit(main())
