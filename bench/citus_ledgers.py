"""Writers in 1, 2 and 4 ledgers on a Citus cluster beside one PostgreSQL, in one run
(issue 23; docs/scaling.md).

    .venv/bin/python bench/citus_ledgers.py [--quick] [--seconds 6] [--batch 50]
        [--url postgresql://...] [--citus-db NAME | --citus-url URL] [--shard-count 8]
        [--detect-multi-shard] [--keep] [--write-doc]

Two targets, set up afresh by the same run:
  (a) one PostgreSQL server (--url, default as bench/ledgers.py): a new schema, migrated;
  (b) a Citus cluster: a new database made by the cluster script (`cluster.sh createdb`,
      found in shared/citus/cluster.sh beside the checkout's folder, else
      /work/shared/citus/cluster.sh) and dropped at the end (--keep leaves it), or a
      schema in the coordinator database --citus-url names; spread by `ledger db
      distribute --shard-count N` (8 by default: 4 shards per worker on two workers).

Both get the same candidate ledgers (each made by one journal before anything is timed).
`ledger db placements` says which shard and worker holds each on Citus, and every case
takes ledgers it has not used yet, each on its own shard, spread evenly over the workers
(2 ledgers: one per worker; 4: two per worker); the placements go into the results.

The workload is bench/ledgers.py's (its journal and its timed loop `write_for`,
imported, not copied): one process per writer, each writing in its own ledger. Two modes:
  single  one durable journal per transaction (`DbStore.post([journal])`);
  batch   --batch journals per transaction (`DbStore.post` of a list), the way a bulk
          load or a scenario file's replay commits.
The clock starts once every writer of a case is ready: its interpreter started and one
untimed transaction of the same size committed on the connection it keeps (so neither
starting Python under load nor a new server backend's first queries are timed). A
writer's rate is its journals over the time from the start to the end of its last
commit. For 1, 2 and 4 writers, each mode runs on PostgreSQL and then on Citus with the
same number of writers (a change in the machine's load falls on both alike). Reported:
journals and postings a second per writer and in total, Citus's total over PostgreSQL's
(the ratio), errors that reached a writer (the target is none), and the load average at
the start and the end, the machine, the commit and the date. Writes go through the
coordinator (docs/scaling.md).

--detect-multi-shard makes every statement on Citus that needs more than one shard fail
(`citus.multi_task_query_log_level=error`): any such statement in the write path then
shows as errors, with the first one's message.

Results go to bench/results/citus_ledgers.json and, with --write-doc, to docs/scaling.md
between the `bench:citus` markers. --quick is a smoke run: 1 s per case, batches of 10
(about two minutes on a busy 2-core machine, most of it starting interpreters).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from doc_section import write_section  # noqa: E402
from ledgers import _journal, write_for  # noqa: E402
from run import DEFAULT_PG_URL, PostgresTarget  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "citus_ledgers.json"
DOC = ROOT / "docs" / "scaling.md"
START, END = "<!-- bench:citus:start -->", "<!-- bench:citus:end -->"
LEDGER_CLI = Path(sys.executable).with_name("ledger")
WRITERS = (1, 2, 4)
POSTINGS_PER_JOURNAL = len(_journal(0, 0, False).postings)
DETECT = "-ccitus.multi_task_query_log_level=error"


def cluster_script() -> Path:
    """The Citus cluster's script: beside the checkout, else the machine's shared copy."""
    for candidate in (ROOT.parent / "shared" / "citus" / "cluster.sh",
                      Path("/work/shared/citus/cluster.sh")):
        if candidate.is_file():
            return candidate
    raise SystemExit("no Citus cluster script (shared/citus/cluster.sh beside the "
                     "checkout's folder, or /work/shared/citus/cluster.sh): give --citus-url")


def _cluster(*args: str) -> str:
    done = subprocess.run(["bash", str(cluster_script()), *args], capture_output=True,
                          text=True)
    if done.returncode:
        raise SystemExit(f"cluster.sh {' '.join(args)} failed: "
                         f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done.stdout.strip()


def _ledger(*args: str) -> str:
    done = subprocess.run([str(LEDGER_CLI), *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ledger {args[0]} {args[1]} failed: {done.stderr.strip()}")
    return done.stdout


def _schema_url(base: str, schema: str, extra: str = "") -> str:
    """`base` with every connection's search path set to `schema` (and `extra` options)."""
    sep = "&" if "?" in base else "?"
    options = f"-csearch_path={schema}" + (f" {extra}" if extra else "")
    return f"{base}{sep}options={quote(options)}"


