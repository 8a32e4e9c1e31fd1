"""The generated council workload of bench/compare.py, and the files made from it.

    .venv/bin/python bench/workload.py yaml --people 150 -o council-150.yaml
    .venv/bin/python bench/workload.py hledger EXPORT.beancount -o X.journal
    .venv/bin/python bench/workload.py replay FILE --db URL   (the Python API path)

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
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    p = sub.add_parser("replay", help="replay a scenario file through the Python API")
    p.add_argument("file", type=Path)
    p.add_argument("--db", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "yaml":
        counts = write_yaml(args.people, args.output, args.seed, args.months)
        print(f"{args.output}: {counts['events']:,} events")
        return 0
    if args.cmd == "hledger":
        print(f"{args.output}: {beancount_to_hledger(args.source, args.output):,} transactions")
        return 0
    return replay(args.file, args.db)


if __name__ == "__main__":
    sys.exit(main())
