"""Sign-in security of `ledger serve` (src/ledger/web/app.py, invites.py and
src/ledger/app/access.py): cookies, CSRF tokens, the sign-in rate limit, redirects after
sign-in, password hashes, invitations, and the headers and markup of every page.

Runs on SQLite and, with LEDGER_TEST_POSTGRES_URL, on PostgreSQL (the `site` fixture).
Each test that signs in or out uses clients of its own, each with its own address.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from ledger.store import models as m
from tests.web.conftest import MONTH, PASSWORD, USERS, cheap_hasher, csrf_of

COOKIE = "ledger_session"


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def set_cookies(response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE + "=")]


def count(site, kind: str) -> int:
    """How many records of `kind` the ledger's audit chain holds."""
    with site.app.state.web.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(m.AuditRecord).where(
            m.AuditRecord.kind == kind)).scalar_one()


def sign_in_hashes(site) -> dict[str, str]:
    """Each sign-in's newest password hash, as its records hold it."""
    from ledger.store import audit

    found = {}
    with site.app.state.web.books.read() as store:
        for r in audit.records(store.conn, store.lid, kinds=["user_added", "password_set"]):
            found[r.key] = r.body["password_hash"]
    return found


def user_id(site, username: str) -> int | None:
    from ledger.app import access

    return next((u.id for u, _ in access.sign_ins(site.app.state.web.books)
                 if u.username == username), None)


def add_user(site, username: str, roles: list[str]) -> None:
    from unittest import mock

    from ledger.app import access

    with mock.patch.object(access, "_hasher", cheap_hasher):
        access.add_sign_in(site.app.state.web.books, username, PASSWORD, roles)


# ---------------------------------------------------------------- the session cookie


def test_session_cookie_is_httponly_and_samesite_lax(site):
    client = site.client()
    form = client.get("/login")
    response = site.login(client, "ann")
    assert response.status_code == 303
    cookies = set_cookies(form) + set_cookies(response)
    assert len(cookies) == 2  # the signed-out session (for its CSRF token), then a new one
    for cookie in cookies:
        flags = [part.strip().lower() for part in cookie.split(";")[1:]]
        assert "httponly" in flags, cookie
        assert "samesite=lax" in flags, cookie
        assert "path=/" in flags, cookie
    assert set_cookies(form)[0].split(";")[0] != set_cookies(response)[0].split(";")[0]


def test_https_only_cookie_is_secure(site):
    from fastapi.testclient import TestClient

    from ledger.web.app import create_app

    app = create_app(site.url, https_only=True)
    try:
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            cookie = set_cookies(client.get("/login"))[0].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    finally:
        app.state.web.engine.dispose()


def test_a_cookie_edited_to_another_user_is_signed_out(site):
    """The cookie carries only the session's random token, signed: changing it (to the
    auditor's user id, as the cookie once held) breaks it."""
    import base64
    import json

    client = site.sign_in("ann")
    value = client.cookies[COOKIE]
    auditor = user_id(site, "audit")
    payload, stamp, signature = value.rsplit(".", 2)
    data = json.loads(base64.b64decode(payload))
    assert list(data) == ["token"]
    data["uid"] = auditor
    forged = base64.b64encode(json.dumps(data).encode()).decode()

    client.cookies.clear()
    client.cookies.set(COOKIE, value)
    assert signed_in(client)  # the cookie as it was still works, set this way
    client.cookies.clear()
    client.cookies.set(COOKIE, f"{forged}.{stamp}.{signature}")
    response = client.get(f"/council/WBC?month={MONTH}")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


# ---------------------------------------------------------------- CSRF


@pytest.mark.parametrize("token", [None, "", "wrong-token", "someone-elses"])
def test_login_without_the_right_csrf_token_fails(site, token):
    client = site.client()
    client.get("/login")  # a session with its own token
    data = {"username": "ann", "password": PASSWORD, "next": "/"}
    if token == "someone-elses":
        data["csrf_token"] = csrf_of(site.client().get("/login").text)
    elif token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert "The form was out of date" in response.text
    assert not signed_in(client)


