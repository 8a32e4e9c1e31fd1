"""Guards off and on for tests that tamper with the books as a database administrator
could. On one PostgreSQL that is `ALTER TABLE t DISABLE TRIGGER ...` on the table; Citus
refuses that on a distributed table ("triggers are not supported on distributed
tables"), because there the guards live on the shards: an administrator of a cluster
switches them on each shard, on the workers, which is what this does."""

from __future__ import annotations

from sqlalchemy import Engine, text

from ledger.store.citus import is_distributed


def on_citus(engine: Engine) -> bool:
    with engine.connect() as conn:
        return is_distributed(conn)


def switch_shard_triggers(engine: Engine, tables: list[str], action: str) -> None:
    """`ALTER TABLE <shard> {action}` (e.g. `DISABLE TRIGGER ALL`) on every shard of each
    table, committed before the caller's next transaction (each runs on its worker)."""
    with engine.begin() as conn:
        for table in tables:
            failed = conn.execute(text(
                "SELECT result FROM run_command_on_shards(:t, :c) WHERE NOT success"),
                {"t": table, "c": f"ALTER TABLE %s {action}"}).scalars().all()
            assert not failed, f"{table}: {failed}"
