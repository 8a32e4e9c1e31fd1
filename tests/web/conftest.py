"""Fixtures for `ledger serve` (src/ledger/web): one ledger in which every cross-scope case
exists, a sign-in for every role, and signed-in test clients.

The ledger is Wokingham's ISF pilot (scenarios/wokingham-isf-pilot.yaml: council WBC,
provider SH, holders H1-H5 with ISFs) plus SCENARIO below, which adds a second council
(RIC), a second provider (BW) holding an ISF for a Richmond person, direct payment holders
of both councils, a pool with members from both councils (one who agreed to show their
name, one with a pseudonym, one with neither) and a pool of Richmond people only.

It is built once per database engine (SQLite always; PostgreSQL when
LEDGER_TEST_POSTGRES_URL is set, as for the `db_url` fixture in tests/conftest.py) and
shared by the tests that only read it; tests that change sign-in state make their own
clients with their own client address, so the per-address rate limit never spills over.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbutil import empty_database

ROOT = Path(__file__).resolve().parents[2]
WOKINGHAM = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"
MONTH = "2026-05"
PASSWORD = "correct horse battery staple"

SCENARIO = """\
format: 1
name: web-scope
parties:
  councils:
    - {id: WBC, name: Wokingham Borough Council}
    - {id: RIC, name: London Borough of Richmond upon Thames}
  providers:
    - {id: SH, name: Support Horizons CIC}
    - {id: BW, name: Brightwater Care Ltd}
  holders:
    - {id: R1, name: Rosa Riverside, council: RIC}
    - {id: W6, name: Wes Woodley, council: WBC, show_name: true}
    - {id: R2, name: Rafe Richmond, council: RIC, pseudonym: Kingfisher}
    - {id: R3, name: Rita Hamm, council: RIC}
    - {id: R4, name: Ron Kewley, council: RIC}
events:
  # Rosa's ISF with the second provider: 20 h at 21.00 = 420.00; 6 h used = 126.00.
  - {date: 2026-05-01, type: isf_open, holder: R1, provider: BW, hours_per_month: 20,
     rate: "21.00", carry: {expire_after_months: 1}}
  - {date: 2026-05-01, type: isf_advance, holder: R1, provider: BW, month: 2026-05}
  - {date: 2026-05-09, type: isf_delivery, holder: R1, provider: BW, hours: 6}
  - {date: 2026-05-31, type: isf_reconcile, holder: R1, provider: BW, month: 2026-05}
  - {date: 2026-05-01, type: dp_payment, holder: W6, amount: "640.00"}
  - {date: 2026-05-01, type: dp_payment, holder: R2, amount: "520.00"}
  - {date: 2026-05-01, type: dp_payment, holder: R3, amount: "480.00"}
  - {date: 2026-05-01, type: dp_payment, holder: R4, amount: "360.00"}
  # A pool across both councils: Wes by name, Rafe as Kingfisher, Rita as Member 3.
  - {date: 2026-05-02, type: pool_open, pool: MIXED, members: [W6, R2, R3]}
  - {date: 2026-05-02, type: pool_contribute, pool: MIXED, holder: W6, amount: "150.00"}
  - {date: 2026-05-02, type: pool_contribute, pool: MIXED, holder: R2, amount: "150.00"}
  - {date: 2026-05-02, type: pool_contribute, pool: MIXED, holder: R3, amount: "150.00"}
  - {date: 2026-05-12, type: pool_spend, pool: MIXED, payee: PA Jo Example,
     amount: "123.00", description: "shared PA, 8 hours"}
  # A pool of Richmond people only.
  - {date: 2026-05-02, type: pool_open, pool: RICONLY, members: [R3, R4]}
  - {date: 2026-05-02, type: pool_contribute, pool: RICONLY, holder: R3, amount: "70.00"}
  - {date: 2026-05-02, type: pool_contribute, pool: RICONLY, holder: R4, amount: "70.00"}
  - {date: 2026-05-20, type: pool_spend, pool: RICONLY, payee: Kew Gardens,
     amount: "37.00", description: "day out"}
