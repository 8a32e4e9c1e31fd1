"""The speed issue's table, one row per target, from the results the benchmarks wrote.

    .venv/bin/python bench/targets.py [--write-doc]

Reads bench/results/*.json (each written by the benchmark named in its row, beside its
same-run baseline) and prints the table; `--write-doc` rewrites the `bench:targets` section
of docs/performance.md. Every row says when its figure was measured and the machine's load
average at the start and end of that run, so a figure from a busy machine or an older run
reads as such. A row whose results file is missing says which command makes it.
`bench/all.py` runs every benchmark and then this.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from doc_section import write_section  # bench/, on the path as the script's folder

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "performance.md"
START, END = "<!-- bench:targets:start -->", "<!-- bench:targets:end -->"

Row = tuple[str, str, str, str, str, str]  # figure, now, baseline, target, verdict, run


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _verdict(met: bool, by: str) -> str:
    return "met" if met else f"**missed** by {by}"


def _run(when: str, start: float, end: float, command: str) -> str:
    return f"{when[:16].replace('T', ' ')}, load {start:.1f} to {end:.1f} (`{command}`)"


def compare_rows(r: dict) -> list[Row]:
    run = _run(r["when"], r["load_average"][0], r["load_average_end"][0], "bench/compare.py")
    rows = []
    for size in r["sizes"]:
        p, s = size["replay"], size["statement"]
        rows.append((f"durable replay vs `bean-check -C`, {size['people']:,} people",
                     f"{p['ledger_s']:.2f} s", f"{p['baseline_s']:.2f} s",
                     "at most 2x", f"{_x(p['ratio'])}: "
                     + _verdict(p["ratio"] <= 2, _x(p["ratio"] / 2)), run))
        worst = s.get("max_ratio", s["ratio"])
        rows.append((f"`ledger statement holder`, wall time, {size['people']:,} people",
                     f"median {s['median_ms']:,.0f} ms, max {s['max_ms']:,.0f} ms",
                     f"{s.get('baseline', 'ledger stats')}: {s['baseline_ms']:,.0f} ms",
                     "at most 1.5x", f"{_x(worst)} (worst holder): "
                     + _verdict(worst <= 1.5, _x(worst / 1.5)), run))
    return rows


def verify_rows(r: dict) -> list[Row]:
    m = r["machine"]
    run = _run(r["date"], m["load_start"], m["load_end"], "bench/verify.py")
    small, big, s = r["memory"][0], r["memory"][-1], r["since"]
    growth = big["full_rss_mib"] / small["full_rss_mib"]
    per_m = big["full_per_million_s"]
    return [
        (f"full `ledger verify`, {big['postings']:,} postings", f"{per_m:.1f} s per million",
         f"GROUP BY {big['group_by_s']:.3f} s", "at most 20 s per million",
         _verdict(per_m <= 20, _x(per_m / 20)), run),
        ("peak memory of `verify`, "
         f"{big['postings']:,} against {small['postings']:,} postings",
         f"{big['full_rss_mib']:.0f} MiB", f"{small['full_rss_mib']:.0f} MiB",
         "at most 1.25x", f"{_x(growth)}: " + _verdict(growth <= 1.25, _x(growth / 1.25)),
         run),
        (f"`verify --since-checkpoint`, a month's {s['records_after_checkpoint']:,} records, "
         f"{s['people']:,} people", f"{s['since_s']:.2f} s",
         f"full verify {s['full_s']:.1f} s", "under 2 s",
         _verdict(s["since_s"] < 2, _x(s["since_s"] / 2)), run),
    ]


def month_end_rows(r: dict) -> list[Row]:
    m = r["machine"]
    run = _run(r["date"], m["load_at_start"][0], m.get("load_at_end", [m["load"]])[0],
               "bench/month_end.py")
    imp = r["steps"]["import"]["s"]
    return [
        (f"timesheet import, {r['rows']:,} rows", f"{imp:.1f} s",
         f"plain executemany {r['baseline_rows_per_s']:,} rows/s", "under 10 s",
         _verdict(imp < 10, _x(imp / 10)), run),
        (f"a provider's month end, {r['isfs']:,} ISFs (advance, import, reconcile and "
         "report)", f"{r['total_s']:.1f} s", "-", "under 20 s",
         _verdict(r["total_s"] < 20, _x(r["total_s"] / 20)), run),
    ]


def run_rows(r: dict) -> list[Row]:
    m = r["machine"]
    run = _run(r["when"], m["load_average_at_start"][0], m["load_average_at_end"][0],
               "bench/run.py --engine both")
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    rows = []
    for name, label, limits in (("bulk", "bulk posting vs plain executemany / unnest",
                                 {"sqlite": 5, "postgres": 5}),
                                ("single", "one durable journal vs a raw durable insert",
                                 {"sqlite": 5, "postgres": 8})):
        for engine, results in r["engines"].items():
            b = results.get(name)
            if not b:
                continue
            limit = limits[engine]
            rows.append((f"{label}, {names[engine]}", f"{b['ledger_per_s']:,.0f} journals/s",
                         f"{b['baseline_per_s']:,.0f} journals/s", f"at most {limit}x",
                         f"{_x(b['ratio'])}: " + _verdict(b["ratio"] <= limit,
                                                          _x(b["ratio"] / limit)), run))
    return rows


def engines_rows(r: dict) -> list[Row]:
    run = _run(r.get("when", r.get("date", "")), r["load_average"][0],
               r["load_average_end"][0], "bench/statement_engines.py")
    worst = r["max_ratio"]
    return [("one person's statement, PostgreSQL vs SQLite",
             f"worst holder {_x(worst)} SQLite's", "the same statement on SQLite",
             "at most 1.5x", _verdict(worst <= 1.5, _x(worst / 1.5)), run)]


def web_rows(r: dict) -> list[Row]:
    now = r["figures"]["load"]
    c = r.get("comparison")
    machine = r.get("machine", r)  # the load during the current code's run
    run = _run(r["date"], machine["load_start"], machine["load_end"], "bench/web_load.py")
    rows = [("web view under load: p95", f"{now['p95_ms']:,.0f} ms", "-", "under 1 s",
             _verdict(now["p95_ms"] < 1000, _x(now["p95_ms"] / 1000)), run)]
    if c and c.get("per_s_ratio") is not None:
        base = r["baseline"]["figures"]["load"]["per_s"]
        rows.append(("web view under load: good answers a second",
                     f"{now['per_s']} a second", f"commit {r['baseline']['commit']}: {base} a "
                     "second", "at least 2x", f"{_x(c['per_s_ratio'])}: "
                     + _verdict(c["per_s_met"], _x(2 / c["per_s_ratio"])), run))
    return rows


def suite_rows(r: dict) -> list[Row]:
    during = r["load_average_during"] or [r["load_average_start"][0]]
    run = (f"{r['when'][:16].replace('T', ' ')}, commit {r['commit']}, load "
           f"{min(during):.1f}-{max(during):.1f} (`bench/suite.py`)")
    c = r["counts"]
    every = not c.get("failed") and not c.get("skipped")
    minutes = r["total_s"] / 60
    return [("the whole suite from a clean clone (`.ci/run`)",
             f"{minutes:.1f} min ({c.get('passed', 0):,} passed, {c.get('skipped', 0)} "
             f"skipped)", f"the install alone {r['install_s'] / 60:.1f} min",
             "under 8 min, every test run",
             _verdict(every and minutes < 8, _x(minutes / 8) if every else "tests not run"),
             run)]


SOURCES: list[tuple[str, Callable[[dict], list[Row]], str]] = [
    ("compare.json", compare_rows, "bench/compare.py"),
    ("verify.json", verify_rows, "bench/verify.py --write-doc"),
    ("month_end.json", month_end_rows, "bench/month_end.py --write-doc"),
    ("latest.json", run_rows, "bench/run.py --engine both --write-doc"),
    ("statement-engines.json", engines_rows, "bench/statement_engines.py --write-doc"),
    ("web_load.json", web_rows, "bench/web_load.py --write-doc"),
    ("suite.json", suite_rows, "bench/suite.py --write-doc"),
]


def rows() -> list[Row]:
    out: list[Row] = []
    for name, make, command in SOURCES:
        found = _load(name)
        try:
            out.extend(make(found) if found else [])
            if not found:
                raise KeyError(name)
        except (KeyError, IndexError, TypeError):
            out.append((f"(the rows of `{command}`)", "not measured with this code", "-", "-",
                        f"run `.venv/bin/python {command}`", "-"))
    return out


def table() -> str:
    lines = ["| figure | now | baseline (same run) | target | result | run, load average |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows()]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    block = "\n".join([START, "<!-- Written by bench/targets.py --write-doc (bench/all.py runs "
                       "it last); edits between these markers are overwritten. -->", "",
                       text, "", END])
    write_section(DOC, "targets", block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    text = table()
    print(text)
    if args.write_doc:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
