"""Who may read what on `ledger serve` (the web's reader, `Scope` in
src/ledger/app/statements.py): every role reads its own pages and downloads, and every cross-scope attempt or guessed address gets the one
"Page not found" answer, byte for byte the same as for an id that does not exist, with no
person's name and no figure on it. Signed out, every page sends the reader to sign in.

Runs on SQLite and, with LEDGER_TEST_POSTGRES_URL, on PostgreSQL (the `site` fixture).
"""

from __future__ import annotations

import html
import io
import re
from email.message import Message
from unittest import mock
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from tests.web.conftest import (
    HOLDER_NAMES,
    MONTH,
    OTHER_NAMES,
    PASSWORD,
    USERS,
    cheap_hasher,
    csrf_of,
)

NOWHERE = f"/statements/holder/NOBODY?month={MONTH}"  # the reference "does not exist"

# What each role may read in MONTH, with words and figures the page must show.
ALLOWED = [
    ("ann", "/statements/holder/H1", ["Statement for Ann Example", "£97.49"]),
    ("rosa", "/statements/holder/R1", ["Statement for Rosa Riverside", "£294.00"]),
    ("wes", "/statements/holder/W6", ["Statement for Wes Woodley", "£490.00"]),
    ("wes", "/statements/pool/MIXED", ["You appear in this statement as Wes Woodley",
                                       "Kingfisher", "Member 3", "£123.00", "£109.00"]),
    ("sh", "/provider/SH/month-end", ["Month-end statement: Support Horizons CIC",
                                      "£4,040.50"]),
    # A provider reads its own statement of each ISF it holds (issue 21), not the
    # person's statement.
    ("sh", "/statements/isf/H2:SH", ["Individual Service Fund for Bob Example",
                                     "Support Horizons CIC", "£108.00"]),
    ("bw", "/provider/BW/month-end", ["Month-end statement: Brightwater Care Ltd", "£126.00"]),
    ("bw", "/statements/isf/R1:BW", ["Individual Service Fund for Rosa Riverside",
                                     "£294.00"]),
    ("wbc", "/council/WBC", ["Wokingham Borough Council", "£5,200.00"]),
    ("wbc", "/statements/holder/H1", ["Statement for Ann Example", "£97.49"]),
    ("wbc", "/statements/holder/W6", ["Statement for Wes Woodley", "£490.00"]),
    ("wbc", "/statements/pool/MIXED", ["Wes Woodley", "Kingfisher", "£123.00"]),
    ("ric", "/council/RIC", ["London Borough of Richmond upon Thames", "£1,780.00"]),
    ("ric", "/statements/holder/R1", ["Statement for Rosa Riverside", "£294.00"]),
    ("ric", "/statements/holder/R2", ["Statement for Rafe Richmond"]),
    ("ric", "/statements/pool/MIXED", ["Wes Woodley", "Kingfisher", "£123.00"]),
    ("ric", "/statements/pool/RICONLY", ["£37.00", "Kew Gardens"]),
    ("audit", "/statements/holder/H1", ["Statement for Ann Example", "£97.49"]),
    ("audit", "/statements/holder/R1", ["Statement for Rosa Riverside", "£294.00"]),
    ("audit", "/statements/pool/MIXED", ["Kingfisher", "£123.00"]),
    ("audit", "/statements/pool/RICONLY", ["£37.00"]),
    ("audit", "/provider/SH/month-end", ["Support Horizons CIC", "£4,040.50"]),
    ("audit", "/provider/BW/month-end", ["Brightwater Care Ltd", "£126.00"]),
    ("audit", "/council/WBC", ["Wokingham Borough Council", "£5,200.00"]),
    ("audit", "/council/RIC", ["London Borough of Richmond upon Thames", "£1,780.00"]),
]

# Names a pool statement never shows, whoever reads it: these members did not agree.
UNCONSENTED = ["Rafe Richmond", "Rita Hamm", "Ron Kewley"]

