"""`ledger verify`: the full proof per million postings, its memory at two sizes, and
`verify --since-checkpoint` of one month's new records (docs/rules-trust.md#checkpoints).

    .venv/bin/python bench/verify.py --write-doc          # the figures in docs/performance.md
    .venv/bin/python bench/verify.py --people 500 --memory-months 12,36      # quicker

What it does, each step as a user runs it (a subprocess; wall time and peak RSS from GNU
time, as bench/compare.py measures):
  1. the council workload of bench/compare.py (`generate.council_year`) for --people
     people: the first 11 months are replayed into a fresh SQLite file, `ledger
     checkpoint` is run (a month end), then the whole year's file is replayed again, which
     records only the last month;
  2. `ledger verify --since-checkpoint` against `ledger verify` (the full proof) on that
     file, and both against the plain `GROUP BY` of every posting (the baseline of
     docs/performance.md's verify row: sqlite3's CLI, else Python's sqlite3);
  3. the full `ledger verify`'s peak memory with more history: the same --memory-people
     people over each of --memory-months months (about 130 postings a person a year: 700
     people over 12 months are about 90,000 postings, over 120 months about 900,000),
     each beside the same GROUP BY, so the growth is a ratio of two peaks. The people stay
     the same, so what the ledger holds now (accounts, instruments, parties) does too:
     what is measured is whether verify's memory grows with the ledger's history.
Targets (docs/performance.md, issue 22): full verify at most 20 s per million postings;
the peak at the largest size at most 1.25x the peak at the smallest; --since-checkpoint of
a month at 2,000 people under 2 s. Results: bench/results/verify.json, and with
--write-doc the section between the bench:verify markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402  (run, ledger, GROUP_BY: the same measuring as compare.py)
import generate  # noqa: E402
from doc_section import write_section  # noqa: E402
from workload import _plain  # noqa: E402

DOC = HERE.parent / "docs" / "performance.md"
START, END = "<!-- bench:verify:start -->", "<!-- bench:verify:end -->"
OUT = HERE / "results" / "verify.json"


def _yaml(data: dict, path: Path) -> None:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(_plain(data), out, Dumper=dumper, sort_keys=False, allow_unicode=True,
                  width=1000)


def _group_by(db: Path) -> compare.Run:
    sqlite_cli = compare.shutil.which("sqlite3")
    cmd = ([sqlite_cli, str(db), compare.GROUP_BY] if sqlite_cli else
           [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            f"print(len(c.execute({compare.GROUP_BY!r}).fetchall()))", str(db)])
    compare.run(cmd)  # warm the file's pages, as for the ledger's own runs
    return compare.run(cmd)


def _postings(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM posting").fetchone()[0]


def _records_after_checkpoint(db: Path) -> tuple[int, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        seq = conn.execute("SELECT MAX(seq) FROM event WHERE type = 'checkpoint'").fetchone()[0]
        after = conn.execute("SELECT COUNT(*) FROM event WHERE seq > ?", (seq,)).fetchone()[0]
    return seq, after


def _best(cmd: list[str], repeat: int) -> compare.Run:
    """The fastest of `repeat` runs after one warm-up (peak: the largest seen)."""
    compare.run(cmd)
    runs = [compare.run(cmd) for _ in range(repeat)]
    fastest = min(runs, key=lambda r: r.seconds)
    fastest.rss_mib = max(r.rss_mib for r in runs)
    return fastest


def since_checkpoint(people: int, work: Path, repeat: int) -> dict:
    year = generate.council_year(people, seed=1, months=12)
    first = generate.council_year(people, seed=1, months=11)
    split = len(first["events"])
    assert year["events"][:split] == first["events"], "the first 11 months are a prefix"
    head, whole = work / f"year-{people}-11.yaml", work / f"year-{people}.yaml"
    _yaml(first, head)
    _yaml(year, whole)
    db = work / f"year-{people}.db"
    url = f"sqlite:///{db}"
    compare.run(compare.ledger("scenario", "run", str(head), "--db", url))
    made = compare.run(compare.ledger("checkpoint", "--db", url))
    compare.run(compare.ledger("scenario", "run", str(whole), "--db", url))
    seq, after = _records_after_checkpoint(db)
    since = _best(compare.ledger("verify", "--since-checkpoint", "--db", url), repeat)
    full = _best(compare.ledger("verify", "--db", url), 1)
    assert since.out.splitlines()[-1] == full.out.splitlines()[-1], "the same head"
    base = _group_by(db)
    postings = _postings(db)
    return {"people": people, "postings": postings, "records_after_checkpoint": after,
            "checkpoint_seq": seq, "checkpoint_s": made.seconds,
            "checkpoint_rss_mib": made.rss_mib,
            "since_s": since.seconds, "since_rss_mib": since.rss_mib,
            "full_s": full.seconds, "full_rss_mib": full.rss_mib,
            "full_per_million_s": full.seconds * 1e6 / postings,
            "group_by_s": base.seconds, "group_by_rss_mib": base.rss_mib,
            "since_vs_full": since.seconds / full.seconds}


def memory(people: int, months: int, work: Path) -> dict:
    path = work / f"mem-{people}-{months}.yaml"
    _yaml(generate.council_year(people, seed=1, months=months), path)
    db = work / f"mem-{people}-{months}.db"
    url = f"sqlite:///{db}"
    compare.run(compare.ledger("scenario", "run", str(path), "--db", url))
    path.unlink()
    full = compare.run(compare.ledger("verify", "--db", url))
    base = _group_by(db)
    postings = _postings(db)
    db.unlink()
    return {"people": people, "months": months, "postings": postings, "full_s": full.seconds,
            "full_per_million_s": full.seconds * 1e6 / postings,
            "full_rss_mib": full.rss_mib, "group_by_s": base.seconds,
            "group_by_rss_mib": base.rss_mib}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000,
                        help="the year whose last month is verified since a checkpoint")
    parser.add_argument("--memory-people", type=int, default=700,
                        help="the people whose history grows for the memory comparison")
    parser.add_argument("--memory-months", default="12,120",
                        help="the lengths of history whose full verify's peaks are compared")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of --since-checkpoint (the fastest is kept)")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.memory_months.split(",")]
    result: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_start": os.getloadavg()[0]}}
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        work = Path(tmp)
        print(f"since a checkpoint: {args.people} people", flush=True)
        result["since"] = since_checkpoint(args.people, work, args.repeat)
        print(json.dumps(result["since"], indent=1), flush=True)
        result["memory"] = []
        for months in sizes:
            print(f"memory: {args.memory_people} people, {months} months", flush=True)
            result["memory"].append(memory(args.memory_people, months, work))
            print(json.dumps(result["memory"][-1], indent=1), flush=True)
    result["machine"]["load_end"] = os.getloadavg()[0]
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.write_doc:
        _write_doc(result)
        print(f"the bench:verify section of {DOC.relative_to(HERE.parent)} is rewritten")
    return 0


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"**missed** by {value / target:.2f}x"


def _write_doc(r: dict) -> None:
    m, s = r["machine"], r["since"]
    small, big = r["memory"][0], r["memory"][-1]
    growth = big["full_rss_mib"] / small["full_rss_mib"]
    per_m = big["full_per_million_s"]
    block = "\n".join([
        START, "",
        f"Run {r['date']} (UTC), `bench/verify.py --write-doc` (regenerates this table): "
        f"{m['cpus']} CPUs, Python {m['python']}, SQLite; load average {m['load_start']:.1f} "
        f"at the start, {m['load_end']:.1f} at the end. Wall time and peak RSS of each "
        "command as a user runs it; the baseline is the plain `GROUP BY` of every posting "
        "on the same file, in the same run.", "",
        "| figure | ledger | baseline (same run) | ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| full `ledger verify`, {big['people']:,} people over {big['months']} months "
        f"({big['postings']:,} postings) | "
        f"{big['full_s']:.1f} s ({per_m:.1f} s per million postings) | "
        f"{big['group_by_s']:.3f} s (GROUP BY) | {big['full_s'] / big['group_by_s']:.0f}x | "
        f"at most 20 s per million: {_verdict(per_m, 20)} |",
        f"| full `ledger verify`, {small['people']:,} people over {small['months']} months "
        f"({small['postings']:,} postings)"
        f" | {small['full_s']:.1f} s ({small['full_per_million_s']:.1f} s per million) | "
        f"{small['group_by_s']:.3f} s | {small['full_s'] / small['group_by_s']:.0f}x | |",
        f"| peak memory of the full verify, {big['postings']:,} against {small['postings']:,}"
        f" postings (the same people, {big['months']} and {small['months']} months) | {big['full_rss_mib']:.0f} MiB against {small['full_rss_mib']:.0f} MiB |"
        f" GROUP BY: {big['group_by_rss_mib']:.0f} and {small['group_by_rss_mib']:.0f} MiB | "
        f"{growth:.2f}x | at most 1.25x: {_verdict(growth, 1.25)} |",
        f"| `ledger verify --since-checkpoint`, {s['people']:,} people "
        f"({s['postings']:,} postings), the last month's {s['records_after_checkpoint']:,} "
        f"records after the checkpoint | {s['since_s']:.2f} s, {s['since_rss_mib']:.0f} MiB |"
        f" full verify of the same file: {s['full_s']:.1f} s, {s['full_rss_mib']:.0f} MiB |"
        f" {s['since_vs_full']:.2f}x | under 2 s: {_verdict(s['since_s'], 2)} |",
        f"| `ledger checkpoint` at the end of the 11th month (the proof since no checkpoint, "
        f"then the write) | {s['checkpoint_s']:.1f} s, {s['checkpoint_rss_mib']:.0f} MiB | | "
        "| none set |",
        "", END])
    write_section(DOC, "verify", block, heading="## Verify, checkpoints and memory")


if __name__ == "__main__":
    sys.exit(main())
