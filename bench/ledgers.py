"""Writers in several ledgers of one PostgreSQL database at once (docs/architecture.md#ledgers).

    .venv/bin/python bench/ledgers.py [--seconds 6] [--url postgresql://...]

Each case runs N writer processes for a fixed time; each writer commits one durable
journal per transaction (`DbStore.post([journal])`, the full path: the ledger's row lock,
replay check, accounts, chain, draft insert, postings, seal and its triggers, the record,
the head row). Cases:

  1, 2 and 4 writers, each in its own ledger;
  4 writers in one ledger (they take turns on its row lock: the chain has one order);
  8 writers in one ledger, all paying into one hot pool account.

Baseline, measured in the same run: the same number of processes each committing the same
rows (one journal and its postings per transaction) with plain psycopg into bare tables
with no triggers, keys or locks. Reported: journals/s per writer and in total, the ratio
to the baseline with as many writers, and the errors that reached the caller (the target
is none: a writer waits for its turn, it never fails). Results go to
bench/results/ledgers.json and, with --write-doc, to docs/performance.md between the
`bench:ledgers` markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from doc_section import write_section  # noqa: E402
from run import BARE_POSTGRES, DEFAULT_PG_URL, PostgresTarget  # noqa: E402

from ledger.core.amounts import Unit  # noqa: E402
from ledger.core.journal import Journal, Posting  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "ledgers.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:ledgers:start -->", "<!-- bench:ledgers:end -->"


def _journal(writer: int, n: int, hot: bool) -> Journal:
    """A payment from a council into a person's DP account, or (hot) every writer's money
    into the same pool account."""
    target = "pool:HOT:common" if hot else f"holder:W{writer}:dp"
    return Journal(f"w{writer}-{n}", "dp_payment", dt.date(2026, 4, 1) + dt.timedelta(days=n % 300),
                   (Posting("council:C1:funding", Unit.GBP, -(100 + n % 50)),
                    Posting(target, Unit.GBP, 100 + n % 50)))


def write_for(engine, ledger: str, writer: int, hot: bool, seconds: float, start: float,
              batch: int = 1) -> tuple[int, int, str, float]:
    """From `start`, for `seconds`, commit `batch` journals per transaction in `ledger`
    (bench/citus_ledgers.py also batches); returns the journals committed, the errors,
    the first error's first line and the seconds from `start` to the last commit's end."""
    from ledger.store.repo import DbStore

    done = errors = 0
    first_error = ""
    while time.time() < start:
        time.sleep(0.001)
    stop = start + seconds
    while time.time() < stop:
        try:
            with engine.connect() as conn:
                DbStore(conn, ledger).post([_journal(writer, done + k, hot)
                                            for k in range(batch)])
                conn.commit()
            done += batch
        except Exception as err:  # counted: the target is that none reaches the caller
            errors += 1
            first_error = first_error or str(err).splitlines()[0]
    return done, errors, first_error, time.time() - start


def _ledger_writer(url: str, ledger: str, writer: int, hot: bool, seconds: float,
                   start: float, out) -> None:
    from ledger.store.schema import make_engine

    engine = make_engine(url)
    done, errors, first_error, _ = write_for(engine, ledger, writer, hot, seconds, start)
    engine.dispose()
    out.put((writer, done, errors, first_error))


def _bare_writer(target_params: dict, options: str, writer: int, seconds: float,
                 start: float, out) -> None:
    import psycopg

    conn = psycopg.connect(**target_params, options=options)
    done = 0
    while time.time() < start:
        time.sleep(0.001)
    stop = start + seconds
    while time.time() < stop:
        j = _journal(writer, done, False)
        jid = writer * 10_000_000 + done
        conn.execute(
            "INSERT INTO b_journal (id, key, type, date, event_key, holder, payload_hash, memo,"
            " status, prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (jid, j.key, j.type, j.date, j.key, None, "x" * 64, "{}", "posted", "x" * 64,
             "x" * 64))
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO b_posting (journal_id, account_id, unit, amount_minor)"
                            " VALUES (%s, %s, %s, %s)",
                            [(jid, k, p.unit.value, p.amount_minor)
                             for k, p in enumerate(j.postings)])
        conn.commit()
        done += 1
    conn.close()
    out.put((writer, done, 0, ""))


def _run(processes: list[mp.Process], out) -> list[tuple]:
    for p in processes:
        p.start()
    results = [out.get() for _ in processes]
    for p in processes:
        p.join()
    return sorted(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--url", default=os.environ.get("LEDGER_BENCH_POSTGRES_URL",
                                                        DEFAULT_PG_URL))
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    ctx = mp.get_context("spawn")
    target = PostgresTarget(args.url)
    cases = [("1 writer, 1 ledger", 1, True, False), ("2 writers, 2 ledgers", 2, True, False),
             ("4 writers, 4 ledgers", 4, True, False), ("4 writers, 1 ledger", 4, False, False),
             ("8 writers, 1 ledger, one hot pool account", 8, False, True)]
    rows = []
    try:
        for name, writers, own_ledgers, hot in cases:
            bare = target.fresh("bare")
            conn = bare.connect()
            for statement in BARE_POSTGRES:
                conn.execute(statement)
            conn.commit()
            conn.close()
            out = ctx.Queue()
            start = time.time() + 2.0
            options = f"-csearch_path={bare.url.split('search_path%3D')[-1]}"
            base = _run([ctx.Process(target=_bare_writer, args=(
                target.params, options, w, args.seconds, start, out)) for w in range(writers)],
                out)
            db = target.fresh("ledgers")
            from ledger.store.schema import make_engine, upgrade

            engine = make_engine(db.url)
            upgrade(engine)
            engine.dispose()
            out = ctx.Queue()
            start = time.time() + 2.0
            got = _run([ctx.Process(target=_ledger_writer, args=(
                db.url, f"l{w}" if own_ledgers else "shared", w, hot, args.seconds, start,
                out)) for w in range(writers)], out)
            ledger_total = sum(r[1] for r in got) / args.seconds
            base_total = sum(r[1] for r in base) / args.seconds
            row = {"case": name, "writers": writers,
                   "per_writer": [round(r[1] / args.seconds, 1) for r in got],
                   "total": round(ledger_total, 1), "baseline_total": round(base_total, 1),
                   "ratio": round(base_total / ledger_total, 2) if ledger_total else None,
                   "errors": sum(r[2] for r in got),
                   "first_error": next((r[3] for r in got if r[3]), "")}
            rows.append(row)
            print(f"{name:45} {row['per_writer']} total {row['total']} j/s; "
                  f"baseline {row['baseline_total']} j/s; ratio {row['ratio']}x; "
                  f"errors {row['errors']} {row['first_error']}")
        result = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                  "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                              **target.describe()},
                  "seconds": args.seconds, "cases": rows}
    finally:
        target.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    if args.write_doc:
        _write_doc(result)
    return 0


def _write_doc(result: dict) -> None:
    m = result["machine"]
    lines = [START, "",
             f"Run {result['date']}: {m['cpus']} CPUs, Python {m['python']}, PostgreSQL "
             f"{m['server_version']} (fsync {m['fsync']}, synchronous_commit "
             f"{m['synchronous_commit']}), {result['seconds']:g} s per case. One durable "
             "journal per transaction; `bench/ledgers.py --write-doc` regenerates this table.",
             "",
             "| case | journals/s per writer | total | baseline (bare inserts, same writers) "
             "| ratio | errors |",
             "|---|---|---:|---:|---:|---:|"]
    for r in result["cases"]:
        lines.append(f"| {r['case']} | {', '.join(f'{x:g}' for x in r['per_writer'])} | "
                     f"{r['total']:g} | {r['baseline_total']:g} | {r['ratio']}× | "
                     f"{r['errors']} |")
    lines += ["", END]
    write_section(DOC, "ledgers", "\n".join(lines),
                  heading="## Writers in several ledgers (PostgreSQL)")


if __name__ == "__main__":
    sys.exit(main())
