"""Two-factor sign-in at the command line (docs/web.md#two-factor), on both engines:
`ledger user two-factor U` says whether it is on, `--off` turns it off for someone who
lost their phone (a record; every session ends), and `ledger serve --require-two-factor
council provider auditor` makes a council's right password lead to setting it up, not
to its statements; an unknown role kind is one line, exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from unittest import mock

import httpx
import pyotp
import pytest
from click.testing import CliRunner

from ledger.app import access, two_factor
from ledger.app.reading import Books
from ledger.cli import cli
from ledger.store import audit
from tests.web.conftest import cheap_hasher, csrf_of

PASSWORD = "correct horse battery"
BIN = Path(sys.executable).parent


def run(db: str, *args: str, stdin: str | None = None):
    with mock.patch.object(access, "_hasher", cheap_hasher):
        return CliRunner().invoke(cli, [*args, "--db", db], input=stdin)


@pytest.fixture
def db(db_url):
    for name, role in (("ann", "holder:H1"), ("wbc", "council:WBC")):
        done = run(db_url, "user", "add", name, "--role", role, "--password-stdin",
                   stdin=PASSWORD + "\n")
        assert done.exit_code == 0, done.output
    return db_url


def turn_on(db: str, username: str) -> str:
    books = Books.at(db, "main", mode="write")
    try:
        user = access.sign_in_named(books, username)
        key = two_factor.new_key()
        with mock.patch.object(two_factor, "_recovery_hasher", cheap_hasher):
            assert two_factor.turn_on(books, user, key, pyotp.TOTP(key).now(), "10.0.0.1")
    finally:
        books.dispose()
    return key


def test_an_administrator_turns_it_off_and_every_session_ends(db):
    turn_on(db, "ann")
    books = Books.at(db, "main", mode="write")
    ann = access.sign_in_named(books, "ann")
    tokens = [access.start_session(books, ann.id) for _ in range(2)]
    assert all(access.session_user(books, t) for t in tokens)

    shown = run(db, "user", "two-factor", "ann")
    assert shown.exit_code == 0, shown.output
    assert re.match(r"ann: two-factor sign-in on since \d{4}-\d\d-\d\d \d\d:\d\d UTC; "
                    r"10 recovery codes left", shown.output)

    done = run(db, "user", "two-factor", "ann", "--off")
    assert done.exit_code == 0, done.output
    assert done.output == "two-factor sign-in turned off for ann; 2 sessions ended\n"
    assert not any(access.session_user(books, t) for t in tokens)
    with books.read() as store:
        (removed,) = audit.records(store.conn, store.lid,
                                   kinds=[two_factor.TWO_FACTOR_REMOVED])
        assert removed.user_id == ann.id and removed.body["via"] == "cli"
        assert not two_factor.is_on(store.conn, store.lid, ann.id)
        assert audit.verify_chain(store.conn, store.lid) == []
    books.dispose()
    assert run(db, "user", "two-factor", "ann").output == "ann: two-factor sign-in off\n"


@pytest.mark.parametrize("args, says", [
    (["ann", "--off"], "ann does not have two-factor sign-in on"),
    (["nobody", "--off"], "there is no sign-in 'nobody'"),
    (["nobody"], "there is no sign-in 'nobody'"),
])
def test_a_reset_that_cannot_be_done_is_one_line_and_writes_nothing(db, args, says):
    books = Books.at(db, "main")
    with books.read() as store:
        before = [r.seq for r in audit.records(store.conn, store.lid)]
    done = subprocess.run([str(BIN / "ledger"), "user", "two-factor", *args, "--db", db],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stderr.startswith(f"error: {says}") and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1
    with books.read() as store:
        assert [r.seq for r in audit.records(store.conn, store.lid)] == before
    books.dispose()


@pytest.mark.parametrize("kinds", [["council", "holder:H1"], ["council", "staff"]])
def test_serve_refuses_a_role_kind_it_does_not_know(db, kinds):
    done = subprocess.run([str(BIN / "ledger"), "serve", "--db", db, "--port", "1",
                           "--require-two-factor", *kinds], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done
    assert f"--require-two-factor '{kinds[1]}'" in done.stderr
    assert "Traceback" not in done.stderr and "Serving" not in done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def sign_in(base: str, username: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    form = client.get("/login")
    return client, client.post("/login", data={"username": username, "password": PASSWORD,
                                               "csrf_token": csrf_of(form.text),
                                               "next": "/"})


def test_serve_requires_it_of_the_roles_named(db):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    server = subprocess.Popen(
        [str(BIN / "ledger"), "serve", "--db", db, "--port", str(port),
         "--require-two-factor", "council", "provider", "auditor"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stop = threading.Timer(60, server.kill)
    stop.start()
    try:
        first = server.stdout.readline()
        assert "Serving the web view" in first, (first, server.stderr.read())
        base = f"http://127.0.0.1:{port}"
        council, answer = sign_in(base, "wbc")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/account/two-factor/setup"
        home = council.get("/")
        assert home.status_code == 303 and home.headers["location"].startswith("/login")
        holder, answer = sign_in(base, "ann")  # a holder: not required, straight in
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert holder.get("/").status_code == 200
        council.close()
        holder.close()
    finally:
        stop.cancel()
        server.terminate()
        server.wait(timeout=10)
