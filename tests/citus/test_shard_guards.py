"""The guards on a Citus cluster (docs/scaling.md): every guard runs on the shard that
holds the rows, so a statement through the coordinator and a statement sent to a
worker's shard directly are refused alike, with the message naming the table (not the
shard); what no guard can stop on a worker (a journal forged with every guard satisfied,
a shard emptied by TRUNCATE, which Citus guards on the coordinator only) is caught by
`ledger verify`.

The books are made once for the module by the writer's own path (the scenario runner),
in three ledgers of one distributed schema: `guarded` is only ever refused, `forged`
gets a forged journal, `emptied` has its posting shard truncated. The module keeps to
one pytest-xdist worker and the truncation comes last: a shard holds every ledger that
hashes to it, so emptying it empties any of the others beside `emptied` too."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url, text

from ledger.app.scenarios import run_files
from ledger.core.amounts import Unit
from ledger.core.journal import Journal, transfer
from ledger.store.chain import journal_link
from ledger.store.schema import make_engine
from tests.dbutil import empty_database

pytestmark = pytest.mark.xdist_group("citus_shard_guards")

LEDGER = str(Path(sys.executable).with_name("ledger"))
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "surrey-advocacy-grant.yaml"
LEDGERS = ("guarded", "forged", "emptied")
# Any statement that would need more than one shard fails (citus-context: the detector):
# every `ledger` command here must stay on its ledger's shard.
ONE_SHARD = "%20-ccitus.multi_task_query_log_level%3Derror"


def _rows(table: str) -> str:
    return f"ledger:append_only: {table} rows cannot be changed or deleted"


def _ledger(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LEDGER, *args], capture_output=True, text=True)


@dataclass(frozen=True)
class Books:
    url: str  # the distributed schema, through the coordinator
    ids: dict[str, int]  # ledger name -> id

    def worker(self, name: str) -> psycopg.Connection:
        """A connection straight to the worker that holds ledger `name`'s shards, in the
        same database and schema (autocommit off: the caller commits)."""
        engine = make_engine(self.url)
        with engine.connect() as conn:
            host, port = conn.execute(text(
                "SELECT nodename, nodeport FROM pg_dist_shard_placement WHERE shardid = "
                "get_shard_id_for_distribution_column('ledger', :id)"),
                {"id": self.ids[name]}).one()
        engine.dispose()
        url = make_url(self.url).set(drivername="postgresql", host=host, port=port)
        return psycopg.connect(url.render_as_string(hide_password=False))

    def shard(self, conn: psycopg.Connection, table: str, name: str) -> str:
        """The shard of `table` holding ledger `name`, as the worker names it."""
        found = conn.execute(
            "SELECT shard_name(%s::regclass, get_shard_id_for_distribution_column(%s, %s))",
            (table, table, self.ids[name])).fetchone()
        assert found is not None
        return str(found[0]).rsplit(".", 1)[-1]

    def verify(self, name: str) -> subprocess.CompletedProcess:
        return _ledger("verify", "--db", self.url + ONE_SHARD, "--ledger", name)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> Iterator[Books]:
    with empty_database("citus", tmp_path_factory.mktemp("shard_guards")) as url:
        for name in LEDGERS:
            (run,) = run_files(url + ONE_SHARD, name, [SCENARIO])
            assert run.failure is None, run.failure
        engine = make_engine(url)
        with engine.connect() as conn:
            ids = dict(conn.execute(text("SELECT name, ledger_id FROM ledger_name")).all())
        engine.dispose()
        yield Books(url, {name: int(ids[name]) for name in LEDGERS})


def _refused(connect, statement: str) -> str:
    """The first line of the error `statement` raises; the transaction is rolled back."""
    with connect() as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(statement)
        conn.rollback()
    return str(raised.value).splitlines()[0]


def _coordinator(books: Books):
    url = make_url(books.url).set(drivername="postgresql")
    return lambda: psycopg.connect(url.render_as_string(hide_password=False))


# Through the coordinator: (table, statement, the exact refusal). A balance's amount is
# the seal's to move (verify checks it against the postings); its key is never changed.
COORDINATOR = [
    ("posting", "UPDATE posting SET amount_minor = amount_minor + 1 WHERE ledger_id = {id}",
     _rows("posting")),
    ("posting", "DELETE FROM posting WHERE ledger_id = {id}", _rows("posting")),
    ("posting", "TRUNCATE posting", _rows("posting")),
    ("journal", "UPDATE journal SET memo = '{{}}' WHERE ledger_id = {id}",
     "ledger:append_only: a posted journal cannot be changed"),
    ("journal", "DELETE FROM journal WHERE ledger_id = {id}", _rows("journal")),
    ("journal", "TRUNCATE journal CASCADE", _rows("journal")),
    ("event", "UPDATE event SET outcome = 'applied' WHERE ledger_id = {id}", _rows("event")),
    ("event", "DELETE FROM event WHERE ledger_id = {id}", _rows("event")),
    ("event", "TRUNCATE event", _rows("event")),
    ("account", "UPDATE account SET holder = 'H9' WHERE ledger_id = {id}", _rows("account")),
    ("account", "DELETE FROM account WHERE ledger_id = {id}", _rows("account")),
    ("account", "TRUNCATE account CASCADE", _rows("account")),
    ("balance", "UPDATE balance SET unit = 'HRS' WHERE ledger_id = {id}",
     "ledger:append_only: a balance belongs to one account and unit"),
    ("balance", "DELETE FROM balance WHERE ledger_id = {id}", _rows("balance")),
    ("balance", "TRUNCATE balance", _rows("balance")),
]


@pytest.mark.parametrize(("table", "statement", "refusal"), COORDINATOR,
                         ids=[s.split(" ")[0] + "-" + t for t, s, _ in COORDINATOR])
def test_the_coordinator_refuses_changes_naming_the_table(books, table, statement, refusal):
    assert _refused(_coordinator(books), statement.format(id=books.ids["guarded"])) == refusal


# On the worker, naming the shard itself: (table, statement on {shard}, the exact refusal).
ON_WORKER = [
    ("posting", "UPDATE {shard} SET amount_minor = amount_minor * 2 WHERE ledger_id = {id}",
     _rows("posting")),
    ("posting", "DELETE FROM {shard} WHERE ledger_id = {id}", _rows("posting")),
    ("journal", "UPDATE {shard} SET memo = '{{\"payee\": \"Casino\"}}' WHERE ledger_id = {id}",
     "ledger:append_only: a posted journal cannot be changed"),
    ("journal", "DELETE FROM {shard} WHERE ledger_id = {id}", _rows("journal")),
    ("event", "UPDATE {shard} SET outcome = 'applied' WHERE ledger_id = {id}",
     _rows("event")),
    ("event", "DELETE FROM {shard} WHERE ledger_id = {id}", _rows("event")),
]


@pytest.mark.parametrize(("table", "statement", "refusal"), ON_WORKER,
                         ids=[s.split(" ")[0] + "-" + t for t, s, _ in ON_WORKER])
def test_the_worker_refuses_changes_to_its_shard(books, table, statement, refusal):
    with books.worker("guarded") as conn:
        shard = books.shard(conn, table, "guarded")
    assert shard.startswith(f"{table}_") and shard != table
    assert _refused(lambda: books.worker("guarded"),
                    statement.format(shard=shard, id=books.ids["guarded"])) == refusal


def test_a_posting_forged_into_a_posted_journal_on_the_worker_is_refused(books):
    lid = books.ids["guarded"]
    with books.worker("guarded") as conn:
        posting = books.shard(conn, "posting", "guarded")
        journal, account, unit, day = conn.execute(
            f"SELECT journal_id, account_id, unit, date FROM {posting} WHERE ledger_id = %s "
            "ORDER BY id DESC LIMIT 1", (lid,)).fetchone() or (None,) * 4
    assert journal is not None
    assert _refused(lambda: books.worker("guarded"),
                    f"INSERT INTO {posting} (ledger_id, id, journal_id, account_id, unit, "
                    f"amount_minor, date) VALUES ({lid}, 900000001, {journal}, {account}, "
                    f"'{unit}', 100, '{day}')") \
        == "ledger:append_only: postings can only be added to a draft journal"


def test_a_posting_dated_unlike_its_draft_journal_is_refused(books):
    """The posting guard's date check, which joins no distributed table to the new rows
    (revision 0010: Citus cannot plan such a join), still refuses a posting whose date
    is not its journal's, through the coordinator."""
    lid = books.ids["guarded"]
    with _coordinator(books)() as conn:
        found = conn.execute("SELECT id FROM account WHERE ledger_id = %s ORDER BY id LIMIT 1",
                             (lid,)).fetchone()
        assert found is not None
        (journal,) = conn.execute(
            "INSERT INTO journal (ledger_id, key, type, date, event_key, payload_hash, memo, "
            "status, prev_hash, hash) VALUES (%s, 'late', 'grant', '2027-02-01', 'late', "
            "'x', '{}', 'draft', 'x', 'x') RETURNING id", (lid,)).fetchone() or (None,)
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(
                "INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, "
                "date) VALUES (%s, %s, %s, 'GBP', 1, '2027-02-02')", (lid, journal, found[0]))
        conn.rollback()
    assert str(raised.value).splitlines()[0] == (
        "ledger:invalid: a posting carries its journal's date and ledger")


