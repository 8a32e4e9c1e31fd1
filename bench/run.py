"""Benchmarks for the ledger, each measured next to a plain-driver baseline in the same run.

    .venv/bin/python bench/run.py [--engine sqlite|postgres|both] [--journals N]
                                  [--single N] [--events N] [--repeat N] [--profile]
    .venv/bin/python bench/run.py --soak N [--engine ...]

Benchmarks (docs/performance.md says what each one means):
  1. bulk posting: DbStore.post in batches of 1,000 journals vs executemany into a bare
     journal/posting table pair (no triggers, constraints or secondary indexes);
  2. single-journal commits: one transaction per journal, the same two ways;
  3. `ledger verify` (first_break) vs a plain SELECT SUM(amount_minor) ... GROUP BY;
  4. trial balance (reports.balances.balances) vs the same GROUP BY;
  5. scenario replay: run_scenario into the database vs into MemoryBackend.
Ratios are "times slower than the baseline" (ledger cost / baseline cost), so 1.0 means
no overhead. Results go to bench/results/latest.json. The issue's targets (issue 22): bulk
posting at most 5x its baseline on both engines; one durable journal at most 5x a raw
durable insert on SQLite and 8x on PostgreSQL (RATIO_TARGETS). The load average at the
start and the end of the run is printed and written beside the figures.

`--soak N` runs the Hypothesis state machine with LEDGER_SOAK=N instead (the long soak kept
out of CI), on SQLite, and on PostgreSQL too when --engine includes it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, event, make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
from doc_section import write_section  # noqa: E402

from ledger.app.scenarios import BATCH_EVENTS, run_scenario  # noqa: E402
from ledger.core.journal import Journal  # noqa: E402
from ledger.reports.balances import balances  # noqa: E402
from ledger.scenarios.schema import ScenarioFile  # noqa: E402
from ledger.store.memory import MemoryBackend  # noqa: E402
from ledger.store.repo import DbStore  # noqa: E402
from ledger.store.schema import make_engine, upgrade  # noqa: E402
from ledger.store.verify import first_break  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/ledger_bench"
BATCH = 1000

# Proposed targets: docs/performance.md#targets (from docs/sources.md#ledger-survey).
TARGETS = {
    ("sqlite", "bulk"): (20_000, "journals/s"),
    ("postgres", "bulk"): (15_000, "journals/s"),
    ("sqlite", "single"): (1_000, "journals/s"),
    ("postgres", "single"): (500, "journals/s"),
    ("sqlite", "verify"): (10.0, "s per 1M postings"),
    ("postgres", "verify"): (10.0, "s per 1M postings"),
    ("sqlite", "trial_balance"): (2.0, "s per 1M postings"),
}

BARE_SQLITE = [
    """CREATE TABLE b_journal (id INTEGER PRIMARY KEY, key TEXT, type TEXT, date TEXT,
       event_key TEXT, holder TEXT, payload_hash TEXT, memo TEXT, status TEXT,
       prev_hash TEXT, hash TEXT)""",
    """CREATE TABLE b_posting (id INTEGER PRIMARY KEY, journal_id INTEGER, account_id INTEGER,
       unit TEXT, amount_minor INTEGER)""",
]
BARE_POSTGRES = [
    """CREATE TABLE b_journal (id BIGINT PRIMARY KEY, key TEXT, type TEXT, date DATE,
       event_key TEXT, holder TEXT, payload_hash TEXT, memo TEXT, status TEXT,
       prev_hash TEXT, hash TEXT)""",
    """CREATE TABLE b_posting (id BIGSERIAL PRIMARY KEY, journal_id BIGINT, account_id BIGINT,
       unit TEXT, amount_minor BIGINT)""",
]
GROUP_BY = "SELECT account_id, unit, SUM(amount_minor) FROM posting GROUP BY account_id, unit"


# ------------------------------------------------------------------ databases


@dataclass
class Db:
    """One fresh, empty database: a URL for the ledger and a plain DB-API connection maker."""

    url: str
    connect: Callable[[], object]
    placeholder: str
    kind: str


class SqliteTarget:
    kind = "sqlite"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))

    def fresh(self, name: str) -> Db:
        path = self.folder / f"{name}.db"

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(path, isolation_level=None)
            # The same settings make_engine gives the ledger: WAL, default synchronous (FULL).
            conn.execute("PRAGMA journal_mode = WAL")
            return conn

        return Db(f"sqlite:///{path}", connect, "?", "sqlite")

    def describe(self) -> dict:
        conn = self.fresh("probe").connect()
        info = {"sqlite_version": sqlite3.sqlite_version,
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                    conn.execute("PRAGMA synchronous").fetchone()[0]]}
        conn.close()
        return info

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresTarget:
    kind = "postgres"

    def __init__(self, url: str) -> None:
        import psycopg

        self.psycopg = psycopg
        self.url = url
        parsed = make_url(url)
        self.params = {k: v for k, v in {
            "host": parsed.host, "port": parsed.port, "user": parsed.username,
            "password": parsed.password, "dbname": parsed.database}.items() if v is not None}
        self.schemas: list[str] = []
        self._ensure_database(parsed)

    def _ensure_database(self, parsed) -> None:
        try:
            self.psycopg.connect(**self.params).close()
            return
        except self.psycopg.OperationalError as err:
            if "does not exist" not in str(err):
                raise SystemExit(f"cannot reach PostgreSQL at {self.url}: {err}") from None
        cmd = ["psql", "-v", "ON_ERROR_STOP=1", "-d", "postgres",
               "-c", f'CREATE DATABASE "{parsed.database}"']
        for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
            if key in self.params:
                cmd[1:1] = [flag, str(self.params[key])]
        env = dict(os.environ)
        if parsed.password:
            env["PGPASSWORD"] = parsed.password
        subprocess.run(cmd, check=True, env=env, capture_output=True)
        print(f"created database {parsed.database}")

    def fresh(self, name: str) -> Db:
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        with self.psycopg.connect(**self.params, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        self.schemas.append(schema)
        options = f"-csearch_path={schema}"
        sep = "&" if "?" in self.url else "?"

        def connect():
            return self.psycopg.connect(**self.params, options=options)

        return Db(f"{self.url}{sep}options={quote(options)}", connect, "%s", "postgres")

    def describe(self) -> dict:
        with self.psycopg.connect(**self.params) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            sync = conn.execute("SHOW synchronous_commit").fetchone()[0]
            fsync = conn.execute("SHOW fsync").fetchone()[0]
        return {"server_version": version, "synchronous_commit": sync, "fsync": fsync,
                "psycopg": self.psycopg.__version__}

    def close(self) -> None:
        with self.psycopg.connect(**self.params, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# ------------------------------------------------------------------ helpers


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """Warm once, then the fastest of `repeat` runs (reads are measured warm)."""
    fn()
    runs = [timed(fn) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class StatementTimer:
    """Wall time per kind of SQL statement, through SQLAlchemy's cursor events."""

    def __init__(self, engine: Engine) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    @staticmethod
    def label(statement: str) -> str:
        text = " ".join(statement.split())
        verb = text.split(" ", 1)[0].upper()
        table = re.search(r"\b(?:INTO|UPDATE|FROM)\s+(\w+)", text, re.IGNORECASE)
        return f"{verb} {table.group(1) if table else ''}".strip()

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        t0 = conn.info["bench_t0"].pop()
        key = self.label(statement)
        self.seconds[key] += time.perf_counter() - t0
        self.calls[key] += 1

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)