# Each role's cross-scope attempts: all things that exist, none of them theirs.
REFUSED = {
    "ann": ["/statements/holder/H2",  # another person of her council and provider
            "/statements/holder/R1",  # holder B
            "/statements/holder/W6",
            "/statements/pool/MIXED",
            "/provider/SH/month-end",  # her own provider's month end
            "/council/WBC",  # her own council's overview
            "/statements/provider/SH",  # the same two at the one statement address
            "/statements/council/WBC",
            "/statements/isf/H1:SH"],  # her provider's statement of her ISF
    "rosa": ["/statements/holder/H1",  # holder A
             "/statements/holder/R2",
             "/statements/pool/RICONLY",
             "/provider/BW/month-end",
             "/council/RIC"],
    "wes": ["/statements/holder/R2",  # another member of his own pool
            "/statements/holder/R3",
            "/statements/holder/H1",
            "/statements/pool/RICONLY",  # another pool
            "/provider/SH/month-end",
            "/council/WBC"],
    "sh": ["/provider/BW/month-end",  # another provider's month end
           "/statements/provider/BW",
           "/statements/holder/H2",  # a person whose ISF it holds: their own statement
           "/statements/isf/R1:BW",  # another provider's ISF
           "/statements/holder/R1",  # a person whose ISF BW holds
           "/statements/holder/W6",  # a person with no ISF at all
           "/statements/pool/MIXED",
           "/council/WBC"],
    "bw": ["/provider/SH/month-end",
           "/statements/holder/R1",  # the person whose ISF it holds: their own statement
           "/statements/isf/H1:SH",
           "/statements/holder/H1",
           "/statements/holder/W6",
           "/statements/pool/RICONLY",
           "/council/RIC"],
    "wbc": ["/council/RIC",  # another council's overview
            "/statements/holder/R1",  # another council's person
            "/statements/holder/R2",
            "/statements/pool/RICONLY",  # a pool with none of its people
            "/provider/SH/month-end",
            "/statements/isf/H1:SH"],  # a provider's document: it reads H1's own
    "ric": ["/council/WBC",
            "/statements/council/WBC",
            "/statements/holder/H1",
            "/statements/holder/W6",
            "/provider/BW/month-end"],
}

# Each way of asking for a refused page: the page, each download, the default month.
ASKING = [f"?month={MONTH}", f"?month={MONTH}&format=pdf", f"?month={MONTH}&format=xlsx", ""]

# Addresses anyone might guess: ids that do not exist, path traversal, odd characters.
GUESSES = [
    "/statements/holder/NOBODY",
    "/statements/holder/h1",  # ids are case-sensitive
    "/statements/pool/NOPE",
    "/provider/NOPE/month-end",
    "/council/NOPE",
    "/statements/holder/..%2F",
    "/statements/holder/..%2F..%2Fcouncil%2FWBC",
    "/statements/holder/H1%2F..%2FH2",
    "/statements/holder/%2e%2e",
    "/statements/holder/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/statements/holder/..%5CH2",
    "/statements/holder/H1%20",
    "/statements/pool/..",
    "/provider/..%2FSH/month-end",
    "/provider/SH/month-end/..%2F..%2Fcouncil%2FWBC",
    "/council/..%2FRIC",
    "/statements/holder/",
    "/provider/SH",
    "/statements/provider/NOPE",
    "/statements/council/NOPE",
    "/statements/nothing/H1",  # no such kind of statement
    "/statements/H1",
    "/statements/provider/SH/month-end",
    "/statements/holder/NOBODY/",
    "/.env",
]

# A NUL byte in an id: PostgreSQL text cannot hold one.
NUL_IDS = ["/statements/holder/H1%00", "/statements/pool/MIXED%00",
           "/provider/SH%00/month-end", "/council/WBC%00", "/statements/holder/%00"]

ODD_MONTHS = ["2026-13", "2026-00", "../../", "..%2F..%2Fetc%2Fpasswd", "2026-05-01", "",
              "2026/05%00", "10000-01", "9999-12"]
ODD_FORMATS = ["xml", "..%2F..%2Fetc%2Fpasswd"]


def own_page(user: str) -> str:
    return next(path for who, path, _ in ALLOWED if who == user)


def check_refusal(response, reference: bytes, what: str) -> None:
    """The one answer: 404, the very bytes of the not-found page, no name, no figure."""
    assert response.status_code == 404, f"{what}: {response.status_code}"
    assert response.content == reference, f"{what}: a different body from 'does not exist'"
    text = response.text
    assert "£" not in text, what
    for name in [*HOLDER_NAMES.values(), *OTHER_NAMES]:
        assert name not in text, f"{what}: the refusal names {name}"