def _warm(url: str, names: list[str]) -> None:
    """Make each ledger with one journal, so no timed writer pays for a new ledger."""
    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine

    engine = make_engine(url)
    try:
        for name in names:
            with engine.connect() as conn:
                DbStore(conn, name).post([_journal(999, 0, False)])
                conn.commit()
    finally:
        engine.dispose()


def choose(placements: dict[str, tuple[int, str]], counts: list[int]) -> list[list[str]]:
    """For each count, ledgers not chosen before, each on a shard of its own and spread
    over the workers as evenly as they go (the first worker, by name, takes the odd one).
    Raises ValueError when the candidates cannot give that."""
    nodes = sorted({node for _, node in placements.values()})
    free = {node: [n for n in sorted(placements) if placements[n][1] == node] for node in nodes}
    chosen: list[list[str]] = []
    for count in counts:
        picked: list[str] = []
        shards: set[int] = set()
        for k in range(count):
            node = nodes[k % len(nodes)]
            name = next((n for n in free[node] if placements[n][0] not in shards), None)
            if name is None:
                raise ValueError(f"not enough ledgers on {node} on shards of their own")
            free[node].remove(name)
            shards.add(placements[name][0])
            picked.append(name)
        chosen.append(picked)
    return chosen


def _ready_writer(ready, go, start_at, url: str, name: str, writer: int, seconds: float,
                  out, batch: int) -> None:
    """bench/ledgers.py's writer, on the clock only once every writer of the case is
    ready: its interpreter started (under load, starting 4 can take seconds) and one
    untimed transaction of the same work committed on the connection it keeps (the new
    server backend's caches, and on Citus its connections to the workers, warmed)."""
    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        DbStore(conn, name).post([_journal(writer, -k, False) for k in range(1, batch + 1)])
        conn.commit()
    ready.put(writer)
    go.wait()
    done, errors, first_error, elapsed = write_for(engine, name, writer, False, seconds,
                                                   start_at.value, batch)
    engine.dispose()
    out.put((writer, done, errors, first_error, elapsed))