def test_the_refused_changes_left_the_books_as_they_were(books):
    done = books.verify("guarded")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verify: every invariant holds" in done.stdout


def test_a_journal_forged_on_the_worker_past_every_guard_is_caught_by_verify(books):
    """A draft journal whose link follows the chain, its balanced postings, then sealed:
    each guard on the shard is satisfied, as on one server, and only verify (which
    replays the recorded events) finds a journal no event made."""
    lid = books.ids["forged"]
    assert books.verify("forged").returncode == 0
    with books.worker("forged") as conn:
        journal = books.shard(conn, "journal", "forged")
        posting = books.shard(conn, "posting", "forged")
        account = books.shard(conn, "account", "forged")
        last_id, last_hash = conn.execute(
            f"SELECT id, hash FROM {journal} WHERE ledger_id = %s ORDER BY id DESC LIMIT 1",
            (lid,)).fetchone() or (0, "")
        ids = dict(conn.execute(f"SELECT path, id FROM {account} WHERE ledger_id = %s",
                                (lid,)).fetchall())
        invented = Journal("invented", "grant", dt.date(2027, 1, 4),
                           tuple(transfer("council:SCC:funding", "provider:SDPP:income",
                                          Unit.GBP, 999)), "invented")
        payload = invented.payload_hash()
        link = journal_link(last_hash, "invented", payload, "invented")
        forged_id = last_id + 1000
        conn.execute(
            f"INSERT INTO {journal} (ledger_id, id, key, type, date, event_key, payload_hash, "
            "memo, status, prev_hash, hash) VALUES (%s, %s, 'invented', 'grant', '2027-01-04', "
            "'invented', %s, '{}', 'draft', %s, %s)", (lid, forged_id, payload, last_hash, link))
        conn.execute(
            f"INSERT INTO {posting} (ledger_id, id, journal_id, account_id, unit, amount_minor,"
            " date) VALUES (%s, 900000011, %s, %s, 'GBP', -999, '2027-01-04'), "
            "(%s, 900000012, %s, %s, 'GBP', 999, '2027-01-04')",
            (lid, forged_id, ids["council:SCC:funding"], lid, forged_id,
             ids["provider:SDPP:income"]))
        conn.execute(f"UPDATE {journal} SET status = 'posted' WHERE ledger_id = %s AND id = %s",
                     (lid, forged_id))
        conn.commit()  # every guard on the shard let it through
    done = books.verify("forged")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ("verify failed: journals of 'invented' belong to no record in the "
                           "chain\n")


def test_a_shard_truncated_on_its_worker_is_caught_by_verify(books):
    """Citus keeps the TRUNCATE guards on the coordinator's tables only (a shard has no
    TRUNCATE trigger). On the worker Citus itself refuses to truncate a shard, unless the
    session turns `citus.enable_manual_changes_to_shards` on (a superuser can); then the
    shard empties and verify finds journals with no postings. Last in the module: it
    empties every ledger on that shard."""
    assert books.verify("emptied").returncode == 0
    with books.worker("emptied") as conn:
        posting = books.shard(conn, "posting", "emptied")
    assert _refused(lambda: books.worker("emptied"), f"TRUNCATE {posting}") \
        == f'cannot modify "{posting}" because it is a shard of a distributed table'
    with books.worker("emptied") as conn:
        conn.execute("SET citus.enable_manual_changes_to_shards = on")
        conn.execute(f"TRUNCATE {posting}")
        conn.commit()
        left = conn.execute(f"SELECT count(*) FROM {posting}").fetchone()
    assert left == (0,)
    done = books.verify("emptied")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.fullmatch(r"verify failed: journal \d+ \(social-care-apr\) has no postings\n",
                        done.stderr), done.stderr
