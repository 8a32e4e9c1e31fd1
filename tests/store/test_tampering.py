"""`verify` catches every kind of tampering a database administrator with raw SQL could
try (docs/reliability.md, docs/rules-trust.md#verify), on both engines.

Each case replays two real scenarios (a pooling group with names and consent, and a
direct payment with reviews, a reversal and a closed quarter), checks that `verify`
passes, then changes the stored rows behind the ledger's back, with its guards switched
off as an administrator could, and requires `verify` to name a break.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.app.rebuild import rebuild_break
from ledger.app.scenarios import run_scenario
from ledger.core.amounts import Unit
from ledger.core.journal import Journal, transfer
from ledger.scenarios.schema import load_scenario
from ledger.store.chain import journal_link
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import ChainHead, first_break
from tests.citus.shards import on_citus, switch_shard_triggers
from tests.dbutil import empty_database

TABLES = ["ledger", "account", "balance", "account_floor", "journal", "posting", "event",
          "period_lock", "party_record", "instrument_state"]
STORY = """
format: 1
name: tamper-story
parties:
  councils: [{id: RIC, name: Richmond}]
  holders:
    - {id: H1, name: Amir Example, council: RIC, show_name: true}
    - {id: H2, name: Bea Example, council: RIC, pseudonym: Robin}
    - {id: H4, name: Dot Example, council: RIC}
