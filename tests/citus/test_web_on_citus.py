"""The web view served from a Citus cluster (docs/scaling.md#web).

The same ledger is built twice from the same files, once in SQLite and once in a
distributed schema on the cluster, and the same people sign in to `ledger serve`'s app
over each. On the cluster every connection the app opens carries Citus's multi-shard
detector (tests/citus/conftest.py): a page whose queries left the ledger's shard would
fail there instead of being served. Every page a role may read must be the same page as
on SQLite, refusals the same refusals; the reads must reach the ledger's access log,
taking a sign-in away must end its session at once, the rate limit must hold, and the
ledger must verify afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from ledger.app import access
from tests.citus.conftest import detecting, invoke
from tests.dbutil import empty_database
from tests.web.conftest import MONTH, PASSWORD, USERS, Site, build_ledger

LINK = re.compile(r'<li><a href="([^"]+)">')
# What differs between two servings of the same page and says nothing of the books:
# the form's one-time token.
VOLATILE = re.compile(r'name="csrf_token" value="[^"]*"')


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> Iterator[tuple[Site, Site, str]]:
    """(the app over SQLite, the app over Citus with the detector on, the Citus URL)."""
    folder = tmp_path_factory.mktemp("web-on-citus")
    with empty_database("sqlite", folder) as on_sqlite, \
            empty_database("citus", folder) as on_citus:
        build_ledger(on_sqlite, folder)
        build_ledger(on_citus, folder)
        reference, served = Site(on_sqlite), Site(detecting(on_citus))
        try:
            yield reference, served, on_citus
        finally:
            reference.close()
            served.close()


def _page(site: Site, user: str, path: str):
    response = site.as_user(user).get(path)
    return response.status_code, VOLATILE.sub('name="csrf_token"', response.text)


@pytest.mark.parametrize("user", sorted(USERS))
def test_every_page_a_role_reads_is_the_page_sqlite_serves(sites, user):
    reference, served, _ = sites
    home = reference.as_user(user).get("/")
    links = LINK.findall(home.text)
    assert links, f"{user}'s home lists nothing"
    assert _page(served, user, "/") == _page(reference, user, "/")
    for link in links:
        path = f"{link}?month={MONTH}"
        status, page = _page(served, user, path)
        assert status == 200, (user, path, page[-600:])
        assert (status, page) == _page(reference, user, path), (user, path)


@pytest.mark.parametrize(("user", "path"), [
    ("ann", "/statements/holder/R1"),  # another holder, another council
    ("wbc", "/statements/holder/R1"),  # a council reading another council's person
    ("sh", "/statements/isf/R1%3ABW"),  # a provider reading another provider's ISF
    ("bw", "/council/RIC"),
])
def test_a_page_out_of_scope_is_refused_as_on_sqlite(sites, user, path):
    reference, served, _ = sites
    status, page = _page(served, user, f"{path}?month={MONTH}")
    assert status in (403, 404)
    assert (status, page) == _page(reference, user, f"{path}?month={MONTH}")


def test_reads_reach_the_ledgers_access_log(sites):
    _, served, url = sites
    assert served.as_user("wbc").get(f"/statements/holder/H2?month={MONTH}").status_code == 200
    result = invoke("access-log", "--holder", "H2", "--format", "csv", db=url)
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.output.splitlines()[1:]]
    assert any("wbc" in row for row in rows), result.output


def test_taking_a_sign_in_away_ends_its_session_at_once(sites):
    _, served, url = sites
    books = served.app.state.web.books
    access.add_sign_in(books, "temp-council", PASSWORD, ["council:WBC"])
    client = served.sign_in("temp-council")
    assert client.get(f"/statements/holder/H1?month={MONTH}").status_code == 200
    result = invoke("user", "remove", "temp-council", db=url)
    assert result.exit_code == 0, result.output
    after = client.get(f"/statements/holder/H1?month={MONTH}")
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_the_sign_in_rate_limit_holds(sites):
    _, served, _ = sites
    client = served.client()
    for _ in range(access.MAX_FAILURES_PER_USER):
        assert served.login(client, "rosa", "not the password").status_code == 401
    assert served.login(client, "rosa").status_code == 429


def test_the_ledger_verifies_after_serving(sites):
    _, served, url = sites
    served.as_user("audit").get("/")
    result = invoke("verify", db=url)
    assert result.exit_code == 0, result.output