# ------------------------------------------------------------------ baselines


def bare_rows(journals: list[Journal], first_id: int,
              accounts: dict[str, int]) -> tuple[list[tuple], list[tuple]]:
    """The rows the ledger stores for `journals`, as plain tuples (made before timing)."""
    jrows, prows = [], []
    for offset, j in enumerate(journals):
        jid = first_id + offset
        payload = j.payload_hash()
        jrows.append((jid, j.key, j.type, j.date.isoformat(), j.event_key, j.holder, payload,
                      json.dumps(j.memo, sort_keys=True), "posted", payload, payload))
        for p in j.postings:
            account = accounts.setdefault(p.account, len(accounts) + 1)
            prows.append((jid, account, p.unit.value, p.amount_minor))
    return jrows, prows


def baseline_sql(ph: str) -> tuple[str, str]:
    cols = ", ".join([ph] * 11)
    return (f"INSERT INTO b_journal (id, key, type, date, event_key, holder, payload_hash, "
            f"memo, status, prev_hash, hash) VALUES ({cols})",
            f"INSERT INTO b_posting (journal_id, account_id, unit, amount_minor) "
            f"VALUES ({ph}, {ph}, {ph}, {ph})")


def begin(conn, kind: str) -> None:
    if kind == "sqlite":
        conn.execute("BEGIN")


