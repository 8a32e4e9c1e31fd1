"""The web view (`ledger serve`) under load on loopback, beside a baseline in the same run.

    .venv/bin/python bench/web_load.py [--people 2000] [--readers 50] [--seconds 60]
        [--workers 2] [--write-doc] [--db URL]
    .venv/bin/python bench/web_load.py --wrong-passwords 4 [--write-doc]   # sign-ins
    .venv/bin/python bench/web_load.py --quick                # its smoke test, ~30 s

With --wrong-passwords N, the sign-in pressure run instead (`pressure_main`, about 3
minutes on 2 cores; results in bench/results/web_load_sign_ins.json, and --write-doc
rewrites the `bench:sign-ins` section of docs/reliability.md): a smaller ledger (400
people, 3 months), `ledger serve --trusted-proxy 127.0.0.1`, the readers (50) signed
in, then --rounds (3) turns of the readers alone for --seconds (20) and the readers
beside N clients sending wrong passwords for --seconds, each wrong password for a
username of its own from a forwarded address of its own (so no rate limit stops it and
each costs an Argon2 check). It reports the readers' p50 and p95 in each, and their
ratio (the target: p95 beside at most 2x p95 alone). --quick is the same on SQLite with
60 people, 8 readers and one 3 s block of each, its results in the temporary folder.

What it does, in order (progress on stderr):
  1. Set-up, not timed: a council-sized ledger. `generate.council_year(people - pooled)`
     (--months whole months from April 2026, everyone moved under one council), plus
     --pools pools of 4 direct-payment holders each, who pay in and share costs every
     month. Replayed on the batched path (`DbStore(conn, batch=True)`, `run_scenario`)
     into a fresh PostgreSQL database (made and dropped with `psql`) or a fresh SQLite file.
     Then one sign-in per reader (`ledger.app.access.add_user`).
  2. `ledger serve --host 127.0.0.1 --port FREE --workers N --db URL` as a subprocess, on
     a free loopback port; the bench waits until GET /login answers.
  3. Every reader signs in as a person would: GET /login for the form's csrf_token, then
     POST /login, 303 and a session cookie. Each reader has its own session.
  4. Baseline, in the same run: one reader alone for --baseline-seconds, alternating its
     own statement and GET /login. This gives each page's latency with nothing else going.
  5. The load: --readers concurrent readers (asyncio and httpx) for --seconds, and at most
     --max-requests requests in all, whichever comes first. Each reader reads by its role:
     a holder their own statement for a random month; a pool member the pool's statement
     or their own; a provider its month end or the statement of someone whose ISF it
     holds; a council its overview or one of its people's statements. One more client (the
     probe) asks for GET /login, a page with no database work, every 0.2 s throughout: the
     trivial page's latency under the same load.
  Every request's latency and status is kept. An error is any answer but 200, or an
  exception (a timeout, a refused connection). The server is stopped and the database
  dropped at the end, whatever happened.

The baseline commit (--baseline, default d06182a: the web view before issue 22's speed
work), in the same run: its schema (0004) cannot read today's database, so it gets its
own database of the same data and sign-ins (same --seed), set up by its own code
(`--setup-only` in a process whose PYTHONPATH puts the commit's src/ and migrations,
taken with `git archive` into the temporary folder, ahead of the installed code; the
work tree and the repository are untouched). Its server is served and loaded the same
way, first; then the current code's. d06182a has no ISF statement page, so its
providers read the person's statement of their ISF instead (the page they read then).
The results give both, the ratio of good answers a second (target at least 2x) and the
current p95 (target under 1 s), and the load average at the start and end of each run.
--baseline none measures the current code alone.
    quick, a few minutes: --db sqlite --people 200 --months 3 --readers 10 --seconds 10
    --pools 2

Results go to bench/results/web_load.json; --write-doc rewrites the `bench:web` section at
the end of docs/performance.md. At the defaults (PostgreSQL, 2,000 people, 12 months, 50
readers, 60 s) the run took 10 to 17 minutes on a shared 2-core machine, most of it the
set-up (the PostgreSQL replay: 6 to 12 minutes there, about 70 s on a quiet machine, see
the `bench:compare` table); the load itself is --seconds plus at most --timeout.

--db: a PostgreSQL server URL (default $LEDGER_BENCH_POSTGRES_URL, else
postgresql://postgres@127.0.0.1:5432; a fresh database on it, its name ignored), or
`sqlite` for a fresh SQLite file in a temporary folder (one worker: SQLite allows one).
--profile also runs one request of each kind, and the home page of each kind of reader,
in this process under cProfile against the same database (after the load, not timed with
it); it prints the top functions on stderr, and the results and the doc get a summary.
--timeout (30 s) is how long one request may take before it counts as an error;
--doc-only rewrites the doc section from the last results without running anything.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import json
import math
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
from doc_section import write_section  # noqa: E402

RESULTS = HERE / "results" / "web_load.json"
DOC = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:web:start -->", "<!-- bench:web:end -->"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
LEDGER = str(Path(sys.executable).parent / "ledger")
PASSWORD = "bench-password-not-secret"
POOL_SIZE = 4
PROBE_EVERY = 0.2  # seconds between the probe's GET /login
TIMEOUT = 30.0  # seconds for one request; past it, the request is an error
KINDS = ("holder", "pool", "provider", "council", "isf")
BASELINE = "d06182a"  # the web view before the speed work (issue 22): measured beside it


def log(message: str) -> None:
    print(f"web_load: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the data


def _month_label(first: dt.date, n: int) -> str:
    year, month = first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1
    return f"{year:04d}-{month:02d}"


def _pool_events(pools: int, council: str, months: int) -> tuple[list[dict], list[dict],
                                                                  dict[str, list[str]]]:
    """`pools` pools of POOL_SIZE direct-payment holders of their own: each month a DP
    instalment each, a contribution each, and two shared costs split equally (always
    within every member's share, so nothing is refused)."""
    holders, events, members_of = [], [], {}
    for p in range(pools):
        pool = f"POOL{p:02d}"
        members = [f"M{p:02d}{k}" for k in range(POOL_SIZE)]
        members_of[pool] = members
        holders += [{"id": h, "name": f"Member {h}", "council": council} for h in members]
        events.append({"date": generate.START, "type": "pool_open", "pool": pool,
                       "members": members, "name": f"Group {p}"})
    for n in range(months):
        first = dt.date.fromisoformat(_month_label(generate.START, n) + "-01")
        for pool, members in members_of.items():
            for h in members:
                events.append({"date": first, "type": "dp_payment", "holder": h,
                               "amount": "800.00"})
                events.append({"date": first, "type": "pool_contribute", "pool": pool,
                               "holder": h, "amount": "300.00"})
            for day, amount, what in ((7, "240.00", "shared PA"), (21, "96.00", "outing")):
                events.append({"date": first.replace(day=day), "type": "pool_spend",
                               "pool": pool, "payee": "PA Example", "amount": amount,
                               "description": f"{what}, {_month_label(generate.START, n)}"})
    return holders, events, members_of


def scenario(people: int, pools: int, months: int, seed: int) -> tuple[dict, dict]:
    """The scenario dict, and what the readers need to know about it (the council, the
    holders, each provider's ISF holders, each pool's members, the months)."""
    pooled = pools * POOL_SIZE
    data = generate.council_year(people - pooled, seed=seed, months=months)
    council = data["parties"]["councils"][0]["id"]
    data["parties"]["councils"] = data["parties"]["councils"][:1]
    for holder in data["parties"]["holders"]:
        holder["council"] = council
    extra_holders, extra_events, members_of = _pool_events(pools, council, months)
    data["parties"]["holders"] += extra_holders
    # One date order; on a date, the generator's events first, then the pools' (which
    # only touch the pools' own members, so their order against the others is free).
    tagged = [(e["date"], 0, i, e) for i, e in enumerate(data["events"])]
    tagged += [(e["date"], 1, i, e) for i, e in enumerate(extra_events)]
    data["events"] = [e for *_, e in sorted(tagged, key=lambda t: t[:3])]
    isf_of: dict[str, list[str]] = defaultdict(list)
    for e in data["events"]:
        if e["type"] == "isf_open":
            isf_of[e["provider"]].append(e["holder"])
    plain = [h["id"] for h in data["parties"]["holders"] if not h["id"].startswith("M")]
    facts = {"council": council, "holders": plain, "isf_of": dict(isf_of),
             "pools": members_of,
             "months": [_month_label(generate.START, n) for n in range(months)]}
    return data, facts


def load(url: str, data: dict) -> dict:
    """Replay on the batched path; returns counts and the time it took."""
    try:
        from ledger.app.scenarios import BATCH_EVENTS, run_scenario
    except ImportError:  # the baseline commit (--baseline) kept them here
        from ledger.scenarios.runner import BATCH_EVENTS, run_scenario  # type: ignore
    from ledger.scenarios.schema import ScenarioFile
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    started = time.perf_counter()
    loaded = ScenarioFile.model_validate(data)
    engine = open_database(url)
    done = [0]
    total = len(data["events"])

    def tick() -> None:
        done[0] += 1
        if done[0] % 20_000 == 0:
            log(f"  {done[0]:,} of {total:,} events")

    with engine.connect() as conn:
        store = DbStore(conn, batch=True)
        result = run_scenario(store, loaded, progress=tick, commit_every=BATCH_EVENTS)
        store.commit()
    if result.failure:
        raise SystemExit(f"web_load: set-up failed: {result.failure}")
    with engine.connect() as conn:
        from sqlalchemy import text

        journals = conn.execute(text("SELECT count(*) FROM journal")).scalar_one()
        postings = conn.execute(text("SELECT count(*) FROM posting")).scalar_one()
    if engine.dialect.name == "postgresql":
        # A database that has been in use has its statistics; a fresh bulk load has not
        # yet (autovacuum would get to it within minutes).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {"events": total, "journals": journals, "postings": postings,
            "load_s": round(time.perf_counter() - started, 1)}