@pytest.fixture
def not_found(site):
    """Per user: the body of the not-found page for an id that does not exist."""

    def reference(user: str) -> bytes:
        response = site.as_user(user).get(NOWHERE)
        assert response.status_code == 404
        assert b"Page not found" in response.content
        return response.content

    return reference


# ---------------------------------------------------------------- what each role reads


@pytest.mark.parametrize(("user", "path", "expected"), ALLOWED,
                         ids=[f"{u}:{p}" for u, p, _ in ALLOWED])
def test_each_role_reads_its_own_pages(site, user, path, expected):
    response = site.as_user(user).get(f"{path}?month={MONTH}")
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    for words in expected:
        assert words in response.text, f"{user} {path}: no {words!r}"
    if "/pool/" in path:
        for name in UNCONSENTED:
            assert name not in response.text, f"{user} {path} names {name}"
    if "/pool/" in path and user != "wes":
        assert "You appear in this statement" not in response.text  # the shared copy


@pytest.mark.parametrize("version", ["easy_read", "large_print"])
@pytest.mark.parametrize(("user", "path"), [("ann", "/statements/holder/H1"),
                                            ("wes", "/statements/pool/MIXED"),
                                            ("bw", "/provider/BW/month-end"),
                                            ("ric", "/council/RIC")])
def test_each_version_of_a_page(site, user, path, version):
    """(The standard version: test_each_role_reads_its_own_pages.)"""
    from tests.web.test_security import check_headers

    response = site.as_user(user).get(f"{path}?month={MONTH}&version={version}")
    assert response.status_code == 200
    css = version.replace("_", "-")
    assert f'<body class="{css}">' in response.text
    check_headers(response, f"{path} {version}")  # the CSP, nosniff; no <script


EXPECTED_LINKS = {
    "ann": {"/statements/holder/H1"},
    "rosa": {"/statements/holder/R1"},
    "wes": {"/statements/holder/W6", "/statements/pool/MIXED"},
    "sh": {f"/statements/isf/H{n}%3ASH" for n in range(1, 6)} | {"/provider/SH/month-end"},
    "bw": {"/statements/isf/R1%3ABW", "/provider/BW/month-end"},
    "wbc": ({f"/statements/holder/H{n}" for n in range(1, 6)}
            | {"/statements/holder/W6", "/statements/pool/MIXED", "/council/WBC"}),
    "ric": ({f"/statements/holder/R{n}" for n in range(1, 5)}
            | {"/statements/pool/MIXED", "/statements/pool/RICONLY", "/council/RIC"}),
    "audit": ({f"/statements/holder/{h}" for h in HOLDER_NAMES}
              | {"/statements/pool/MIXED", "/statements/pool/RICONLY",
                 "/provider/SH/month-end", "/provider/BW/month-end",
                 "/council/WBC", "/council/RIC", "/statements/isf/R1%3ABW"}
              | {f"/statements/isf/H{n}%3ASH" for n in range(1, 6)}),
}


@pytest.mark.parametrize("user", sorted(USERS))
def test_home_lists_exactly_what_the_role_may_read(site, user):
    response = site.as_user(user).get("/")
    assert response.status_code == 200
    links = set(re.findall(r'<li><a href="([^"]+)">', response.text))
    assert links == EXPECTED_LINKS[user]
    readable = {h for h in HOLDER_NAMES if f"/statements/holder/{h}" in links
                or any(link.startswith(f"/statements/isf/{h}%3A") for link in links)}
    for hid, name in HOLDER_NAMES.items():
        if hid not in readable:
            assert name not in response.text, f"{user}'s home names {name}"


# ---------------------------------------------------------------- downloads


DOWNLOADS = [  # (user, page, a cell its spreadsheet holds: money as a number in pounds)
    ("ann", "/statements/holder/H1", 214.5),
    ("wes", "/statements/pool/MIXED", "Kingfisher"),
    ("bw", "/provider/BW/month-end", 126),
    ("ric", "/council/RIC", 1780),
]
PDF_FOR = {"wes", "ric"}


@pytest.mark.parametrize(("user", "path", "figure"), DOWNLOADS,
                         ids=[f"{u}:{p}" for u, p, _ in DOWNLOADS])
