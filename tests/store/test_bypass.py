"""Raw SQL that bypasses the Python layer must still be refused by the database itself."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import ledger.domain  # noqa: F401 (the floor rule the store applies: every entry point imports it)
from ledger.core.amounts import Unit
from ledger.core.journal import Journal, transfer
from ledger.store.repo import DbStore

pytestmark = pytest.mark.citus

D = dt.date(2026, 4, 1)


def _seed(engine) -> None:
    with engine.begin() as conn:
        DbStore(conn).post([Journal("seed", "dp_payment", D, tuple(
            transfer("council:C1:funding", "holder:H1:dp", Unit.GBP, 5000)), "e0")])


def _refused(engine, *statements: str) -> str:
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    return str(caught.value.orig)


def _ids(engine):
    with engine.connect() as conn:
        journal_id = conn.execute(text("SELECT id FROM journal WHERE key='seed'")).scalar_one()
        accounts = dict(conn.execute(text("SELECT path, id FROM account")).all())
    return journal_id, accounts


def test_updating_a_posting_is_refused(engine):
    _seed(engine)
    assert "append_only" in _refused(engine, "UPDATE posting SET amount_minor = 1")


def test_deleting_a_posting_or_journal_is_refused(engine):
    _seed(engine)
    assert "append_only" in _refused(engine, "DELETE FROM posting")
    assert "append_only" in _refused(engine, "DELETE FROM journal")


def test_editing_a_posted_journal_is_refused(engine):
    _seed(engine)
    assert "append_only" in _refused(engine, "UPDATE journal SET date = '2026-05-01'")
    assert "append_only" in _refused(engine, "UPDATE journal SET status = 'draft'")


def test_unbalanced_journal_cannot_be_sealed(engine):
    _seed(engine)
    _, acc = _ids(engine)
    message = _refused(
        engine,
        "INSERT INTO journal (ledger_id, id, key, type, date, event_key, payload_hash, status, prev_hash,"
        " hash, memo) VALUES (1, 900, 'bad', 't', '2026-04-02', 'e', 'x', 'draft', 'x', 'x', '{}')",
        f"INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)"
        f" VALUES "
        f"(1, 900, {acc['holder:H1:dp']}, 'GBP', 700, '2026-04-02')",
        "UPDATE journal SET status = 'posted' WHERE id = 900",
    )
    assert "unbalanced" in message


def test_journal_inserted_as_posted_is_refused(engine):
    message = _refused(
        engine,
        "INSERT INTO journal (ledger_id, key, type, date, event_key, payload_hash, status, prev_hash,"
        " hash, memo) VALUES (1, 'bad', 't', '2026-04-02', 'e', 'x', 'posted', 'x', 'x', '{}')",
    )
    assert "unbalanced" in message


def test_posting_added_to_a_sealed_journal_is_refused(engine):
    _seed(engine)
    journal_id, acc = _ids(engine)
    message = _refused(
        engine,
        f"INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)"
        f" VALUES "
        f"(1, {journal_id}, {acc['holder:H1:dp']}, 'GBP', 1, '2026-04-01'), "
        f"(1, {journal_id}, {acc['council:C1:funding']}, 'GBP', -1, '2026-04-01')",
    )
    assert "append_only" in message


def test_posting_into_a_locked_period_is_refused(engine):
    _seed(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO period_lock (ledger_id, until, event_key) "
                          "VALUES (1, '2026-04-30', 'x')"))
    message = _refused(
        engine,
        "INSERT INTO journal (ledger_id, key, type, date, event_key, payload_hash, status, prev_hash,"
        " hash, memo) VALUES (1, 'late', 't', '2026-04-15', 'e', 'x', 'draft', 'x', 'x', '{}')",
    )
    assert "period_closed" in message


def test_period_lock_cannot_be_lifted(engine):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO period_lock (ledger_id, until, event_key) "
                          "VALUES (1, '2026-04-30', 'x')"))
    assert "append_only" in _refused(engine, "DELETE FROM period_lock")
    assert "append_only" in _refused(engine, "UPDATE period_lock SET until = '2026-01-01'")


def test_balance_floor_is_enforced_by_the_database(engine):
    """A DP account may not go below zero even if the Python checks are bypassed."""
    _seed(engine)
    _, acc = _ids(engine)
    message = _refused(
        engine,
        "INSERT INTO journal (ledger_id, id, key, type, date, event_key, payload_hash, status, prev_hash,"
        " hash, memo) VALUES (1, 901, 'over', 't', '2026-04-02', 'e', 'x', 'draft', 'x', 'x', '{}')",
        "INSERT INTO account (ledger_id, path) VALUES (1, 'external:PA')",
        # INSERT ... SELECT, not a subquery in VALUES: Citus refuses the latter.
        "INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)"
        " SELECT 1, 901, id, 'GBP', CASE path WHEN 'external:PA' THEN 6000 ELSE -6000 END,"
        " '2026-04-02' FROM account WHERE ledger_id = 1"
        f" AND (path = 'external:PA' OR id = {acc['holder:H1:dp']})",
        "UPDATE journal SET status = 'posted' WHERE id = 901",
    )
    assert "insufficient_funds" in message


def test_a_journal_can_be_reversed_only_once(engine):
    _seed(engine)
    journal_id, _ = _ids(engine)
    with engine.begin() as conn:
        store = DbStore(conn)
        original = store.load_journals()[0]
        from ledger.core.journal import reversal_of

        store.post([reversal_of(original, "r1", D, "e1", "mistake")])
    with pytest.raises(Exception) as caught, engine.begin() as conn:
        DbStore(conn).post([reversal_of(original, "r2", D, "e2", "again")])
    assert "reverse" in str(caught.value) or "UNIQUE" in str(caught.value).upper()


def test_a_posting_dated_otherwise_than_its_journal_is_refused(engine):
    """The floor check and the statements read postings by their own date: it must be
    their journal's (docs/architecture.md#batches)."""
    _seed(engine)
    _, acc = _ids(engine)
    message = _refused(
        engine,
        "INSERT INTO journal (ledger_id, id, key, type, date, event_key, payload_hash, status,"
        " prev_hash, hash, memo) VALUES (1, 902, 'moved', 't', '2026-04-02', 'e', 'x', 'draft',"
        " 'x', 'x', '{}')",
        f"INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)"
        f" VALUES (1, 902, {acc['holder:H1:dp']}, 'GBP', 5, '2027-01-01')",
    )
    assert "date and ledger" in message


def test_a_posting_to_another_ledgers_account_is_refused(engine):
    _seed(engine)
    _, acc = _ids(engine)
    message = _refused(
        engine,
        "INSERT INTO ledger (name, event_seq, event_hash, journal_hash) VALUES ('other', 0,"
        " 'x', 'x')",
        # INSERT ... SELECT, not a subquery in VALUES: Citus refuses the latter.
        "INSERT INTO journal (ledger_id, id, key, type, date, event_key, payload_hash, status,"
        " prev_hash, hash, memo) SELECT id, 903,"
        " 'k', 't', '2026-04-02', 'e', 'x', 'draft', 'x', 'x', '{}' FROM ledger"
        " WHERE name = 'other'",
        f"INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)"
        f" SELECT id, 903, {acc['holder:H1:dp']}, 'GBP', 5, '2026-04-02' FROM ledger"
        " WHERE name = 'other'",
    )
    # SQLite's guard refuses it; on PostgreSQL the key itself does: a posting refers to
    # (ledger_id, account_id), and the other ledger has no such account.
    expected = "fk_posting_account" if engine.dialect.name == "postgresql" else "date and ledger"
    assert expected in message