# ------------------------------------------------------------------ the readers


def plan_readers(readers: int, facts: dict, seed: int) -> list[dict]:
    """Each reader's username, roles and what it reads. About 1 in 20 a council, 1 in 10
    a provider, 1 in 10 a pool member (at least one of each from 4 readers), the rest
    budget holders reading their own statements; everyone a different person."""
    rng = random.Random(f"readers:{seed}")
    counts = {"council": round(readers * 0.05), "provider": round(readers * 0.10),
              "pool": round(readers * 0.10)}
    if readers >= 4:
        counts = {k: max(1, v) for k, v in counts.items()}
    counts = {k: min(v, readers) for k, v in counts.items()}
    counts["pool"] = min(counts["pool"], len(facts["pools"]), readers - counts["council"])
    counts["provider"] = min(counts["provider"], len(facts["isf_of"]),
                             readers - counts["council"] - counts["pool"])
    counts["holder"] = readers - sum(counts.values())
    plan = []
    for i in range(counts["council"]):
        plan.append({"kind": "council", "username": f"council{i}",
                     "roles": [f"council:{facts['council']}"]})
    for i, provider in enumerate(rng.sample(sorted(facts["isf_of"]), counts["provider"])):
        plan.append({"kind": "provider", "username": f"provider{i}",
                     "roles": [f"provider:{provider}"], "provider": provider})
    for i, pool in enumerate(rng.sample(sorted(facts["pools"]), counts["pool"])):
        member = facts["pools"][pool][i % POOL_SIZE]
        plan.append({"kind": "pool", "username": f"member{i}", "pool": pool,
                     "holder": member, "roles": [f"pool:{pool}", f"holder:{member}"]})
    for i, holder in enumerate(rng.sample(facts["holders"], counts["holder"])):
        plan.append({"kind": "holder", "username": f"holder{i}", "holder": holder,
                     "roles": [f"holder:{holder}"]})
    return plan


def add_users(url: str, plan: list[dict]) -> float:
    try:
        from ledger.app.access import add_user
    except ImportError:  # the baseline commit (--baseline) kept it here
        from ledger.web.users import add_user  # type: ignore
    from ledger.store.repo import DbStore
    from ledger.store.schema import open_database

    started = time.perf_counter()
    engine = open_database(url)
    with engine.begin() as conn:
        lid = DbStore(conn).lid
        for reader in plan:
            reader["uid"] = add_user(conn, lid, reader["username"], PASSWORD,
                                     reader["roles"])
    engine.dispose()
    return time.perf_counter() - started


def next_request(reader: dict, facts: dict, rng: random.Random,
                 legacy: bool = False) -> tuple[str, str]:
    """(kind of page, path) of this reader's next request. `legacy`: for the baseline
    commit, which had no ISF statement: a provider reads the person's statement of its
    ISF instead (what it read then), in the same turn of the same random sequence."""
    month = rng.choice(facts["months"])
    kind = reader["kind"]
    if kind == "pool" and rng.random() < 0.5:
        return "pool", f"/statements/pool/{reader['pool']}?month={month}"
    if kind == "provider":
        if rng.random() < 0.5:
            return "provider", f"/provider/{reader['provider']}/month-end?month={month}"
        holder = rng.choice(facts["isf_of"][reader["provider"]])  # its own ISF's statement
        if legacy:
            return "isf", f"/statements/holder/{holder}?month={month}"
        return "isf", f"/statements/isf/{holder}:{reader['provider']}?month={month}"
    if kind == "council":
        if rng.random() < 0.3:
            return "council", f"/council/{facts['council']}?month={month}"
        return "holder", f"/statements/holder/{rng.choice(facts['holders'])}?month={month}"
    return "holder", f"/statements/holder/{reader['holder']}?month={month}"


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client, username: str) -> float:
    started = time.perf_counter()
    form = await client.get("/login")
    found = CSRF.search(form.text)
    if form.status_code != 200 or not found:
        raise SystemExit(f"web_load: GET /login answered {form.status_code} without a form")
    answer = await client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": found.group(1), "next": "/"})
    if answer.status_code != 303 or "ledger_session" not in client.cookies:
        raise SystemExit(f"web_load: sign-in of {username} answered {answer.status_code}")
    return time.perf_counter() - started