def test_login_without_any_session_fails(site):
    client = site.client()
    token = csrf_of(site.client().get("/login").text)  # a token, but no cookie for it
    response = client.post("/login", data={"username": "ann", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 400
    assert not signed_in(client)


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_logout_without_the_csrf_token_does_not_sign_out(site, token):
    client = site.sign_in("ann")
    response = client.post("/logout", data={} if token is None else {"csrf_token": token})
    assert response.status_code == 303
    assert signed_in(client)


def test_logout_with_the_csrf_token_signs_out(site):
    client = site.sign_in("ann")
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not signed_in(client)
    assert client.get(f"/statements/holder/H1?month={MONTH}").status_code == 303


# ---------------------------------------------------------------- the rate limit


def test_sixth_attempt_is_refused_even_with_the_right_password(site):
    username = "rate-limited"
    add_user(site, username, ["holder:H1"])
    client = site.client()
    for attempt in range(5):
        response = site.login(client, username, password=f"wrong password {attempt}")
        assert response.status_code == 401, attempt
        assert "do not match" in response.text
        assert not signed_in(client)
    response = site.login(client, username)  # the right password, too late
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert not signed_in(client)
    # The same username from another address: also refused (the limit is per username).
    elsewhere = site.client()
    assert site.login(elsewhere, username).status_code == 429
    assert not signed_in(elsewhere)
    # Another person is not locked out by it, from the same address.
    assert site.login(client, "ann").status_code == 303
    assert signed_in(client)


def test_a_nul_byte_in_a_username_is_a_wrong_password(site):
    """Not a server error (PostgreSQL text cannot hold a NUL byte)."""
    client = site.client()
    response = site.login(client, "ann\x00")
    assert response.status_code == 401, response.status_code
    assert not signed_in(client)


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example",
                                    "//evil.example/statements", "/\\evil.example",
                                    "\\\\evil.example", "http:evil.example",
                                    "javascript:alert(1)", "evil.example"])
def test_no_open_redirect_after_sign_in(site, target):
    client = site.client()
    page = client.get("/login", params={"next": target})
    assert 'name="next" value="/"' in page.text
    response = site.login(client, "ann", next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "/%2F/evil.example",
                                    "/.//evil.example", "/ /evil.example"])
def test_a_path_after_sign_in_stays_on_this_site(site, target):
    """A browser drops tabs and line breaks from a URL; what is left must be this site."""
    client = site.client()
    location = site.login(client, "ann", next=target).headers["location"]
    browser_sees = re.sub(r"[\t\n\r]", "", location)
    assert urlsplit(urljoin("http://testserver/login", browser_sees)).netloc == "testserver"


# ---------------------------------------------------------------- passwords


def test_passwords_are_stored_as_argon2id_hashes_never_in_plain(site):
    hashes = sign_in_hashes(site)
    assert set(hashes) >= set(USERS)
    for name, stored in hashes.items():
        assert stored.startswith("$argon2id$"), name
        assert PASSWORD not in stored