def commit(conn, kind: str) -> None:
    if kind == "sqlite":
        conn.execute("COMMIT")
    else:
        conn.commit()


# ------------------------------------------------------------------ one engine


def bench_engine(target, bulk: list[Journal], single: list[Journal], scenario: ScenarioFile,
                 repeat: int, profile: bool) -> dict:
    kind = target.kind
    out: dict = {"setup": target.describe()}
    print(f"\n[{kind}] {len(bulk):,} bulk journals, {len(single):,} single commits, "
          f"{len(scenario.events):,} scenario events")

    # ---- the ledger's database and the bare baseline database
    ledger_db, bare_db = target.fresh("ledger"), target.fresh("bare")
    engine = make_engine(ledger_db.url)
    upgrade(engine)
    bare = bare_db.connect()
    begin(bare, kind)
    for ddl in BARE_SQLITE if kind == "sqlite" else BARE_POSTGRES:
        bare.execute(ddl)
    commit(bare, kind)
    insert_journal, insert_posting = baseline_sql(bare_db.placeholder)
    accounts: dict[str, int] = {}
    bulk_rows = [bare_rows(b, i * BATCH + 1, accounts) for i, b in enumerate(batches(bulk, BATCH))]
    single_rows = [bare_rows([j], len(bulk) + i + 1, accounts) for i, j in enumerate(single)]

    # ---- 1. bulk posting
    def baseline_bulk() -> None:
        cur = bare.cursor()
        for jrows, prows in bulk_rows:
            begin(bare, kind)
            cur.executemany(insert_journal, jrows)
            cur.executemany(insert_posting, prows)
            commit(bare, kind)

    def ledger_bulk() -> None:
        for batch in batches(bulk, BATCH):
            with engine.begin() as conn:
                assert DbStore(conn).post(batch) == len(batch)

    base_s, _ = timed(baseline_bulk)
    timer = StatementTimer(engine) if profile else None
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    ledger_s, _ = timed(ledger_bulk)
    if profiler and timer:
        profiler.disable()
        timer.remove()
        _write_profile(profiler, kind, timer)
    out["bulk"] = {
        "journals": len(bulk), "postings": sum(len(j.postings) for j in bulk), "batch": BATCH,
        "ledger_per_s": len(bulk) / ledger_s, "baseline_per_s": len(bulk) / base_s,
        "ledger_s": ledger_s, "baseline_s": base_s, "ratio": ledger_s / base_s,
        "profiled": profile,
    }
    if timer:
        out["bulk"]["sql_seconds"] = {k: round(v, 4) for k, v in
                                      sorted(timer.seconds.items(), key=lambda kv: -kv[1])}
        out["bulk"]["sql_calls"] = dict(timer.calls)
    _say(kind, "bulk", out["bulk"])

    # ---- 2. single-journal commits
    def baseline_single() -> None:
        cur = bare.cursor()
        for jrows, prows in single_rows:
            begin(bare, kind)
            cur.execute(insert_journal, jrows[0])
            cur.executemany(insert_posting, prows)
            commit(bare, kind)

    def ledger_single() -> None:
        for j in single:
            with engine.begin() as conn:
                assert DbStore(conn).post([j]) == 1

    base_s, _ = timed(baseline_single)
    ledger_s, _ = timed(ledger_single)
    out["single"] = {
        "journals": len(single),
        "ledger_per_s": len(single) / ledger_s, "baseline_per_s": len(single) / base_s,
        "ledger_s": ledger_s, "baseline_s": base_s, "ratio": ledger_s / base_s,
    }
    _say(kind, "single", out["single"])
    bare.close()

    # ---- 3 and 4. reads over every posting: verify and the trial balance
    plain = ledger_db.connect()

    def baseline_group_by() -> list:
        cur = plain.cursor()
        cur.execute(GROUP_BY)
        rows = cur.fetchall()
        if kind == "postgres":
            plain.rollback()
        return rows

    def ledger_verify() -> str | None:
        with engine.connect() as conn:
            return first_break(conn)

    def ledger_balances() -> list:
        with engine.connect() as conn:
            return balances(conn)

    postings = sum(len(j.postings) for j in bulk + single)
    if kind == "postgres":
        # A fresh load has no planner statistics until autovacuum gets to it; verify's
        # streamed queries are planned badly without them (docs/performance.md). Record one
        # run as loaded, then ANALYZE, as autovacuum would within a minute or so.
        out["verify_before_analyze_s"], _ = timed(ledger_verify)
        plain.execute("ANALYZE")
        plain.commit()
        print(f"  verify before ANALYZE: {out['verify_before_analyze_s']:.3f} s")
    group_s, groups = best_of(repeat, baseline_group_by)
    verify_s, problem = best_of(repeat, ledger_verify)
    if problem is not None:
        raise SystemExit(f"[{kind}] verify found a break: {problem}")
    tb_s, rows = best_of(repeat, ledger_balances)
    assert len(rows) == len(groups), (len(rows), len(groups))
    plain.close()
    for name, secs in (("verify", verify_s), ("trial_balance", tb_s)):
        out[name] = {"postings": postings, "ledger_s": secs, "baseline_s": group_s,
                     "ratio": secs / group_s, "per_million_postings_s": secs * 1e6 / postings}
        _say(kind, name, out[name])

    # ---- 5. scenario replay: the database vs the in-memory backend
    replay_db = target.fresh("replay")
    replay_engine = make_engine(replay_db.url)
    upgrade(replay_engine)
    memory = MemoryBackend()
    mem_s, mem_result = timed(lambda: run_scenario(memory, scenario, source="bench"))

    def replay() -> object:
        with replay_engine.connect() as conn:  # the batched path, as the CLI uses it
            store = DbStore(conn, batch=True)
            result = run_scenario(store, scenario, source="bench", commit_every=BATCH_EVENTS)
            store.commit()
            return result

    db_s, db_result = timed(replay)
    for result in (mem_result, db_result):
        if result.failure:
            raise SystemExit(f"[{kind}] the generated scenario failed: {result.failure}")
    with replay_engine.connect() as conn:
        stored = {(r.account, r.unit): r.minor for r in balances(conn)}
        problem = first_break(conn)
    wanted = {k: v for k, v in memory.balances.items() if k in stored or v}
    if stored != wanted or problem:
        raise SystemExit(f"[{kind}] replay: the database and the memory backend disagree "
                         f"({problem or 'balances differ'})")
    events = len(scenario.events)
    out["replay"] = {
        "events": events, "journals": db_result.journals,
        "ledger_per_s": events / db_s, "baseline_per_s": events / mem_s,
        "ledger_s": db_s, "baseline_s": mem_s, "ratio": db_s / mem_s,
    }
    _say(kind, "replay", out["replay"])
    engine.dispose()
    replay_engine.dispose()
    return out