"""

# Every person's name in the ledger: none may appear on a refusal.
HOLDER_NAMES = {
    "H1": "Ann Example", "H2": "Bob Example", "H3": "Cat Example", "H4": "Dev Example",
    "H5": "Eve Example", "R1": "Rosa Riverside", "W6": "Wes Woodley",
    "R2": "Rafe Richmond", "R3": "Rita Hamm", "R4": "Ron Kewley",
}
OTHER_NAMES = ["Wokingham Borough Council", "London Borough of Richmond upon Thames",
               "Support Horizons CIC", "Brightwater Care Ltd", "Kingfisher"]

# A sign-in for every role. Usernames name no person, so a page saying "Signed in as ..."
# never puts a holder's name on a refusal.
USERS = {
    "ann": ["holder:H1"],  # holder A (Wokingham; ISF with SH)
    "rosa": ["holder:R1"],  # holder B (Richmond; ISF with BW)
    "wes": ["holder:W6", "pool:MIXED"],  # a pool member: his own copy of the pool
    "sh": ["provider:SH"],
    "bw": ["provider:BW"],
    "wbc": ["council:WBC"],
    "ric": ["council:RIC"],
    "audit": ["auditor"],
}

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_addresses = itertools.count(1)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


def cheap_hasher():
    """Argon2id at its lowest cost. The app's own parameters take about 0.4 s a hash here,
    which across sixteen sign-ins would be most of this suite's time; the hash keeps its
    parameters, so signing in checks it exactly as the app always does.
    test_security.py checks the app's own hasher."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def build_ledger(url: str, folder: Path) -> None:
    """Both scenarios into ledger `main` through the real CLI, then every sign-in."""
    from unittest import mock

    from click.testing import CliRunner

    from ledger.app import access
    from ledger.cli import cli
    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine

    scenario = folder / "web-scope.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    result = CliRunner().invoke(cli, ["scenario", "run", str(WOKINGHAM), str(scenario),
                                      "--db", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    try:
        with engine.begin() as conn, mock.patch.object(access, "_hasher", cheap_hasher):
            lid = DbStore(conn, "main").lid
            for username, roles in USERS.items():
                access.add_user(conn, lid, username, PASSWORD, roles)
    finally:
        engine.dispose()


class Site:
    """One app over one ledger, and test clients for it."""

    def __init__(self, url: str) -> None:
        from ledger.web.app import create_app

        self.url = url
        self.app = create_app(url)
        self._signed_in: dict[str, object] = {}
        self._clients: list = []

    def client(self):
        """A new browser-like client, signed out, with an address of its own. It is kept
        open (one event loop for all its requests: five times faster than a new one per
        request) until the test ends (`close_clients`), or the site closes if shared."""
        from fastapi.testclient import TestClient

        n = next(_addresses)
        client = TestClient(self.app, follow_redirects=False, raise_server_exceptions=False,
                            client=(f"10.9.{n // 250}.{n % 250 + 1}", 50000))
        client.__enter__()
        self._clients.append(client)
        return client

    def login(self, client, username: str, password: str = PASSWORD, next: str = "/"):
        """Sign in through the form, as a browser does: GET the form, POST it."""
        token = csrf_of(client.get("/login").text)
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token, "next": next})

    def sign_in(self, username: str):
        """A new client, signed in as `username`."""
        client = self.client()
        response = self.login(client, username)
        assert response.status_code == 303, (username, response.status_code, response.text)
        return client

    def as_user(self, username: str):
        """A shared signed-in client, for tests that only read (never sign out with it)."""
        if username not in self._signed_in:
            self._signed_in[username] = self.sign_in(username)
            self._clients.remove(self._signed_in[username])
        return self._signed_in[username]

    def close_clients(self) -> None:
        """Close the clients made for one test (never the shared ones)."""
        while self._clients:
            self._clients.pop().__exit__(None, None, None)

    def close(self) -> None:
        self.close_clients()
        for client in self._signed_in.values():
            client.__exit__(None, None, None)
        self.app.state.web.books.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def web_db(request, tmp_path_factory) -> Iterator[str]:
    """The shared ledger's database URL, on each engine (like `db_url`, but built once)."""
    folder = tmp_path_factory.mktemp(f"web-{request.param}")
    with empty_database(request.param, folder) as url:
        build_ledger(url, folder)
        yield url


@pytest.fixture(scope="session")
def shared_site(web_db) -> Iterator[Site]:
    made = Site(web_db)
    yield made
    made.close()


@pytest.fixture
def site(shared_site) -> Iterator[Site]:
    """The app over the shared ledger; the clients a test makes are closed after it."""
    yield shared_site
    shared_site.close_clients()