events:
  - {id: pay-h1, date: 2026-04-01, type: dp_schedule, holder: H1, amount: "300.00",
     every: monthly, start: 2026-04-01}
  - {date: 2026-04-01, type: run_payments, until: 2026-06-30}
  - {date: 2026-04-01, type: dp_payment, holder: H2, amount: "600.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H4, amount: "600.00"}
  - {date: 2026-04-03, type: dp_spend, holder: H1, payee: Jo PA, amount: "120.00",
     category: wages}
  - {id: double, date: 2026-04-04, type: dp_spend, holder: H1, payee: Jo PA, amount: "120.00"}
  - {date: 2026-04-05, type: reverse, event: double, reason: entered twice}
  - {date: 2026-04-06, type: dp_spend, holder: H2, payee: Shop, amount: "9000.00",
     expect_error: insufficient_funds}
  - {date: 2026-04-10, type: pool_open, pool: OUT, members: [H1, H2, H4]}
  - {date: 2026-04-10, type: pool_contribute, pool: OUT, holder: H2, amount: "150.00"}
  - {date: 2026-04-10, type: pool_contribute, pool: OUT, holder: H4, amount: "150.00"}
  - {date: 2026-04-20, type: pool_spend, pool: OUT, payee: Kew Gardens, amount: "90.00",
     members: [H2, H4]}
  - {date: 2026-04-30, type: close_period, until: 2026-04-30}
  - {date: 2026-05-02, type: dp_spend, holder: H4, payee: Taxi, amount: "20.00"}
"""


def _replay(engine, tmp_path: Path) -> None:
    path = tmp_path / "story.yaml"
    path.write_text(STORY, encoding="utf-8")
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), load_scenario(path), str(path))
    assert result.failure is None, result.failure


def _verify(engine) -> tuple[str | None, ChainHead]:
    head = ChainHead()
    with engine.connect() as conn:
        problem = first_break(conn, head) or rebuild_break(conn)
    return problem, head


def _unguarded(engine, *statements: str) -> None:
    """Run statements with every guard off, as a database administrator could (on Citus,
    on every shard: tests/citus/shards.py)."""
    citus = engine.dialect.name == "postgresql" and on_citus(engine)
    if citus:
        switch_shard_triggers(engine, TABLES, "DISABLE TRIGGER ALL")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql" and not citus:
            for table in TABLES:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER ALL"))
        elif not citus:
            names = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            for (name,) in names.all():
                conn.execute(text(f"DROP TRIGGER {name}"))
        for statement in statements:
            conn.execute(text(statement))
        if engine.dialect.name == "postgresql" and not citus:
            for table in TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
    if citus:
        switch_shard_triggers(engine, TABLES, "ENABLE TRIGGER ALL")


def _append_journal_with_recomputed_hashes(engine) -> None:
    """A new journal whose link hash follows correctly from the last one."""
    with engine.begin() as conn:
        last_id, last_hash = conn.execute(
            text("SELECT id, hash FROM journal ORDER BY id DESC LIMIT 1")).one()
        accounts = dict(conn.execute(text("SELECT path, id FROM account")).all())
    forged = Journal("forged", "dp_payment", dt.date(2026, 12, 1),
                     tuple(transfer("council:RIC:funding", "holder:H1:dp", Unit.GBP, 999)),
                     "forged", holder="H1")
    payload = forged.payload_hash()
    link = journal_link(last_hash, "forged", payload, "forged")
    _unguarded(
        engine,
        "INSERT INTO journal (ledger_id, id, key, type, date, event_key, holder, payload_hash, "
        f"memo, status, prev_hash, hash) VALUES (1, {last_id + 1}, 'forged', 'dp_payment', "
        f"'2026-12-01', 'forged', 'H1', '{payload}', '{{}}', 'posted', '{last_hash}', '{link}')",
        "INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date) "
        f"VALUES (1, {last_id + 1}, {accounts['council:RIC:funding']}, 'GBP', -999, "
        f"'2026-12-01'), (1, {last_id + 1}, {accounts['holder:H1:dp']}, 'GBP', 999, "
        "'2026-12-01')",
        f"UPDATE balance SET amount_minor = amount_minor - 999 WHERE account_id = "
        f"{accounts['council:RIC:funding']} AND unit = 'GBP'",
        f"UPDATE balance SET amount_minor = amount_minor + 999 WHERE account_id = "
        f"{accounts['holder:H1:dp']} AND unit = 'GBP'",
    )


CASES = {
    "memo edited to another payee": lambda e: _unguarded(
        e, "UPDATE journal SET memo = '{\"payee\": \"Casino Royale\"}' "
           "WHERE id = (SELECT MIN(id) FROM journal WHERE type = 'dp_spend')"),
    "both legs of a posting changed": lambda e: _unguarded(
        e, "UPDATE posting SET amount_minor = amount_minor * 2 "
           "WHERE journal_id = (SELECT MIN(id) FROM journal WHERE type = 'dp_spend')"),
    "the last journals deleted": lambda e: _unguarded(
        e, "DELETE FROM posting WHERE journal_id = (SELECT MAX(id) FROM journal)",
        "DELETE FROM journal WHERE id = (SELECT MAX(id) FROM journal)"),
    "the last record deleted": lambda e: _unguarded(
        e, "DELETE FROM event WHERE seq = (SELECT MAX(seq) FROM event)"),
    "a record's outcome changed": lambda e: _unguarded(
        e, "UPDATE event SET outcome = 'applied' WHERE outcome LIKE 'rejected:%'"),
    "a journal appended with recomputed hashes": _append_journal_with_recomputed_hashes,
    "consent to show a name switched on": lambda e: _unguarded(
        e, "UPDATE party_record SET data = REPLACE(data, '\"show_name\"\\:false', "
           "'\"show_name\"\\:true')"),
    "a holder's council changed": lambda e: _unguarded(
        e, "UPDATE party_record SET data = REPLACE(data, '\"council\":\"RIC\"', "
           "'\"council\":\"ESX\"')"),
    "pool membership edited": lambda e: _unguarded(
        e, "UPDATE instrument_state SET data = REPLACE(data, '\"H4\"', '\"H9\"') "
           "WHERE kind LIKE 'pool%'"),
    "a schedule's state deleted": lambda e: _unguarded(
        e, "DELETE FROM instrument_state WHERE kind = 'dp_schedule'"),
    "every floor removed": lambda e: _unguarded(e, "DELETE FROM account_floor"),
    "a floor lowered": lambda e: _unguarded(
        e, "UPDATE account_floor SET floor_minor = -100000"),
    "the closed quarter reopened": lambda e: _unguarded(e, "DELETE FROM period_lock"),
    "the ledger's head row rewound": lambda e: _unguarded(
        e, "UPDATE ledger SET event_seq = event_seq - 1"),
    "a posting moved to another date": lambda e: _unguarded(
        e, "UPDATE posting SET date = '2026-04-01' "
           "WHERE id = (SELECT MAX(id) FROM posting)"),
    "a stored balance edited": lambda e: _unguarded(
        e, "UPDATE balance SET amount_minor = amount_minor + 1 "
           "WHERE account_id = (SELECT MIN(account_id) FROM balance)"),
    # Statements find a person's accounts by their holder (docs/rules-trust.md#accounts).
    "a dp account's holder removed": lambda e: _unguarded(
        e, "UPDATE account SET holder = NULL WHERE path = 'holder:H1:dp'"),
    "a pool share given to another member": lambda e: _unguarded(
        e, "UPDATE account SET holder = 'H2' WHERE path = 'pool:OUT:H4'"),
    "an account's opening record forgotten": lambda e: _unguarded(
        e, "UPDATE account SET event_key = NULL WHERE path = 'pool:OUT:H4'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_verify_names_a_break_after_tampering(engine, case, tmp_path):
    _replay(engine, tmp_path)
    assert _verify(engine)[0] is None
    CASES[case](engine)
    problem, _ = _verify(engine)
    assert problem is not None, f"verify missed: {case}"


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_expect_head_proves_nothing_before_it_was_removed(engine, tmp_path):
    _replay(engine, tmp_path)
    problem, head = _verify(engine)
    assert problem is None
    kept = (head.journals, head.hash)
    # The newest record deleted: the rest of the chain is still a valid chain, so only
    # the head kept from before (at month end) shows that something went.
    _unguarded(engine, "DELETE FROM event WHERE seq = (SELECT MAX(seq) FROM event)")
    _, after = _verify(engine)
    assert kept not in after.passed


def test_truncate_is_refused_on_postgresql(tmp_path):
    with empty_database("postgres", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        _replay(engine, tmp_path)
        for table in TABLES:
            with pytest.raises(DBAPIError, match="append_only"), engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
        assert _verify(engine)[0] is None
        engine.dispose()


def test_the_chain_digest_is_what_it_says():
    """The link formula is the documented one (docs/rules-trust.md#verify), so anyone can
    recompute a chain with sha256 alone."""
    prev = "0" * 64
    assert journal_link(prev, "k", "p", "e") == hashlib.sha256(
        f"{prev}|k|p|e".encode()).hexdigest()
