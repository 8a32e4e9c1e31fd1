"""`ledger user list|remove|passwd|roles|sessions` (docs/web.md#managing-sign-ins), on
both engines: what each prints, what each records in the audit chain, and one line with
exit status 2 (nothing written) for an unknown user or a bad role."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from click.testing import CliRunner

from ledger.app import access
from ledger.app.reading import Books
from ledger.cli import cli
from ledger.store import audit
from tests.web.conftest import cheap_hasher

PASSWORD = "correct horse battery"


def run(db: str, *args: str, stdin: str | None = None):
    with mock.patch.object(access, "_hasher", cheap_hasher):
        return CliRunner().invoke(cli, ["user", *args, "--db", db], input=stdin)


def kinds(db: str) -> list[str]:
    books = Books.at(db, "main")
    with books.read() as store:
        found = [r.kind for r in audit.records(store.conn, store.lid)]
    books.dispose()
    return found


@pytest.fixture
def db(db_url):
    for name, roles in (("ann", ["holder:H1"]), ("wbc", ["council:WBC", "auditor"])):
        done = run(db_url, "add", name, *[a for r in roles for a in ("--role", r)],
                   "--password-stdin", stdin=PASSWORD + "\n")
        assert done.exit_code == 0, done.output
    return db_url


def test_list_shows_each_sign_in_with_its_roles_and_open_sessions(db):
    books = Books.at(db, "main", mode="write")
    ann = access.sign_in_named(books, "ann")
    access.start_session(books, ann.id)
    access.start_session(books, ann.id)
    books.dispose()
    done = run(db, "list", "--format", "json")
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)
    assert [(u["username"], u["roles"], u["open_sessions"]) for u in found] == [
        ("ann", ["holder:H1"], 2), ("wbc", ["auditor", "council:WBC"], 0)]
    assert found[0]["id"] < found[1]["id"]
    table = run(db, "list").output
    assert "ann" in table and "holder:H1" in table and "auditor council:WBC" in table


def test_remove_ends_sessions_and_the_sign_in_is_gone(db):
    books = Books.at(db, "main", mode="write")
    access.start_session(books, access.sign_in_named(books, "ann").id)
    done = run(db, "remove", "ann")
    assert done.exit_code == 0 and done.output == "removed ann; 1 session ended\n"
    assert [u.username for u, _ in access.sign_ins(books)] == ["wbc"]
    assert access.sign_in(books, "ann", PASSWORD, "127.0.0.1") is None
    assert kinds(db)[-2:] == ["session_ended", "user_removed"]
    books.dispose()


def test_ids_are_never_reused_after_a_removal(db):
    books = Books.at(db, "main", mode="write")
    before = {u.username: u.id for u, _ in access.sign_ins(books)}
    assert run(db, "remove", "wbc").exit_code == 0
    assert run(db, "add", "wbc", "--role", "holder:H2", "--password-stdin",
               stdin=PASSWORD + "\n").exit_code == 0
    after = {u.username: u.id for u, _ in access.sign_ins(books)}
    assert after["wbc"] > max(before.values())
    assert access.sign_in_named(books, "wbc").roles == frozenset({"holder:H2"})
    books.dispose()


def test_passwd_sets_a_new_password(db):
    done = run(db, "passwd", "ann", "--password-stdin", stdin="a new long passphrase\n")
    assert done.exit_code == 0, done.output
    assert done.output == "password set for ann; 0 sessions ended\n"
    books = Books.at(db, "main", mode="write")
    with mock.patch.object(access, "_hasher", cheap_hasher):
        assert access.sign_in(books, "ann", PASSWORD, "127.0.0.1") is None
        assert access.sign_in(books, "ann", "a new long passphrase", "127.0.0.1")
    books.dispose()
    assert kinds(db)[-1] == "password_set"


def test_roles_add_and_remove_make_a_new_record(db):
    done = run(db, "roles", "ann", "--add", "pool:P1", "--add", "holder:H9",
               "--remove", "holder:H1")
    assert done.exit_code == 0, done.output
    assert done.output == "ann: holder:H9, pool:P1; 0 sessions ended\n"
    books = Books.at(db, "main")
    with books.read() as store:
        last = list(audit.records(store.conn, store.lid))[-1]
        first = next(audit.records(store.conn, store.lid, kinds=["user_added"], key="ann"))
    books.dispose()
    assert last.kind == "roles_set" and last.body["roles"] == ["holder:H9", "pool:P1"]
    assert first.body["roles"] == ["holder:H1"]  # the record it was made with stays


def test_sessions_lists_and_revoke_ends_them_all(db):
    books = Books.at(db, "main", mode="write")
    uid = access.sign_in_named(books, "ann").id
    tokens = [access.start_session(books, uid) for _ in range(3)]
    listed = run(db, "sessions", "ann")
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 3
    done = run(db, "sessions", "ann", "--revoke")
    assert done.exit_code == 0 and done.output.splitlines()[-1] == "ann: 3 sessions ended"
    assert all(access.session_user(books, t) is None for t in tokens)
    assert run(db, "sessions", "ann").output == "ann has no open session\n"
    books.dispose()


@pytest.mark.parametrize("args", [
    ("remove", "nobody"),
    ("passwd", "nobody", "--password-stdin"),
    ("roles", "nobody", "--add", "auditor"),
    ("sessions", "nobody"),
    ("sessions", "nobody", "--revoke"),
    ("roles", "ann", "--add", "boss"),
    ("roles", "ann", "--remove", "auditor"),
    ("roles", "ann", "--remove", "holder:H1"),
    ("roles", "ann"),
    ("roles", "ann", "--add", "holder:H1", "--remove", "holder:H1"),  # which was meant?
    ("passwd", "ann", "--password-stdin"),  # too short
])
def test_a_mistake_is_one_line_exit_2_and_nothing_recorded(db, args):
    before = kinds(db)
    with mock.patch.object(access, "_hasher", cheap_hasher):
        done = CliRunner().invoke(cli, ["user", *args, "--db", db], input="short\n",
                                  standalone_mode=False)
    from ledger.errors import UsageError  # what `ledger` prints as one line, exit 2

    assert isinstance(done.exception, UsageError), done.output
    assert len(str(done.exception).splitlines()) == 1
    assert kinds(db) == before


def test_an_unknown_user_through_the_console_script(db, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                           "user", "remove", "nobody", "--db", db],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "error: there is no sign-in 'nobody' in this ledger\n"
    assert done.stdout == ""