def _say(kind: str, name: str, r: dict) -> None:
    if "ledger_per_s" in r:
        print(f"  {name:<14} ledger {r['ledger_per_s']:>10,.0f}/s   baseline "
              f"{r['baseline_per_s']:>10,.0f}/s   {r['ratio']:.1f}x slower")
    else:
        print(f"  {name:<14} ledger {r['ledger_s']:>10.3f} s   baseline "
              f"{r['baseline_s']:>10.3f} s   {r['ratio']:.1f}x slower")


def _write_profile(profiler: cProfile.Profile, kind: str, timer: StatementTimer) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"profile-bulk-{kind}.txt"
    buf = io.StringIO()
    buf.write("=== wall time inside the driver, per kind of SQL statement (calls)\n")
    for key, secs in sorted(timer.seconds.items(), key=lambda kv: -kv[1]):
        buf.write(f"{secs:9.3f} s  {timer.calls[key]:>7}  {key}\n")
    buf.write("\n")
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    buf.write("=== by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(30)
    buf.write("\n=== by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(40)
    path.write_text(buf.getvalue())
    print(f"  cProfile of the bulk path written to {path.relative_to(ROOT)}")


# ------------------------------------------------------------------ report


BENCH_NAMES = {
    "bulk": "1. bulk post (1,000/txn)",
    "single": "2. single-journal commits",
    "verify": "3. ledger verify",
    "trial_balance": "4. trial balance",
    "replay": "5. scenario replay",
}
BASELINES = {
    "bulk": "executemany, bare tables",
    "single": "execute, bare tables, 1/commit",
    "verify": "plain GROUP BY",
    "trial_balance": "plain GROUP BY",
    "replay": "MemoryBackend",
}


def target_note(kind: str, name: str, r: dict) -> str:
    target = TARGETS.get((kind, name))
    if target is None:
        return "-"
    value, unit = target
    if unit == "journals/s":
        ok = r["ledger_per_s"] >= value
        return f"{'meets' if ok else 'MISSES'} >= {value:,}/s"
    ok = r["per_million_postings_s"] <= value
    return f"{'meets' if ok else 'MISSES'} <= {value:g} s/1M ({r['per_million_postings_s']:.1f})"


def print_table(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="care-ledger benchmarks (ratio = ledger cost / baseline cost)")
    for col in ("engine", "benchmark", "ledger", "baseline", "baseline is", "ratio",
                "target"):
        table.add_column(col, justify="right" if col in ("ledger", "baseline", "ratio")
                         else "left")
    for kind, res in results["engines"].items():
        for name, label in BENCH_NAMES.items():
            r = res.get(name)
            if r is None:
                continue
            if "ledger_per_s" in r:
                unit = "events/s" if name == "replay" else "j/s"
                ledger, base = f"{r['ledger_per_s']:,.0f} {unit}", f"{r['baseline_per_s']:,.0f} {unit}"
            else:
                ledger, base = f"{r['ledger_s']:.3f} s", f"{r['baseline_s']:.3f} s"
            limit = RATIO_TARGETS.get((kind, name))
            note = target_note(kind, name, r) if limit is None else (
                f"{'meets' if r['ratio'] <= limit else 'MISSES'} <= {limit:g}x")
            table.add_row(kind, label, ledger, base, BASELINES[name], f"{r['ratio']:.1f}x",
                          note)
    Console(width=150).print(table)


# ------------------------------------------------------------------ soak


def soak(n: int, engines: list[str], pg_url: str) -> int:
    env = dict(os.environ, LEDGER_SOAK=str(n))
    if "postgres" in engines:
        PostgresTarget(pg_url)  # creates the database when it is missing
        env.setdefault("LEDGER_TEST_POSTGRES_URL", pg_url)
    else:
        env.pop("LEDGER_TEST_POSTGRES_URL", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "tests/store/test_ledger_state_machine.py"]
    print(f"LEDGER_SOAK={n} {' '.join(cmd[2:])}")
    started = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, env=env).returncode
    took = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps({
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "soak": n,
        "engines": engines, "exit_code": code, "seconds": round(took, 1)}, indent=2) + "\n")
    print(f"soak {'passed' if code == 0 else 'FAILED'} in {took:.0f} s")
    return code


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--journals", type=int, default=20_000,
                        help="journals for the bulk benchmark (default 20,000)")
    parser.add_argument("--single", type=int, default=1_000,
                        help="journals committed one per transaction (default 1,000)")
    parser.add_argument("--events", type=int, default=1_500,
                        help="scenario events to replay (default 1,500)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per read benchmark")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the ledger's bulk path (slows it; marked in the JSON)")
    parser.add_argument("--soak", type=int, metavar="N",
                        help="run the state-machine soak with LEDGER_SOAK=N instead")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--write-doc", action="store_true",
                        help="also write the table into docs/performance.md (bench:run)")
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    pg_url = os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_PG_URL)
    if args.soak is not None:
        return soak(args.soak, engines, pg_url)

    started = time.perf_counter()
    stream = generate.journals(args.journals + args.single, seed=args.seed)
    bulk, single = stream[:args.journals], stream[args.journals:]
    scenario = ScenarioFile.model_validate(generate.scenario(args.events, seed=args.seed))
    results: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "params": {"journals": args.journals, "single": args.single, "events": args.events,
                   "repeat": args.repeat, "seed": args.seed, "batch": BATCH},
        "ratio_means": "ledger cost / baseline cost (1.0 = no overhead)",
        "engines": {},
    }
    for kind in engines:
        target = SqliteTarget() if kind == "sqlite" else PostgresTarget(pg_url)
        try:
            results["engines"][kind] = bench_engine(target, bulk, single, scenario,
                                                    args.repeat, args.profile)
        finally:
            with contextlib.suppress(Exception):
                target.close()
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    print(f"load average (1, 5, 15 minutes): {results['machine']['load_average_at_start']} "
          f"at the start, {results['machine']['load_average_at_end']} at the end")
    print()
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {args.out} in {results['seconds']} s")
    if args.write_doc:
        write_doc(results)
    return 0