class Recorder:
    """Every request: (phase, who, kind, seconds from the phase's start, latency, status
    or the exception's name)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, float, float, int | str]] = []

    async def get(self, client, phase: str, who: str, kind: str, path: str,
                  t0: float) -> None:
        started = time.perf_counter()
        try:
            answer = await client.get(path)
            status: int | str = answer.status_code
        except Exception as err:  # noqa: BLE001 - every failure is counted, none stops the run
            status = type(err).__name__
        self.rows.append((phase, who, kind, started - t0, time.perf_counter() - started,
                          status))


async def run_load(base: str, plan: list[dict], facts: dict, seconds: float,
                   max_requests: int, baseline_seconds: float, seed: int,
                   timeout: float = TIMEOUT, legacy: bool = False) -> dict:
    import httpx

    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    clients = [httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)
               for _ in plan]
    probe = httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)
    rec = Recorder()
    try:
        log(f"signing in {len(plan)} readers (Argon2id; not timed)")
        sem = asyncio.Semaphore(4)

        async def one(client, reader) -> float:
            async with sem:
                return await sign_in(client, reader["username"])

        sign_ins = await asyncio.gather(*(one(c, r) for c, r in zip(clients, plan,
                                                                     strict=True)))

        # The baseline: one holder reader alone, its statement and GET /login in turn.
        alone = next((i for i, r in enumerate(plan) if r["kind"] == "holder"), 0)
        log(f"baseline: one reader alone for {baseline_seconds:g} s")
        rng = random.Random(f"baseline:{seed}")
        t0 = time.perf_counter()
        n = 0
        while time.perf_counter() - t0 < baseline_seconds and n < max_requests:
            kind, path = next_request(plan[alone], facts, rng, legacy)
            await rec.get(clients[alone], "alone", plan[alone]["username"], kind, path, t0)
            await rec.get(clients[alone], "alone", plan[alone]["username"], "login",
                          "/login", t0)
            n += 2

        log(f"load: {len(plan)} readers for {seconds:g} s (at most {max_requests:,} "
            "requests)")
        t0 = time.perf_counter()
        deadline = t0 + seconds
        sent = [0]

        async def reader(i: int) -> None:
            r = random.Random(f"reader:{seed}:{i}")
            while time.perf_counter() < deadline and sent[0] < max_requests:
                sent[0] += 1
                kind, path = next_request(plan[i], facts, r, legacy)
                await rec.get(clients[i], "load", plan[i]["username"], kind, path, t0)

        async def prober() -> None:
            while time.perf_counter() < deadline:
                await rec.get(probe, "probe", "probe", "login", "/login", t0)
                await asyncio.sleep(PROBE_EVERY)

        async def progress() -> None:
            while time.perf_counter() < deadline and sent[0] < max_requests:
                await asyncio.sleep(10)
                done = [row for row in rec.rows if row[0] == "load"]
                bad = sum(1 for row in done if row[5] != 200)
                log(f"  {time.perf_counter() - t0:4.0f} s: {len(done):,} requests, "
                    f"{bad} errors")

        watcher = asyncio.create_task(progress())
        await asyncio.gather(*(reader(i) for i in range(len(plan))), prober())
        elapsed = time.perf_counter() - t0
        watcher.cancel()
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), probe.aclose())
    return {"rows": rec.rows, "elapsed": elapsed, "sign_in_s": sign_ins}


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int, workers: int, logfile: Path,
                 extra: tuple[str, ...] = (), env: dict | None = None) -> subprocess.Popen:
    cmd = [LEDGER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
           str(workers), *extra, "--db", url]
    log(f"starting: ledger serve --host 127.0.0.1 --port {port} --workers {workers} "
        f"{' '.join(extra)}".rstrip() + (" (the baseline commit)" if env else ""))
    out = logfile.open("w")
    # Its own process group, so the workers stop with it (and nothing else does).
    server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                              start_new_session=True, env=env)
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < 60:
        if server.poll() is not None:
            raise SystemExit(f"web_load: ledger serve stopped: {logfile.read_text()[-800:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                # Every worker answers once before the clock starts (imports, templates).
                for _ in range(workers * 4):
                    httpx.get(f"http://127.0.0.1:{port}/login", timeout=10)
                log(f"  answering after {time.perf_counter() - started:.1f} s")
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_server(server)
    raise SystemExit("web_load: ledger serve did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    try:
        os.killpg(server.pid, signal.SIGTERM)  # the group this bench started, by its id
        server.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait(timeout=10)


def server_cpu_seconds(pgid: int) -> float:
    """User and system CPU seconds of every live process in the server's group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5, pgrp
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


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


# ------------------------------------------------------------------ figures


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(rows: list[tuple], window: float | None = None) -> dict:
    """Counts and latency percentiles; with `window`, also the good answers (200) that
    came back within the load's first `window` seconds, per second (the requests still
    out when the clock stopped finish after it, and are counted in the rest)."""
    ms = [r[4] * 1000 for r in rows]
    out = {"requests": len(rows), "errors": sum(1 for r in rows if r[5] != 200),
           "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
           "p99_ms": round(pct(ms, 99), 1), "max_ms": round(max(ms, default=0.0), 1)}
    if window:
        good = sum(1 for r in rows if r[5] == 200 and r[3] + r[4] <= window)
        out["per_s"] = round(good / window, 1)
    return out


def figures(run: dict, seconds: float) -> dict:
    rows = run["rows"]
    load = [r for r in rows if r[0] == "load"]
    probe = [r for r in rows if r[0] == "probe"]
    alone = [r for r in rows if r[0] == "alone"]
    window = min(seconds, run["elapsed"])
    out = {"load": summary(load, window),
           "by_kind": {k: summary([r for r in load if r[2] == k], window)
                       for k in KINDS if any(r[2] == k for r in load)},
           "probe_login_under_load": summary(probe),
           "alone_statement": summary([r for r in alone if r[2] != "login"]),
           "alone_login": summary([r for r in alone if r[2] == "login"]),
           "elapsed_s": round(run["elapsed"], 1)}
    statuses: dict[str, int] = defaultdict(int)
    for r in load + probe:
        if r[5] != 200:
            statuses[str(r[5])] += 1
    out["error_kinds"] = dict(statuses)
    holder_load = out["by_kind"].get("holder", {}).get("p50_ms", 0.0)
    base = out["alone_statement"]["p50_ms"]
    login = out["probe_login_under_load"]["p50_ms"]
    out["ratios"] = {
        "holder_p50_load_over_alone": round(holder_load / base, 1) if base else None,
        "all_p50_over_login_p50_under_load": (round(out["load"]["p50_ms"] / login, 1)
                                              if login else None)}
    sign = sorted(run["sign_in_s"])
    out["sign_in_ms"] = {"p50": round(pct(sign, 50) * 1000), "max": round(sign[-1] * 1000)}
    return out


# ------------------------------------------------------------------ profile


def _session_of(app, username: str) -> dict:
    """The session a real sign-in gives `username`: signed in through the app itself (in
    this process), the cookie's contents read back with the app's key."""
    import base64

    from fastapi.testclient import TestClient
    from itsdangerous import TimestampSigner

    with TestClient(app) as client:
        form = CSRF.search(client.get("/login").text)
        if form is None:
            raise SystemExit("web_load: GET /login (in process) has no csrf_token")
        token = form.group(1)
        answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                             "csrf_token": token, "next": "/"},
                             follow_redirects=False)
        if answer.status_code != 303:
            raise SystemExit(f"web_load: in-process sign-in answered {answer.status_code}")
        cookie = client.cookies["ledger_session"]
    signed = TimestampSigner(str(app.state.web.secret)).unsign(cookie.encode())
    return json.loads(base64.b64decode(signed))


