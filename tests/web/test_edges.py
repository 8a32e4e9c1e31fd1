"""The web view's edges (docs/web.md#rate-limit, #proxies, #limits, #invitations): failed
sign-ins counted per IPv6 /64, X-Forwarded-For believed only from --trusted-proxy peers,
the body size limit, Argon2 off the event loop, invitation acceptance rate-limited with
no username oracle, and invitations with several roles.

Runs on SQLite and PostgreSQL (the `site` fixture). Every test that counts failures uses
addresses of its own, so no limit spills over between tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from unittest import mock

import pytest

from ledger.app import access
from ledger.web.addresses import client_address, trusted_networks
from tests.web.conftest import MONTH, PASSWORD, cheap_hasher, csrf_of
from tests.web.test_security import accept, invite_path, make_invite, signed_in, user_exists


@pytest.fixture
def cheap_hashing(monkeypatch):
    monkeypatch.setattr(access, "_hasher", cheap_hasher)


@pytest.fixture
def clients(site):
    """`clients(host, app=None)`: a new signed-out client whose TCP peer is `host`."""
    from fastapi.testclient import TestClient

    with contextlib.ExitStack() as stack:
        def make(host: str, app=None):
            client = TestClient(app or site.app, follow_redirects=False,
                                raise_server_exceptions=False, client=(host, 50000))
            return stack.enter_context(client)

        yield make


@pytest.fixture
def proxied_app(site):
    """The app as `ledger serve --trusted-proxy 192.0.2.10 --trusted-proxy
    2001:db8:ffff::/48` makes it."""
    from ledger.web.app import create_app

    app = create_app(site.url, trusted_proxies=("192.0.2.10", "2001:db8:ffff::/48"))
    yield app
    app.state.web.books.dispose()


def wrong(site, client, n: int, username: str | None = None):
    """`n` wrong passwords, each for a username of its own unless one is given (so only
    the address counter counts); the statuses."""
    return [site.login(client, username or f"nobody-{time.monotonic_ns()}-{i}",
                       password="not the password at all").status_code for i in range(n)]


# ---------------------------------------------------------------- IPv6 /64


def test_the_rate_limit_key_is_the_ipv4_address_or_the_ipv6_64():
    assert access.limit_network("192.0.2.7") == "192.0.2.7"
    assert access.limit_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert access.limit_network("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert access.limit_network("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert access.limit_network("::ffff:192.0.2.7") == "192.0.2.7"
    assert access.limit_network("testclient") == "testclient"


@pytest.mark.usefixtures("cheap_hashing")
def test_a_64_neighbour_shares_the_address_limit_and_another_64_does_not(site, clients):
    # 20 wrong passwords, each from another address of one /64 (the addresses a single
    # household or server is given), each for another username.
    for i in range(access.MAX_FAILURES_PER_ADDRESS):
        assert wrong(site, clients(f"2001:db8:64:1::{i + 1:x}"), 1) == [401], i
    neighbour = clients("2001:db8:64:1:dead:beef:0:1")
    assert wrong(site, neighbour, 1) == [429]
    assert site.login(neighbour, "ann").status_code == 429  # even the right password
    assert not signed_in(neighbour)
    other = clients("2001:db8:64:2::1")  # the next /64: its own counter
    assert wrong(site, other, 1) == [401]
    assert site.login(other, "ann").status_code == 303


@pytest.mark.usefixtures("cheap_hashing")
def test_right_passwords_never_count_against_the_network(site, clients):
    """Each attempt is counted as failed while its password is checked (off the event
    loop, with no lock held), and uncounted once it is found right: a library's shared
    address where many people sign in is never held back by their successes."""
    for i in range(access.MAX_FAILURES_PER_ADDRESS + 5):
        assert site.login(clients("198.51.100.200"), "ann").status_code == 303, i
    assert wrong(site, clients("198.51.100.200"), 1) == [401]


@pytest.mark.usefixtures("cheap_hashing")
def test_ipv4_addresses_are_counted_one_by_one(site, clients):
    first = clients("198.51.100.1")
    assert wrong(site, first, access.MAX_FAILURES_PER_ADDRESS) == [401] * 20
    assert wrong(site, first, 1) == [429]
    assert wrong(site, clients("198.51.100.2"), 1) == [401]  # the next address is not


# ---------------------------------------------------------------- X-Forwarded-For


def test_client_address_reads_forwarded_for_from_the_right_past_trusted_proxies():
    trusted = trusted_networks(["192.0.2.10", "10.0.0.0/8", "2001:db8:ffff::/48"])
    # Not a trusted peer: the header is ignored, whatever it says.
    assert client_address("203.0.113.9", ["198.51.100.1"], trusted) == "203.0.113.9"
    assert client_address("203.0.113.9", [], ()) == "203.0.113.9"
    # A trusted peer: the rightmost address that is not a trusted proxy.
    assert client_address("192.0.2.10", ["198.51.100.1"], trusted) == "198.51.100.1"
    assert client_address("192.0.2.10", ["6.6.6.6, 198.51.100.1, 10.1.2.3"],
                          trusted) == "198.51.100.1"  # what the client wrote is ignored
    assert client_address("192.0.2.10", ["6.6.6.6", "198.51.100.1"],
                          trusted) == "198.51.100.1"  # several headers, in order
    assert client_address("2001:db8:ffff::2", ["2001:db8:1:2::3"],
                          trusted) == "2001:db8:1:2::3"
    assert client_address("192.0.2.10", ["[2001:db8:1:2::3]"], trusted) == "2001:db8:1:2::3"
    # No header, or one that is not an address: the trusted peer itself.
    assert client_address("192.0.2.10", [], trusted) == "192.0.2.10"
    assert client_address("192.0.2.10", ["unknown"], trusted) == "192.0.2.10"
    assert client_address("::ffff:192.0.2.10", ["198.51.100.1"], trusted) == "198.51.100.1"


def test_a_trusted_proxy_that_is_not_an_address_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).parent / "ledger"), "serve",
                           "--trusted-proxy", "127.0.0.1", "--trusted-proxy", "nginx.local",
                           "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "--trusted-proxy 'nginx.local': give an address or a network" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Serving" not in done.stdout


@pytest.mark.usefixtures("cheap_hashing")
def test_forwarded_for_is_ignored_from_a_peer_that_is_not_trusted(site, clients, proxied_app):
    client = clients("192.0.2.99", proxied_app)  # not a trusted proxy
    statuses = []
    for i in range(access.MAX_FAILURES_PER_ADDRESS + 1):
        client.headers["X-Forwarded-For"] = f"198.18.7.{i + 1}"  # a new address each time
        statuses += wrong(site, client, 1)
    assert statuses == [401] * 20 + [429]  # all counted against the peer, 192.0.2.99


@pytest.mark.usefixtures("cheap_hashing")
def test_forwarded_for_is_honoured_from_a_trusted_proxy(site, clients, proxied_app):
    proxy = clients("192.0.2.10", proxied_app)
    statuses = []
    for i in range(access.MAX_FAILURES_PER_ADDRESS + 1):  # each a client of its own
        proxy.headers["X-Forwarded-For"] = f"198.18.8.{i + 1}"
        statuses += wrong(site, proxy, 1)
    assert statuses == [401] * 21
    proxy.headers["X-Forwarded-For"] = "198.18.9.1"  # one client, behind the proxy
    assert wrong(site, proxy, 21) == [401] * 20 + [429]
    proxy.headers["X-Forwarded-For"] = "198.18.9.2"  # its neighbour is not held back
    assert wrong(site, proxy, 1) == [401]
    # A client writing its own header through the proxy gains nothing: the proxy's
    # entry, on the right, is the one believed.
    proxy.headers["X-Forwarded-For"] = "203.0.113.77, 198.18.9.1"
    assert wrong(site, proxy, 1) == [429]
    # An IPv6 proxy in the trusted /48 forwarding an IPv6 client: its /64 counts.
    proxy6 = clients("2001:db8:ffff::2", proxied_app)
    for i in range(access.MAX_FAILURES_PER_ADDRESS):
        proxy6.headers["X-Forwarded-For"] = f"2001:db8:77:1::{i + 1:x}"
        assert wrong(site, proxy6, 1) == [401]
    proxy6.headers["X-Forwarded-For"] = "2001:db8:77:1::ffff"
    assert wrong(site, proxy6, 1) == [429]


@pytest.mark.usefixtures("cheap_hashing")
def test_the_access_log_and_links_follow_the_trusted_proxy(site, clients, proxied_app):
    from ledger.store import audit

    proxy = clients("192.0.2.10", proxied_app)
    proxy.headers.update({"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"})
    assert site.login(proxy, "wbc").status_code == 303
    assert proxy.get(f"/statements/holder/H1?month={MONTH}").status_code == 200
    with site.app.state.web.books.read() as store:
        last = list(audit.records(store.conn, store.lid, kinds=["read"]))[-1]
    assert last.body["address"] == "198.51.100.0/24"  # the client's network, not the proxy
    made = make_invite(proxy, "holder:H1")
    assert re.search(r'href="https://testserver/invite/', made.text)
    # The same headers from a peer that is not trusted change nothing.
    direct = clients("192.0.2.98", proxied_app)
    direct.headers.update({"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"})
    assert site.login(direct, "wbc").status_code == 303
    assert direct.get(f"/statements/holder/H1?month={MONTH}").status_code == 200
    with site.app.state.web.books.read() as store:
        last = list(audit.records(store.conn, store.lid, kinds=["read"]))[-1]
    assert last.body["address"] == "192.0.2.0/24"
    assert re.search(r'href="http://testserver/invite/', make_invite(direct, "holder:H1").text)


def test_serve_passes_trusted_proxies_to_every_worker(site, monkeypatch, clients):
    from ledger.web.app import create_app_from_env

    monkeypatch.setenv("LEDGER_DATABASE_URL", site.url)
    monkeypatch.setenv("LEDGER_TRUSTED_PROXIES", "192.0.2.10 10.0.0.0/8")
    app = create_app_from_env()
    try:
        proxy = clients("10.200.0.1", app)
        proxy.headers["X-Forwarded-For"] = "198.51.100.88"
        assert proxy.get("/login").status_code == 200
        from ledger.web.addresses import TrustedProxies

        found = [m for m in app.user_middleware if m.cls is TrustedProxies]
        assert [str(n) for n in found[0].kwargs["trusted"]] == ["192.0.2.10/32", "10.0.0.0/8"]
    finally:
        app.state.web.books.dispose()


# ---------------------------------------------------------------- the body size limit


def failures_count(site) -> int:
    from sqlalchemy import func, select

    from ledger.store import models as m

    with site.app.state.web.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(m.WebLoginFailure)).scalar_one()


def test_a_body_over_64_kib_is_413_and_changes_nothing(site, clients):
    client = clients("198.51.101.1")
    token = csrf_of(client.get("/login").text)
    before = failures_count(site)
    big = {"username": "ann", "password": "x" * (64 * 1024), "csrf_token": token}
    response = client.post("/login", data=big)
    assert response.status_code == 413
    assert response.headers["content-security-policy"].startswith("default-src 'none'")

    def chunks():  # no Content-Length: counted as it arrives
        yield f"csrf_token={token}&username=ann&password=".encode()
        for _ in range(100):
            yield b"y" * 1024

    response = client.post("/login", content=chunks(),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413
    assert failures_count(site) == before  # neither reached the password check
    # Just under the limit, the form is read as ever.
    near = {"username": "ann", "password": "x" * (60 * 1024), "csrf_token": token}
    assert client.post("/login", data=near).status_code == 401


def test_a_multipart_body_is_refused_before_it_is_read(site, clients):
    client = clients("198.51.101.2")
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": "ann", "password": PASSWORD,
                                           "csrf_token": token},
                           files={"upload": ("a.txt", b"hello")})
    assert response.status_code == 415
    assert not signed_in(client)


def run_in_own_loop(make):
    """Run the coroutine `make()` gives in an event loop on a thread of its own: the
    browser tests' Playwright keeps a loop running on the main thread for the rest of the
    session, where asyncio.run() would refuse to start."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def test_a_declared_length_over_the_limit_is_answered_without_reading_the_body(site):
    sent = []

    async def receive():
        raise AssertionError("the body was read")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/login", "raw_path": b"/login",
             "query_string": b"", "root_path": "", "client": ("198.51.101.3", 1),
             "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-length", b"1000000000"),
                         (b"content-type", b"application/x-www-form-urlencoded")]}
    run_in_own_loop(lambda: site.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413


# ---------------------------------------------------------------- Argon2 off the loop


class SlowHasher:
    """The cheap hasher, but each check says it has started (`hashing`), then holds
    whatever thread calls it until a page has been answered (`answered`), or for ten
    seconds at most (like Argon2, it lets other threads run meanwhile). Were the check
    run on the event loop, no page could be answered while it holds: the sign-in would
    be answered first, ten seconds later. No clock decides the order, so a busy machine
    neither fails the test nor lets a page slip in before the hashing began."""

    hashing = threading.Event()
    answered = threading.Event()

    def __init__(self) -> None:
        self.inner = cheap_hasher()

    def hash(self, password):
        return self.inner.hash(password)

    def verify(self, stored, password):
        SlowHasher.hashing.set()
        SlowHasher.answered.wait(10)
        return self.inner.verify(stored, password)


def test_a_page_is_answered_while_a_sign_in_hashes(site):
    import httpx

    async def run() -> list[str]:
        transport = httpx.ASGITransport(app=site.app, client=("198.51.102.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            token = csrf_of((await c.get("/login")).text)
            with mock.patch.object(access, "_hasher", cheap_hasher):
                signed = await c.post("/login", data={"username": "ann", "password": PASSWORD,
                                                      "csrf_token": token})
            assert signed.status_code == 303
            token = csrf_of((await c.get("/")).text)
            done: list[str] = []

            async def wrong_password() -> None:
                answer = await c.post("/login", data={"username": "rosa",
                                                      "password": "not the password",
                                                      "csrf_token": token})
                done.append(f"login {answer.status_code}")

            async def read_page() -> None:
                # asked for only once the sign-in is hashing (waited for off the loop)
                assert await asyncio.to_thread(SlowHasher.hashing.wait, 10)
                answer = await c.get(f"/statements/holder/H1?month={MONTH}")
                done.append(f"page {answer.status_code}")
                SlowHasher.answered.set()

            SlowHasher.hashing.clear()
            SlowHasher.answered.clear()
            with mock.patch.object(access, "_hasher", SlowHasher):
                await asyncio.gather(wrong_password(), read_page())
            return done

    assert run_in_own_loop(run) == ["page 200", "login 401"]


# ---------------------------------------------------------------- invitations


class CountingHasher:
    """The cheap hasher, counting each Argon2 hash made (the work a refusal costs)."""

    made = 0

    def __init__(self) -> None:
        self.inner = cheap_hasher()

    def hash(self, password):
        CountingHasher.made += 1
        return self.inner.hash(password)

    def verify(self, stored, password):
        return self.inner.verify(stored, password)


def _without_the_visitor(html: str) -> str:
    """A page with what the visitor typed and their own form token taken out."""
    html = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', html)
    return re.sub(r'id="username" name="username" value="[^"]*"',
                  'id="username" name="username" value=""', html)


def test_a_taken_username_is_refused_as_a_bad_password_is(site, monkeypatch):
    monkeypatch.setattr(access, "_hasher", CountingHasher)
    path = invite_path(make_invite(site.sign_in("wbc"), "holder:H5"))
    answers = {}
    for case, username, password in [("taken", "ann", PASSWORD),
                                      ("taken, other case", "wes", PASSWORD),
                                      ("password too short", "free-name-1", "short"),
                                      ("password too long", "free-name-2", "p" * 1025),
                                      ("username not allowed", "not allowed!", PASSWORD)]:
        before = CountingHasher.made
        _, _, response = accept(site, path, username, password)
        answers[case] = (response.status_code, _without_the_visitor(response.text))
        assert CountingHasher.made == before + 1, case  # the same work: one hash
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}
    assert answers["taken"][0] == 400
    assert "cannot be used" in answers["taken"][1]
    assert "taken" not in answers["taken"][1]
    assert not user_exists(site, "free-name-1")
    client, _, response = accept(site, path, "eve-edges")  # still unused: it works
    assert response.status_code == 303


def test_a_taken_username_takes_as_long_as_a_password_too_short(site, clients):
    """With the app's own Argon2id settings (about 0.2 s a hash): the refusal's time
    does not say the name is taken. Measured in turns, five of each, medians compared."""
    import statistics

    path = invite_path(make_invite(site.sign_in("wbc"), "holder:H4"))
    client = clients("198.51.103.1")
    token = csrf_of(client.get(path).text)
    times: dict[str, list[float]] = {"taken": [], "short": []}
    for _ in range(5):
        for case, username, password in [("taken", "ann", PASSWORD),
                                          ("short", "free-name-3", "short")]:
            started = time.perf_counter()
            response = client.post(path, data={"username": username, "password": password,
                                               "password_again": password,
                                               "csrf_token": token})
            times[case].append(time.perf_counter() - started)
            assert response.status_code == 400, case
    taken, short = (statistics.median(times[k]) for k in ("taken", "short"))
    assert 0.5 < taken / short < 2.0, times
    assert short > 0.02, times  # a hash was made for the short password too


@pytest.mark.usefixtures("cheap_hashing")
def test_invitation_acceptance_is_rate_limited_per_network(site, clients):
    path = invite_path(make_invite(site.sign_in("wbc"), "holder:H3"))

    def attempt(host: str, username: str):
        client = clients(host)
        token = csrf_of(client.get(path).text)
        return client, client.post(path, data={"username": username, "password": PASSWORD,
                                               "password_again": PASSWORD,
                                               "csrf_token": token})

    # Guessing usernames from one /64: each refusal counts, and past the limit every
    # attempt is refused without being tried, even one that would work.
    for i in range(access.MAX_FAILURES_PER_ADDRESS):
        _, response = attempt(f"2001:db8:99:1::{i + 1:x}", "ann")
        assert response.status_code == 400, i
    client, response = attempt("2001:db8:99:1::abcd", "cat-edges")
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    assert not user_exists(site, "cat-edges") and not signed_in(client)
    # Sign-ins from that network are held back too: it is the same count.
    assert wrong(site, clients("2001:db8:99:1::beef"), 1) == [429]
    # Another network accepts it.
    client, response = attempt("2001:db8:99:2::1", "cat-edges")
    assert response.status_code == 303 and signed_in(client)


@pytest.mark.usefixtures("cheap_hashing")
def test_an_invitation_with_a_holder_and_their_pool_gives_both(site):
    council = site.sign_in("wbc")
    made = make_invite(council, "holder:W6 pool:MIXED")
    assert made.status_code == 200, made.text[-600:]
    assert "<li>holder:W6</li>" in made.text and "<li>pool:MIXED</li>" in made.text
    client, _, response = accept(site, invite_path(made), "wes-again")
    assert response.status_code == 303
    assert access.sign_in_named(site.app.state.web.books, "wes-again").roles == frozenset(
        {"holder:W6", "pool:MIXED"})
    assert client.get(f"/statements/holder/W6?month={MONTH}").status_code == 200
    assert client.get(f"/statements/pool/MIXED?month={MONTH}").status_code == 200
    assert client.get(f"/statements/pool/RICONLY?month={MONTH}").status_code == 404


def test_an_invitation_is_refused_whole_if_one_role_is_not_the_inviters(site):
    from tests.web.test_security import count

    council = site.sign_in("wbc")
    before = count(site, "invite_created")
    for roles in ["holder:W6 pool:RICONLY", "holder:W6, holder:R1", " ".join(
            f"holder:W{i}" for i in range(21))]:
        response = make_invite(council, roles)
        assert response.status_code == 400, roles
        assert "You cannot invite someone with that role" in response.text
    assert count(site, "invite_created") == before


@pytest.mark.usefixtures("cheap_hashing")
def test_the_cli_invitation_with_several_roles_gives_them_all(site):
    from urllib.parse import urlsplit

    from click.testing import CliRunner

    from ledger.cli import cli

    result = CliRunner().invoke(cli, ["user", "invite", "--role", "holder:R3", "--role",
                                      "pool:RICONLY", "--role", "pool:MIXED", "--base-url",
                                      "http://testserver", "--db", site.url],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    client, _, response = accept(site, urlsplit(result.output.strip()).path, "rita-edges")
    assert response.status_code == 303
    for page in ["/statements/holder/R3", "/statements/pool/RICONLY",
                 "/statements/pool/MIXED"]:
        assert client.get(f"{page}?month={MONTH}").status_code == 200, page