def test_user_add_stores_an_argon2id_hash_made_with_the_apps_own_parameters(site):
    """Through the command line, with the app's own hasher: the password from stdin."""
    from click.testing import CliRunner

    from ledger.cli import cli

    secret = "a different long passphrase"
    result = CliRunner().invoke(cli, ["user", "add", "cli-made", "--role", "holder:H4",
                                      "--password-stdin", "--db", site.url],
                                input=secret + "\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    stored = sign_in_hashes(site)["cli-made"]
    assert stored.startswith("$argon2id$v=19$")
    assert secret not in stored
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2  # OWASP's least, or more
    client = site.client()
    assert site.login(client, "cli-made", password=secret).status_code == 303
    assert "Dev Example" in client.get(f"/statements/holder/H4?month={MONTH}").text


# ---------------------------------------------------------------- invitations


@pytest.fixture
def cheap_hashing(monkeypatch):
    """Sign-ins made by accepting an invitation hashed at Argon2id's lowest cost, for
    speed (the app's own parameters: test_user_add_stores_an_argon2id_hash_...)."""
    from ledger.app import access

    monkeypatch.setattr(access, "_hasher", cheap_hasher)


def make_invite(client, role: str):
    token = csrf_of(client.get("/invite").text)
    return client.post("/invite", data={"role": role, "csrf_token": token})


def invite_path(response) -> str:
    found = re.search(r'href="http://testserver(/invite/[A-Za-z0-9_-]+)"', response.text)
    assert found, response.text
    return found.group(1)


def accept(site, path: str, username: str, password: str = PASSWORD, again: str | None = None):
    """A new visitor opens the link and fills in the form (with a good CSRF token even
    when the link shows no form)."""
    client = site.client()
    form = client.get(path)
    token = csrf_of(form.text if form.status_code == 200 else client.get("/login").text)
    response = client.post(path, data={"username": username, "password": password,
                                       "password_again": password if again is None else again,
                                       "csrf_token": token})
    return client, form, response


def user_exists(site, username: str) -> bool:
    return user_id(site, username) is not None


@pytest.mark.usefixtures("cheap_hashing")
def test_an_invitation_works_once(site):
    council = site.sign_in("wbc")
    made = make_invite(council, "holder:H2")
    assert made.status_code == 200
    assert "It works once, for 14 days" in made.text
    path = invite_path(made)

    client, form, response = accept(site, path, "bob-h2")
    assert form.status_code == 200 and "Make your sign-in" in form.text
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "Statement for Bob Example" in client.get(f"/statements/holder/H2?month={MONTH}").text
    assert client.get(f"/statements/holder/H1?month={MONTH}").status_code == 404

    again, form, response = accept(site, path, "bob-again")
    assert form.status_code == 404 and "Page not found" in form.text
    assert response.status_code == 400
    assert "not valid" in response.text
    assert not user_exists(site, "bob-again")
    assert not signed_in(again)


def test_an_expired_invitation_fails(site):
    from ledger.app.access import create_invite, now

    with site.app.state.web.books.begin() as store:
        token = create_invite(store.conn, store.lid, ["holder:H3"], None,
                              now() - dt.timedelta(days=15))
    client, form, response = accept(site, f"/invite/{token}", "late-comer")
    assert form.status_code == 404
    assert response.status_code == 400
    assert not user_exists(site, "late-comer")
    assert not signed_in(client)


@pytest.mark.parametrize("change", ["removed", "role taken away", "kept"])
def test_an_invitation_gives_nothing_once_its_inviter_could_not_give_it(site, change):
    """A member of a council's staff makes a link for one of the council's people, then
    leaves (their sign-in removed) or moves on (the council role taken away) before the
    link is used: the link is no longer valid. While they still could give it, it is."""
    from ledger.app import access

    staff = f"wbc-staff-{change.split()[0]}"
    add_user(site, staff, ["council:WBC"])
    path = invite_path(make_invite(site.sign_in(staff), "holder:W6"))
    books = site.app.state.web.books
    if change == "removed":
        access.remove_sign_in(books, staff)
    elif change == "role taken away":
        access.set_roles(books, staff, add=["holder:H1"], remove=["council:WBC"])
    newcomer = f"wes-via-{change.split()[0]}"
    client, form, response = accept(site, path, newcomer)
    if change == "kept":
        assert form.status_code == 200 and response.status_code == 303
        assert user_exists(site, newcomer)
        return
    assert form.status_code == 404 and "Page not found" in form.text
    assert response.status_code == 400 and "not valid" in response.text
    assert not user_exists(site, newcomer)
    assert not signed_in(client)


@pytest.mark.usefixtures("cheap_hashing")
def test_a_failed_acceptance_does_not_spend_the_invitation(site):
    path = invite_path(make_invite(site.sign_in("wbc"), "holder:H5"))
    for username, password, again in [("eve-h5", PASSWORD, PASSWORD + "x"),
                                      ("eve-h5", "short", "short"),
                                      ("not a username!", PASSWORD, PASSWORD),
                                      ("ann", PASSWORD, PASSWORD),  # taken
                                      ("eve\x00", PASSWORD, PASSWORD)]:
        client, _, response = accept(site, path, username, password, again)
        assert response.status_code == 400, (username, response.status_code)
        assert not signed_in(client)
    client, _, response = accept(site, path, "eve-h5")
    assert response.status_code == 303
    assert "Eve Example" in client.get("/").text


def test_accepting_needs_the_csrf_token(site):
    path = invite_path(make_invite(site.sign_in("wbc"), "holder:H4"))
    client = site.client()
    assert client.get(path).status_code == 200
    response = client.post(path, data={"username": "no-token", "password": PASSWORD,
                                       "password_again": PASSWORD})
    assert response.status_code == 400
    assert not user_exists(site, "no-token")
    assert client.get(path).status_code == 200  # still unused


@pytest.mark.usefixtures("cheap_hashing")
def test_the_cli_invitation_link_works(site):
    from click.testing import CliRunner

    from ledger.cli import cli

    result = CliRunner().invoke(cli, ["user", "invite", "--role", "council:RIC",
                                      "--base-url", "http://testserver", "--db", site.url],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path = urlsplit(result.output.strip()).path
    client, _, response = accept(site, path, "ric-staff")
    assert response.status_code == 303
    assert client.get(f"/council/RIC?month={MONTH}").status_code == 200


REFUSED_INVITES = {
    "sh": ["holder:R1",  # a person whose ISF another provider holds
           "holder:W6",  # a person with no ISF
           "council:WBC", "council:RIC",  # no council role, not even its people's council
           "provider:BW", "pool:MIXED", "auditor", "holder:NOPE", "holder:h1", "nonsense"],
    "bw": ["holder:H1", "council:RIC", "provider:SH"],
    "wbc": ["holder:R1", "pool:RICONLY", "council:RIC", "provider:SH", "auditor"],
    "ric": ["holder:H1", "holder:W6", "council:WBC"],
}
ALLOWED_INVITES = {"sh": ["holder:H1", "provider:SH"], "bw": ["holder:R1"],
                   "wbc": ["holder:W6", "pool:MIXED", "council:WBC"],
                   "ric": ["pool:MIXED", "holder:R4"], "audit": ["auditor", "council:RIC"]}


@pytest.mark.parametrize("user", sorted(REFUSED_INVITES))
def test_cannot_invite_outside_ones_scope(site, user):
    client = site.sign_in(user)
    for role in REFUSED_INVITES[user]:
        before = count(site, "invite_created")
        response = make_invite(client, role)
        assert response.status_code == 400, (user, role)
        assert "You cannot invite someone with that role" in response.text
        assert 'class="link-box"' not in response.text
        assert not re.search(r'href="[^"]*/invite/', response.text)  # no link made
        assert count(site, "invite_created") == before, (user, role)


@pytest.mark.parametrize("user", sorted(ALLOWED_INVITES))
def test_can_invite_within_ones_scope(site, user):
    client = site.sign_in(user)
    for role in ALLOWED_INVITES[user]:
        before = count(site, "invite_created")
        response = make_invite(client, role)
        assert response.status_code == 200, (user, role, response.text[-800:])
        invite_path(response)
        assert count(site, "invite_created") == before + 1


@pytest.mark.parametrize("change", ["removed", "role taken away"])
def test_an_inviter_whose_access_ends_mid_request_invites_no_one(site, change):
    """The request began while the sign-in could invite (its `User` was read then); the
    sign-in is removed, or its council role taken away, before the invitation is made:
    nothing is made. What may be given is read as the sign-in is now."""
    from ledger.app import access

    books = site.app.state.web.books
    username = f"wbc-leaving-{change.split()[0]}"
    add_user(site, username, ["council:WBC"])
    as_the_request_began = access.sign_in_named(books, username)
    assert access.invite(books, ["holder:W6"], by=as_the_request_began) is not None
    if change == "removed":
        access.remove_sign_in(books, username)
    else:
        access.set_roles(books, username, add=["holder:H1"], remove=["council:WBC"])
    before = count(site, "invite_created")
    assert access.invite(books, ["holder:W6"], by=as_the_request_began) is None
    assert count(site, "invite_created") == before


@pytest.mark.parametrize("user", ["ann", "wes"])
def test_a_holder_cannot_invite(site, user):
    client = site.sign_in(user)
    reference = client.get("/statements/holder/NOBODY").content
    assert client.get("/invite").status_code == 404
    assert client.get("/invite").content == reference
    before = count(site, "invite_created")
    response = client.post("/invite", data={"role": "holder:H1",
                                            "csrf_token": csrf_of(client.get("/").text)})
    assert response.status_code == 404
    assert count(site, "invite_created") == before


def test_inviting_needs_the_csrf_token(site):
    client = site.sign_in("wbc")
    before = count(site, "invite_created")
    for data in [{"role": "holder:H1"}, {"role": "holder:H1", "csrf_token": "wrong"}]:
        assert client.post("/invite", data=data).status_code == 400
    assert count(site, "invite_created") == before


# ---------------------------------------------------------------- headers and markup


def check_headers(response, what: str) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("default-src") == "default-src 'none'", (what, csp)
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (what, csp)
    assert "script-src" not in directives, (what, csp)
    assert response.headers.get("x-content-type-options") == "nosniff", what
    assert "no-store" in response.headers.get("cache-control", ""), what
    if response.headers.get("content-type", "").startswith("text/html"):
        assert "<script" not in response.text.lower(), what
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", response.text, re.I), what


def test_security_headers_on_every_page_and_no_script(site):
    seen = []

    def check(client, method: str, path: str, status: int, **kwargs) -> None:
        response = client.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.status_code)
        check_headers(response, f"{method} {path}")
        seen.append(path)

    anon = site.client()
    check(anon, "GET", "/login", 200)
    check(anon, "GET", "/login?next=%2Fcouncil%2FWBC", 200)
    check(anon, "POST", "/login", 400, data={"username": "ann", "password": "x"})
    token = csrf_of(anon.get("/login").text)
    check(anon, "POST", "/login", 401, data={"username": "ann", "password": "wrong password!",
                                             "csrf_token": token})
    check(anon, "GET", "/nothing/here", 404)
    check(anon, "GET", "/invite/not-a-token", 404)

    council = site.sign_in("wbc")
    made = make_invite(council, "holder:H1")
    check_headers(made, "POST /invite (the link)")
    path = invite_path(made)
    check(anon, "GET", path, 200)
    check(anon, "POST", path, 400, data={"username": "x", "password": PASSWORD,
                                         "password_again": PASSWORD})
    check(council, "GET", "/invite", 200)
    check(council, "POST", "/invite", 400, data={"role": "holder:R1",
                                                 "csrf_token": csrf_of(council.get("/").text)})

    audit = site.as_user("audit")
    check(audit, "GET", "/", 200)
    check(audit, "GET", "/nothing/here", 404)
    check(audit, "GET", f"/statements/holder/NOBODY?month={MONTH}", 404)
    for page in ["/statements/holder/H3", "/statements/pool/MIXED", "/provider/SH/month-end",
                 "/council/RIC"]:  # (each version: test_scope.test_each_version_of_a_page)
        check(audit, "GET", f"{page}?month={MONTH}", 200)
    check(audit, "GET", f"/statements/holder/H3?month={MONTH}&format=xlsx", 200)
    check(audit, "GET", f"/statements/holder/H3?month={MONTH}&format=pdf", 200)
    assert len(seen) == 19