def test_downloads_of_own_pages(site, user, path, figure):
    client = site.as_user(user)
    if user in PDF_FOR:  # a PDF takes WeasyPrint about a second: two kinds are enough here
        pdf = client.get(f"{path}?month={MONTH}&format=pdf")
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"].startswith("attachment;")
    sheet = client.get(f"{path}?month={MONTH}&format=xlsx")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert sheet.headers["content-disposition"].startswith("attachment;")
    cells = [v for s in load_workbook(io.BytesIO(sheet.content)).worksheets
             for row in s.iter_rows(values_only=True) for v in row if v is not None]
    assert figure in cells
    for name in UNCONSENTED:
        assert not any(name in str(cell) for cell in cells)


# ---------------------------------------------------------------- refusals


REFUSALS = [(user, path) for user, paths in REFUSED.items() for path in paths]


@pytest.mark.parametrize(("user", "path"), REFUSALS, ids=[f"{u}:{p}" for u, p in REFUSALS])
def test_cross_scope_is_the_same_not_found(site, not_found, user, path):
    client, reference = site.as_user(user), not_found(user)
    for query in ASKING:
        check_refusal(client.get(path + query), reference, f"{user} {path}{query}")


# Pages a role reads in MONTH, asked for a month the relationship did not hold (issue 21:
# scopes are dated): before the ISF opened, before the pool existed.
OUTSIDE_THEIR_MONTHS = [
    ("sh", "/statements/isf/H2:SH", "2026-03"),  # the ISF opened on 1 April
    ("bw", "/statements/isf/R1:BW", "2026-04"),  # opened on 1 May
    ("wes", "/statements/pool/MIXED", "2026-04"),  # the pool opened on 2 May
    ("wbc", "/statements/pool/MIXED", "2026-04"),
    ("ric", "/statements/pool/RICONLY", "2026-03"),
]


@pytest.mark.parametrize(("user", "path", "month"), OUTSIDE_THEIR_MONTHS,
                         ids=[f"{u}:{p}:{m}" for u, p, m in OUTSIDE_THEIR_MONTHS])
def test_a_month_outside_the_relationship_is_the_same_not_found(site, not_found, user,
                                                                 path, month):
    client, reference = site.as_user(user), not_found(user)
    assert client.get(f"{path}?month={MONTH}").status_code == 200  # theirs in May
    for query in (f"?month={month}", f"?month={month}&format=pdf",
                  f"?month={month}&format=xlsx"):
        check_refusal(client.get(path + query), reference, f"{user} {path}{query}")


@pytest.mark.parametrize("user", sorted(USERS))
def test_guessed_addresses_are_the_same_not_found(site, not_found, user):
    client, reference = site.as_user(user), not_found(user)
    problems = []
    for guess in GUESSES:
        # A trailing slash is redirected to the address without it, on this site;
        # wherever the reader ends up, it is the same not-found page.
        response = client.get(f"{guess}?month={MONTH}", follow_redirects=True)
        for step in response.history:
            assert step.headers["location"].startswith(("/", "http://testserver/"))
        try:
            check_refusal(response, reference, f"{user} {guess}")
        except AssertionError as error:
            problems.append(str(error).splitlines()[0])
    assert not problems, f"{len(problems)} wrong answers: " + "; ".join(problems)


@pytest.mark.parametrize("path", NUL_IDS)
def test_a_nul_byte_in_an_id_is_the_same_not_found(site, not_found, path):
    problems = []
    for user in sorted(USERS):
        try:
            check_refusal(site.as_user(user).get(f"{path}?month={MONTH}"), not_found(user),
                          f"{user} {path}")
        except AssertionError as error:
            problems.append(str(error).splitlines()[0])
    assert not problems, f"{len(problems)} wrong answers: " + "; ".join(problems)


