"""Citus's own evidence that a ledger's work goes to the one worker that holds the ledger.

Each command of a ledger's life (a write, the month end, a statement, an export, verify,
balance) runs in this process with two Citus settings on every connection it opens:

- `citus.multi_task_query_log_level = error`: a statement that needs more than one shard
  fails, so the command fails (the detector, tests/citus/conftest.py);
- `citus.log_remote_commands = on` (with `client_min_messages = log`): the coordinator
  reports to the client every command it sends to a worker, "issuing <SQL>" with "on
  server user@host:port" in its detail, and every command it runs on its own copy of a
  reference table, "executing the command locally: <SQL>". A notice handler on every
  new connection (a listener on SQLAlchemy's Pool) collects them.

Why this evidence and not another: it is what the coordinator actually sent, not a plan
of what it might send (EXPLAIN would cover only the statements the test chose, and
pg_stat_statements, hence citus_stat_statements, is not installed on the cluster); it
needs no access to the servers' log files; and it names both the node and the shard
tables (`posting_102035`), so the test asserts both: every remote command of the command
went to the ledger's worker, every shard it named is one of the ledger's co-located
shards (or a shard of the reference table `ledger_name`, which every node holds), and at
least one command did reach the ledger's shards. The other worker holds another ledger
with books of its own, so "one node" is not true by accident.

A new ledger's name goes into `ledger_name`, a reference table, on every node: that is
`ledger init --ledger NAME`'s one write to all nodes, done before the measured commands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import Pool

from ledger.store.citus import DISTRIBUTED, REFERENCE
from ledger.store.schema import make_engine
from tests.citus.conftest import detecting, invoke, with_options

pytestmark = pytest.mark.citus

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "provider-month-end.yaml"
CSV = ROOT / "scenarios" / "provider-month-end"
OTHER = ROOT / "scenarios" / "dp-holder.yaml"
LOCAL = "coordinator (local)"
SHARD_NAME = re.compile(r"\b([a-z_]+)_(\d{6,})\b")

# provider-month-end.yaml's people, and one purchase, as a scenario file of its own.
PURCHASE = """\
format: 1
name: a purchase
parties:
  councils: [{id: WBC, name: Wokingham Borough Council}]
  providers: [{id: SH, name: Support Horizons CIC}]
  holders:
    - {id: ANN, name: Ann Example, council: WBC}
    - {id: BOB, name: Bob Example, council: WBC}
    - {id: CAT, name: Cat Example, council: WBC}
events:
  - {date: 2026-04-13, type: isf_purchase, holder: BOB, provider: SH, payee: GYM,
     amount: "30.00"}
"""

# Each measured command, in the order of a month in the ledger's life.
STEPS = {
    "write: people and ISFs": ["scenario", "run", str(SCENARIO)],
    "month end: advance": ["isf", "advance", "--provider", "SH", "--month", "2026-04"],
    "write: a purchase": ["scenario", "run", "PURCHASE"],
    "month end: timesheet": ["isf", "import-timesheet", str(CSV / "april-timesheet.csv"),
                             "--provider", "SH", "--month", "2026-04"],
    "month end: reconcile": ["isf", "reconcile", "--provider", "SH", "--month", "2026-04"],
    "statement holder": ["statement", "holder", "ANN", "--month", "2026-04"],
    "export": ["export", "isf-returns", "--council", "WBC", "--month", "2026-04"],
    "export beancount": ["export", "beancount"],
    "verify --ledger": ["verify"],
    "balance": ["balance"],
}


@pytest.fixture
def remote_commands() -> Iterator[list[tuple[str, str]]]:
    """(node, SQL) of every command the coordinator reports while the test runs."""
    seen: list[tuple[str, str]] = []

    def collect(diag) -> None:
        message = diag.message_primary or ""
        if message.startswith("issuing "):
            node = (diag.message_detail or "").removeprefix("on server ").split(" ")[0]
            seen.append((node.split("@")[-1], message.removeprefix("issuing ")))
        elif message.startswith("executing the command locally: "):
            seen.append((LOCAL, message.removeprefix("executing the command locally: ")))

    def on_connect(dbapi_connection, _record) -> None:
        if hasattr(dbapi_connection, "add_notice_handler"):  # psycopg, not SQLite
            dbapi_connection.add_notice_handler(collect)

    event.listen(Pool, "connect", on_connect)
    try:
        yield seen
    finally:
        event.remove(Pool, "connect", on_connect)


def _watched(url: str) -> str:
    """`url` with the detector on and every remote command reported to the client."""
    return with_options(detecting(url), "-ccitus.log_remote_commands=on",
                        "-cclient_min_messages=log")


def _where(url: str, name: str) -> tuple[str, set[int], set[int]]:
    """The ledger's worker, its shard of every distributed table, and the reference
    tables' shards."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            lid = conn.execute(text("SELECT ledger_id FROM ledger_name WHERE name = :n"),
                               {"n": name}).scalar_one()
            own = set(conn.execute(text(
                "SELECT get_shard_id_for_distribution_column(t, :lid) "
                "FROM unnest(CAST(:tables AS text[])) AS t"),
                {"lid": lid, "tables": list(DISTRIBUTED)}).scalars())
            nodes = set(conn.execute(text(
                "SELECT nodename || ':' || nodeport FROM pg_dist_shard_placement "
                "WHERE shardid = ANY(:s)"), {"s": list(own)}).scalars())
            reference = set(conn.execute(text(
                "SELECT shardid FROM pg_dist_shard WHERE logicalrelid::text = ANY(:t)"),
                {"t": list(REFERENCE)}).scalars())
    finally:
        engine.dispose()
    assert len(nodes) == 1, f"ledger {name}'s shards are on {nodes}"
    return nodes.pop(), own, reference


