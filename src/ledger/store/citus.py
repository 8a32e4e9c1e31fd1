"""Spreading a PostgreSQL database's ledgers over a Citus cluster (docs/scaling.md).

`distribute` is an operator's step, run once on the coordinator after the schema is at
the newest revision (`ledger db distribute`): every table of the books is distributed by
its ledger, all co-located, so each ledger's rows sit together on one worker; the
ledgers' names become a reference table copied to every node; and every guard is put
back on every shard. It runs in one transaction: a failure leaves the database as it was.

Why each step (docs/scaling.md#layout):
- Citus refuses to distribute a table that has triggers, so the guards are taken off,
  the tables distributed, and the same guards (their definitions read back from the
  database, not written again here) put back with `citus.enable_unsafe_triggers`, which
  copies each one onto every shard. A guard's function then runs on the worker that holds
  the shard, and every query in it names its ledger (revision 0010), so it reads only
  rows beside it. Each guard function is pinned to the schema that holds the tables: on
  a worker it runs in Citus's own session, whose search path is not the client's.
- Citus keeps TRUNCATE guards on the coordinator's tables only: TRUNCATE through the
  coordinator is refused; a shard emptied on a worker directly is caught by `verify`.
- `ledger` cannot keep `UNIQUE (name)` when spread by id; `ledger_name` keeps the names.
- `alembic_version` stays a local table on the coordinator.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from ledger.errors import UsageError

# The tables of the books, `ledger` first: the others are co-located with it.
DISTRIBUTED = ("ledger", "account", "journal", "balance", "account_floor", "posting",
               "event", "period_lock", "party_record", "instrument_state", "audit_record",
               "web_login_failure", "web_secret")
REFERENCE = ("ledger_name",)


@dataclass(frozen=True)
class Distribution:
    already: bool
    shard_count: int
    workers: list[str]
    guards: int


def citus_version(conn: Connection) -> str | None:
    """The Citus extension's version in this database (None: not a Citus database)."""
    if conn.dialect.name != "postgresql":
        return None
    return conn.execute(text(
        "SELECT extversion FROM pg_extension WHERE extname = 'citus'")).scalar()


def is_distributed(conn: Connection) -> bool:
    """Whether this database's books are spread over a Citus cluster."""
    if citus_version(conn) is None:
        return False
    return bool(conn.execute(text(
        "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = "
        "to_regclass(quote_ident(current_schema()) || '.journal')")).scalar())


def workers(conn: Connection) -> list[str]:
    return [f"{host}:{port}" for host, port in conn.execute(text(
        "SELECT node_name, node_port FROM citus_get_active_worker_nodes() "
        "ORDER BY node_name, node_port"))]


def distribute(conn: Connection, shard_count: int | None = None) -> Distribution:
    """Distribute the books by ledger on the Citus coordinator `conn` is connected to, in
    the caller's transaction. Running it again on a distributed database changes nothing."""
    if citus_version(conn) is None:
        raise UsageError("this database has no Citus extension: `ledger db distribute` runs "
                         "on a Citus coordinator (docs/scaling.md#setting-up)")
    nodes = workers(conn)
    if not nodes:
        raise UsageError("the Citus coordinator has no active workers: add them first "
                         "(citus_add_node)")
    if is_distributed(conn):
        count = conn.execute(text(
            "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'journal'::regclass"
        )).scalar_one()
        return Distribution(True, int(count), nodes, 0)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    guards = conn.execute(text(
        "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid), p.oid::regprocedure::text "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace "
        "AND c.relname = ANY(:tables) ORDER BY c.relname, t.tgname"),
        {"tables": [*DISTRIBUTED, *REFERENCE]}).all()
    for name, table, _, _ in guards:
        conn.execute(text(f'DROP TRIGGER "{name}" ON "{table}"'))
    # Before any table is distributed: Citus copies each function to the workers, with
    # this setting, when a trigger first needs it there.
    for function in sorted({function for _, _, _, function in guards}):
        conn.execute(text(f'ALTER FUNCTION {function} SET search_path = "{schema}"'))
    # Every ledger has its name in ledger_name (the writer puts it there; this also
    # covers a ledger made before revision 0010's writer did).
    conn.execute(text("INSERT INTO ledger_name (name, ledger_id) SELECT name, id FROM ledger "
                      "WHERE id NOT IN (SELECT ledger_id FROM ledger_name)"))
    conn.execute(text("ALTER TABLE ledger DROP CONSTRAINT IF EXISTS uq_ledger_name"))
    if shard_count is not None:
        conn.execute(text(f"SET LOCAL citus.shard_count = {int(shard_count)}"))
    for table in REFERENCE:
        conn.execute(text("SELECT create_reference_table(:t)"), {"t": table})
    # A co-location group of its own: Citus would otherwise put these tables in the
    # group of any other table in the database with as many shards, and giving one
    # ledger a shard of its own (isolate_tenant_to_new_shard) splits the whole group.
    conn.execute(text("SELECT create_distributed_table('ledger', 'id', colocate_with => 'none')"))
    for table in DISTRIBUTED[1:]:
        conn.execute(text("SELECT create_distributed_table(:t, 'ledger_id', "
                          "colocate_with => 'ledger')"), {"t": table})
    conn.execute(text("SET LOCAL citus.enable_unsafe_triggers = on"))
    for _, _, definition, _ in guards:
        conn.execute(text(definition))
    count = conn.execute(text(
        "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'journal'::regclass"
    )).scalar_one()
    return Distribution(False, int(count), nodes, len(guards))


def placements(conn: Connection) -> list[tuple[str, int, str]]:
    """Where each ledger's rows are: (ledger name, shard id, worker host:port), by name."""
    return [(name, int(shard), f"{host}:{port}") for name, shard, host, port in conn.execute(
        text("SELECT n.name, s.shardid, s.nodename, s.nodeport FROM ledger_name n "
             "JOIN pg_dist_shard_placement s ON s.shardid = "
             "get_shard_id_for_distribution_column('ledger', n.ledger_id) "
             "ORDER BY n.name"))]


__all__ = ["DISTRIBUTED", "REFERENCE", "Distribution", "citus_version", "distribute",
           "is_distributed", "placements", "workers"]
