"""One person's statement on PostgreSQL against the same on SQLite: the same data, the
same command, the same run.

    .venv/bin/python bench/statement_engines.py                  # 300 people (a few minutes)
    .venv/bin/python bench/statement_engines.py --write-doc      # and rewrite its section
    .venv/bin/python bench/statement_engines.py --people 150 --repeat 3 --keep /tmp/se

It writes the council year of `--people` people (bench/generate.council_year, by seed),
replays it with `ledger scenario run` into a fresh SQLite file and into a fresh
PostgreSQL database (made and dropped with psql; $LEDGER_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432), checks that both give every chosen holder the same
statement, then times `ledger statement holder H --from --to --format json` (the whole
year, as a user runs it: a new process, wall time) for --holders holders (half with a
direct payment, half with an ISF) on each engine. The runs are interleaved: each round runs
every holder on SQLite, then on PostgreSQL, so a change in the machine's load hits both
alike; one warm-up round, then --repeat rounds; the figure is each holder's median. The
ratio is PostgreSQL / SQLite; the target (issue 22) is at most 1.5x.

Results: bench/results/statement-engines.json, and with --write-doc the section between
the bench:statement-engines markers of docs/performance.md (appended at the end the first
time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare  # noqa: E402
import workload  # noqa: E402
from doc_section import write_section  # noqa: E402

ROOT = compare.ROOT
DOC = compare.DOC
START_MARK = "<!-- bench:statement-engines:start -->"
END_MARK = "<!-- bench:statement-engines:end -->"
MAX_RATIO = 1.5


def statement(holder: str, url: str) -> list[str]:
    return compare.ledger("statement", "holder", holder, "--from",
                          compare.PERIOD[0].isoformat(), "--to", compare.PERIOD[1].isoformat(),
                          "--format", "json", "--db", url)


def measure(holders: list[str], urls: dict[str, str], repeat: int) -> dict:
    """{engine: {holder: [ms, ...]}}, interleaved round by round (round 0: warm-up)."""
    times = {engine: {h: [] for h in holders} for engine in urls}
    for round_ in range(repeat + 1):
        for holder in holders:
            for engine, url in urls.items():
                took = compare.run(statement(holder, url)).seconds * 1000
                if round_:
                    times[engine][holder].append(took)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--holders", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="make the files in DIR and keep them; the SQLite file and the "
                             "PostgreSQL database are reused when DIR already has them")
    parser.add_argument("--write-doc", action="store_true",
                        help="rewrite the bench:statement-engines section of the document")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--out", type=Path, default=compare.RESULTS / "statement-engines.json")
    args = parser.parse_args(argv)

    base = os.environ.get("LEDGER_BENCH_POSTGRES_URL", compare.DEFAULT_PG)
    pg = compare.pg_version(base)
    if pg is None:
        raise SystemExit(f"PostgreSQL is not reachable at {base}")
    started = time.perf_counter()
    load_start = os.getloadavg()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ledger-statement-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    params = compare.pg_params(base)
    name = f"ledger_stmt_{args.people}_{args.seed}"
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    pg_url = f"postgresql://{auth}@{params['host']}:{params['port']}/{name}"
    db = work / f"council-{args.people}.db"
    marker = work / f"council-{args.people}.pg-ready"  # the database was filled by --keep
    try:
        yaml_path = work / f"council-{args.people}.yaml"
        if not (args.keep and db.exists() and marker.exists()):
            counts = workload.write_yaml(args.people, yaml_path, seed=args.seed)
            print(f"{yaml_path.name}: {counts['events']:,} events")
            db.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            lite, _ = compare.replay(yaml_path, f"sqlite:///{db}")
            print(f"  replayed into SQLite in {lite.seconds:.1f} s")
            compare.psql(params, f'DROP DATABASE IF EXISTS "{name}"')
            compare.psql(params, f'CREATE DATABASE "{name}"')
            heavy, _ = compare.replay(yaml_path, pg_url)
            print(f"  replayed into PostgreSQL in {heavy.seconds:.1f} s")
            marker.touch()
        urls = {"SQLite": f"sqlite:///{db}", "PostgreSQL": pg_url}
        stats = {e: json.loads(compare.run(compare.ledger("stats", "--format", "json", "--db",
                                                          u)).out) for e, u in urls.items()}
        if stats["SQLite"] != stats["PostgreSQL"]:
            raise SystemExit(f"the two replays differ: {stats}")
        holders = compare.holders_to_state(args.people, args.seed, args.holders)
        for holder in holders:  # the same statement from both, before anything is timed
            texts = {e: json.loads(compare.run(statement(holder, u)).out)
                     for e, u in urls.items()}
            if texts["SQLite"] != texts["PostgreSQL"]:
                raise SystemExit(f"{holder}'s statement differs between the engines")
        times = measure(holders, urls, args.repeat)
    finally:
        if args.keep is None:
            compare.psql(params, f'DROP DATABASE IF EXISTS "{name}"', check=False)
            shutil.rmtree(work, ignore_errors=True)

    per_holder = {}
    for holder in holders:
        lite = statistics.median(times["SQLite"][holder])
        heavy = statistics.median(times["PostgreSQL"][holder])
        per_holder[holder] = {"sqlite_ms": lite, "postgres_ms": heavy, "ratio": heavy / lite}
    ratios = [v["ratio"] for v in per_holder.values()]
    results = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": ".venv/bin/python bench/statement_engines.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "people": args.people, "seed": args.seed, "repeat": args.repeat,
        "journals": stats["SQLite"]["journals"], "postings": stats["SQLite"]["postings"],
        "cpus": os.cpu_count(), "python": platform.python_version(), "postgresql": pg,
        "load_average": load_start, "load_average_end": os.getloadavg(),
        "seconds": time.perf_counter() - started,
        "per_holder": per_holder, "median_ratio": statistics.median(ratios),
        "max_ratio": max(ratios), "target": MAX_RATIO, "times_ms": times,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    section = render(results)
    print("\n" + section)
    if args.write_doc:
        write_doc(section, args.doc)
    return 0


def render(r: dict) -> str:
    met = r["max_ratio"] <= MAX_RATIO
    lines = [
        START_MARK,
        "<!-- Written by bench/statement_engines.py --write-doc; edits between these "
        "markers are overwritten. -->",
        "",
        "### One person's statement, PostgreSQL against SQLite",
        "",
        f"Run {r['when']}: `{r['command'].strip()}`, {r['seconds']:.0f} s; {r['cpus']} CPUs, "
        f"Python {r['python']}, PostgreSQL {r['postgresql']}. Load average "
        f"{r['load_average'][0]:.1f} at the start and {r['load_average_end'][0]:.1f} at the "
        f"end. {r['people']:,} people, 12 months ({r['journals']:,} journals, "
        f"{r['postings']:,} postings), replayed into a fresh SQLite file and a fresh "
        "PostgreSQL database; both give each holder the same statement. "
        "`ledger statement holder H --from 2026-04-01 --to 2027-03-31 --format json`, wall "
        f"time of the process, median of {r['repeat']} interleaved rounds after one warm-up.",
        "",
        "| holder | SQLite | PostgreSQL | ratio (PostgreSQL / SQLite) |",
        "|---|---:|---:|---:|",
    ]
    for holder, v in r["per_holder"].items():
        lines.append(f"| {holder} | {v['sqlite_ms']:,.0f} ms | {v['postgres_ms']:,.0f} ms | "
                     f"{v['ratio']:.2f}x |")
    lines += [
        "",
        f"Median ratio {r['median_ratio']:.2f}x, largest {r['max_ratio']:.2f}x; target at "
        f"most {MAX_RATIO}x for each holder: "
        + ("met." if met else f"**missed** by {r['max_ratio'] / MAX_RATIO:.2f}x."),
        "",
        END_MARK,
    ]
    return "\n".join(lines)


def write_doc(section: str, doc: Path) -> None:
    write_section(doc, "statement-engines", section)
    print(f"\nthe bench:statement-engines section of {compare._shown(doc)} is rewritten")


if __name__ == "__main__":
    sys.exit(main())