def _measure(ctx, url: str, names: list[str], seconds: float, batch: int) -> dict:
    out, ready, go, start_at = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Value("d", 0.0)
    processes = [ctx.Process(target=_ready_writer, args=(
        ready, go, start_at, url, name, w, seconds, out, batch))
        for w, name in enumerate(names)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.get()
    start_at.value = time.time() + 0.2
    go.set()
    got = sorted(out.get() for _ in processes)
    for process in processes:
        process.join()
    per_writer = [r[1] / r[4] for r in got]
    total = sum(per_writer)
    return {"per_writer": [round(x, 1) for x in per_writer], "journals_s": round(total, 1),
            "postings_s": round(total * POSTINGS_PER_JOURNAL, 1),
            "errors": sum(r[2] for r in got),
            "first_error": next((r[3] for r in got if r[3]), "")}


def trace(citus_base: str, schema: str, name: str, batch: int) -> dict:
    """One untimed transaction of `batch` journals in ledger `name` on Citus with
    `citus.log_remote_commands` on: how many commands the coordinator sent to a worker,
    how many it ran itself, and whether it committed in two phases (PREPARE TRANSACTION
    on the worker, then COMMIT PREPARED)."""
    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine

    engine = make_engine(_schema_url(citus_base, schema, "-ccitus.log_remote_commands=on "
                                                         "-cclient_min_messages=log"))
    messages: list[str] = []
    try:
        with engine.connect() as conn:
            conn.connection.driver_connection.add_notice_handler(
                lambda d: messages.append(d.message_primary or ""))
            for first in (10_000, 20_000):  # the second: a backend past its first write
                messages.clear()
                DbStore(conn, name).post([_journal(7, first + k, False)
                                          for k in range(batch)])
                conn.commit()
    finally:
        engine.dispose()
    remote = [m.removeprefix("issuing ") for m in messages if m.startswith("issuing ")]
    return {"journals": batch, "remote_commands": len(remote),
            "local_commands": sum(m.startswith("executing the command locally")
                                  for m in messages),
            "two_phase_commit": any(m.startswith("PREPARE TRANSACTION") for m in remote)}


def _describe(target: PostgresTarget) -> dict:
    info = target.describe()
    with target.psycopg.connect(**target.params) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'"
                           ).fetchone()
        if row:
            info["citus"] = row[0]
            info["workers"] = [f"{h}:{p}" for h, p in conn.execute(
                "SELECT node_name, node_port FROM citus_get_active_worker_nodes() "
                "ORDER BY 1, 2")]
    return info


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--untracked-files=no")
                   else "")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help="time per case (default 6; --quick: 1)")
    parser.add_argument("--batch", type=int, default=None,
                        help="journals per transaction in the batch mode (default 50; "
                             "--quick: 10)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: short cases")
    parser.add_argument("--url", default=os.environ.get("LEDGER_BENCH_POSTGRES_URL",
                                                        DEFAULT_PG_URL),
                        help="the one PostgreSQL server's database (a schema is made in it)")
    parser.add_argument("--citus-db", default="bench_citus_ledgers",
                        help="the Citus database the cluster script makes and drops")
    parser.add_argument("--citus-url", default=None,
                        help="an existing Citus coordinator database (a schema is made in "
                             "it) instead of --citus-db")
    parser.add_argument("--shard-count", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=32,
                        help="ledgers made on each target to choose the cases' from")
    parser.add_argument("--detect-multi-shard", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="leave the Citus database made for the run")
    parser.add_argument("--write-doc", action="store_true")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 6.0)
    batch = args.batch or (10 if args.quick else 50)
    if seconds <= 0 or batch < 1 or args.shard_count < 2:
        print("citus_ledgers: --seconds must be above 0, --batch at least 1, "
              "--shard-count at least 2", file=sys.stderr)
        return 2
    load_start = _load()
    clock = time.time()
    started = dt.datetime.now(dt.UTC)
    made_db = None
    if args.citus_url:
        citus_base = args.citus_url
    else:
        made_db = args.citus_db
        citus_base = _cluster("createdb", made_db).splitlines()[-1]
    ctx = mp.get_context("spawn")
    pg = PostgresTarget(args.url)
    citus = PostgresTarget(citus_base)
    try:
        pg_url = pg.fresh("citus_ledgers_pg").url
        from ledger.store.schema import make_engine, upgrade

        engine = make_engine(pg_url)
        upgrade(engine)
        engine.dispose()
        schema = f"bench_citus_{uuid.uuid4().hex[:8]}"
        with citus.psycopg.connect(**citus.params, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        citus.schemas.append(schema)
        citus_url = _schema_url(citus_base, schema)
        spread = _ledger("db", "distribute", "--shard-count", str(args.shard_count),
                         "--db", citus_url).strip()
        print(f"[{time.time() - clock:.0f} s] citus: {spread}")
        writer_url = _schema_url(citus_base, schema,
                                 DETECT if args.detect_multi_shard else "")
        names = [f"b{n:02d}" for n in range(args.candidates)]
        _warm(pg_url, names)
        cases = [(mode, n) for mode in ("single", "batch") for n in WRITERS]
        citus_error = None
        try:
            _warm(writer_url, names)
        except Exception as err:  # recorded: the PostgreSQL half still runs
            citus_error = str(err).strip().splitlines()[0]
            print(f"citus: writes fail, only PostgreSQL is measured: {citus_error}")
        placements: dict[str, tuple[int, str]] = {}
        if citus_error is None:
            for line in _ledger("db", "placements", "--db", citus_url).splitlines():
                name, shard, node = line.split("\t")
                placements[name] = (int(shard), node)
            try:
                sets = choose(placements, [n for _, n in cases])
            except ValueError as err:
                raise SystemExit(f"citus_ledgers: {err}: give more --candidates") from None
        else:
            sets, taken = [], 0
            for _, n in cases:
                sets.append(names[taken:taken + n])
                taken += n
        print(f"[{time.time() - clock:.0f} s] {len(names)} ledgers made on each")
        traces = []
        if citus_error is None:
            used = {name for chosen in sets for name in chosen}
            spare = next(name for name in reversed(names) if name not in used)
            traces = [trace(citus_base, schema, spare, size) for size in (1, batch)]
            for t in traces:
                print(f"citus: {t['journals']} journal(s) in one transaction: "
                      f"{t['remote_commands']} commands sent to a worker, "
                      f"{t['local_commands']} run on the coordinator, two-phase commit "
                      f"{'yes' if t['two_phase_commit'] else 'no'}")
        rows = []
        for (mode, n), chosen in zip(cases, sets, strict=True):
            size = 1 if mode == "single" else batch
            postgres = _measure(ctx, pg_url, chosen, seconds, size)
            on_citus = (None if citus_error else
                        _measure(ctx, writer_url, chosen, seconds, size))
            ratio = (round(on_citus["journals_s"] / postgres["journals_s"], 2)
                     if on_citus and postgres["journals_s"] else None)
            row = {"mode": mode, "journals_per_transaction": size, "writers": n,
                   "ledgers": [{"name": c, "shard": placements.get(c, (None, ""))[0],
                                "worker": placements.get(c, (None, ""))[1]}
                               for c in chosen],
                   "postgres": postgres, "citus": on_citus, "ratio": ratio}
            rows.append(row)
            there = (f"Citus {on_citus['journals_s']} j/s {on_citus['per_writer']} errors "
                     f"{on_citus['errors']} {on_citus['first_error']}" if on_citus
                     else "Citus not measured")
            print(f"[{time.time() - clock:.0f} s] {mode:6} {n} writer(s) {','.join(chosen)}: PostgreSQL "
                  f"{postgres['journals_s']} j/s {postgres['per_writer']} "
                  f"errors {postgres['errors']} {postgres['first_error']}; {there}; "
                  f"ratio {ratio}")
        result = {
            "date": started.strftime("%Y-%m-%d %H:%M UTC"), "commit": _commit(),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform()},
            "postgres": _describe(pg), "citus": {**_describe(citus), "distribute": spread,
                                                 "shard_count": args.shard_count},
            "seconds": seconds, "batch": batch, "quick": args.quick,
            "detect_multi_shard": args.detect_multi_shard, "citus_error": citus_error,
            "load_average": {"start": load_start, "end": _load()},
            "citus_transaction": traces,
            "placements": {name: {"shard": s, "worker": w}
                           for name, (s, w) in sorted(placements.items())},
            "cases": rows}
    finally:
        pg.close()
        if made_db and not args.keep:
            _cluster("dropdb", made_db)
        else:
            citus.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average {result['load_average']['start']} at the start, "
          f"{result['load_average']['end']} at the end; {RESULTS.relative_to(ROOT)}")
    if args.write_doc:
        write_doc(result)
    return 0