def _call_page(app, route, path: str, session: dict):
    """The page's own function, with the session the middleware would give it."""
    from urllib.parse import urlsplit

    from starlette.requests import Request

    split = urlsplit(path)
    params = route.path_regex.match(split.path).groupdict()
    if split.query:
        params["month"] = split.query.removeprefix("month=")
    scope = {"type": "http", "method": "GET", "path": split.path,
             "raw_path": split.path.encode(), "query_string": split.query.encode(),
             "headers": [(b"host", b"127.0.0.1")], "scheme": "http",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "root_path": "",
             "app": app, "session": dict(session)}
    return route.endpoint(Request(scope), **params)


def profile_pages(url: str, plan: list[dict], facts: dict) -> tuple[str, dict]:
    """One request of each kind, in this process, under cProfile: the page's own function
    called directly (with the reader's session, as the middleware would give it), so
    every call shows in this thread. The network, the middleware and the worker's thread
    pool are left out."""
    from urllib.parse import urlsplit

    from ledger.web.app import create_app

    app = create_app(url, "main")
    out = io.StringIO()
    found: dict[str, dict] = {}
    rng = random.Random("profile")
    # Each kind of page, then the home page (where a sign-in lands) of each kind of reader.
    for kind in [*KINDS, *(f"home:{k}" for k in KINDS)]:
        reader = next((r for r in plan if r["kind"] == kind.removeprefix("home:")), None)
        if reader is None:
            continue
        if kind.startswith("home:"):
            path = "/"
        else:
            found_kind, path = next_request(reader, facts, rng)
            while found_kind != kind:
                found_kind, path = next_request(reader, facts, rng)
        route = next(r for r in app.routes if getattr(r, "path_regex", None) is not None
                     and r.path_regex.match(urlsplit(path).path)
                     and "GET" in (r.methods or ()))
        call = partial(_call_page, app, route, path, _session_of(app, reader["username"]))
        if call().status_code != 200:
            raise SystemExit(f"web_load: profile: GET {path} as {reader['username']} did "
                             "not answer 200")
        times = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        profiler = cProfile.Profile()
        profiler.enable()
        answer = call()
        profiler.disable()
        out.write(f"\n=== {kind}: GET {path} -> {answer.status_code}; unprofiled "
                  f"{min(times) * 1000:.0f} ms (best of 3)\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"src/ledger/", 20)
        stats.sort_stats("tottime").print_stats(12)
        table = stats.stats  # type: ignore[attr-defined]  # pstats keeps its rows here
        total = max(ct for (*_, ct, _) in table.values())
        own = sorted(((ct, nc, f"{Path(file).name}:{name}")
                      for (file, _, name), (_, nc, _, ct, _) in table.items()
                      if "/src/ledger/" in file and "/web/" not in file), reverse=True)
        found[kind] = {"path": path, "status": answer.status_code,
                       "best_ms": round(min(times) * 1000, 1),
                       "profiled_ms": round(total * 1000, 1),
                       "top": [{"function": f, "calls": nc, "ms": round(ct * 1000, 1)}
                               for ct, nc, f in own[:6]]}
    return out.getvalue().replace(str(ROOT) + "/", ""), found


# ------------------------------------------------------------------ the doc


NAMES = {"holder": "holder statement", "pool": "pool statement",
         "provider": "provider month end", "council": "council overview",
         "isf": "provider's ISF statement"}


def _name(kind: str) -> str:
    if kind.startswith("home:"):
        return f"the home page of a {NAMES[kind[5:]].split()[0]} reader"
    return NAMES[kind]


def _row(name: str, s: dict, rate: bool = True) -> str:
    per = s.get("per_s", "-") if rate else "-"
    return (f"| {name} | {s['requests']:,} | {per} | {s['p50_ms']:,.0f} ms | "
            f"{s['p95_ms']:,.0f} ms | {s['p99_ms']:,.0f} ms | {s['max_ms']:,.0f} ms | "
            f"{s['errors']} |")


def write_doc(r: dict) -> None:
    f, m, c, d = r["figures"], r["machine"], r["config"], r["data"]
    load, probe = f["load"], f["probe_login_under_load"]
    alone, alone_login = f["alone_statement"], f["alone_login"]
    ratios = f["ratios"]
    table = [
        "| page | requests | good answers a second | p50 | p95 | p99 | max | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        _row("**all pages, under load**", load),
        *(_row(f"{NAMES[k]}, under load", s) for k, s in f["by_kind"].items()),
        _row("baseline: GET /login (no database work), same load", probe, rate=False),
        _row("baseline: one reader alone, own statement", alone, rate=False),
        _row("baseline: one reader alone, GET /login", alone_login, rate=False)]
    base = r.get("baseline")
    if base:
        bf, commit = base["figures"], base["commit"]
        table += [_row(f"**{commit}: all pages, under load** (same run)", bf["load"]),
                  *(_row(f"{commit}: {NAMES[k]}, under load", s) for k, s in
                    bf["by_kind"].items()),
                  _row(f"{commit}: GET /login, same load", bf["probe_login_under_load"],
                       rate=False),
                  _row(f"{commit}: one reader alone, own statement", bf["alone_statement"],
                       rate=False)]
    notes = []
    if base:
        cmp_, bl = r["comparison"], base["figures"]["load"]
        notes.append(
            f"- **Against {commit}, in the same run: {load['per_s']} good answers a second "
            f"against {bl['per_s']}, {cmp_['per_s_ratio']}x** (target: at least 2x; "
            f"{'met' if cmp_['per_s_met'] else 'missed'}). **p95 {load['p95_ms']:,.0f} ms** "
            f"against {bl['p95_ms']:,.0f} ms (target: under 1 s; "
            f"{'met' if cmp_['p95_met'] else 'missed'}). {commit} ran first, with its own "
            f"code over its own database of the same data (its schema is older: it cannot "
            f"read today's), then the current code. Load average {base['load_start']:.1f} "
            f"at the start of {commit}'s run and {base['load_end']:.1f} at its end; "
            f"{m['load_start']:.1f} and {m['load_end']:.1f} for the current code's. "
            f"{commit} has no ISF statement page: its providers read the person's "
            "statement of their ISF instead, the page they read then. Its server used "
            f"{base['server_cpu_s']} CPU seconds.")
    notes += [
        f"- Under load, a holder's statement took {ratios['holder_p50_load_over_alone']}x "
        f"its time alone at the median ({f['by_kind'].get('holder', {}).get('p50_ms', 0):,.0f}"
        f" ms against {alone['p50_ms']:,.0f} ms).",
        f"- A page took {ratios['all_p50_over_login_p50_under_load']}x as long as "
        "GET /login under the same load, at the median."]
    errors = load["errors"] + probe["errors"]
    if errors == 0:
        notes.append("- No request failed.")
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(f["error_kinds"].items()))
        where = ", ".join(f"{s['errors']:,} of {s['requests']:,} {NAMES[k]}s"
                          for k, s in f["by_kind"].items() if s["errors"])
        notes.append(f"- {errors} requests failed ({kinds}): {where or 'the probe'}. A "
                     f"request that has no answer in {c['timeout_s']:g} s counts as an error "
                     "(`--timeout`).")
    per_request = r["server_cpu_s"] * 1000 / max(1, load["requests"] + probe["requests"])
    pg = m["engine"].startswith("PostgreSQL")
    notes.append(f"- The server's processes used {r['server_cpu_s']} CPU seconds in the "
                 f"{f['elapsed_s']} s of load, {per_request:.0f} ms a request"
                 + (", PostgreSQL's own work not counted. The bench's client and the "
                    "database share the same " if pg else
                    ". The bench's client shares the same ") + f"{m['cpus']} CPUs.")
    notes.append(f"- Signing in (Argon2id) took {f['sign_in_ms']['p50']:,} ms at the median, "
                 "4 at a time, before the clock started.")
    if c["workers"] > 1 and alone_login["p50_ms"] > 30:
        notes.append(
            "- With `--workers` above 1, each answer on a kept-alive connection waits about "
            "40 ms more, even GET /login alone. uvicorn binds the workers' socket without "
            "`IPPROTO_TCP`, so asyncio never sets `TCP_NODELAY` on their connections, and the "
            "body waits for the client's delayed ACK (uvicorn issue #3149). Both baselines "
            "carry it. One worker, or a fresh connection for each request (nginx's default "
            "to its upstream), does not.")
    prof = r.get("profile")
    if prof:
        alone_ms = ", ".join(f"{_name(k)} {v['best_ms']:,.0f} ms" for k, v in prof.items())
        notes.append(f"- One request of each kind, alone and in-process (`--profile`; no "
                     f"network, best of 3): {alone_ms}.")
        for kind in sorted(prof, key=lambda k: -prof[k]["best_ms"]):
            if prof[kind]["best_ms"] < 1000:
                continue
            top = "; ".join(f"`{t['function']}` {t['ms']:,.0f} ms ({t['calls']:,} "
                            f"call{'s' if t['calls'] != 1 else ''})"
                            for t in prof[kind]["top"][:5])
            notes.append(f"- Under cProfile, {'' if kind.startswith('home:') else 'the '}"
                         f"{_name(kind)} took "
                         f"{prof[kind]['profiled_ms']:,.0f} ms. The ledger's functions that "
                         f"took longest, each with what it calls: {top}.")
    block = "\n".join([
        START,
        "<!-- Written by bench/web_load.py --write-doc; edits between these markers are "
        "overwritten. -->", "",
        "## The web view under load", "",
        "`bench/web_load.py` starts `ledger serve` on a free loopback port. It signs in "
        "readers, each with its own session, and they read pages at the same time. The load "
        "stops at a time limit and at a request count, whichever comes first. Every "
        "request's latency and status is kept. An error is any answer but 200, or no "
        "answer. The baselines come from the same run: the web view as it was at commit "
        f"{BASELINE} (before the statement cache), served the same way over its own "
        "database of the same data, under the same load just before; GET /login (no "
        "database work) asked every 0.2 s during each load, and one reader alone before "
        "it. Targets (issue 22): at least 2x the good answers a second of "
        f"{BASELINE}, and p95 under 1 s.", "",
        "```bash",
        ".venv/bin/python bench/web_load.py --write-doc    # PostgreSQL, 2,000 people, "
        "50 readers, 60 s, beside d06182a",
        ".venv/bin/python bench/web_load.py --db sqlite --people 200 --months 3 "
        "--readers 10 --seconds 10 --pools 2    # a few minutes",
        "```", "",
        f"Run {r['date']}: {m['cpus']} CPUs, Python {m['python']}, {m['engine']}. Load "
        f"average {m['load_start']:.1f} at the start and {m['load_end']:.1f} at the end "
        "(other work on the machine counts in it). "
        f"`ledger serve --workers {c['workers']}`. The data: {c['people']:,} people under "
        f"one council ({c['pools']} pools of {POOL_SIZE} among them), {c['months']} months, "
        f"{d['events']:,} events, {d['journals']:,} journals and {d['postings']:,} postings "
        f"(set up in {d['load_s']:,} s, not timed). {c['readers']} readers for "
        f"{c['seconds']:g} s, at most {c['max_requests']:,} requests: {r['mix_text']}. "
        "Each asks for a random month of the data. It sends its next request as soon as the "
        f"last one is answered. The whole run took {r['bench_s'] / 60:.1f} minutes.", "",
        *table, "",
        *notes, "",
        "The readers never pause, so this is the server at its capacity. Past that point, "
        "latency is mostly time spent waiting in the queue. The number of good answers a "
        "second shows what the machine can serve.", "",
        END])
    write_section(DOC, "web", block)


