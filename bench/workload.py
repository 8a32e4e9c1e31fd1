"""The generated council workload of bench/compare.py, and the files made from it.

    .venv/bin/python bench/workload.py yaml --people 150 -o council-150.yaml
    .venv/bin/python bench/workload.py hledger EXPORT.beancount -o X.journal
    .venv/bin/python bench/workload.py replay FILE --db URL   (the Python API path)
    .venv/bin/python bench/workload.py rules --people 150     (the rules' own cost)

* `write_yaml(people, path, seed)`: `generate.council_year`, 12 whole months for `people`
  budget holders, as a scenario YAML file with dates as YYYY-MM-DD strings (the file a
  council's feed would give `ledger scenario run`).
* `beancount_to_hledger(src, dst)`: turns `ledger export beancount` output into an
  hledger journal of the same transactions. Each account keeps the ledger's own path
  (from the `path:` metadata of its `open` directive), amounts keep their commodities
  (GBP in pounds, MIN for minutes of support), and each transaction keeps its date,
  type and key.
* `replay(path, db_url)`: what `ledger scenario run FILE --db URL` does (one transaction
  for the file), through the Python API, without the CLI's file-size limit. compare.py
  uses it only when the CLI refuses the file, and says so.
* `rules_cost(people, baseline, repeat)`: the rules' own cost (every event of the
  workload into MemoryBackend, no database), checking the file, reading its events again
  for the replay, and `ledger scenario run` into a fresh SQLite file (CPU and wall), for
  this tree and for a baseline commit (a temporary git worktree, run with PYTHONPATH set
  to its src/), measured alternately in the same run, each the fastest of `repeat`; with
  the load average at the start and the end, and `bean-check -C` of the replay's export
  (the issue's baseline for the replay) in the same run. About a minute at 150 people.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parent.parent

import generate  # noqa: E402


def _plain(value: object) -> object:
    """Dates as YYYY-MM-DD text; everything else as it is (the generator gives text
    amounts, so nothing is a binary float)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def write_yaml(people: int, path: Path, seed: int = 1, months: int = 12,
               limit: int | None = None) -> dict[str, int]:
    """Write the workload (only its first `limit` events when given: a prefix replays as
    well as the whole); returns its event count by type (and "events" for the total)."""
    data = _plain(generate.council_year(people, seed=seed, months=months))
    if limit is not None:
        data["events"] = data["events"][:limit]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with path.open("w", encoding="utf-8") as out:
        yaml.dump(data, out, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1000)
    counts: dict[str, int] = {"events": len(data["events"])}
    for event in data["events"]:
        counts[event["type"]] = counts.get(event["type"], 0) + 1
    return counts


# ------------------------------------------------------------------ hledger

_OPEN = re.compile(r"^(\d{4}-\d\d-\d\d) open (\S+)")
_META = re.compile(r'^\s+(\w[\w-]*):\s+"((?:[^"\\]|\\.)*)"\s*$')
_TXN = re.compile(r'^(\d{4}-\d\d-\d\d) [*!] "((?:[^"\\]|\\.)*)"')
_POSTING = re.compile(r"^\s+([A-Z][^\s]*)\s+(-?[\d.]+) ([A-Z][A-Z0-9'._-]*)\s*$")
_UNSAFE = re.compile(r"\s\s|[;\t]|^\s|\s$")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def beancount_to_hledger(src: Path, dst: Path) -> int:
    """Convert; returns the number of transactions written. A ledger path hledger could
    misread (two spaces, a tab or `;`) keeps the Beancount account name instead."""
    names: dict[str, str] = {}
    opened: str | None = None
    count = 0
    with src.open(encoding="utf-8") as inp, dst.open("w", encoding="utf-8") as out:
        out.write("; converted from `ledger export beancount` by bench/workload.py\n")
        out.write("; accounts are the ledger's own paths; GBP in pounds, MIN in minutes\n")
        for line in inp:
            if opened is not None:
                meta = _META.match(line)
                if meta and meta.group(1) == "path":
                    path = _unquote(meta.group(2))
                    if not _UNSAFE.search(path):
                        names[opened] = path
                    opened = None
                    continue
                opened = None
            if match := _OPEN.match(line):
                opened = match.group(2)
                names.setdefault(opened, opened)
            elif match := _TXN.match(line):
                narration = _unquote(match.group(2)).replace(";", ",")
                out.write(f"\n{match.group(1)} * {narration}\n")
                count += 1
            elif (meta := _META.match(line)) is not None and count:
                out.write(f"    ; {meta.group(1)}: {_unquote(meta.group(2))}\n")
            elif match := _POSTING.match(line):
                account = names.get(match.group(1), match.group(1))
                out.write(f"    {account}  {match.group(2)} {match.group(3)}\n")
    return count