@pytest.mark.parametrize("month", ODD_MONTHS)
def test_odd_months_are_the_same_not_found(site, not_found, month):
    """For every role, on its own pages and on a page that is not its own alike."""
    problems = []
    for user in sorted(USERS):
        client, reference = site.as_user(user), not_found(user)
        asks = [own_page(user), f"{own_page(user)}?format=pdf",
                REFUSED.get(user, ["/council/NOPE"])[0]]
        for ask in asks:
            url = f"{ask}{'&' if '?' in ask else '?'}month={month}"
            try:
                check_refusal(client.get(url), reference, f"{user} {url}")
            except AssertionError as error:
                problems.append(str(error).splitlines()[0])
    assert not problems, f"{len(problems)} wrong answers: " + "; ".join(problems[:8])


@pytest.mark.parametrize("fmt", ODD_FORMATS)
@pytest.mark.parametrize("user", sorted(USERS))
def test_odd_formats_are_the_same_not_found(site, not_found, user, fmt):
    client, reference = site.as_user(user), not_found(user)
    page = own_page(user)  # (a refused page with a download format: above)
    check_refusal(client.get(f"{page}?month={MONTH}&format={fmt}"), reference,
                  f"{user} {page} format={fmt}")


def test_not_found_is_the_same_for_every_kind_of_page(site, not_found):
    """A refused holder, pool, provider and council page, a missing route and a missing
    id: one body."""
    reference = not_found("ann")
    client = site.as_user("ann")
    for path in ["/statements/pool/RICONLY", "/statements/pool/NOPE", "/provider/BW/month-end",
                 "/provider/NOPE/month-end", "/council/RIC", "/council/NOPE", "/nothing/here",
                 "/invite", "/invite/not-a-token"]:
        check_refusal(client.get(path), reference, f"ann {path}")


# ---------------------------------------------------------------- one statement page


@pytest.mark.parametrize(("user", "kind", "ident", "older"), [
    ("ann", "holder", "H1", None), ("wes", "pool", "MIXED", None),
    ("sh", "provider", "SH", "/provider/SH/month-end"), ("ric", "council", "RIC", "/council/RIC")])
def test_every_kind_is_at_statements_kind_id_and_older_addresses_are_the_same(
        site, user, kind, ident, older):
    """/statements/KIND/ID for each kind; a provider's and a council's older addresses give
    the very same statement (its download, byte for byte, and its page)."""
    client = site.as_user(user)
    new = f"/statements/{kind}/{ident}"
    page = client.get(f"{new}?month={MONTH}")
    assert page.status_code == 200
    expected = next(words for who, path, words in ALLOWED
                    if who == user and path == (older or new))
    for words in expected:
        assert words in page.text, f"{new}: no {words!r}"
    if older is not None:
        for query in (f"?month={MONTH}&format=xlsx", f"?month={MONTH}&version=easy_read"):
            one, other = client.get(new + query), client.get(older + query)
            assert one.status_code == other.status_code == 200
            assert one.headers.get("content-disposition") == \
                other.headers.get("content-disposition")
            # The page's own links point back at the address it was asked by.
            assert one.content.replace(new.encode(), older.encode()) == other.content


# ---------------------------------------------------------------- signed out


SIGNED_OUT_PAGES = [
    "/",
    f"/statements/holder/H1?month={MONTH}",
    f"/statements/holder/H1?month={MONTH}&format=pdf",
    f"/statements/holder/H1?month={MONTH}&format=xlsx",
    f"/statements/holder/H1?month={MONTH}&version=easy_read",
    "/statements/holder/H1",
    f"/statements/holder/NOBODY?month={MONTH}",  # signed out, nothing says it is missing
    f"/statements/pool/MIXED?month={MONTH}",
    f"/statements/pool/MIXED?month={MONTH}&format=pdf",
    f"/provider/SH/month-end?month={MONTH}",
    f"/provider/SH/month-end?month={MONTH}&format=xlsx",
    f"/council/WBC?month={MONTH}",
    f"/council/WBC?month={MONTH}&format=pdf",
    f"/statements/provider/SH?month={MONTH}",
    f"/statements/council/WBC?month={MONTH}&format=xlsx",
    "/invite",
]


@pytest.mark.parametrize("path", SIGNED_OUT_PAGES)
def test_signed_out_every_page_goes_to_sign_in(site, path):
    response = site.client().get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
    assert "£" not in response.text
    for name in HOLDER_NAMES.values():
        assert name not in response.text


