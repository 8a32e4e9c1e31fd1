"""Sessions kept on the server (docs/web.md#sessions), on both engines: a cookie copied
before a sign-out, a removal, a new password or a change of roles stops working at once,
on the very next request; the cookie carries nothing but a random token; a removed
sign-in's id is never given again, so an old cookie can never read as someone new."""

from __future__ import annotations

import itertools
from unittest import mock

import pytest
from click.testing import CliRunner

from ledger.app import access
from ledger.cli import cli
from tests.web.conftest import MONTH, PASSWORD, cheap_hasher, csrf_of

COOKIE = "ledger_session"
PAGE = f"/statements/holder/H1?month={MONTH}"
_names = itertools.count(1)


def fresh_user(site, roles=("holder:H1",)) -> str:
    """A sign-in of this test's own (the shared ledger's users stay as they are)."""
    username = f"sess{next(_names)}-{site.url[:6].strip(':')}"
    with mock.patch.object(access, "_hasher", cheap_hasher):
        access.add_sign_in(site.app.state.web.books, username, PASSWORD, list(roles))
    return username


def copy_of(site, client):
    """Another browser holding a copy of `client`'s cookie."""
    thief = site.client()
    thief.cookies.set(COOKIE, client.cookies[COOKIE])
    return thief


def reads(client) -> bool:
    return client.get(PAGE).status_code == 200


def signed_out(client) -> bool:
    answer = client.get(PAGE)
    return answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def ledger(site, *args: str, stdin: str | None = None):
    with mock.patch.object(access, "_hasher", cheap_hasher):
        return CliRunner().invoke(cli, ["user", *args, "--db", site.url], input=stdin,
                                  catch_exceptions=False)


def test_a_copied_cookie_stops_working_when_its_owner_signs_out(site):
    username = fresh_user(site)
    client = site.sign_in(username)
    thief = copy_of(site, client)
    assert reads(client) and reads(thief)
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert signed_out(thief)
    assert signed_out(client)


@pytest.mark.parametrize("how", ["remove", "passwd", "roles", "revoke"])
def test_a_copied_cookie_stops_working_at_once_when_access_is_taken_away(site, how):
    username = fresh_user(site, roles=("holder:H1", "pool:OUTABOUT"))
    client = site.sign_in(username)
    other = site.sign_in(username)  # a second session of the same sign-in
    thief = copy_of(site, client)
    assert reads(thief) and reads(other)
    if how == "remove":
        done = ledger(site, "remove", username)
    elif how == "passwd":
        done = ledger(site, "passwd", username, "--password-stdin",
                      stdin="another long passphrase\n")
    elif how == "roles":
        done = ledger(site, "roles", username, "--remove", "pool:OUTABOUT")
    else:
        done = ledger(site, "sessions", username, "--revoke")
    assert done.exit_code == 0, done.output
    assert "2 sessions ended" in done.output
    for browser in (client, other, thief):
        assert signed_out(browser)
    if how in ("roles", "revoke"):  # signing in again works, with the roles now held
        again = site.sign_in(username)
        assert reads(again)
    if how == "passwd":
        assert site.login(site.client(), username).status_code == 401
        assert site.login(site.client(), username,
                          password="another long passphrase").status_code == 303
    if how == "remove":
        assert site.login(site.client(), username).status_code == 401


def test_the_cookie_holds_only_a_random_token_and_a_made_up_one_is_signed_out(site):
    import base64
    import json

    from itsdangerous import TimestampSigner

    client = site.sign_in(fresh_user(site))
    payload = client.cookies[COOKIE].rsplit(".", 2)[0]
    data = json.loads(base64.b64decode(payload))
    assert list(data) == ["token"] and len(data["token"]) >= 40
    # A cookie signed with the ledger's own key, naming a session that does not exist.
    forged = TimestampSigner(site.app.state.web.secret).sign(base64.b64encode(
        json.dumps({"token": "x" * 43}).encode())).decode()
    thief = site.client()
    thief.cookies.set(COOKIE, forged)
    assert signed_out(thief)


def test_a_removed_sign_ins_id_is_never_given_again(site):
    username = fresh_user(site, roles=("holder:H1",))
    books = site.app.state.web.books
    client = site.sign_in(username)
    old = access.sign_in_named(books, username).id
    assert ledger(site, "remove", username).exit_code == 0
    with mock.patch.object(access, "_hasher", cheap_hasher):
        new = access.add_sign_in(books, f"{username}-next", PASSWORD, ["auditor"])
        same_name = access.add_sign_in(books, username, PASSWORD, ["auditor"])
    assert new > old and same_name > new
    assert signed_out(client)  # the old cookie never reads as the new auditor
    assert all(u.id != old for u, _ in access.sign_ins(books))


def test_a_session_ends_a_day_after_signing_in(site):
    import datetime as dt

    client = site.sign_in(fresh_user(site))
    assert reads(client)
    later = access.now() + dt.timedelta(days=access.SESSION_DAYS, seconds=1)
    with mock.patch.object(access, "now", lambda: later):
        assert signed_out(client)


def test_csrf_on_a_signed_in_page_still_guards_sign_out(site):
    """The form token comes from the session, not the cookie: another session's token,
    or none, does not sign anyone out."""
    client = site.sign_in(fresh_user(site))
    stranger = site.sign_in(fresh_user(site))
    theirs = csrf_of(stranger.get("/").text)
    assert client.post("/logout", data={"csrf_token": theirs}).status_code == 303
    assert reads(client)
    assert csrf_of(client.get("/").text) != theirs


def test_checking_a_session_never_waits_for_a_writer(site):
    """Every page checks its session on the server; on SQLite that read must not queue
    behind a write (an access-log record, a sign-in, a scenario run holding the lock),
    as it did when the web view's reads began IMMEDIATE (docs/reliability.md#audit-log)."""
    import threading

    from ledger.store import audit

    client = site.sign_in(fresh_user(site))
    token = __import__("json").loads(__import__("base64").b64decode(
        client.cookies[COOKIE].rsplit(".", 2)[0]))["token"]
    books = site.app.state.web.books
    holding, release, let_go = threading.Event(), threading.Event(), threading.Event()

    def writer():
        with books.begin() as store:  # the write lock, held with a record not yet committed
            audit.append(store.conn, store.lid, audit.READ, key="holder:H1",
                         body={"via": "test"})
            holding.set()
            release.wait(60)
        let_go.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(60)
        assert access.session_user(books, token) is not None
        # The writer lets go only when told (below) or after a minute: a check that
        # queued behind it could only end after it let go. No clock is read, so a busy
        # machine cannot fail this, nor a short wait pass it.
        assert not let_go.is_set(), "checking the session waited for the writer"
    finally:
        release.set()
        thread.join()


def test_a_sign_in_removed_after_its_password_was_checked_gets_no_session(site):
    """Removal and sign-in racing: the session is started under the audit lock, only for
    a sign-in still there, so verify never finds a session of a removed sign-in."""
    books = site.app.state.web.books
    username = fresh_user(site)
    with mock.patch.object(access, "_hasher", cheap_hasher):
        user = access.sign_in(books, username, PASSWORD, "127.0.0.1")
    access.remove_sign_in(books, username)
    assert access.start_session(books, user.id) is None