# The ratio targets (issue 22, docs/performance.md#speed-and-scale): ledger cost at
# most this many times its same-run baseline's, per engine.
RATIO_TARGETS = {("sqlite", "bulk"): 5.0, ("postgres", "bulk"): 5.0,
                 ("sqlite", "single"): 5.0, ("postgres", "single"): 8.0}
DOC = ROOT / "docs" / "performance.md"
DOC_START, DOC_END = "<!-- bench:run:start -->", "<!-- bench:run:end -->"


def write_doc(results: dict) -> None:
    """The table, as markdown, between the bench:run markers of docs/performance.md."""
    m = results["machine"]
    p = results["params"]
    lines = [DOC_START, "", f"Run {results['when']} (UTC), `bench/run.py --engine both "
             f"--write-doc`: {p['journals']:,} journals in batches of {p['batch']:,}, "
             f"{p['single']:,} single commits, {p['events']:,} events replayed; "
             f"{m['cpus']} CPUs, Python {m['python']}; load average (1 minute) "
             f"{m['load_average_at_start'][0]:.1f} at the start and "
             f"{m['load_average_at_end'][0]:.1f} at the end. Regenerated by that command.",
             "", "| engine | benchmark | ledger | baseline (same run) | ratio | target |",
             "|---|---|---:|---:|---:|---|"]
    for kind, res in results["engines"].items():
        for name, label in BENCH_NAMES.items():
            r = res.get(name)
            if r is None:
                continue
            if "ledger_per_s" in r:
                unit = "events/s" if name == "replay" else "journals/s"
                ledger = f"{r['ledger_per_s']:,.0f} {unit}"
                base = f"{r['baseline_per_s']:,.0f} {unit} ({BASELINES[name]})"
            else:
                ledger = f"{r['ledger_s']:.3f} s"
                base = f"{r['baseline_s']:.3f} s ({BASELINES[name]})"
            limit = RATIO_TARGETS.get((kind, name))
            note = "none set" if limit is None else (
                f"<= {limit:g}x: met" if r["ratio"] <= limit else
                f"<= {limit:g}x: **missed** by {r['ratio'] / limit:.1f}x")
            lines.append(f"| {'SQLite' if kind == 'sqlite' else 'PostgreSQL'} | {label} | "
                         f"{ledger} | {base} | {r['ratio']:.1f}x | {note} |")
    lines += ["", DOC_END]
    write_section(DOC, "run", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
