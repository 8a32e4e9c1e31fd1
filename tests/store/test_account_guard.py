"""An account's properties (its path and its holder, which statements use to find a
person's accounts) never change: raw SQL that tries is refused by the guards, and with the
guards dropped `verify` names the account (docs/rules-trust.md#accounts), on both engines.
A ledger made before the properties were hashed still verifies, and its accounts are
checked against the rule that gives a holder."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.app.rebuild import rebuild_break
from ledger.app.scenarios import run_scenario
from ledger.reports.statements import holder_statement
from ledger.scenarios.schema import load_scenario
from ledger.store.chain import GENESIS_HASH, account_properties, record_hash
from ledger.store.repo import DbStore, account_holder
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import first_break
from tests.dbutil import copy_rows_to_postgres, empty_database
from tests.store.test_tampering import _unguarded

STORY = """
format: 1
name: accounts-story
parties:
  councils: [{id: BCC, name: Bramley County Council}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ben Example, council: BCC}
    - {id: H2, name: Cara Example, council: BCC}
events:
  - {id: pay-h1, date: 2026-04-01, type: dp_payment, holder: H1, amount: "600.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H2, amount: "300.00"}
  - {date: 2026-04-03, type: dp_spend, holder: H1, payee: Jo PA, amount: "120.00",
     category: wages}
  - {id: open-isf, date: 2026-04-01, type: isf_open, holder: H2, provider: SH,
     hours_per_month: 10, rate: "20.00", carry: {max_borrow_hours: 2}}
  - {date: 2026-04-01, type: isf_advance, holder: H2, provider: SH, month: 2026-04}
"""
APRIL = (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
RELEASE = Path(__file__).resolve().parents[1] / "data" / "release-2026-12-06"


def _replay(engine, tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(STORY, encoding="utf-8")
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), load_scenario(path), str(path))
    assert result.failure is None, result.failure


def _verify(engine, ledger: str = "main") -> str | None:
    with engine.connect() as conn:
        return first_break(conn, ledger=ledger) or rebuild_break(conn, ledger=ledger)


def _accounts(engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        return {path: rest for path, *rest in conn.execute(text(
            "SELECT path, id, ledger_id, holder, event_key FROM account ORDER BY id"))}


def _statement_accounts(engine, holder: str) -> set[str]:
    with engine.connect() as conn:
        found = holder_statement(DbStore(conn), holder, *APRIL)
    return {row["account"] for row in found["accounts"]}


# ------------------------------------------------------------------ the guards
CHANGES = {
    "holder removed": "UPDATE account SET holder = NULL WHERE path = 'holder:H1:dp'",
    "holder given to someone else": "UPDATE account SET holder = 'H2' "
                                    "WHERE path = 'holder:H1:dp'",
    "path renamed": "UPDATE account SET path = 'holder:H1:cash' WHERE path = 'holder:H1:dp'",
    "moved to its own ledger row": "UPDATE account SET ledger_id = ledger_id",
    "opening record forgotten": "UPDATE account SET event_key = NULL",
    "opening record renamed": "UPDATE account SET event_key = 'pay-h1'",
    "renumbered": "UPDATE account SET id = id + 1000 WHERE path = 'holder:H1:dp'",
    "deleted": "DELETE FROM account WHERE path = 'external:Jo PA'",
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_to_an_account_is_refused(engine, tmp_path, change):
    _replay(engine, tmp_path)
    before = _accounts(engine)
    with pytest.raises(DBAPIError, match="append_only"), engine.begin() as conn:
        conn.execute(text(CHANGES[change]))
    assert _accounts(engine) == before
    assert _verify(engine) is None


def test_truncating_the_accounts_is_refused_on_postgresql(tmp_path):
    with empty_database("postgres", tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        _replay(engine, tmp_path)
        with pytest.raises(DBAPIError, match="append_only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE account CASCADE"))
        assert _verify(engine) is None
        engine.dispose()


PATHS = ["holder:H1:dp", "holder:H1:own", "isf:H1:SH", "pool:BUDDIES:H1", "fund:F1:award:H1",
         "council:BCC:funding", "provider:SH:income", "external:Jo PA", "fund:F1:pot",
         "holder:H1", "holder:H1:dp:x", "fund:F1:award:H1:x", "fund:F1:Award:H1",
         "pool:BUDDIES:", "holder::dp", "isf:Zoë:SH", "Holder:H1:dp"]


@pytest.mark.parametrize("path", PATHS)
def test_an_account_made_by_hand_must_carry_the_holder_its_path_names(engine, path):
    """The database applies the same rule as the program (repo.account_holder), so a row
    made ahead of an account's first use cannot give one person's account to another."""
    insert = text("INSERT INTO account (ledger_id, path, holder) VALUES (1, :path, :holder)")
    owner = account_holder(path)
    for wrong in {"H2", None} - {owner}:
        with pytest.raises(DBAPIError, match="holder is the one its path names"), \
                engine.begin() as conn:
            conn.execute(insert, {"path": path, "holder": wrong})
    with engine.begin() as conn:
        conn.execute(insert, {"path": path, "holder": owner})
    assert _accounts(engine)[path][2] == owner


# ------------------------------------------------------------------ the hashes
@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_each_account_names_the_record_that_opened_it(engine, tmp_path):
    _replay(engine, tmp_path)
    accounts = _accounts(engine)
    with engine.connect() as conn:
        records = set(conn.execute(text("SELECT key FROM event")).scalars())
    opened = {path: event_key for path, (_, _, _, event_key) in accounts.items()}
    assert opened["holder:H1:dp"] == "pay-h1"
    assert opened["council:BCC:funding"] == "pay-h1"  # the first record to post to it
    assert opened["isf:H2:SH"] == "open-isf"  # opened by its floor: it posts nothing
    assert set(opened.values()) <= records


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_a_batched_run_names_the_same_opening_records(engine, tmp_path):
    """Written many events to a statement (docs/architecture.md#batches), each account
    still names the first record that uses it, as when written one event at a time."""
    _replay(engine, tmp_path)
    one_at_a_time = _accounts(engine)
    batched = make_engine(f"sqlite:///{tmp_path}/batched.db")
    upgrade(batched)
    path = tmp_path / "accounts.yaml"
    with batched.connect() as conn:
        store = DbStore(conn, batch=True)
        result = run_scenario(store, load_scenario(path), str(path), commit_every=100)
        store.commit()
    assert result.failure is None, result.failure
    assert ({p: row[3] for p, row in _accounts(batched).items()}
            == {p: row[3] for p, row in one_at_a_time.items()})
    assert _verify(batched) is None
    batched.dispose()


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_the_issue_a_dp_account_lost_from_its_holders_statement_is_named(engine, tmp_path):
    """Issue 21: `account.holder` set to NULL removed a direct payment account from its
    holder's statement, and `verify` said nothing."""
    _replay(engine, tmp_path)
    assert "holder:H1:dp" in _statement_accounts(engine, "H1")
    _unguarded(engine, "UPDATE account SET holder = NULL WHERE path = 'holder:H1:dp'")
    assert "holder:H1:dp" not in _statement_accounts(engine, "H1")  # what it did
    problem = _verify(engine)
    assert problem is not None and "account holder:H1:dp" in problem, problem


TAMPERING = {
    "a dp account given to another holder": (
        ["UPDATE account SET holder = 'H2' WHERE path = 'holder:H1:dp'"],
        "account holder:H1:dp"),
    "an ISF account's holder removed": (
        ["UPDATE account SET holder = NULL WHERE path = 'isf:H2:SH'"], "account isf:H2:SH"),
    "a holder given to an account of no one": (
        ["UPDATE account SET holder = 'H1' WHERE path = 'council:BCC:funding'"],
        "account council:BCC:funding"),
    "an account made by hand for one person under another's name": (
        ["INSERT INTO account (ledger_id, path, holder) VALUES (1, 'holder:H3:dp', 'H1')"],
        "account holder:H3:dp"),
    "the record that opened an account forgotten": (
        ["UPDATE account SET event_key = NULL WHERE path = 'isf:H2:SH'"],
        "(open-isf): hash chain broken"),
    "an account moved to an earlier record": (
        ["UPDATE account SET event_key = 'pay-h1' WHERE path = 'isf:H2:SH'"],
        "(pay-h1): hash chain broken (its hash does not match its content or the "
        "properties of the accounts it opened: council:BCC:funding, holder:H1:dp, "
        "isf:H2:SH)"),
    "an account naming a record that is not in the chain": (
        ["INSERT INTO account (ledger_id, path, holder, event_key) "
         "VALUES (1, 'external:Ghost', NULL, 'nowhere')"],
        "account external:Ghost names 'nowhere'"),
    "path and holder rewritten together": (
        ["UPDATE account SET path = 'holder:H3:dp', holder = 'H3' "
         "WHERE path = 'holder:H1:dp'"], "payload hash"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_verify_names_a_changed_account_with_the_guards_dropped(engine, tmp_path, case):
    _replay(engine, tmp_path)
    assert _verify(engine) is None
    statements, says = TAMPERING[case]
    _unguarded(engine, *statements)
    problem = _verify(engine)
    assert problem is not None and says in problem, problem


def test_a_record_that_opened_no_account_is_hashed_as_before():
    """Records made before accounts were hashed keep their hashes: a record with no
    accounts is hashed by the old formula, and one with accounts covers their every
    property."""
    fields = (GENESIS_HASH, 1, "k", "dp_payment", "2026-04-01", "p", "{}", "applied", None,
              [["l", "{}"]], [], 2)
    plain = record_hash(*fields)
    assert record_hash(*fields, []) == plain
    opened = record_hash(*fields, [account_properties("holder:H1:dp", "H1")])
    assert opened != plain
    assert record_hash(*fields, [account_properties("holder:H1:dp", None)]) != opened
    assert record_hash(*fields, [account_properties("holder:H2:dp", "H1")]) != opened


# ------------------------------------------------------------------ earlier ledgers
@pytest.fixture(params=["sqlite", "postgres"])
def released(request, tmp_path):
    """A ledger written by the release of 2026-12-06, upgraded by opening it."""
    if request.param == "sqlite":
        copy = tmp_path / "ledger.db"
        shutil.copyfile(RELEASE / "ledger.db", copy)
        url = f"sqlite:///{copy}"
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with empty_database("postgres", tmp_path) as url:
        copy_rows_to_postgres(url, RELEASE / "ledger.db", "0004")
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def test_an_earlier_ledgers_accounts_are_checked_by_the_rule(released):
    with released.connect() as conn:
        names = dict(conn.execute(text("SELECT id, name FROM ledger")).all())
        accounts = conn.execute(text(
            "SELECT path, ledger_id, event_key FROM account WHERE holder IS NOT NULL "
            "ORDER BY id")).all()
    assert accounts and {event_key for _, _, event_key in accounts} == {None}
    for name in names.values():
        assert _verify(released, name) is None, name
    path, ledger_id, _ = accounts[0]
    _unguarded(released, f"UPDATE account SET holder = NULL WHERE path = '{path}' "
                         f"AND ledger_id = {ledger_id}")
    problem = _verify(released, names[ledger_id])
    assert problem is not None and f"account {path}" in problem, problem