# ------------------------------------------------------------------ sign-in pressure

PRESSURE_RESULTS = HERE / "results" / "web_load_sign_ins.json"
RELIABILITY = ROOT / "docs" / "reliability.md"
P_START, P_END = "<!-- bench:sign-ins:start -->", "<!-- bench:sign-ins:end -->"
WRONG = "not the password, never"


async def run_pressure(base: str, plan: list[dict], facts: dict, attackers: int,
                       block: float, rounds: int, seed: int, timeout: float) -> dict:
    """The readers alone for `block` seconds, then the readers beside `attackers`
    clients sending wrong passwords for `block` seconds, `rounds` times in turn (so a
    change in the machine's other load falls on both alike). Each wrong password is for
    a username of its own and comes through the trusted proxy (the server runs with
    `--trusted-proxy 127.0.0.1`) in `X-Forwarded-For` from an address of its own
    (198.18.0.0/15, the benchmarking range), so no rate limit stops it: every attempt
    costs the server an Argon2 check, the worst a spread-out attack can do."""
    import httpx

    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    clients = [httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)
               for _ in plan]
    bad = [httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits)
           for _ in range(attackers)]
    rows: list[tuple] = []  # (phase, round, who, latency, status)
    try:
        log(f"signing in {len(plan)} readers (Argon2id; not timed)")
        sem = asyncio.Semaphore(4)

        async def one(client, reader) -> float:
            async with sem:
                return await sign_in(client, reader["username"])

        await asyncio.gather(*(one(c, r) for c, r in zip(clients, plan, strict=True)))
        tokens = []
        for client in bad:
            found = CSRF.search((await client.get("/login")).text)
            if found is None:
                raise SystemExit("web_load: GET /login has no csrf_token")
            tokens.append(found.group(1))
        sent = [0]

        async def reader(i: int, phase: str, n: int, deadline: float) -> None:
            r = random.Random(f"reader:{seed}:{phase}:{n}:{i}")
            while time.perf_counter() < deadline:
                _, path = next_request(plan[i], facts, r)
                started = time.perf_counter()
                try:
                    status: int | str = (await clients[i].get(path)).status_code
                except Exception as err:  # noqa: BLE001 - counted, never stops the run
                    status = type(err).__name__
                rows.append((phase, n, "reader", time.perf_counter() - started, status))

        async def attacker(k: int, n: int, deadline: float) -> None:
            while time.perf_counter() < deadline:
                sent[0] += 1
                a = sent[0]
                started = time.perf_counter()
                try:
                    answer = await bad[k].post(
                        "/login", data={"username": f"guess{k}-{a}", "password": WRONG,
                                        "csrf_token": tokens[k], "next": "/"},
                        headers={"X-Forwarded-For": f"198.{18 + (a >> 16) % 2}."
                                                    f"{(a >> 8) % 256}.{a % 256}"})
                    status: int | str = answer.status_code
                except Exception as err:  # noqa: BLE001
                    status = type(err).__name__
                rows.append(("attack", n, "wrong-password", time.perf_counter() - started,
                             status))

        for n in range(rounds):
            for phase in ("alone", "beside"):
                log(f"round {n + 1} of {rounds}: readers {phase}"
                    + (f" {attackers} wrong-password clients" if phase == "beside" else "")
                    + f", {block:g} s")
                deadline = time.perf_counter() + block
                tasks = [reader(i, phase, n, deadline) for i in range(len(plan))]
                if phase == "beside":
                    tasks += [attacker(k, n, deadline) for k in range(attackers)]
                await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.aclose() for c in [*clients, *bad]))
    return {"rows": rows}