def _routed_to_one_node(step: str, commands: list[tuple[str, str]], node: str,
                        own: set[int], reference: set[int]) -> None:
    assert commands, f"{step}: the coordinator sent nothing to any worker"
    nodes = {n for n, _ in commands if n != LOCAL}
    assert nodes == {node}, f"{step}: sent to {nodes}, the ledger is on {node}"
    named = {int(shard) for _, sql in commands for _, shard in SHARD_NAME.findall(sql)}
    assert named & own, f"{step}: no command named one of the ledger's shards {own}"
    assert named <= own | reference, f"{step}: named shards {named - own - reference}"
    local = {int(shard) for n, sql in commands if n == LOCAL
             for _, shard in SHARD_NAME.findall(sql)}
    assert local <= reference, f"{step}: ran {local} on the coordinator"


# The steps that post journals: the postings go in on the ledger's worker.
POSTING = {"month end: advance", "write: a purchase", "month end: timesheet"}


def test_each_command_of_a_ledger_is_routed_to_the_worker_holding_it(
        citus_db, remote_commands, tmp_path):
    # Two ledgers on the two workers, each with books: `main` (made with the schema) and
    # the measured one, the first new name whose shard is on the other worker.
    assert invoke("scenario", "run", str(OTHER), db=citus_db).exit_code == 0
    main_node = _where(citus_db, "main")[0]
    for n in range(10):
        name = f"care-{n}"
        made = invoke("init", "--ledger", name, db=citus_db)
        assert made.exit_code == 0, made.output
        node, own, reference = _where(citus_db, name)
        if node != main_node:
            break
    assert node != main_node, "no new ledger landed on the other worker"
    purchase = tmp_path / "purchase.yaml"
    purchase.write_text(PURCHASE, encoding="utf-8")
    watched = _watched(citus_db)
    for step, args in STEPS.items():
        remote_commands.clear()
        args = [str(purchase) if a == "PURCHASE" else a for a in args]
        done = invoke(*args, "--ledger", name, db=watched)
        assert done.exit_code == 0, f"{step}: {done.output}"
        _routed_to_one_node(step, list(remote_commands), node, own, reference)
        if step in POSTING:
            assert [sql for n, sql in remote_commands if n == node
                    and re.match(r"(INSERT INTO|COPY) \S+\.posting_\d+ ", sql)], step


def test_the_evidence_can_fail_a_statement_over_every_shard_is_refused_and_seen(
        citus_db, remote_commands):
    """The two checks above can fail: a statement over every ledger reaches both workers
    (seen in the remote commands) and, with the detector on, is refused."""
    assert invoke("scenario", "run", str(OTHER), "--ledger", "one", db=citus_db).exit_code == 0
    assert invoke("scenario", "run", str(OTHER), "--ledger", "two", db=citus_db).exit_code == 0
    assert invoke("scenario", "run", str(OTHER), "--ledger", "three", db=citus_db).exit_code == 0
    seen = make_engine(with_options(citus_db, "-ccitus.log_remote_commands=on",
                                    "-cclient_min_messages=log"))
    try:
        with seen.connect() as conn:
            remote_commands.clear()
            assert conn.execute(text("SELECT count(*) FROM posting")).scalar_one() > 0
    finally:
        seen.dispose()
    assert len({n for n, _ in remote_commands if n != LOCAL}) == 2, remote_commands
    refused = make_engine(detecting(citus_db))
    try:
        with refused.connect() as conn, pytest.raises(Exception, match="multi-task|tasks"):
            conn.execute(text("SELECT count(*) FROM posting"))
    finally:
        refused.dispose()
