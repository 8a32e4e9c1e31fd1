"""The council workload against other tools ("speed and scale"): every figure next to a
baseline measured in the same run, reported as a ratio, written into docs/performance.md.

    .venv/bin/python bench/compare.py                  # 150 and 2,000 people (minutes)
    .venv/bin/python bench/compare.py --people 150     # the quick run (under a minute)

For each workload size (generate.council_year: N people, 12 whole months, by seed) it
times, as a user would (wall time of a subprocess, its peak RSS from GNU time):
  1. `ledger scenario run FILE --db sqlite:///X.db` into a fresh database, against
     `bean-check` (no cache) of `ledger export beancount` of that database;
  2. `ledger balance --format csv` against `hledger -f X.journal bal` on the same
     journals (converted from the export by bench/workload.py; the two must agree on
     every account's balance before anything is timed);
  3. `ledger statement holder H --from --to --format json` for several holders, against
     `python -c 'import sqlalchemy'` (the interpreter and the one library every command
     needs, nothing of the ledger's; `ledger stats --format json` is shown beside it), the
     runs interleaved round by round so a change in the machine's load hits both alike;
  4. `ledger verify`, per million postings, against `sqlite3 FILE "SELECT account_id,
     unit, SUM(amount_minor) FROM posting GROUP BY 1,2"`, with the peak memory of both;
  5. with the default sizes (or --postgres yes) and PostgreSQL reachable, the replay of
     smaller workloads (--pg-people) into a fresh PostgreSQL database, against the replay
     of the same file into a fresh SQLite file.
When the replay misses its target, the first --profile-events events of the smallest
workload are replayed once more in-process under cProfile (the Python API path) and the
top functions go to bench/results/profile-replay.txt. Results: bench/results/compare.json, and the section
between the bench:compare markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402
import workload  # noqa: E402
from doc_section import write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DOC = ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:compare:start -->"
END_MARK = "<!-- bench:compare:end -->"
BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
GROUP_BY = "SELECT account_id, unit, SUM(amount_minor) FROM posting GROUP BY 1,2"
PERIOD = (generate.START, dt.date(generate.START.year + 1, generate.START.month, 1)
          - dt.timedelta(days=1))

# The targets. Replay: at most 2x bean-check's time (aim 1x). Balance: ledger at
# least 5x faster than hledger. Statement: at most 1.5x `python -c 'import sqlalchemy'`
# (each holder's median). Verify: <= 10 s per 1M.
REPLAY_MAX_RATIO = 2.0
BALANCE_MIN_SPEEDUP = 5.0
STATEMENT_MAX_RATIO = 1.5
VERIFY_MAX_S_PER_M = 10.0


# ------------------------------------------------------------------ running things


@dataclass
class Run:
    seconds: float
    rss_mib: float  # the child's peak resident set
    code: int
    out: str
    err: str


GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def run(cmd: list[str], check: bool = True) -> Run:
    """Wall time and peak RSS of one command; its output goes to temporary files.

    The peak comes from GNU time's %M when /usr/bin/time exists: Linux counts the memory
    of the process that forked the command into the command's own peak (exec keeps the
    old high-water mark), so forking straight from this Python process, which holds the
    generated workload, would report at least this process's size."""
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        wrapped = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if GNU_TIME else cmd
        started = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        peak_kib = usage.ru_maxrss
        if GNU_TIME:
            lines = rss.read().split()
            peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        out.seek(0)
        err.seek(0)
        result = Run(seconds, peak_kib / 1024, proc.returncode,
                     out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
    if check and result.code != 0:
        raise SystemExit(f"failed ({result.code}): {' '.join(cmd)}\n{result.err.strip()}")
    return result


def median_run(cmd: list[str], repeat: int, warm: bool = True) -> tuple[float, float]:
    """(median seconds, max peak RSS MiB) of `repeat` runs, after one warm-up run."""
    if warm:
        run(cmd)
    runs = [run(cmd) for _ in range(repeat)]
    return statistics.median(r.seconds for r in runs), max(r.rss_mib for r in runs)


def ledger(*args: str) -> list[str]:
    return [str(BIN / "ledger"), *args]


def replay(path: Path, url: str) -> tuple[Run, str]:
    """`ledger scenario run`, or, only if the CLI refuses the file for its size, the same
    through the Python API (bench/workload.py replay). Returns the run and the path used."""
    cli = run(ledger("scenario", "run", str(path), "--db", url), check=False)
    if cli.code == 0:
        return cli, "CLI"
    if cli.code == 2 and "larger than" in cli.err:
        print(f"    the CLI refused the file ({cli.err.strip()}); "
              "replaying through the Python API instead (bench/workload.py replay)")
        api = run([sys.executable, str(Path(__file__).with_name("workload.py")), "replay",
                   str(path), "--db", url])
        why = cli.err.strip().removeprefix("error: ").removeprefix(f"{path}: ")
        return api, f"Python API (the CLI refused the file: {why})"
    raise SystemExit(f"ledger scenario run failed ({cli.code}): {cli.err.strip()}")


# ------------------------------------------------------------------ agreement check


def ledger_balances(url: str) -> dict[tuple[str, str], int]:
    """(account, commodity) -> minor units, zero balances left out (hledger hides them)."""
    text = run(ledger("balance", "--format", "csv", "--db", url)).out
    out = {}
    for line in text.splitlines()[1:]:
        account, unit, _, minor = line.rsplit(",", 3)
        if int(minor):
            out[(account.strip('"'), {"GBP": "GBP", "HRS": "MIN"}[unit])] = int(minor)
    return out


def hledger_balances(hledger: str, journal: Path) -> dict[tuple[str, str], int]:
    text = run([hledger, "-f", str(journal), "bal", "--flat", "-N", "-O", "csv",
                "--layout=bare"]).out
    out = {}
    for line in text.splitlines()[1:]:
        account, commodity, amount = (f.strip('"') for f in line.rsplit(",", 2))
        minor = int(Decimal(amount.replace(",", "")) * (100 if commodity == "GBP" else 1))
        if minor:
            out[(account, commodity)] = minor
    return out


# ------------------------------------------------------------------ one size


def holders_to_state(people: int, seed: int, count: int) -> list[str]:
    """`count` holders spread over the population, half with a DP and half with an ISF."""
    pop = generate.population(people, seed)
    picked = []
    for dp in (True, False):
        group = [h.id for h in pop.holders if h.dp is dp]
        want = (count + (1 if dp else 0)) // 2
        step = max(1, len(group) // max(1, want))
        picked += group[::step][:want]
    return picked


def bench_size(people: int, args, work: Path, hledger: str | None) -> dict:
    out: dict = {"people": people, "months": 12}
    print(f"\n== {people:,} people, 12 months")
    yaml_path = work / f"council-{people}.yaml"
    started = time.perf_counter()
    counts = workload.write_yaml(people, yaml_path, seed=args.seed)
    out["yaml_mib"] = yaml_path.stat().st_size / 2**20
    out["event_types"] = counts
    print(f"  {yaml_path.name}: {counts['events']:,} events, {out['yaml_mib']:.1f} MiB "
          f"(written in {time.perf_counter() - started:.1f} s)")

    # ---- 1. replay vs bean-check
    db = work / f"council-{people}.db"
    url = f"sqlite:///{db}"
    r, via = replay(yaml_path, url)
    stats = json.loads(run(ledger("stats", "--format", "json", "--db", url)).out)
    out.update(events=counts["events"], journals=stats["journals"], postings=stats["postings"],
               accounts=stats["accounts"], replay_via=via)
    beancount = work / f"council-{people}.beancount"
    export = run(ledger("export", "beancount", "--db", url, "-o", str(beancount)))
    check_s, check_rss = median_run([str(BIN / "bean-check"), "-C", str(beancount)],
                                    args.repeat)
    out["replay"] = {
        "ledger_s": r.seconds, "ledger_rss_mib": r.rss_mib, "via": via,
        "events_per_s": counts["events"] / r.seconds,
        "journals_per_s": stats["journals"] / r.seconds,
        "postings_per_s": stats["postings"] / r.seconds,
        "baseline_s": check_s, "baseline_rss_mib": check_rss,
        "ratio": r.seconds / check_s, "export_s": export.seconds,
        "beancount_mib": beancount.stat().st_size / 2**20,
    }
    print(f"  replay {r.seconds:.1f} s ({counts['events'] / r.seconds:,.0f} events/s, "
          f"{stats['postings'] / r.seconds:,.0f} postings/s) via {via.split(' (')[0]}; "
          f"bean-check {check_s:.2f} s; ratio {out['replay']['ratio']:.1f}x")

    # ---- 2. ledger balance vs hledger bal
    if hledger:
        journal = work / f"council-{people}.journal"
        workload.beancount_to_hledger(beancount, journal)
        ours, theirs = ledger_balances(url), hledger_balances(hledger, journal)
        if ours != theirs:
            diff = sorted(set(ours.items()) ^ set(theirs.items()))[:5]
            raise SystemExit(f"ledger balance and hledger bal disagree, e.g. {diff}")
        ledger_s, ledger_rss = median_run(ledger("balance", "--format", "csv", "--db", url),
                                          args.repeat)
        hl_s, hl_rss = median_run([hledger, "-f", str(journal), "bal"], args.repeat)
        out["balance"] = {"ledger_s": ledger_s, "baseline_s": hl_s, "ratio": ledger_s / hl_s,
                          "speedup": hl_s / ledger_s, "agreed_accounts": len(ours),
                          "ledger_rss_mib": ledger_rss, "baseline_rss_mib": hl_rss}
        print(f"  balance {ledger_s * 1000:.0f} ms; hledger bal {hl_s * 1000:.0f} ms "
              f"({len(ours)} account balances agree); ledger {hl_s / ledger_s:.1f}x faster")
    else:
        out["balance"] = None
        print("  balance: skipped, hledger is not installed (apt-get install -y hledger)")

    # ---- 3. statements vs importing SQLAlchemy (and `ledger stats`), interleaved
    out["statement"] = statement_runs(people, args, url)

    # ---- 4. verify vs a plain GROUP BY on the same file
    v = run(ledger("verify", "--db", url))
    sqlite_cli = shutil.which("sqlite3")
    group_cmd = ([sqlite_cli, str(db), GROUP_BY] if sqlite_cli else
                 [sys.executable, "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                  f"print(len(c.execute({GROUP_BY!r}).fetchall()))", str(db)])
    g_s, g_rss = median_run(group_cmd, args.repeat)
    per_m = v.seconds * 1e6 / stats["postings"]
    out["verify"] = {"ledger_s": v.seconds, "baseline_s": g_s, "ratio": v.seconds / g_s,
                     "per_million_postings_s": per_m, "ledger_rss_mib": v.rss_mib,
                     "baseline_rss_mib": g_rss,
                     "baseline": "sqlite3 CLI" if sqlite_cli else "python sqlite3"}
    print(f"  verify {v.seconds:.1f} s ({per_m:.1f} s per 1M postings, peak {v.rss_mib:.0f} "
          f"MiB); GROUP BY {g_s * 1000:.0f} ms")
    out["_paths"] = {"yaml": yaml_path, "db": db, "url": url}
    return out


def statement_runs(people: int, args, url: str) -> dict:
    """Each holder's `ledger statement holder --format json` for the whole year, and in the
    same rounds the baseline `python -c 'import sqlalchemy'` and `ledger stats`: one warm-up
    round, then --repeat rounds; medians in ms."""
    commands = {"import sqlalchemy": [sys.executable, "-c", "import sqlalchemy"],
                "stats": ledger("stats", "--format", "json", "--db", url)}
    holders = holders_to_state(people, args.seed, args.holders)
    for holder in holders:
        commands[holder] = ledger("statement", "holder", holder, "--from",
                                  PERIOD[0].isoformat(), "--to", PERIOD[1].isoformat(),
                                  "--format", "json", "--db", url)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(args.repeat + 1):
        for name, cmd in commands.items():
            took = run(cmd).seconds * 1000
            if round_:  # the first round only warms the caches
                times[name].append(took)
    median = {name: statistics.median(t) for name, t in times.items()}
    base = median.pop("import sqlalchemy")
    stats_ms = median.pop("stats")
    per_holder = {h: median[h] for h in holders}
    worst = max(per_holder.values())
    middle = statistics.median(per_holder.values())
    print(f"  statement median {middle:.0f} ms (max {worst:.0f} ms, {len(per_holder)} "
          f"holders); python -c 'import sqlalchemy' {base:.0f} ms; stats {stats_ms:.0f} ms")
    return {"per_holder_ms": per_holder, "median_ms": middle, "max_ms": worst,
            "baseline": "python -c 'import sqlalchemy'", "baseline_ms": base,
            "ratio": middle / base, "max_ratio": worst / base, "stats_ms": stats_ms,
            "work_ms": middle - stats_ms}


# ------------------------------------------------------------------ PostgreSQL


def pg_params(base: str) -> dict:
    from sqlalchemy import make_url

    u = make_url(base)
    return {"host": u.host or "127.0.0.1", "port": u.port or 5432,
            "user": u.username or "postgres", "password": u.password}


def psql(params: dict, sql: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if params["password"]:
        env["PGPASSWORD"] = params["password"]
    return subprocess.run(["psql", "-h", params["host"], "-p", str(params["port"]), "-U",
                           params["user"], "-d", "postgres", "-tAq", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], env=env, capture_output=True, text=True, check=check)


def pg_version(base: str) -> str | None:
    if not shutil.which("psql"):
        return None
    done = psql(pg_params(base), "SHOW server_version", check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def bench_postgres(people: int, args, work: Path, base: str) -> dict:
    """The replay of a `people` workload into a fresh PostgreSQL database, against the
    replay of the same file into a fresh SQLite file (both through the CLI)."""
    yaml_path = work / f"council-{people}.yaml"
    counts = workload.write_yaml(people, yaml_path, seed=args.seed)
    db = work / f"council-{people}-pg-baseline.db"
    db.unlink(missing_ok=True)
    lite, _ = replay(yaml_path, f"sqlite:///{db}")
    stats = json.loads(run(ledger("stats", "--format", "json", "--db", f"sqlite:///{db}")).out)
    params = pg_params(base)
    name = f"ledger_bench_{people}_{os.getpid()}"
    psql(params, f'DROP DATABASE IF EXISTS "{name}"')
    psql(params, f'CREATE DATABASE "{name}"')
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    url = f"postgresql://{auth}@{params['host']}:{params['port']}/{name}"
    try:
        r, via = replay(yaml_path, url)
        pg_stats = json.loads(run(ledger("stats", "--format", "json", "--db", url)).out)
    finally:
        psql(params, f'DROP DATABASE IF EXISTS "{name}"', check=False)
    if (pg_stats["journals"], pg_stats["postings"]) != (stats["journals"], stats["postings"]):
        raise SystemExit(f"PostgreSQL and SQLite replays differ: {pg_stats} vs {stats}")
    events = counts["events"]
    out = {"people": people, "events": events, "journals": stats["journals"],
           "postings": stats["postings"], "ledger_s": r.seconds, "via": via,
           "events_per_s": events / r.seconds, "postings_per_s": stats["postings"] / r.seconds,
           "baseline_s": lite.seconds, "baseline_events_per_s": events / lite.seconds,
           "ratio": r.seconds / lite.seconds}
    print(f"  {people:,} people: PostgreSQL replay {r.seconds:.1f} s "
          f"({out['events_per_s']:,.0f} events/s); SQLite {lite.seconds:.1f} s; "
          f"ratio {out['ratio']:.1f}x")
    return out


# ------------------------------------------------------------------ profile


def profile_replay(people: int, args, work: Path) -> Path:
    """The replay through the Python API (what the CLI calls) under cProfile: the first
    --profile-events events of the `people` workload (all of them with 0)."""
    from ledger.app.scenarios import BATCH_EVENTS, run_scenario
    from ledger.scenarios import schema
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    path = work / f"council-{people}-profiled.yaml"
    workload.write_yaml(people, path, seed=args.seed, limit=args.profile_events or None)
    schema.MAX_FILE_BYTES = max(schema.MAX_FILE_BYTES, path.stat().st_size + 1)
    (work / "profile.db").unlink(missing_ok=True)
    engine = open_database(f"sqlite:///{work / 'profile.db'}")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    loaded = schema.load_scenario(path)
    with engine.connect() as conn:  # the batched path, as `ledger scenario run` uses it
        store = DbStore(conn, batch=True)
        result = run_scenario(store, loaded, source=str(path), commit_every=BATCH_EVENTS)
        store.commit()
    profiler.disable()
    took = time.perf_counter() - started
    engine.dispose()
    buf = io.StringIO()
    buf.write(f"cProfile of the replay of {path.name}, the first {len(loaded.events):,} "
              f"events of the {people:,}-person workload ({result.journals:,} journals), "
              "through the Python API\n"
              "(schema.load_scenario + run_scenario on the batched path into a fresh "
              f"SQLite file, as `ledger scenario run` does): {took:.1f} s profiled.\n"
              "Written by bench/compare.py.\n\n")
    stats = pstats.Stats(profiler, stream=buf).strip_dirs()
    buf.write("=== top 10 by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(10)
    buf.write("\n=== top 10 of the ledger's own functions by cumulative time\n")
    pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(
        r"src/ledger/", 10)
    buf.write("\n=== top 15 by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(15)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / "profile-replay.txt"
    text = buf.getvalue().replace(str(Path(schema.__file__).parents[3]) + "/", "")
    target.write_text("\n".join(line.rstrip() for line in text.splitlines()) + "\n")
    print(f"  cProfile of the replay written to {target.relative_to(ROOT)}")
    return target


# ------------------------------------------------------------------ report


def versions(pg: str | None, hledger: str | None) -> dict:
    def first_line(cmd: list[str]) -> str | None:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        text = (done.stdout or done.stderr).strip()
        return text.splitlines()[0] if text else None

    from importlib.metadata import version

    sqlite_cli = shutil.which("sqlite3")
    import ledger

    source = Path(ledger.__file__).resolve().parent.parent.parent
    commit = first_line(["git", "-C", str(source), "rev-parse", "--short", "HEAD"])
    dirty = first_line(["git", "-C", str(source), "status", "--porcelain", "--", "src",
                        "migrations"])
    return {
        "ledger": f"{commit} ({'with uncommitted changes' if dirty else 'clean'})"
        if commit else str(source),
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "sqlite": sqlite3.sqlite_version,
        "sqlite_cli": (first_line([sqlite_cli, "--version"]) or "").split(" ")[0] or None
        if sqlite_cli else None,
        "postgresql": pg, "beancount": version("beancount"),
        "hledger": first_line([hledger, "--version"]) if hledger else None,
        "sqlalchemy": version("sqlalchemy"),
    }


def _x(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


def _s(value: float) -> str:
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _verdict(ok: bool, target: str, missed_by: str, hint: str = "") -> str:
    return f"{target}: met" if ok else f"{target}: **missed** by {missed_by}{hint}"


def figure_rows(size: dict) -> list[tuple[str, ...]]:
    n = f"{size['people']:,}"
    rows = []
    r = size["replay"]
    via = "" if r["via"] == "CLI" else " (Python API: the CLI refused the file)"
    rows.append((
        n, f"replay, `ledger scenario run` into SQLite{via}",
        f"{_s(r['ledger_s'])}: {r['events_per_s']:,.0f} events/s, "
        f"{r['postings_per_s']:,.0f} postings/s, peak {r['ledger_rss_mib']:.0f} MiB",
        f"`bean-check -C` of the export: {_s(r['baseline_s'])}",
        _x(r["ratio"]),
        _verdict(r["ratio"] <= REPLAY_MAX_RATIO, "<= 2x", _x(r["ratio"] / REPLAY_MAX_RATIO),
                 " ([profile](../bench/results/profile-replay.txt))")))
    b = size.get("balance")
    if b:
        rows.append((
            n, "`ledger balance --format csv`", f"{b['ledger_s'] * 1000:,.0f} ms",
            f"`hledger bal`: {b['baseline_s'] * 1000:,.0f} ms "
            f"({b['agreed_accounts']:,} balances agree)",
            f"{_x(b['ratio'])} (ledger {b['speedup']:.1f}x faster)",
            _verdict(b["speedup"] >= BALANCE_MIN_SPEEDUP, "ledger >= 5x faster",
                     _x(BALANCE_MIN_SPEEDUP / b["speedup"]))))
    s = size["statement"]
    rows.append((
        n, f"`ledger statement holder` ({len(s['per_holder_ms'])} holders, a whole year, json)",
        f"median {s['median_ms']:,.0f} ms, max {s['max_ms']:,.0f} ms "
        f"(`ledger stats --format json`: {s['stats_ms']:,.0f} ms)",
        f"`python -c 'import sqlalchemy'`: {s['baseline_ms']:,.0f} ms",
        f"{_x(s['ratio'])} (max {_x(s['max_ratio'])})",
        _verdict(s["max_ratio"] <= STATEMENT_MAX_RATIO, "<= 1.5x each",
                 _x(s["max_ratio"] / STATEMENT_MAX_RATIO))))
    v = size["verify"]
    rows.append((
        n, f"`ledger verify`, {size['postings']:,} postings",
        f"{_s(v['ledger_s'])} = {v['per_million_postings_s']:.1f} s per 1M postings, "
        f"peak {v['ledger_rss_mib']:.0f} MiB",
        f"{v['baseline']} `GROUP BY`: {v['baseline_s'] * 1000:,.0f} ms, "
        f"peak {v['baseline_rss_mib']:.0f} MiB",
        _x(v["ratio"]),
        _verdict(v["per_million_postings_s"] <= VERIFY_MAX_S_PER_M, "<= 10 s per 1M",
                 _x(v["per_million_postings_s"] / VERIFY_MAX_S_PER_M))))
    return rows


def render(results: dict) -> str:
    m = results["machine"]
    lines = [
        START_MARK,
        "<!-- Written by bench/compare.py; edits between these markers are overwritten. -->",
        "",
        f"**Run:** {results['when']}, `{results['command']}`, {results['seconds']:.0f} s. "
        f"Load average {results['load_average'][0]:.1f} at the start, "
        f"{results['load_average_end'][0]:.1f} at the end.",
        "",
        f"**Code measured:** commit {m['ledger']}.",
        "",
        f"**Machine:** {m['cpus']} CPUs; Python {m['python']}; SQLite {m['sqlite']} "
        f"(the `sqlite3` CLI: {m['sqlite_cli'] or 'absent'}); PostgreSQL "
        f"{m['postgresql'] or 'not reached'}; SQLAlchemy {m['sqlalchemy']}; "
        f"Beancount {m['beancount']}; {m['hledger'] or 'hledger absent'}.",
        "",
        "| people | months | events | journals | postings | accounts | YAML | replayed by |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in results["sizes"]:
        lines.append(
            f"| {size['people']:,} | {size['months']} | {size['events']:,} | "
            f"{size['journals']:,} | {size['postings']:,} | {size['accounts']:,} | "
            f"{size['yaml_mib']:.1f} MiB | {size['replay_via']} |")
    lines += [
        "",
        "| people | figure | ledger | baseline (same run) | ratio (ledger / baseline) | target |",
        "|---:|---|---|---|---:|---|",
    ]
    for size in results["sizes"]:
        lines += ["| " + " | ".join(row) + " |" for row in figure_rows(size)]
    for pg in results.get("postgres") or []:
        lines.append(
            f"| {pg['people']:,} | replay into PostgreSQL, a fresh database "
            f"({pg['events']:,} events, {pg['postings']:,} postings) | "
            f"{_s(pg['ledger_s'])}: {pg['events_per_s']:,.0f} events/s, "
            f"{pg['postings_per_s']:,.0f} postings/s | the same file into SQLite: "
            f"{_s(pg['baseline_s'])}, {pg['baseline_events_per_s']:,.0f} events/s | "
            f"{_x(pg['ratio'])} | none set |")
    if results.get("postgres_note"):
        lines += ["", f"PostgreSQL: {results['postgres_note']}."]
    sizes = results["sizes"]
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        grow = big["postings"] / small["postings"]
        lines += [
            "",
            f"**Memory.** Peak RSS of `ledger verify`: {small['verify']['ledger_rss_mib']:.0f} "
            f"MiB at {small['postings']:,} postings, {big['verify']['ledger_rss_mib']:.0f} MiB "
            f"at {big['postings']:,} ({grow:.0f}x the postings, "
            f"{big['verify']['ledger_rss_mib'] / small['verify']['ledger_rss_mib']:.2f}x the "
            f"memory). Of the replay: {small['replay']['ledger_rss_mib']:.0f} MiB and "
            f"{big['replay']['ledger_rss_mib']:.0f} MiB.",
        ]
    if results.get("profile"):
        count = results["params"]["profile_events"]
        first = f"{count:,}" if count else "all the"
        lines += ["", f"**Profile.** The replay missed its target; `{results['profile']}` "
                  "has the top 10 functions by cumulative time of the replay of the "
                  f"first {first} events of the {sizes[0]['people']:,}-person workload "
                  "through the Python API."]
    lines += ["", END_MARK]
    return "\n".join(lines)


def write_doc(section: str, doc: Path) -> None:
    write_section(doc, "compare", section, heading="## Council workload against other tools")
    print(f"\nthe figures section of {_shown(doc)} is rewritten")


def _shown(path: Path) -> Path:
    """`path` as the user would name it: from the checkout's root when inside it."""
    path = path.resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", default="150,2000",
                        help="workload sizes, comma-separated (default 150,2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs of each read command after one warm-up (median)")
    parser.add_argument("--holders", type=int, default=6, help="holders given a statement")
    parser.add_argument("--postgres", choices=["auto", "yes", "no"], default="auto",
                        help="also replay --pg-people into PostgreSQL, at "
                             "$LEDGER_BENCH_POSTGRES_URL or " + DEFAULT_PG + " (auto: with "
                             "the default --people, when reachable)")
    parser.add_argument("--pg-people", default="150,2000",
                        help="workload sizes replayed into PostgreSQL (default 150,2000)")
    parser.add_argument("--profile", choices=["auto", "yes", "no"], default="auto",
                        help="cProfile the replay of the smallest size (auto: when the "
                             "replay misses its target)")
    parser.add_argument("--profile-events", type=int, default=2000, metavar="N",
                        help="profile the first N events of the smallest workload "
                             "(default 2,000; 0 for all)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="make the files in DIR and keep them (default: a temporary "
                             "folder, removed)")
    parser.add_argument("--doc", type=Path, default=DOC,
                        help="the document whose bench:compare section is rewritten")
    parser.add_argument("--no-doc", action="store_true", help="leave the document alone")
    parser.add_argument("--out", type=Path, default=RESULTS / "compare.json")
    args = parser.parse_args(argv)
    sizes = sorted({int(p.replace("_", "")) for p in args.people.split(",") if p.strip()})

    base = os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_PG)
    run_pg = args.postgres == "yes" or (args.postgres == "auto" and
                                        args.people == parser.get_default("people"))
    pg = pg_version(base) if run_pg else None
    if args.postgres == "yes" and pg is None:
        raise SystemExit(f"PostgreSQL is not reachable at {base}")
    hledger = shutil.which("hledger")
    for tool in ("ledger", "bean-check"):
        if not (BIN / tool).exists():
            raise SystemExit(f"{BIN / tool} is missing: run this with the venv's python "
                             "(.venv/bin/python bench/compare.py) after pip install -e '.[dev]'")

    argv_shown = " ".join(argv if argv is not None else sys.argv[1:])
    results: dict = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": f".venv/bin/python bench/compare.py {argv_shown}".strip(),
        "machine": versions(pg, hledger), "load_average": os.getloadavg(),
        "params": {"people": sizes, "seed": args.seed, "repeat": args.repeat,
                   "holders": args.holders, "period": [d.isoformat() for d in PERIOD],
                   "profile_events": args.profile_events},
        "ratio_means": "ledger cost / baseline cost (1.0 = the same time)",
        "sizes": [],
    }
    started = time.perf_counter()
    work = args.keep or Path(tempfile.mkdtemp(prefix="ledger-compare-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for people in sizes:
            results["sizes"].append(bench_size(people, args, work, hledger))
        smallest = results["sizes"][0]
        pg_sizes = sorted({int(p) for p in args.pg_people.split(",") if p.strip()})
        if pg and pg_sizes:
            print(f"\n== PostgreSQL {pg}")
            try:
                results["postgres"] = [bench_postgres(n, args, work, base) for n in pg_sizes]
            except SystemExit as err:  # a failed PostgreSQL run leaves the SQLite figures
                results["postgres_note"] = "the replay failed: " + str(err).split("\n")[-1]
                print(f"  {results['postgres_note']}")
        else:
            results["postgres_note"] = (f"not reachable at {base}, skipped" if args.postgres
                                        == "yes" or (run_pg and pg is None) else
                                        "not run (it runs with the default sizes or "
                                        "--postgres yes)")
        missed = any(s["replay"]["ratio"] > REPLAY_MAX_RATIO for s in results["sizes"])
        if args.profile == "yes" or (args.profile == "auto" and missed):
            print(f"\n== profile of the {smallest['people']:,}-person replay")
            results["profile"] = str(
                profile_replay(smallest["people"], args, work).relative_to(ROOT))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    results["seconds"] = time.perf_counter() - started
    results["load_average_end"] = os.getloadavg()
    for size in results["sizes"]:
        size.pop("_paths", None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    section = render(results)
    print("\n" + section)
    if not args.no_doc:
        write_doc(section, args.doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