def pressure_figures(run: dict, block: float, rounds: int) -> dict:
    rows = run["rows"]

    def stats(selected: list[tuple], seconds: float) -> dict:
        ms = [r[3] * 1000 for r in selected]
        statuses: dict[str, int] = defaultdict(int)
        for r in selected:
            statuses[str(r[4])] += 1
        return {"requests": len(ms), "per_s": round(len(ms) / seconds, 1),
                "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
                "max_ms": round(max(ms, default=0.0), 1), "statuses": dict(statuses)}

    seconds = block * rounds
    alone = stats([r for r in rows if r[0] == "alone"], seconds)
    beside = stats([r for r in rows if r[0] == "beside"], seconds)
    attempts = stats([r for r in rows if r[0] == "attack"], seconds)
    per_round = []
    for n in range(rounds):
        a = stats([r for r in rows if r[0] == "alone" and r[1] == n], block)
        b = stats([r for r in rows if r[0] == "beside" and r[1] == n], block)
        per_round.append({"alone_p95_ms": a["p95_ms"], "beside_p95_ms": b["p95_ms"],
                          "ratio": round(b["p95_ms"] / a["p95_ms"], 2) if a["p95_ms"] else None})
    return {"readers_alone": alone, "readers_beside": beside, "wrong_passwords": attempts,
            "p95_ratio": round(beside["p95_ms"] / alone["p95_ms"], 2)
            if alone["p95_ms"] else None,
            "p50_ratio": round(beside["p50_ms"] / alone["p50_ms"], 2)
            if alone["p50_ms"] else None,
            "rounds": per_round}


def write_pressure_doc(r: dict) -> None:
    f, m, c, d = r["figures"], r["machine"], r["config"], r["data"]
    alone, beside, wrong = f["readers_alone"], f["readers_beside"], f["wrong_passwords"]

    def errors(s: dict) -> int:
        return sum(n for k, n in s["statuses"].items() if k != "200")

    rows = [
        "| | requests | a second | p50 | p95 | max | unexpected answers |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| readers alone | {alone['requests']:,} | {alone['per_s']} | "
        f"{alone['p50_ms']:,.0f} ms | {alone['p95_ms']:,.0f} ms | {alone['max_ms']:,.0f} ms"
        f" | {errors(alone)} |",
        f"| readers beside {c['wrong_passwords']} wrong-password clients | "
        f"{beside['requests']:,} | {beside['per_s']} | {beside['p50_ms']:,.0f} ms | "
        f"{beside['p95_ms']:,.0f} ms | {beside['max_ms']:,.0f} ms | {errors(beside)} |",
        f"| the wrong passwords (answered 401) | {wrong['requests']:,} | {wrong['per_s']} | "
        f"{wrong['p50_ms']:,.0f} ms | {wrong['p95_ms']:,.0f} ms | {wrong['max_ms']:,.0f} ms"
        f" | {sum(n for k, n in wrong['statuses'].items() if k != '401')} |"]
    ratios = ", ".join(f"{x['ratio']}x" for x in f["rounds"])
    block = "\n".join([
        P_START,
        "<!-- Written by bench/web_load.py --wrong-passwords 4 --write-doc; edits between "
        "these markers are overwritten. -->", "",
        "## Sign-ins never hold up reading (measured) {#sign-in-load}", "",
        "`ledger serve` checks passwords (Argon2id, about 0.2 s of one CPU each) in a small "
        "pool of threads of its own, never on the event loop that answers every page, and "
        "holds no database lock while it does (docs/web.md#limits). The load bench shows "
        "what that buys: readers read statements alone, then beside clients sending wrong "
        "passwords as fast as they are answered, in turns, in the same run:", "",
        "```bash",
        ".venv/bin/python bench/web_load.py --wrong-passwords 4 --write-doc   # about "
        f"{max(1, round(r['bench_s'] / 60))} minutes",
        ".venv/bin/python bench/web_load.py --quick                           # a smoke test",
        "```", "",
        f"Run {r['date']} on {m['cpus']} CPUs shared with other work (load average "
        f"{m['load_start']:.1f} at the start, {m['load_end']:.1f} at the end), Python "
        f"{m['python']}, {m['engine']}, `ledger serve --workers {c['workers']} "
        f"--trusted-proxy 127.0.0.1`. {c['people']:,} people, {c['months']} months "
        f"({d['journals']:,} journals). {c['readers']} readers, each with its own session, "
        "each asking for its next statement page as soon as the last is answered; "
        f"{c['wrong_passwords']} clients sending wrong passwords the same way, each for "
        "another username from another forwarded address, so no rate limit stops them and "
        f"every one costs a hash. {c['rounds']} rounds of {c['block_s']:g} s alone and "
        f"{c['block_s']:g} s beside.", "",
        *rows, "",
        f"**Readers' p95 beside the wrong passwords: {f['p95_ratio']}x their p95 alone** "
        f"(target: at most 2x; round by round {ratios}); the median {f['p50_ratio']}x. "
        "An unexpected answer is anything but 200 for a reader and anything but 401 for "
        "a wrong password, or no answer within "
        f"{c['timeout_s']:g} s. Before this change the hash ran on the event loop: four "
        "clients of wrong passwords pushed a 40 ms page to a median of 2 s. Now the wrong "
        "passwords wait for the hashing pool instead, behind each other, at a lower CPU "
        "priority than the pages, so under a flood it is the sign-ins that slow down. The "
        "readers never pause, so both reader rows are the machine at its capacity (here "
        "with other work on it too): what matters is the ratio between them, measured in "
        "the same run, in turns.", "",
        P_END])
    write_section(RELIABILITY, "sign-ins", block)


