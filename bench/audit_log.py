"""How long a reader waits on SQLite while the access log is written (issue 21; the figures
are in docs/reliability.md#audit-log).

    .venv/bin/python bench/audit_log.py [--seconds 4] [--rounds 4] [--readers 1]

Set-up, not timed: Wokingham's ISF pilot replayed into a fresh SQLite file (WAL), as
`ledger scenario run` does. Then, in one run, --readers reader processes read a person's
statement (H2, May 2026, as `ledger.app.statements.statement` builds it, without
recording the read, so the readers only read) over and over, while the main process
alternates phases of --seconds each: the readers alone, then the readers while one
writer process appends `read` records to the audit chain, each in a transaction of its
own (as a page view does), --rate a second (a busy web view) and then as fast as it can,
then the readers while the same writer appends to another database (the same work on
the same machine, nothing to wait for: it separates the lock's share from the CPU's),
and so on for --rounds rounds of each. A reading counts in the phase it began in,
however long it waited; between phases is a 0.3 s gap whose readings are not kept.

Three kinds of reader are measured, one after the other: `read`, a read-only connection
(how the command line reads: a deferred transaction, which in WAL mode never waits for a
writer); `serve`, the web view's reads (since issue 21 also a read-only connection on
SQLite, `ledger.app.reading.Books.read`); and `write`, reads on the web view's write
connection as they were before, where every transaction begins IMMEDIATE, so a page's
reads queue behind any write and a write behind them.
Each gives the readers' median and 95th percentile alone and beside the writer, and
their ratio. Results go to bench/results/audit_log.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"
RESULTS = ROOT / "bench" / "results" / "audit_log.json"
HOLDER, MONTH = "H2", "2026-05"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(folder: Path) -> str:
    from click.testing import CliRunner

    from ledger.cli import cli

    url = f"sqlite:///{folder / 'ledger.db'}"
    done = CliRunner().invoke(cli, ["scenario", "run", str(SCENARIO), "--db", url])
    if done.exit_code != 0:
        raise SystemExit(done.output)
    return url


def reader(url: str, mode: str, phase, stop, out) -> None:
    """Read the statement over and over; each reading as (phase, seconds)."""
    from ledger.app import access_log
    from ledger.app.reading import Books
    from ledger.app.statements import Operator, Period, statement

    access_log.record = lambda *_a, **_k: True  # the readers only read
    books = Books.at(url, "main", mode=mode)
    period = Period.of_month(MONTH)
    samples: list[tuple[int, float]] = []
    while not stop.value:
        before = phase.value
        started = time.perf_counter()
        statement(books, "holder", HOLDER, period, Operator())
        if before >= 0:  # counted in the phase it began in, however long it waited
            samples.append((before, time.perf_counter() - started))
    out.put(samples)


def writer(url: str, control: str, rate: float, phase, stop, out) -> None:
    """While the phase is 1, append read records, one a transaction: `rate` a second, or
    as fast as possible (0). While it is 2, the same into another database (`control`):
    the same work, nothing for the readers to wait for."""
    from ledger.app.reading import Books
    from ledger.store import audit

    ours, other = (Books.at(u, "main", mode="serve") for u in (url, control))
    appended, busy = 0, 0.0
    due = time.perf_counter()
    while not stop.value:
        books = ours if phase.value == 1 else other
        if phase.value not in (1, 2):
            time.sleep(0.005)
            due = time.perf_counter()
            continue
        if rate:
            due += 1 / rate
            time.sleep(max(0.0, due - time.perf_counter()))
        started = time.perf_counter()
        with books.begin() as store:
            audit.append(store.conn, store.lid, audit.READ, key=f"holder:{HOLDER}",
                         body={"via": "web", "reader": "bench", "kind": "holder",
                               "id": HOLDER, "from": "2026-05-01", "to": "2026-05-31",
                               "version": "standard", "format": "html",
                               "address": "192.0.2.0/24"})
        if books is ours:
            busy += time.perf_counter() - started
            appended += 1
    out.put((appended, busy))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(url: str, control: str, mode: str, rate: float, readers: int, seconds: float,
            rounds: int) -> dict:
    ctx = mp.get_context("fork")
    phase, stop = ctx.Value("i", -1), ctx.Value("b", 0)
    out = ctx.Queue()
    procs = [ctx.Process(target=reader, args=(url, mode, phase, stop, out))
             for _ in range(readers)]
    procs.append(ctx.Process(target=writer, args=(url, control, rate, phase, stop, out)))
    for p in procs:
        p.start()
    time.sleep(1.0)  # imports and first reads, not measured
    for _ in range(rounds):
        for value in (0, 1, 2):
            phase.value = value
            time.sleep(seconds)
            phase.value = -1  # a gap: the writer stops, readings begun now are not kept
            time.sleep(0.3)
    phase.value = -1
    stop.value = 1
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    samples = [s for r in results if isinstance(r, list) for s in r]
    appended, busy = next(r for r in results if isinstance(r, tuple))
    alone = [t for ph, t in samples if ph == 0]
    beside = [t for ph, t in samples if ph == 1]
    elsewhere = [t for ph, t in samples if ph == 2]
    figures = {"mode": mode, "rate": rate, "readers": readers, "reads_alone": len(alone),
               "reads_beside_writer": len(beside), "reads_beside_control": len(elsewhere),
               "appends": appended, "appends_per_second": appended / (seconds * rounds),
               "append_ms_median": busy / appended * 1000 if appended else None}
    for name, values in (("alone", alone), ("beside_writer", beside),
                         ("beside_control", elsewhere)):
        figures[f"{name}_p50_ms"] = statistics.median(values) * 1000
        figures[f"{name}_p95_ms"] = pct(values, 0.95) * 1000
        figures[f"{name}_p99_ms"] = pct(values, 0.99) * 1000
        figures[f"{name}_max_ms"] = max(values) * 1000
    figures["ratio_p50"] = figures["beside_writer_p50_ms"] / figures["alone_p50_ms"]
    figures["ratio_p95"] = figures["beside_writer_p95_ms"] / figures["alone_p95_ms"]
    # The lock's own share: beside the writer against beside the same work elsewhere.
    figures["lock_ratio_p50"] = figures["beside_writer_p50_ms"] / figures["beside_control_p50_ms"]
    figures["lock_ratio_p95"] = figures["beside_writer_p95_ms"] / figures["beside_control_p95_ms"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--readers", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0,
                        help="the writer's appends a second in the first measurement of "
                             "each kind of reader (the second is at full speed)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        log("building the ledger ...")
        url = build(Path(folder))
        (Path(folder) / "control").mkdir()
        control = build(Path(folder) / "control")
        runs = []
        for mode in ("read", "serve", "write"):
            for rate in (args.rate, 0):
                log(f"measuring {mode} readers, writer at {rate or 'full speed'} ...")
                runs.append(measure(url, control, mode, rate, args.readers, args.seconds,
                                    args.rounds))
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.python_implementation()} {platform.python_version()}, "
                         f"{os.cpu_count()} cores", "seconds": args.seconds,
              "rounds": args.rounds, "runs": runs}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for r in runs:
        print(f"{r['mode']:>5} readers, writer {r['rate'] or 'full speed'}: p50 {r['alone_p50_ms']:.1f} ms alone, "
              f"{r['beside_writer_p50_ms']:.1f} ms beside the writer (x{r['ratio_p50']:.2f}); "
              f"p95 {r['alone_p95_ms']:.1f} -> {r['beside_writer_p95_ms']:.1f} ms "
              f"(x{r['ratio_p95']:.2f}); p99 {r['alone_p99_ms']:.1f} -> "
              f"{r['beside_writer_p99_ms']:.1f} ms; max {r['alone_max_ms']:.0f} -> "
              f"{r['beside_writer_max_ms']:.0f} ms; beside the same writer on another "
              f"database p50 {r['beside_control_p50_ms']:.1f} p95 "
              f"{r['beside_control_p95_ms']:.1f} ms (lock's share x{r['lock_ratio_p50']:.2f}, "
              f"x{r['lock_ratio_p95']:.2f}); {r['appends_per_second']:.0f} appends/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