def test_signed_out_invite_post_goes_to_sign_in(site):
    response = site.client().post("/invite", data={"role": "holder:H1"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_after_sign_in_the_reader_gets_the_page_asked_for(site):
    client = site.client()
    path = f"/statements/holder/H1?month={MONTH}&version=large_print"
    first = client.get(path)
    assert first.status_code == 303
    login_page = client.get(first.headers["location"])
    assert f'name="next" value="{path.replace("&", "&amp;")}"' in login_page.text
    response = site.login(client, "ann", next=path)
    assert response.status_code == 303
    assert response.headers["location"] == path
    page = client.get(path)
    assert page.status_code == 200
    assert "Statement for Ann Example" in page.text


# ---------------------------------------------------------------- pool ids of any text


# A pool id is free text without a colon (docs/scenarios.md#parties): accents and other
# scripts, spaces, and characters that mean something in a URL or a header.
ODD_POOLS = ["Ωmega club", "Out & About/2026", 'Tea #2? "50%" off']
ODD_POOL_SCENARIO = """\
format: 1
name: odd-pools
parties:
  councils: [{id: RIC, name: London Borough of Richmond upon Thames}]
  holders:
    - {id: H1, name: Asha Example, council: RIC, show_name: true}
    - {id: H2, name: Ben Example, council: RIC, pseudonym: Kingfisher}
events:
  - {date: 2026-05-01, type: dp_payment, holder: H1, amount: "300.00"}
  - {date: 2026-05-01, type: dp_payment, holder: H2, amount: "300.00"}
""" + "".join(f"""\
  - {{date: 2026-05-02, type: pool_open, pool: '{pool}', members: [H1, H2]}}
  - {{date: 2026-05-02, type: pool_contribute, pool: '{pool}', holder: H1, amount: "40.00"}}
  - {{date: 2026-05-02, type: pool_contribute, pool: '{pool}', holder: H2, amount: "40.00"}}
""" for pool in ODD_POOLS)


def test_a_pool_of_any_id_opens_from_home_and_downloads(db_url, tmp_path):
    """Every pool on the council's home page opens, and so do its version links and its
    downloads, whatever its id: the links are URL-encoded, the route takes any id, and
    the download's file name is a valid header."""
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    from ledger.app import access
    from ledger.cli import cli
    from ledger.web.app import create_app

    scenario = tmp_path / "odd-pools.yaml"
    scenario.write_text(ODD_POOL_SCENARIO, encoding="utf-8")
    result = CliRunner().invoke(cli, ["scenario", "run", str(scenario), "--db", db_url],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    app = create_app(db_url)
    web = app.state.web
    with mock.patch.object(access, "_hasher", cheap_hasher):
        access.add_sign_in(web.books, "ric", PASSWORD, ["council:RIC"])
    problems = []
    try:
        with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as client:
            token = csrf_of(client.get("/login").text)
            client.post("/login", data={"username": "ric", "password": PASSWORD,
                                        "csrf_token": token})
            home = client.get("/").text
            hrefs = [html.unescape(h) for h in
                     re.findall(r'<li><a href="(/statements/pool/[^"]*)">', home)]
            assert len(hrefs) == len(ODD_POOLS), hrefs
            for href in hrefs:
                page = client.get(f"{href}?month={MONTH}")
                if page.status_code != 200:
                    problems.append(f"home link {href!r}: {page.status_code}")
                    continue
                links = {text: html.unescape(link) for link, text in re.findall(
                    r'<a href="([^"]+)">([^<]+)</a>', page.text)}
                large = client.get(links["Large print"])
                if large.status_code != 200:
                    problems.append(f"{href!r} Large print {links['Large print']!r}: "
                                    f"{large.status_code}")
                for text in ("Download as spreadsheet (.xlsx)",
                             "Download this statement as a PDF"):
                    download = client.get(links[text])
                    if download.status_code != 200:
                        problems.append(f"{href!r} {text} {links[text]!r}: "
                                        f"{download.status_code}")
                        continue
                    header = Message()
                    header["content-disposition"] = download.headers["content-disposition"]
                    name = header.get_filename() or ""
                    if not name.endswith((".xlsx", ".pdf")) or "/" in name or "\\" in name:
                        problems.append(f"{href!r}: Content-Disposition "
                                        f"{download.headers['content-disposition']!r}")
    finally:
        web.books.dispose()
    assert not problems, "\n".join(problems)