# ------------------------------------------------------------------ replay (Python API)


def replay(path: Path, db_url: str) -> int:
    """`ledger scenario run PATH --db URL` through the Python API, without the file-size
    limit of the CLI's reader. Prints the CLI's summary line; returns its exit status."""
    from ledger.app.scenarios import BATCH_EVENTS, run_scenario
    from ledger.scenarios import schema
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    schema.MAX_FILE_BYTES = max(schema.MAX_FILE_BYTES, path.stat().st_size + 1)
    loaded = schema.load_scenario(path)
    engine = open_database(db_url)
    with engine.connect() as conn:  # the batched path, as `ledger scenario run` uses it
        store = DbStore(conn, batch=True)
        result = run_scenario(store, loaded, source=str(path), commit_every=BATCH_EVENTS)
        store.commit()
    print(f"{path}: {result.applied} applied, {result.skipped} already recorded, "
          f"{result.rejected_as_expected} rejected as expected, {result.journals} journals "
          "posted (Python API)")
    if result.failure:
        print(f"error: {result.failure}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------ the rules' own cost

# Run in a child process with PYTHONPATH set to one tree's src/: CPU seconds (this process
# only) to check the file, to read its events again for the replay, and to apply every
# event into MemoryBackend (the rules with no database; the fastest of `repeat`).
_RULES_CHILD = r"""
import json, sys, time
from pathlib import Path
import ledger.domain
from ledger.app.submit import apply_all
from ledger.scenarios.runner import scenario_items
from ledger.scenarios.schema import ScenarioStream
from ledger.store.memory import MemoryBackend
path, repeat = Path(sys.argv[1]), int(sys.argv[2])
clock = time.process_time
start = clock()
with ScenarioStream(path) as stream:
    count = stream.check()
    checked = clock()
    items = list(scenario_items(stream, str(path)))
read = clock()
best = None
for _ in range(repeat):
    memory = MemoryBackend()
    began = clock()
    done = apply_all(memory, iter(items))
    took = clock() - began
    assert done.ok and done.applied == count, done.refusals[:1]
    best = took if best is None else min(best, took)
print(json.dumps({"events": count, "check_s": checked - start, "reread_s": read - checked,
                  "rules_s": best}))
"""


def _tree_at(rev: str, where: Path) -> Path:
    """A checkout of `rev` of this repository (a detached git worktree) at `where`."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(where),
                    rev], check=True, capture_output=True)
    return where


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Run `cmd`; its CPU seconds (user + system, from the kernel) and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def _ledger(tree: Path, *args: str) -> tuple[list[str], dict]:
    """The `ledger` command with `tree`'s code, and its environment."""
    return ([sys.executable, "-c", "import sys; sys.argv[0] = 'ledger'; "
             "from ledger.cli import main; main()", *args],
            {**os.environ, "PYTHONPATH": str(tree / "src")})


def _cli_replay(tree: Path, path: Path, work: Path) -> dict[str, float]:
    """`ledger scenario run PATH` into a fresh SQLite file with `tree`'s code: its CPU
    seconds and wall seconds."""
    db = work / "replay.db"
    for leftover in work.glob("replay.db*"):
        leftover.unlink()
    cpu, wall = _timed(*_ledger(tree, "scenario", "run", str(path), "--db", f"sqlite:///{db}"))
    return {"cli_cpu_s": cpu, "cli_wall_s": wall}


def _bean_check(work: Path) -> dict[str, float]:
    """`bean-check -C` (no cache) of `ledger export beancount` of the last replay: the
    issue's baseline for the replay (bench/compare.py measures it the same way)."""
    beancount = work / "replay.beancount"
    if not beancount.exists():
        subprocess.run(_ledger(ROOT, "export", "beancount", "--db",
                               f"sqlite:///{work / 'replay.db'}", "-o", str(beancount))[0],
                       check=True, capture_output=True)
    cpu, wall = _timed([str(Path(sys.executable).with_name("bean-check")), "-C",
                        str(beancount)])
    return {"bean_cpu_s": cpu, "bean_wall_s": wall}


def rules_cost(people: int, baseline: str, repeat: int, seed: int = 1) -> dict:
    """The rules' own cost and the file's reading, this tree against `baseline`, measured
    alternately in the same run (each figure the fastest of `repeat`)."""
    import tempfile

    results: dict = {"people": people, "baseline": baseline, "repeat": repeat,
                     "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        work = Path(tmp)
        path = work / f"council-{people}.yaml"
        write_yaml(people, path, seed=seed)
        trees = {"this tree": ROOT, f"baseline {baseline}": _tree_at(baseline, work / "base")}
        try:
            figures: dict[str, dict[str, float]] = {name: {} for name in trees}
            for _ in range(repeat):
                for name, tree in trees.items():
                    done = subprocess.run(
                        [sys.executable, "-c", _RULES_CHILD, str(path), "3"], check=True,
                        capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(tree / "src")})
                    measured = json.loads(done.stdout)
                    measured.update(_cli_replay(tree, path, work))
                    for key, value in measured.items():
                        old = figures[name].get(key)
                        figures[name][key] = value if old is None else min(old, value)
                if Path(sys.executable).with_name("bean-check").exists():
                    for key, value in _bean_check(work).items():
                        old = results.get(key)
                        results[key] = value if old is None else min(old, value)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(work / "base")], capture_output=True)
    results["figures"] = figures
    results["load_end"] = os.getloadavg()[0]
    return results


