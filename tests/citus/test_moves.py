"""Moving ledgers on a Citus cluster (docs/scaling.md): two councils' ledgers on two
workers; one council isolated to a shard of its own and that shard moved to the other
worker while the other council keeps writing; the guards go with the shard, both
ledgers still verify, and the moved ledger takes new writes. Sign-ins and the audit
chain live with their ledger (`ledger db distribute` spreads `audit_record`,
`web_login_failure` and `web_secret` by ledger): a sign-in added, a read logged and the
access log read back, each on its ledger's shard.

Every `ledger` command and every write here runs with Citus's multi-shard detector on
(`citus.multi_task_query_log_level = error`): a statement that needed more than one
shard would fail. The module's set-up (one distributed schema, the councils' books) is
shared, and the module keeps to one pytest-xdist worker: the move changes where one
council's rows are for every test after it."""

from __future__ import annotations

import getpass
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text

from ledger.app.scenarios import run_files, run_scenario
from ledger.scenarios.schema import load_scenario
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine
from tests.dbutil import empty_database

pytestmark = pytest.mark.xdist_group("citus_moves")

LEDGER = str(Path(sys.executable).with_name("ledger"))
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "surrey-advocacy-grant.yaml"
ONE_SHARD = "%20-ccitus.multi_task_query_log_level%3Derror"
# Candidate ledger names, tried in turn until two sit on different workers (a ledger's
# worker follows from its id, which the writer takes from a sequence).
COUNCILS = ("richmond", "surrey", "kingston", "merton", "sutton", "croydon")
# A split or move by logical replication waits for every transaction open on the source
# worker when it starts following changes; a stuck one would otherwise hang the test.
MOVE_TIMEOUT = "180s"


def _transfer_mode(conn: psycopg.Connection) -> str:
    """How the isolation and the move copy the shard. `force_logical`: Citus copies it,
    then follows its changes by logical replication, so the ledger being moved keeps
    taking writes until a short switch-over. That needs, on each worker, Citus allowed
    as a logical decoding output plugin (where this PostgreSQL build restricts them with
    `output_plugin_libraries`, this database allows it) and a free background worker
    for the subscription: each Citus database already holds one on every node for its
    maintenance daemon, and `max_worker_processes` is 8 by default. A cluster with no
    free worker would wait for one until the timeout ("out of background worker slots"
    in the worker's log), so there the shard is copied with `block_writes`: the
    moving ledger's writes wait for the copy; the other ledgers' do not need to."""
    free = conn.execute(
        "SELECT min(result::int) FROM run_command_on_workers($$SELECT "
        "current_setting('max_worker_processes')::int - count(*) FROM pg_stat_activity "
        "WHERE backend_type LIKE 'Citus%' OR backend_type LIKE 'logical replication%' "
        "OR backend_type = 'parallel worker'$$)").fetchone()
    if free is None or free[0] is None or int(free[0]) < 2:
        return "block_writes"
    restricted = conn.execute(
        "SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'").fetchone()
    if restricted is not None and "citus" not in restricted[0]:
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(f'ALTER DATABASE "{database[0]}" SET output_plugin_libraries = '
                     f'{restricted[0]}, citus')  # a list setting: no quotes
    return "force_logical"


