"""The audit chain (docs/rules-trust.md#audit-chain), on both engines: records are
chained apart from the books, the guards refuse every raw change to them (UPDATE,
DELETE, TRUNCATE on PostgreSQL, an insert that does not continue the chain), and with
the guards dropped `verify` names the break. Appending never moves the books' head."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.app import access
from ledger.app.reading import Books
from ledger.app.verify import verify
from ledger.store import audit
from ledger.store.citus import is_distributed
from ledger.store.repo import DbStore
from tests.citus.shards import on_citus, switch_shard_triggers
from tests.dbutil import is_citus
from tests.web.conftest import cheap_hasher

PASSWORD = "correct horse battery"


@pytest.fixture
def books(db_url):
    """A ledger with books (one scenario) and sign-ins: an auditor, a holder who signed
    in once and whose roles changed, and a sign-in since removed."""
    from click.testing import CliRunner

    from ledger.cli import cli

    done = CliRunner().invoke(cli, ["scenario", "run", str(_SCENARIO), "--db", db_url],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    found = Books.at(db_url, "main", mode="write")
    with mock.patch.object(access, "_hasher", cheap_hasher):
        access.add_sign_in(found, "audit", PASSWORD, ["auditor"])
        access.add_sign_in(found, "ann", PASSWORD, ["holder:H1"])
        access.add_sign_in(found, "gone", PASSWORD, ["holder:H1"])
    access.remove_sign_in(found, "gone")
    user = access.sign_in(found, "ann", PASSWORD, "127.0.0.1")
    token = access.start_session(found, user.id)
    access.set_roles(found, "ann", add=["pool:P"], remove=[])
    access.end_session(found, token)
    yield found
    found.dispose()


_SCENARIO = __import__("pathlib").Path(__file__).parents[2] / "scenarios" / "dp-holder.yaml"


def _raw(books, sql: str, **values) -> None:
    with books.engine.begin() as conn:
        conn.execute(text(sql), values)


def _drop_guards(books) -> None:
    with books.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in ("audit_record_no_update", "audit_record_no_delete",
                         "audit_record_continues"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        elif not is_distributed(conn):
            conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER USER"))
    if books.engine.dialect.name == "postgresql" and on_citus(books.engine):
        switch_shard_triggers(books.engine, ["audit_record"], "DISABLE TRIGGER USER")


def _verified(books):
    return verify(books.url, "main")


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_records_are_chained_and_verify_says_so_on_a_line_of_its_own(books):
    with books.read() as store:
        found = list(audit.records(store.conn, store.lid))
        assert audit.verify_chain(store.conn, store.lid) == []
    assert [r.seq for r in found] == list(range(1, len(found) + 1))
    # A role change is a new record, and it ends the session at once (signing out
    # afterwards finds nothing open to end).
    assert [r.kind for r in found] == ["user_added", "user_added", "user_added",
                                       "user_removed", "session_started", "session_ended",
                                       "roles_set"]
    assert found[6].body["roles"] == ["holder:H1", "pool:P"]
    assert found[5].body["why"] == "roles changed"
    assert all(b.prev_hash == a.hash for a, b in zip(found, found[1:], strict=False))
    done = _verified(books)
    assert done.ok
    lines = [line for _, line in done.lines]
    assert lines[-1].startswith("head: ")
    assert lines[-2] == f"audit: {len(found)} records, head {len(found)}:{found[-1].hash}"


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_appending_never_moves_the_books_head(books):
    before = [line for _, line in _verified(books).lines][-1]
    with books.engine.connect() as conn:
        ledger_row = conn.execute(text("SELECT event_seq, event_hash, journal_hash FROM ledger"
                                       )).one()
    with books.begin() as store:
        for n in range(5):
            audit.append(store.conn, store.lid, audit.READ, key="holder:H1",
                         body={"via": "cli", "reader": "someone", "n": n})
    with books.engine.connect() as conn:
        assert conn.execute(text("SELECT event_seq, event_hash, journal_hash FROM ledger")
                            ).one() == ledger_row
    after = [line for _, line in _verified(books).lines]
    assert after[-1] == before
    assert after[-2].startswith("audit: ")


@pytest.mark.parametrize("sql", [
    "UPDATE audit_record SET body = replace(body, 'holder:H1', 'auditor') WHERE seq = 2",
    "UPDATE audit_record SET user_id = 1 WHERE kind = 'roles_set'",
    "DELETE FROM audit_record WHERE kind = 'session_ended'",
    "DELETE FROM audit_record WHERE kind = 'user_removed'",
])
def test_update_and_delete_are_refused(books, sql):
    with pytest.raises(DBAPIError, match="append_only"):
        _raw(books, sql)


def test_truncate_is_refused_on_postgresql(books):
    if books.engine.dialect.name != "postgresql":
        with pytest.raises(DBAPIError, match="append_only"):  # SQLite's TRUNCATE is DELETE
            _raw(books, "DELETE FROM audit_record")
        return
    with pytest.raises(DBAPIError, match="append_only"):
        _raw(books, "TRUNCATE audit_record")


def _forge(books, seq_offset: int = 1, prev: str | None = None, **fields) -> None:
    with books.engine.connect() as conn:
        last = conn.execute(text("SELECT seq, hash, ledger_id FROM audit_record "
                                 "ORDER BY seq DESC LIMIT 1")).one()
    values = {"ledger_id": last.ledger_id, "seq": last.seq + seq_offset,
              "at": dt.datetime(2026, 12, 6, 12), "kind": "roles_set", "user_id": 2,
              "key": None, "body": '{"roles":["auditor"]}',
              "prev_hash": last.hash if prev is None else prev, "hash": "f" * 64}
    values.update(fields)
    _raw(books, "INSERT INTO audit_record (ledger_id, seq, at, kind, user_id, key, body, "
                "prev_hash, hash) VALUES (:ledger_id, :seq, :at, :kind, :user_id, :key, "
                ":body, :prev_hash, :hash)", **values)


@pytest.mark.parametrize("forgery", [
    {"seq_offset": 0},  # a record in another's place
    {"seq_offset": 2},  # a gap
    {"prev": "0" * 64},  # a fork from the start
    {"ledger_id": 999},  # no such ledger (continuing the chain of nothing)
])
def test_an_insert_that_does_not_continue_the_chain_is_refused(books, forgery):
    if forgery.get("ledger_id") == 999:
        forgery = {"ledger_id": 999, "seq_offset": 0, "prev": "0" * 64}
        with books.engine.connect() as conn:
            forgery["seq_offset"] = 1 - conn.execute(text(
                "SELECT MAX(seq) FROM audit_record")).scalar_one()
    with pytest.raises(DBAPIError, match="ledger:"):
        _forge(books, **forgery)


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_a_new_sign_in_with_someone_elses_id_is_refused(books):
    with pytest.raises(DBAPIError, match="invalid"):
        _forge(books, kind="user_added", user_id=1, key="mallory",
               body='{"username":"mallory","password_hash":"x","roles":["auditor"]}')


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_record SET body = replace(body, 'holder:H1', 'auditor') WHERE seq = 2",
    "UPDATE audit_record SET user_id = 1 WHERE kind = 'roles_set'",
    "UPDATE audit_record SET at = '2026-01-01 00:00:00' WHERE seq = 1",
    "DELETE FROM audit_record WHERE kind = 'session_ended'",
    "DELETE FROM audit_record WHERE seq = 1",
    "forge",
    "forge-user",
])
def test_with_the_guards_dropped_verify_names_the_break(books, tamper):
    assert _verified(books).ok
    _drop_guards(books)
    if tamper == "forge":  # continues the chain, but its hash is not the record's
        _forge(books)
    elif tamper == "forge-user":  # a sign-in with an offline hash, linked but not hashed
        _forge(books, kind="user_added", user_id=None, key="mallory",
               body='{"username":"mallory","password_hash":"x","roles":["auditor"]}')
    else:
        _raw(books, tamper)
    done = _verified(books)
    assert not done.ok
    assert "audit" in done.problem, done.problem
    assert [line for err, line in done.lines if err][0].startswith("verify failed: audit")


def test_a_correctly_hashed_record_that_makes_no_sense_is_caught(books):
    """Roles for a sign-in that does not exist: linked and hashed, still a break."""
    _drop_guards(books)
    with books.begin() as store:
        audit.append(store.conn, store.lid, "roles_set", user_id=4242,
                     body={"roles": ["auditor"]})
    done = _verified(books)
    assert not done.ok and "sign-in 4242 does not exist" in done.problem


@pytest.mark.parametrize(("withdrawn", "problem"), [
    ("never made", "it withdraws an invitation that was never made"),
    ("used", "it withdraws an invitation already used or withdrawn"),
])
def test_withdrawing_an_invitation_that_was_never_open_is_caught(books, withdrawn, problem):
    """Only an invitation made and neither used nor withdrawn can be withdrawn."""
    from ledger.app import access

    with books.begin() as store:
        key = "f" * 64
        if withdrawn == "used":
            token = access.create_invite(store.conn, store.lid, ["holder:H1"], None,
                                         access.now())
            key = access._digest(token)
            audit.append(store.conn, store.lid, audit.INVITE_WITHDRAWN, key=key, body={})
        audit.append(store.conn, store.lid, audit.INVITE_WITHDRAWN, key=key, body={})
    done = _verified(books)
    assert not done.ok and problem in done.problem


@pytest.mark.citus  # one case of this guard on Citus (CI time)
def test_two_ledgers_have_chains_of_their_own(books):
    other = Books.at(books.url, "other", mode="write")
    with other.engine.connect() as conn:
        DbStore(conn, "other").lock_for_write()
        conn.commit()
    with mock.patch.object(access, "_hasher", cheap_hasher):
        access.add_sign_in(other, "ann", PASSWORD, ["auditor"])
    with other.read() as store:
        mine = list(audit.records(store.conn, store.lid))
    assert [r.seq for r in mine] == [1]
    assert verify(books.url).ok
    other.dispose()


def test_sign_ins_made_before_the_audit_chain_become_its_records(db_url):
    """Revision 0007 carries every sign-in, its roles and every invitation into records,
    in the order they happened; the passwords still work, an unused invitation still
    opens, a used one stays used, and verify passes. Going back restores the tables."""
    if is_citus(db_url):
        pytest.skip("a migration test: a Citus schema is made at the newest revision")
    from alembic import command

    from ledger.store.schema import alembic_config, make_engine

    def migrate(engine, fn, revision):
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            fn(cfg, revision)

    engine = make_engine(db_url)
    migrate(engine, command.upgrade, "0006")
    hashed = cheap_hasher().hash(PASSWORD)
    day = dt.datetime(2026, 11, 30, 9)
    with engine.begin() as conn:
        lid = conn.execute(text("SELECT id FROM ledger WHERE name = 'main'")).scalar_one()
        # The inviter is an auditor: an invitation opens only while its maker could
        # still give its roles (docs/web.md#invitations), and this ledger records no H1.
        for uid, name, roles, at in ((7, "wbc", ["auditor"], day),
                                     (9, "ann", ["holder:H1", "pool:P"], day.replace(hour=11))):
            conn.execute(text("INSERT INTO web_user (id, ledger_id, username, password_hash, "
                              "created_at) VALUES (:i, :l, :u, :p, :a)"),
                         {"i": uid, "l": lid, "u": name, "p": hashed, "a": at})
            for role in roles:
                conn.execute(text("INSERT INTO web_role (user_id, role) VALUES (:i, :r)"),
                             {"i": uid, "r": role})
        for token, used in (("used-token", day.replace(hour=11)), ("open-token", None)):
            conn.execute(text(
                "INSERT INTO web_invite (ledger_id, token_sha256, roles, created_by, "
                "created_at, expires_at, used_at) VALUES (:l, :t, :r, 7, :c, :e, :u)"),
                {"l": lid, "t": access._digest(token), "r": '["holder:H1", "pool:P"]',
                 "c": day.replace(hour=10), "e": dt.datetime(2099, 1, 1), "u": used})
    migrate(engine, command.upgrade, "head")
    books = Books.at(db_url, "main", mode="write")
    with books.read() as store:
        found = list(audit.records(store.conn, store.lid))
    assert [(r.kind, r.key) for r in found] == [
        ("user_added", "wbc"), ("invite_created", access._digest("used-token")),
        ("invite_created", access._digest("open-token")), ("user_added", "ann"),
        ("invite_used", access._digest("used-token"))]
    assert found[1].user_id == found[0].id  # made by wbc, under its new id
    with mock.patch.object(access, "_hasher", cheap_hasher):
        ann = access.sign_in(books, "ann", PASSWORD, "127.0.0.1")
    assert ann.roles == frozenset({"holder:H1", "pool:P"})
    assert access.invitation(books, "open-token") == ["holder:H1", "pool:P"]
    assert access.invitation(books, "used-token") is None
    assert verify(db_url).ok
    books.dispose()
    migrate(engine, command.downgrade, "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT username FROM web_user ORDER BY id")).scalars().all(
            ) == ["wbc", "ann"]
        assert conn.execute(text("SELECT count(*) FROM web_invite WHERE used_at IS NULL")
                            ).scalar_one() == 1
    engine.dispose()


def test_on_postgresql_an_append_never_waits_for_a_books_writer(tmp_path):
    """A books writer holds its ledger's row (FOR UPDATE) for a whole batch. The audit
    chain takes a lock of its own and has no foreign key to that row, so signing in or
    recording a read goes on meanwhile (on SQLite there is one writer at a time anyway:
    docs/reliability.md#audit-log)."""
    import threading

    from tests.dbutil import empty_database

    with empty_database("postgres", tmp_path) as url:
        books = Books.at(url, "main", mode="write")
        with books.engine.connect() as conn:
            DbStore(conn, "main").lock_for_write()
            conn.commit()
        holding, release, let_go = threading.Event(), threading.Event(), threading.Event()

        def books_writer():
            with books.engine.connect() as conn:
                DbStore(conn, "main").lock_for_write()  # SELECT ... FOR UPDATE
                holding.set()
                release.wait(60)
                conn.rollback()
                let_go.set()

        thread = threading.Thread(target=books_writer)
        thread.start()
        try:
            assert holding.wait(60)
            with books.begin() as store:
                audit.append(store.conn, store.lid, audit.READ, key="holder:H1",
                             body={"via": "test"})
            # The books writer lets go only when told (below) or after a minute: an append
            # that waited for it could only end after it let go. Whatever the machine's
            # load, no clock is read.
            assert not let_go.is_set(), "the append waited for the books writer"
        finally:
            release.set()
            thread.join()
        books.dispose()


def test_a_removed_newest_record_is_caught_by_the_kept_audit_head(books):
    """Deleting the newest record (here a removal, which would bring the sign-in back)
    leaves a shorter chain that is valid in itself: the `audit:` line kept from an
    earlier verify is what shows it, through --expect-audit-head, at the command line."""
    from click.testing import CliRunner

    from ledger.cli import cli

    access.remove_sign_in(books, "audit")
    line = [text_ for _, text_ in _verified(books).lines if text_.startswith("audit: ")][0]
    kept = line.rsplit(" ", 1)[1]
    held = CliRunner().invoke(cli, ["verify", "--db", books.url, "--expect-audit-head", kept])
    assert held.exit_code == 0, held.output
    assert "audit head" in held.output and "still held; 0 records added since" in held.output
    _drop_guards(books)
    _raw(books, "DELETE FROM audit_record WHERE kind = 'user_removed' AND key = 'audit'")
    assert _verified(books).ok  # a valid chain, one record shorter
    assert access.sign_in_named(books, "audit")  # the removal is undone
    done = CliRunner().invoke(cli, ["verify", "--db", books.url, "--expect-audit-head", kept])
    assert done.exit_code == 1
    assert "the audit chain no longer holds head" in done.output
    bad = CliRunner().invoke(cli, ["verify", "--db", books.url, "--expect-audit-head", "x"])
    from ledger.errors import UsageError  # one line and exit 2 from `ledger`

    assert isinstance(bad.exception, UsageError)
    assert str(bad.exception).startswith("--expect-audit-head: 'x' is not N:HASH")