def _print_rules(results: dict) -> None:
    mine, base = results["figures"].values()
    print(f"{results['people']} people, {mine['events']:,} events; fastest of "
          f"{results['repeat']}; load average {results['load_start']:.1f} at the start, "
          f"{results['load_end']:.1f} at the end")
    print(f"{'figure (CPU s unless wall)':42} {'this tree':>10} {'baseline':>10} {'ratio':>7}")
    for key, what in (("check_s", "check the file (every event read)"),
                      ("reread_s", "read the events again for the replay"),
                      ("rules_s", "the rules: every event into MemoryBackend"),
                      ("cli_cpu_s", "`ledger scenario run` into SQLite, CPU"),
                      ("cli_wall_s", "`ledger scenario run` into SQLite, wall")):
        print(f"{what:42} {mine[key]:10.3f} {base[key]:10.3f} {mine[key] / base[key]:7.2f}")
    if "bean_wall_s" in results:
        print(f"`bean-check -C` of the export (the replay's baseline): "
              f"{results['bean_wall_s']:.3f} s wall, {results['bean_cpu_s']:.3f} s CPU")
        for name, figures in results["figures"].items():
            print(f"replay / bean-check, {name}: {figures['cli_wall_s'] / results['bean_wall_s']:.2f}x "
                  f"wall, {figures['cli_cpu_s'] / results['bean_cpu_s']:.2f}x CPU "
                  "(target: at most 2x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("yaml", help="write the workload as a scenario file")
    p.add_argument("--people", type=int, default=150)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("-o", "--output", type=Path, required=True)
    p = sub.add_parser("hledger", help="convert a Beancount export to an hledger journal")
    p.add_argument("source", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True)
    p = sub.add_parser("rules", help="the rules' own cost and the file's reading, this "
                       "tree against a baseline commit, in the same run")
    p.add_argument("--people", type=int, default=150)
    p.add_argument("--baseline", default="c0f4fdd", help="the commit to compare with "
                   "(default: c0f4fdd, before issue 22's second round)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--out", type=Path, help="also write the figures as JSON here")
    p = sub.add_parser("replay", help="replay a scenario file through the Python API")
    p.add_argument("file", type=Path)
    p.add_argument("--db", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "yaml":
        counts = write_yaml(args.people, args.output, args.seed, args.months)
        print(f"{args.output}: {counts['events']:,} events")
        return 0
    if args.cmd == "rules":
        results = rules_cost(args.people, args.baseline, args.repeat)
        _print_rules(results)
        if args.out:
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    if args.cmd == "hledger":
        print(f"{args.output}: {beancount_to_hledger(args.source, args.output):,} transactions")
        return 0
    return replay(args.file, args.db)


if __name__ == "__main__":
    sys.exit(main())
