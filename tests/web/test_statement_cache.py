"""The web view's statement cache (docs/web.md#cache, src/ledger/app/statement_cache.py):
a statement read again is the same page, built once; a write to the books is a new
statement; a reader whose roles differ, or whose dated scope is narrower, never gets
what another was given; and every read, cached or not, is in the access log.

Each test has a ledger of its own (the shared one of conftest.py is never written), on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from unittest import mock

import pytest
from click.testing import CliRunner

from ledger.app import access_log
from ledger.app.reading import Books
from ledger.app.statement_cache import StatementCache
from tests.web.conftest import Site, build_ledger, cheap_hasher

CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]+"')


@pytest.fixture
def own_site(db_url, tmp_path):
    build_ledger(db_url, tmp_path)
    made = Site(db_url)
    with mock.patch("ledger.app.access._hasher", cheap_hasher):
        yield made
    made.close()


def cache_of(site: Site) -> StatementCache:
    return site.app.state.web.statements


def write_books(url: str, folder, events: str) -> None:
    """One more scenario replayed into the ledger: new journals, a new chain head."""
    from ledger.cli import cli

    path = folder / "more.yaml"
    path.write_text("format: 1\nname: more\nevents:\n" + events, encoding="utf-8")
    result = CliRunner().invoke(cli, ["scenario", "run", str(path), "--db", url],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_a_statement_read_again_is_the_same_page_built_once(own_site):
    client = own_site.sign_in("wes")
    for path in ("/statements/holder/W6?month=2026-05",
                 "/statements/pool/MIXED?month=2026-05",
                 "/statements/pool/MIXED?month=2026-05&version=easy_read"):
        first = client.get(path)
        hits = cache_of(own_site).hits
        again = client.get(path)
        assert first.status_code == again.status_code == 200
        assert again.content == first.content  # byte for byte, headers' page included
        assert cache_of(own_site).hits == hits + 1  # and it was the cached one
    pdf = client.get("/statements/holder/W6?month=2026-05&format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/statements/holder/W6?month=2026-05&format=pdf").content == pdf.content


def test_a_new_journal_is_a_fresh_statement(own_site, tmp_path):
    client = own_site.sign_in("wes")
    path = "/statements/holder/W6?month=2026-05"
    before = client.get(path)
    assert before.status_code == 200 and "£490.00" in before.text
    assert client.get(path).content == before.content  # cached now
    write_books(own_site.url, tmp_path, "  - {date: 2026-05-20, type: dp_spend, holder: W6, "
                                        "payee: Corner Shop, amount: \"40.00\"}\n")
    after = client.get(path)
    assert after.status_code == 200
    assert "Corner Shop" in after.text and "£450.00" in after.text
    assert "£490.00" not in after.text


def test_reads_do_not_make_a_statement_stale_but_sign_ins_do_not_share_it(own_site):
    """The access log's records go to the audit chain, not the books: reading a page
    (which appends one) keeps it cached. Two people with the same roles may be given
    the same statement; one whose roles differ never is."""
    wes = own_site.sign_in("wes")  # holder:W6 and pool:MIXED: his own copy of the pool
    wbc = own_site.sign_in("wbc")  # the council: the copy for the council
    path = "/statements/pool/MIXED?month=2026-05"
    council = wbc.get(path)
    assert council.status_code == 200
    assert "You appear in this statement" not in council.text
    own = wes.get(path)
    assert own.status_code == 200
    assert "You appear in this statement as Wes Woodley" in own.text
    assert "(you)" in own.text and "(you)" not in council.text
    hits = cache_of(own_site).hits
    assert wbc.get(path).content == council.content
    assert wes.get(path).content == own.content
    assert cache_of(own_site).hits == hits + 2


@pytest.mark.parametrize("reader", ["wes", "wbc", "ric"])
def test_a_narrower_dated_scope_never_gets_the_wider_cached_statement(own_site, reader):
    """The auditor may read pool MIXED for April, before it was opened (2 May); its
    members and the councils may not. Once the auditor's April is cached, theirs is
    still the one "not found" answer, and then still the auditor's page for the auditor."""
    path = "/statements/pool/MIXED?month=2026-04"
    auditor = own_site.sign_in("audit")
    wide = auditor.get(path)
    assert wide.status_code == 200
    nowhere = own_site.sign_in(reader).get("/statements/pool/NOPOOL?month=2026-04")
    narrow = own_site.sign_in(reader).get(path)
    assert narrow.status_code == 404
    assert CSRF_FIELD.sub("", narrow.text) == CSRF_FIELD.sub("", nowhere.text)
    assert auditor.get(path).content == wide.content


def test_every_read_is_logged_cached_or_not(own_site):
    client = own_site.sign_in("ann")
    books = Books(own_site.url, "main")
    before = len(access_log.search(books, user="ann"))
    path = "/statements/holder/H1?month=2026-05"
    for _ in range(3):
        assert client.get(path).status_code == 200
    assert client.get(path + "&format=xlsx").status_code == 200
    reads = access_log.search(books, user="ann")[before:]
    assert [(r.kind, r.ident, r.first, r.fmt) for r in reads] == (
        [("holder", "H1", "2026-05-01", "html")] * 3 + [("holder", "H1", "2026-05-01", "xlsx")])
    assert cache_of(own_site).hits >= 3  # the second, third and fourth were cached
    books.dispose()


def test_the_cache_keeps_at_most_its_size_and_forgets_the_least_recently_read():
    cache = StatementCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently read
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    with pytest.raises(ValueError):
        StatementCache(size=0)
