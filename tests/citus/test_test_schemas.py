"""The suite's own Citus schemas (tests/dbutil.py, `_citus_schema`): a schema a test has
finished with is handed to the next test emptied to exactly what a new one holds, and
only if nothing of its shape changed. A test on the cluster trusts that it starts from a
new schema: if this were wrong, a test could pass on another test's rows, or run without
a guard another test switched off."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

import ledger.domain  # noqa: F401 (the floor rule the store applies)
from ledger.app import access
from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine
from tests.citus.shards import switch_shard_triggers
from tests.dbutil import _CITUS_NEW, _contents, _schema_of, _shape, empty_database


def _journal(key: str, pence: int) -> Journal:
    return Journal(key, "transfer", dt.date(2026, 4, 1), (
        Posting("council:C1:funding", Unit.GBP, -pence), Posting("holder:H1:dp", Unit.GBP, pence)))


def _without_times(rows: dict) -> dict:
    return {table: [{k: v for k, v in row.items() if k != "created_at"} for row in found]
            for table, found in rows.items()}


def _use(url: str) -> None:
    """Books in two ledgers, a sign-in and its audit record, a failed sign-in."""
    engine = make_engine(url)
    with engine.connect() as conn:
        DbStore(conn, "main").post([_journal("pay-1", 100)])
        DbStore(conn, "other").post([_journal("pay-1", 200)])
        lid = DbStore(conn, "main").lid
        access.add_user(conn, lid, "ann", "correct horse battery staple", ["auditor"])
        access.count_failure(conn, lid, "ann", "10.0.0.1", access.now())
        conn.commit()
    engine.dispose()


def test_a_used_schema_is_handed_on_holding_what_a_new_one_holds(tmp_path):
    with empty_database("citus", tmp_path) as used:
        _use(used)
    with empty_database("citus", tmp_path) as again:
        assert again == used, "the emptied schema was not handed on"
        engine = make_engine(again)
        with engine.connect() as conn:
            contents, sequences = _contents(conn, _schema_of(again))
            assert sequences == _CITUS_NEW["sequences"]
            assert (_without_times(contents["rows"])
                    == _without_times(_CITUS_NEW["contents"]["rows"]))
            assert set(contents["rows"]) == {"ledger", "ledger_name"}  # `main`, no more
            # and it works as new: the first journal and the first record are number 1
            DbStore(conn, "main").post([_journal("pay-1", 300)])
            conn.commit()
            assert conn.execute(text("SELECT id FROM journal")).scalars().all() == [1]
        engine.dispose()


def test_a_schema_whose_guards_were_switched_off_on_a_worker_is_not_handed_on(tmp_path):
    with empty_database("citus", tmp_path) as changed:
        engine = make_engine(changed)
        with engine.connect() as conn:
            made = _shape(conn, _schema_of(changed))
        switch_shard_triggers(engine, ["posting"], "DISABLE TRIGGER ALL")
        with engine.connect() as conn:
            assert _shape(conn, _schema_of(changed)) != made
        engine.dispose()
    with empty_database("citus", tmp_path) as next_one:
        assert next_one != changed
        engine = make_engine(next_one)
        with engine.connect() as conn:
            gone = conn.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"),
                                {"s": _schema_of(changed)}).scalar_one()
        engine.dispose()
        assert gone == 0, "the changed schema was kept"