def pressure_main(args, parser) -> int:
    """The sign-in pressure run (--wrong-passwords N, or --quick)."""
    if args.quick:
        args.db = args.db or "sqlite"
        args.people = args.people or 60
        args.months = args.months or 2
        args.pools = args.pools if args.pools is not None else 2
        args.readers = min(args.readers, 8)
        args.wrong_passwords = args.wrong_passwords or 4
        args.seconds = args.seconds or 3.0
        args.rounds = 1
        if args.out == RESULTS:
            args.out = Path(tempfile.gettempdir()) / "web_load_quick.json"
    args.people = args.people or 400
    args.months = args.months or 3
    args.pools = 4 if args.pools is None else args.pools
    args.seconds = args.seconds or 20.0
    if args.out == RESULTS:
        args.out = PRESSURE_RESULTS
    if args.doc_only:
        write_pressure_doc(json.loads(args.out.read_text(encoding="utf-8")))
        return 0
    if args.readers < 1 or args.seconds <= 0 or args.rounds < 1:
        parser.error("--readers, --seconds and --rounds must be positive")
    if args.people < args.pools * POOL_SIZE + 10:
        parser.error(f"--people must be at least {args.pools * POOL_SIZE + 10}")
    began = time.perf_counter()
    base_url = args.db or os.environ.get("LEDGER_BENCH_POSTGRES_URL") or DEFAULT_PG
    sqlite = base_url == "sqlite" or base_url.startswith("sqlite:")
    work = Path(tempfile.mkdtemp(prefix="ledger-web-sign-ins-"))
    workers = 1 if sqlite else args.workers
    pg_name = params = server = None
    if sqlite:
        url = f"sqlite:///{work / 'ledger.db'}"
        engine_text = f"SQLite {__import__('sqlite3').sqlite_version}"
    else:
        params = pg_params(base_url)
        version = psql(params, "SHOW server_version", check=False)
        if version.returncode != 0:
            raise SystemExit(f"web_load: PostgreSQL not reachable at {base_url}: "
                             f"{version.stderr.strip()[:300]}")
        engine_text = f"PostgreSQL {version.stdout.strip().split(' (')[0]}"
        pg_name = f"ledger_web_sign_ins_{os.getpid()}"
        psql(params, f'DROP DATABASE IF EXISTS "{pg_name}"')
        psql(params, f'CREATE DATABASE "{pg_name}"')
        auth = params["user"] + (f":{params['password']}" if params["password"] else "")
        url = f"postgresql://{auth}@{params['host']}:{params['port']}/{pg_name}"
    try:
        data, facts = scenario(args.people, args.pools, args.months, args.seed)
        log(f"set-up: {args.people:,} people, {args.months} months, "
            f"{len(data['events']):,} events into {engine_text}")
        counts = load(url, data)
        del data
        plan = plan_readers(args.readers, facts, args.seed)
        add_users(url, plan)
        load_start = os.getloadavg()[0]
        port = free_port()
        server = start_server(url, port, workers, work / "serve.log",
                              ("--trusted-proxy", "127.0.0.1"))
        run = asyncio.run(run_pressure(f"http://127.0.0.1:{port}", plan, facts,
                                       args.wrong_passwords, args.seconds, args.rounds,
                                       args.seed, args.timeout))
        load_end = os.getloadavg()[0]
        stop_server(server)
        server = None
        result = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "engine": engine_text, "load_start": round(load_start, 2),
                        "load_end": round(load_end, 2)},
            "config": {"people": args.people, "pools": args.pools, "months": args.months,
                       "readers": len(plan), "wrong_passwords": args.wrong_passwords,
                       "block_s": args.seconds, "rounds": args.rounds, "workers": workers,
                       "seed": args.seed, "timeout_s": args.timeout, "quick": args.quick},
            "data": counts,
            "figures": pressure_figures(run, args.seconds, args.rounds),
        }
        result["bench_s"] = round(time.perf_counter() - began, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("date", "machine", "config", "figures",
                                                 "bench_s")}, indent=2))
        if args.write_doc:
            write_pressure_doc(result)
            log(f"wrote the bench:sign-ins section of {RELIABILITY.relative_to(ROOT)}")
    finally:
        if server is not None:
            stop_server(server)
        if pg_name is not None and params is not None:
            psql(params, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)', check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=None, help="default 2000 (400 with "
                        "--wrong-passwords)")
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=None,
                        help="default 60 (with --wrong-passwords: 20, each block)")
    parser.add_argument("--max-requests", type=int, default=50_000,
                        help="stop the load at this many requests, whatever the time")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help="seconds one request may take before it counts as an error")
    parser.add_argument("--months", type=int, default=None, help="default 12 (3 with "
                        "--wrong-passwords)")
    parser.add_argument("--pools", type=int, default=None, help="default 10 (4 with "
                        "--wrong-passwords)")
    parser.add_argument("--wrong-passwords", type=int, default=0, metavar="N",
                        help="the sign-in pressure run instead: the readers alone and "
                             "beside N clients sending wrong passwords, in turns "
                             "(docs/reliability.md)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --wrong-passwords: blocks of each, alternating")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test of the pressure run: SQLite, 60 people, 8 "
                             "readers, 4 wrong-password clients, one 3 s block of each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", default=None, metavar="URL",
                        help="a PostgreSQL server URL (default $LEDGER_BENCH_POSTGRES_URL, "
                             f"else {DEFAULT_PG}), or `sqlite`")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--doc-only", action="store_true",
                        help="rewrite the doc section from --out's results; run nothing")
    parser.add_argument("--baseline", default=BASELINE, metavar="COMMIT",
                        help=f"the commit measured beside the current code in the same run "
                             f"(default {BASELINE}; `none` to measure only the current code)")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick or args.wrong_passwords:
        return pressure_main(args, parser)
    args.people = 2000 if args.people is None else args.people
    args.months = 12 if args.months is None else args.months
    args.pools = 10 if args.pools is None else args.pools
    args.seconds = 60.0 if args.seconds is None else args.seconds
    if args.setup_only:
        return setup_only(args)
    if args.doc_only:
        write_doc(json.loads(args.out.read_text(encoding="utf-8")))
        log(f"wrote the bench:web section of {DOC.relative_to(ROOT)} from {args.out}")
        return 0
    if args.readers < 1 or args.seconds <= 0 or args.max_requests < 1:
        parser.error("--readers, --seconds and --max-requests must be positive")
    if args.people < args.pools * POOL_SIZE + 10:
        parser.error(f"--people must be at least {args.pools * POOL_SIZE + 10} "
                     f"(--pools {args.pools} of {POOL_SIZE}, and 10 more)")
    began = time.perf_counter()
    base_url = args.db or os.environ.get("LEDGER_BENCH_POSTGRES_URL") or DEFAULT_PG
    sqlite = base_url == "sqlite" or base_url.startswith("sqlite:")
    work = Path(tempfile.mkdtemp(prefix="ledger-web-load-"))
    workers = 1 if sqlite else args.workers
    if sqlite and args.workers != 1:
        log("SQLite: one worker (--workers above 1 needs PostgreSQL)")
    baseline = None if args.baseline in ("", "none") else args.baseline
    names = ["current"] + (["baseline"] if baseline else [])
    pg_names: list[str] = []
    params = None
    urls: dict[str, str] = {}
    if sqlite:
        urls = {side: f"sqlite:///{work / f'{side}.db'}" for side in names}
        engine_text = f"SQLite {__import__('sqlite3').sqlite_version}"
    else:
        if not shutil.which("psql"):
            raise SystemExit("web_load: psql not found (apt-get install postgresql-client)")
        params = pg_params(base_url)
        version = psql(params, "SHOW server_version", check=False)
        if version.returncode != 0:
            raise SystemExit(f"web_load: PostgreSQL not reachable at {base_url}: "
                             f"{version.stderr.strip()[:300]}")
        engine_text = f"PostgreSQL {version.stdout.strip()}"
        auth = params["user"] + (f":{params['password']}" if params["password"] else "")
        for side in names:
            pg_name = f"ledger_web_bench_{os.getpid()}_{side}"
            psql(params, f'DROP DATABASE IF EXISTS "{pg_name}"')
            psql(params, f'CREATE DATABASE "{pg_name}"')
            pg_names.append(pg_name)
            urls[side] = f"postgresql://{auth}@{params['host']}:{params['port']}/{pg_name}"
    try:
        env = baseline_env(baseline, work) if baseline else None
        data, facts = scenario(args.people, args.pools, args.months, args.seed)
        log(f"set-up: {args.people:,} people, {args.months} months, "
            f"{len(data['events']):,} events into {engine_text.split(' (')[0]}")
        counts = load(urls["current"], data)
        log(f"  loaded in {counts['load_s']} s: {counts['journals']:,} journals, "
            f"{counts['postings']:,} postings")
        del data
        plan = plan_readers(args.readers, facts, args.seed)
        users_s = add_users(urls["current"], plan)
        log(f"  {len(plan)} sign-ins made in {users_s:.1f} s")
        base_counts = None
        if baseline:
            log(f"set-up of the baseline, commit {baseline}: the same data, with its own code "
                "into its own database")
            base_counts = setup_with(env, urls["baseline"], args)
            if base_counts["journals"] != counts["journals"]:
                log(f"  note: {base_counts['journals']:,} journals at {baseline}, "
                    f"{counts['journals']:,} now")
        # The baseline's load first, then the current code's, one after the other.
        measured = {}
        for side in reversed(names):
            measured[side] = measure(urls[side], workers, work, plan, facts, args,
                                     env if side == "baseline" else None)
        cur = measured["current"]
        f = cur["figures"]
        mix: dict[str, int] = defaultdict(int)
        for reader in plan:
            mix[reader["kind"]] += 1
        mix_words = {"holder": ("budget holder", "budget holders",
                                "their own statement"),
                     "pool": ("pool member", "pool members",
                              "the pool's statement or their own, half each"),
                     "provider": ("provider", "providers", "their month end, or their "
                                  "statement of an ISF they hold, half each"),
                     "council": ("council officer", "council officers", "the overview 3 "
                                 "times in 10, otherwise one of their people's statements")}
        result = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "engine": engine_text, "load_start": cur["load_start"],
                        "load_end": cur["load_end"]},
            "config": {"people": args.people, "pools": args.pools, "months": args.months,
                       "readers": len(plan), "seconds": args.seconds,
                       "max_requests": args.max_requests, "workers": workers,
                       "baseline_seconds": args.baseline_seconds, "seed": args.seed,
                       "timeout_s": args.timeout},
            "data": counts,
            "mix": dict(mix),
            "mix_text": "; ".join(f"{n} {mix_words[k][0 if n == 1 else 1]} "
                                  f"({mix_words[k][2]})" for k, n in mix.items()),
            "users_s": round(users_s, 1),
            "server_cpu_s": cur["server_cpu_s"],
            "figures": f,
        }
        if baseline:
            base = measured["baseline"]
            result["baseline"] = {"commit": baseline, "data": base_counts, **base}
            result["comparison"] = compare(f, base["figures"])
        if args.profile:
            log("profiling one request of each kind in this process")
            text, result["profile"] = profile_pages(urls["current"], plan, facts)
            print(text, file=sys.stderr)
        result["bench_s"] = round(time.perf_counter() - began, 1)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: result[k] for k in ("date", "machine", "config", "data",
                                                 "figures", "comparison", "bench_s")
                          if k in result}, indent=2))
        if args.write_doc:
            write_doc(result)
            log(f"wrote the bench:web section of {DOC.relative_to(ROOT)}")
    finally:
        if params is not None:
            for pg_name in pg_names:
                psql(params, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)',
                     check=False)
                log(f"dropped {pg_name}")
        shutil.rmtree(work, ignore_errors=True)
    return 0