def _ledger(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([LEDGER, *args], capture_output=True, text=True, input=stdin)


def _top_up(folder: Path, n: int) -> Path:
    """A one-grant scenario file with its own event id: one write of the books."""
    path = folder / f"top-up-{n}.yaml"
    path.write_text(f"""format: 1
name: top-up-{n}
parties:
  councils:  [{{id: SCC, name: Surrey County Council}}]
  providers: [{{id: SDPP, name: Surrey Disabled People's Partnership}}]
events:
  - {{date: 2027-01-05, id: top-up-{n}, type: grant, council: SCC, provider: SDPP,
     amount: "10.00"}}
""", encoding="utf-8")
    return path


@dataclass
class Cluster:
    url: str  # the distributed schema, through the coordinator
    folder: Path
    ids: dict[str, int] = field(default_factory=dict)
    first: str = ""  # two councils' ledgers, on different workers
    second: str = ""
    made: int = 0  # top-up files written so far

    @property
    def checked(self) -> str:
        return self.url + ONE_SHARD

    def sql(self, statement: str, **params):
        engine = make_engine(self.url)
        try:
            with engine.begin() as conn:
                return conn.execute(text(statement), params).all()
        finally:
            engine.dispose()

    def placements(self) -> dict[str, tuple[int, str]]:
        done = _ledger("db", "placements", "--db", self.url)
        assert done.returncode == 0, done.stderr
        rows = [line.split("\t") for line in done.stdout.splitlines()]
        return {name: (int(shard), node) for name, shard, node in rows}

    def write(self, name: str, again: Path | None = None) -> Path:
        """One top-up into ledger `name` (the file `again` once more, if given: its
        events are recorded once however often it is sent)."""
        if again is None:
            self.made += 1
            again = _top_up(self.folder, self.made)
        (run,) = run_files(self.checked, name, [again])
        assert run.failure is None and run.journals == 1, run
        return again

    def verify(self, name: str) -> subprocess.CompletedProcess:
        return _ledger("verify", "--db", self.checked, "--ledger", name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """Two councils' books, on different workers: `first` and `second`."""
    folder = tmp_path_factory.mktemp("moves")
    with empty_database("citus", folder) as url:
        found = Cluster(url, folder)
        nodes: dict[str, str] = {}
        for name in COUNCILS:
            assert _ledger("init", "--db", found.checked, "--ledger", name).returncode == 0
            nodes[name] = found.placements()[name][1]
            if len(set(nodes.values())) == 2:
                break
        found.first, found.second = COUNCILS[0], name
        assert nodes[found.first] != nodes[found.second], f"not on two workers: {nodes}"
        for council in (found.first, found.second):
            (run,) = run_files(found.checked, council, [SCENARIO])
            assert run.failure is None, run.failure
        found.ids = {n: int(i) for n, i in found.sql("SELECT name, ledger_id FROM ledger_name")}
        yield found


def test_two_councils_are_on_two_workers(cluster):
    placed = cluster.placements()
    assert placed[cluster.first][1] != placed[cluster.second][1]
    assert {node for _, node in placed.values()} == set(
        cluster.sql("SELECT nodename || ':' || nodeport FROM pg_dist_node "
                    "WHERE shouldhaveshards AND isactive AND groupid > 0")[i][0]
        for i in range(2))


# What a write to another ledger may meet at the moment a split (the isolation) swaps
# its shards in: the statement was planned against the shard being split, which is gone
# when it runs. The write is rolled back whole, and the same file sent again lands.
SPLIT_SWITCH_OVER = "could not find valid entry for shard"


class Writer(threading.Thread):
    """Writes one top-up after another into a ledger until told to stop, each sent again
    if it failed (as any client would after a transient error), on one engine of its
    own (the writer's path, without a new engine for every file); keeps when each write
    began and ended."""

    def __init__(self, cluster: Cluster, name: str) -> None:
        super().__init__(daemon=True)
        self.cluster, self.ledger = cluster, name
        self.stop = threading.Event()
        self.writes: list[tuple[float, float]] = []  # (began, ended) of each that landed
        self.errors: list[tuple[float, str]] = []  # when, and the error's first line

    def run(self) -> None:
        engine = make_engine(self.cluster.checked)
        path: Path | None = None
        try:
            while not self.stop.is_set():
                if path is None:
                    self.cluster.made += 1
                    path = _top_up(self.cluster.folder, self.cluster.made)
                began = time.monotonic()
                try:
                    with engine.begin() as conn:
                        run = run_scenario(DbStore(conn, self.ledger), load_scenario(path),
                                           str(path))
                    assert run.failure is None and run.journals == 1, run
                except Exception as err:  # the test reports each one, and when it came
                    self.errors.append((time.monotonic(), str(err).splitlines()[0]))
                    if len(self.errors) > 20:
                        return
                else:
                    self.writes.append((began, time.monotonic()))
                    path = None
        finally:
            engine.dispose()


BUSY = "could not acquire the lock required to"


def test_a_council_isolated_and_moved_while_another_writes(cluster):
    first, second = cluster.first, cluster.second
    before = cluster.placements()
    source = before[first][1]
    target = before[second][1]
    (journals_before,) = cluster.sql(
        "SELECT count(*) FROM journal WHERE ledger_id = :id", id=cluster.ids[second])[0]
    writer = Writer(cluster, second)
    writer.start()
    while not writer.writes and not writer.errors and writer.is_alive():
        time.sleep(0.05)  # writing already when the isolation begins
    coordinator = make_url(cluster.url).set(drivername="postgresql")
    try:
        with psycopg.connect(coordinator.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{MOVE_TIMEOUT}'")
            mode = _transfer_mode(conn)
            started = time.monotonic()
            row = conn.execute(
                "SELECT isolate_tenant_to_new_shard('ledger', %s, 'CASCADE', "
                "shard_transfer_mode => %s)", (cluster.ids[first], mode)).fetchone()
            assert row is not None
            shard = int(row[0])
            isolated = time.monotonic()
            host, port = source.rsplit(":", 1)
            to_host, to_port = target.rsplit(":", 1)
            conn.execute(
                "SELECT citus_move_shard_placement(%s, %s, %s, %s, %s, "
                "shard_transfer_mode => %s)",
                (shard, host, int(port), to_host, int(to_port), mode))
            moved = time.monotonic()
    finally:
        writer.stop.set()
        writer.join(timeout=60)
    # At most one failed write, at the split's switch-over, and only the known error.
    failed = [(mode, f"{when - started:.1f} s after the isolation began, "
               f"{when - isolated:+.1f} s from its end", error)
              for when, error in writer.errors]
    assert len(failed) <= 1 and all(
        SPLIT_SWITCH_OVER in error and when <= moved for when, error in writer.errors), failed
    # The other council wrote all along, the move included, and every write landed.
    assert any(started <= began <= moved for began, _ in writer.writes), \
        f"no write was sent while the shard was isolated and moved ({mode})"
    (journals_after,) = cluster.sql(
        "SELECT count(*) FROM journal WHERE ledger_id = :id", id=cluster.ids[second])[0]
    assert journals_after - journals_before == len(writer.writes) > 0
    after = cluster.placements()
    assert after[first] == (shard, target)  # its own shard, now on the other worker
    assert after[second] == before[second]
    (alone,) = cluster.sql(
        "SELECT count(*) FROM ledger_name WHERE "
        "get_shard_id_for_distribution_column('ledger', ledger_id) = :shard", shard=shard)[0]
    assert alone == 1
    for name in (first, second):
        done = cluster.verify(name)
        assert done.returncode == 0, done.stdout + done.stderr

    # The guards went with the shard: on its new worker, its posting shard refuses a change.
    worker = make_url(cluster.url).set(drivername="postgresql", host=to_host,
                                       port=int(to_port))
    with psycopg.connect(worker.render_as_string(hide_password=False)) as conn:
        posting = str(conn.execute(
            "SELECT shard_name('posting'::regclass, "
            "get_shard_id_for_distribution_column('posting', %s))",
            (cluster.ids[first],)).fetchone()[0]).rsplit(".", 1)[-1]  # type: ignore[index]
        with pytest.raises(psycopg.Error) as refused:
            conn.execute(f"UPDATE {posting} SET amount_minor = amount_minor + 1 "
                         "WHERE ledger_id = %s", (cluster.ids[first],))
        conn.rollback()
    assert str(refused.value).splitlines()[0] == (
        "ledger:append_only: posting rows cannot be changed or deleted")

    # The moved council takes new writes where it now is, and still verifies.
    cluster.write(first)
    done = cluster.verify(first)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sign_ins_and_the_access_log_stay_with_their_ledger(cluster):
    """A sign-in added, a statement read (an audit record appended to the ledger's
    chain) and the access log read back, in the council moved above: its sign-ins and
    audit chain went with it."""
    name = cluster.first
    added = _ledger("user", "add", "auditor", "--role", "council:SCC", "--password-stdin",
                    "--db", cluster.checked, "--ledger", name,
                    stdin="a long enough pass phrase\n")
    assert added.returncode == 0, added.stderr
    read = _ledger("statement", "council", "SCC", "--from", "2026-04-01", "--to",
                   "2027-03-31", "--db", cluster.checked, "--ledger", name)
    assert read.returncode == 0, read.stderr
    log = _ledger("access-log", "--user", getpass.getuser(), "--db", cluster.checked,
                  "--ledger", name)
    assert log.returncode == 0, log.stderr
    (header, row) = log.stdout.splitlines()
    assert header.startswith("at,via,reader,kind,id,from,to")
    assert f",cli,{getpass.getuser()},council,SCC,2026-04-01,2027-03-31," in row
    kinds = [k for (k,) in cluster.sql(
        "SELECT kind FROM audit_record WHERE ledger_id = :id ORDER BY seq",
        id=cluster.ids[name])]
    assert kinds == ["user_added", "read"]
    done = cluster.verify(name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit: 2 records" in done.stdout