def doc_block(result: dict) -> str:
    m, pg, citus = result["machine"], result["postgres"], result["citus"]
    load = result["load_average"]
    lines = [
        START, "",
        f"Run {result['date']} at commit {result['commit']}"
        f"{' (a --quick smoke run)' if result['quick'] else ''}: {m['cpus']} CPUs, Python "
        f"{m['python']}; PostgreSQL {pg['server_version']} (fsync {pg['fsync']}, "
        f"synchronous_commit {pg['synchronous_commit']}) beside Citus {citus.get('citus')} "
        f"on PostgreSQL {citus['server_version']} (fsync {citus['fsync']}, "
        f"synchronous_commit {citus['synchronous_commit']}): a coordinator and "
        f"{len(citus.get('workers', []))} workers ({', '.join(citus.get('workers', []))}), "
        f"{citus['shard_count']} shards per table. {result['seconds']:g} s per case; load "
        f"average (1, 5, 15 min) {', '.join(f'{x:g}' for x in load['start'])} at the start, "
        f"{', '.join(f'{x:g}' for x in load['end'])} at the end. One process per writer, "
        "each in a ledger of its own on a shard of its own, the ledgers spread evenly over "
        "the workers; every write goes through the coordinator. `single`: one durable "
        f"journal per transaction; `batch`: {result['batch']} journals per transaction; "
        f"{POSTINGS_PER_JOURNAL} postings per journal. Ratio: Citus's journals a second "
        "over PostgreSQL's with as many writers (above 1: Citus wrote more). "
        "`bench/citus_ledgers.py --write-doc` regenerates this section.", "",
        "| mode | writers | ledgers (worker) | PostgreSQL journals/s (per writer) | Citus "
        "journals/s (per writer) | PostgreSQL postings/s | Citus postings/s | ratio | "
        "errors (PostgreSQL, Citus) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for r in result["cases"]:
        p, c = r["postgres"], r["citus"]
        where = ", ".join(f"{x['name']} ({x['worker'].rsplit(':', 1)[-1] or '–'})"
                          for x in r["ledgers"])
        ratio = f"{r['ratio']}×" if r["ratio"] is not None else "–"
        lines.append(
            f"| {r['mode']} | {r['writers']} | {where} | {_figure(p)} | {_figure(c)} | "
            f"{p['postings_s']:g} | {_number(c, 'postings_s')} | "
            f"{ratio} | {p['errors']}, {c['errors'] if c else '–'} |")
    if result.get("citus_transaction"):
        lines += ["", "One write transaction on Citus, traced (`citus.log_remote_commands`): " +
                  "; ".join(
                      f"{t['journals']} journal{'s' if t['journals'] > 1 else ''}: "
                      f"{t['remote_commands']} commands from the coordinator to the worker, "
                      f"{t['local_commands']} run on the coordinator, "
                      + ("committed in two phases (PREPARE TRANSACTION, COMMIT PREPARED)"
                         if t["two_phase_commit"] else "committed in one phase")
                      for t in result["citus_transaction"]) + "."]
    hosts = {w.rsplit(":", 1)[0] for w in citus.get("workers", [])}
    detected = (" and every statement on one shard (the multi-shard detector was on)"
                if result.get("detect_multi_shard") else "")
    if hosts <= {"127.0.0.1", "localhost", "::1"}:
        lines += [
            "", f"What this run can and cannot show: the PostgreSQL server, the Citus "
            f"coordinator, both workers and every writer share the same {m['cpus']} CPUs "
            "and one disk. It shows that writers in several ledgers work on Citus with no "
            f"error{detected}, and what the coordinator's extra hop and commit cost a "
            "transaction on "
            "the same hardware. It cannot show how writes scale with workers: here a "
            "second worker brings no CPU and no disk of its own, and every write on Citus "
            "does more work than on one server (a second server process, a hop, a commit "
            "in two phases when traced so). A ratio above 1 here is therefore not a gain "
            "from the workers; it comes from what this run cannot separate (other "
            "programs using these servers unevenly during the run, each shard's tables "
            "being an eighth of the one server's). Scaling needs each worker on a machine "
            "of its own, with the load measured on each."]
    if result.get("citus_error"):
        lines += ["", "Writes on Citus failed, so only PostgreSQL was measured: the first "
                  f"journal written on Citus was refused with `{result['citus_error']}`."]
    firsts = sorted({r[t]["first_error"] for r in result["cases"] for t in ("postgres", "citus")
                     if r[t] and r[t]["first_error"]})
    if firsts:
        lines += ["", "First errors: " + "; ".join(f"`{e}`" for e in firsts) + "."]
    lines += ["", END]
    return "\n".join(lines)


def _number(figures: dict | None, key: str) -> str:
    return f"{figures[key]:g}" if figures else "–"


def _figure(figures: dict | None) -> str:
    """Journals a second in total (and per writer), or a dash: not measured."""
    if not figures:
        return "–"
    return (f"{figures['journals_s']:g} "
            f"({', '.join(f'{x:g}' for x in figures['per_writer'])})")


def write_doc(result: dict) -> None:
    write_section(DOC, "citus", doc_block(result))


if __name__ == "__main__":
    sys.exit(main())