# ------------------------------------------------------------------ the baseline commit


def baseline_env(commit: str, work: Path) -> dict:
    """The environment in which `ledger` runs the baseline commit's code: its src/ and
    its migrations (as the package `ledger_migrations`), taken from this repository's
    history with `git archive` into the bench's temporary folder (the work tree and the
    repository are left as they are), ahead of the installed code on PYTHONPATH. Only
    the code changes: the same Python, the same installed libraries."""
    import tarfile

    base = work / f"baseline-{commit}"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit,
                              "src", "migrations"], capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"web_load: --baseline {commit}: "
                         f"{archive.stderr.decode(errors='replace').strip()[:300]}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(base, filter="data")
    (base / "pkgs").mkdir()
    (base / "migrations").rename(base / "pkgs" / "ledger_migrations")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(base / "src"), str(base / "pkgs")]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    found = subprocess.run([sys.executable, "-c", "import ledger.store.schema as s, "
                            "ledger_migrations as m; print(s.__file__, m.__file__)"],
                           env=env, capture_output=True, text=True)
    if found.returncode != 0 or found.stdout.count(str(base)) != 2:
        raise SystemExit(f"web_load: the baseline's code does not load from {base}: "
                         f"{(found.stdout + found.stderr).strip()[-300:]}")
    return env


def setup_with(env: dict, url: str, args) -> dict:
    """The same set-up (the same data, the same sign-ins: both are made from --seed)
    with the baseline commit's code, in a process of its own (`--setup-only`)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--setup-only", "--db", url,
           "--people", str(args.people), "--months", str(args.months), "--pools",
           str(args.pools), "--readers", str(args.readers), "--seed", str(args.seed)]
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"web_load: the baseline's set-up failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def setup_only(args) -> int:
    """--setup-only --db URL: load the data and make the sign-ins with whatever code
    `ledger` is here, print the counts as JSON (the baseline's set-up)."""
    data, facts = scenario(args.people, args.pools, args.months, args.seed)
    counts = load(args.db, data)
    del data
    add_users(args.db, plan_readers(args.readers, facts, args.seed))
    print(json.dumps(counts))
    return 0


def measure(url: str, workers: int, work: Path, plan: list[dict], facts: dict, args,
            env: dict | None) -> dict:
    """`ledger serve` over `url` (the baseline's code with `env`), the readers signed in,
    the one-reader baseline, then the load; the figures, the server's CPU time and the
    load average at the start and the end."""
    port = free_port()
    load_start = os.getloadavg()[0]
    server = start_server(url, port, workers, work / f"serve-{port}.log", env=env)
    try:
        cpu_before = server_cpu_seconds(server.pid)
        run = asyncio.run(run_load(f"http://127.0.0.1:{port}", plan, facts, args.seconds,
                                   args.max_requests, args.baseline_seconds, args.seed,
                                   args.timeout, legacy=env is not None))
        cpu_used = server_cpu_seconds(server.pid) - cpu_before
    finally:
        stop_server(server)
    figures_ = figures(run, args.seconds)
    log(f"  {figures_['load']['per_s']} good answers a second, p95 "
        f"{figures_['load']['p95_ms']:,.0f} ms")
    return {"figures": figures_, "server_cpu_s": round(cpu_used, 1),
            "load_start": round(load_start, 2), "load_end": round(os.getloadavg()[0], 2)}


def compare(now: dict, base: dict) -> dict:
    """The targets (docs/performance.md): at least 2x the baseline's good answers a
    second, in the same run, and p95 under 1 s."""
    ratio = (round(now["load"]["per_s"] / base["load"]["per_s"], 2)
             if base["load"].get("per_s") else None)
    return {"per_s_ratio": ratio, "per_s_target": 2.0,
            "per_s_met": ratio is not None and ratio >= 2.0,
            "p95_ms": now["load"]["p95_ms"], "p95_target_ms": 1000.0,
            "p95_met": now["load"]["p95_ms"] < 1000.0}


if __name__ == "__main__":
    sys.exit(main())
