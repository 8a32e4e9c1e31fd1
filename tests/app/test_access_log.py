"""The access log (docs/web.md#access-log; src/ledger/app/access_log.py): every statement
or export read at the command line or on the web is a `read` record in the ledger's audit
chain, with who, what, the period, version, format, when and (on the web) the reader's
network; reading never moves the books' head; `ledger access-log --holder H | --user U`
answers a subject access request or an audit of one sign-in. On both engines."""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
from unittest import mock

import pytest

from ledger.app import access_log
from tests.app.test_scopes_dated import build
from tests.cli.test_unknown_ids import _ledger

ME = getpass.getuser()


@pytest.fixture
def db(db_url, tmp_path):
    build(db_url, tmp_path).dispose()
    return db_url


def reads(db: str, *args: str) -> list[dict]:
    code, out, err = _ledger("access-log", *args, "--format", "json", "--db", db)
    assert code == 0, err
    return json.loads(out)


def heads(db: str) -> tuple[str, str]:
    """(the books' head line, the audit chain's line) of `ledger verify`."""
    code, out, err = _ledger("verify", "--db", db)
    assert code == 0, (out, err)
    lines = out.splitlines()
    books = next(line for line in lines if line.startswith("head"))
    audit = next(line for line in lines if line.startswith("audit"))
    return books, audit


def test_a_command_line_read_is_recorded_and_never_moves_the_books_head(db, tmp_path):
    books_before, audit_before = heads(db)
    code, out, err = _ledger("statement", "holder", "H1", "--month", "2026-03",
                             "--easy-read", "--db", db)
    assert code == 0 and "Ann Example" in out, err
    code, _, err = _ledger("export", "gl", "--council", "WBC", "--from", "2026-03-01",
                           "--to", "2026-03-31", "--format", "xlsx", "-o", str(tmp_path / "gl.xlsx"),
                           "--db", db)
    assert code == 0, err
    books_after, audit_after = heads(db)
    assert books_after == books_before
    assert audit_after != audit_before
    found = reads(db, "--user", ME)
    assert [(r["via"], r["reader"], r["kind"], r["id"], r["from"], r["to"], r["version"],
             r["format"], r["address"], r["subject"]) for r in found] == [
        ("cli", ME, "holder", "H1", "2026-03-01", "2026-03-31", "easy_read", "text", None,
         "holder:H1"),
        ("cli", ME, "export-gl", "WBC", "2026-03-01", "2026-03-31", None, "xlsx", None,
         "council:WBC"),
    ]


def test_a_subject_access_request_finds_every_read_that_included_the_person(db, tmp_path):
    out = str(tmp_path / "export.out")  # (never /dev/null: a file is written whole by
    # renaming a new one over it)
    asked = [
        ("statement", "holder", "H1", "--month", "2026-03"),
        ("statement", "isf", "H1", "--provider", "SH", "--month", "2026-04"),
        ("statement", "provider", "SH", "--month", "2026-03"),  # Ann's ISF was open
        ("statement", "provider", "BW", "--month", "2026-02"),  # before her ISF opened
        ("statement", "pool", "DATED", "--month", "2026-04"),  # Ann is not a member
        ("statement", "council", "WBC", "--from", "2026-03-01", "--to", "2026-03-31"),
        ("statement", "council", "RIC", "--from", "2026-03-01", "--to", "2026-03-31"),
        ("export", "payments", "--council", "WBC", "--from", "2026-03-01", "--to",
         "2026-03-31", "-o", out),
        ("export", "beancount", "-o", out),  # the whole ledger: everyone
    ]
    for args in asked:
        code, _, err = _ledger(*args, "--db", db)
        assert code == 0, (args, err)
    ann = [(r["kind"], r["id"]) for r in reads(db, "--holder", "H1")]
    assert ann == [("holder", "H1"), ("isf", "H1:SH"), ("provider", "SH"),
                   ("council", "WBC"), ("export-payments", "WBC"),
                   ("export-beancount", "main")]
    wes = [(r["kind"], r["id"]) for r in reads(db, "--holder", "H3")]
    assert wes == [("pool", "DATED"), ("council", "WBC"), ("export-payments", "WBC"),
                   ("export-beancount", "main")]
    assert reads(db, "--holder", "H1", "--from", "2199-01-01") == []
    code, out, err = _ledger("access-log", "--holder", "H1", "--db", db)  # CSV by default
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["kind"], r["id"]) for r in rows] == ann
    assert list(rows[0]) == list(access_log.COLUMNS)


@pytest.mark.parametrize(("args", "said"), [
    (["--holder", "NOBODY"], "error: holder 'NOBODY' is not in ledger 'main'"),
    (["--user", "nobody-here"],
     "error: user 'nobody-here' is not in ledger 'main' and has read nothing there"),
    ([], "error: give either --holder H or --user U"),
    (["--holder", "H1", "--user", ME], "error: give either --holder H or --user U"),
])
def test_an_unknown_holder_or_user_is_one_line_and_exit_2(db, args, said):
    code, out, err = _ledger("access-log", *args, "--db", db)
    assert (code, out, err.strip()) == (2, "", said)


def test_web_reads_are_recorded_with_the_username_and_network(db):
    from ledger.app import access
    from tests.web.conftest import PASSWORD, Site, cheap_hasher

    site = Site(db)
    try:
        with mock.patch.object(access, "_hasher", cheap_hasher):
            access.add_sign_in(site.app.state.web.books, "sh-staff", PASSWORD,
                               ["provider:SH"])
        books_before, _ = heads(db)
        client = site.sign_in("sh-staff")
        page = client.get("/statements/isf/H1:SH?month=2026-04")
        assert page.status_code == 200 and "Individual Service Fund" in page.text
        sheet = client.get("/statements/isf/H1:SH?month=2026-04&format=xlsx")
        assert sheet.status_code == 200
        for refused in ("/statements/isf/H1:SH?month=2026-07",  # after it closed
                        "/statements/holder/H1?month=2026-04",  # the person's own
                        "/statements/isf/H1:SH?month=2026-04&format=csv"):
            assert client.get(refused).status_code == 404, refused
        assert heads(db)[0] == books_before
        found = reads(db, "--user", "sh-staff")
        assert [(r["via"], r["kind"], r["id"], r["from"], r["version"], r["format"])
                for r in found] == [
            ("web", "isf", "H1:SH", "2026-04-01", "standard", "html"),
            ("web", "isf", "H1:SH", "2026-04-01", None, "xlsx")]
        # The test clients' addresses are 10.9.N.M (tests/web/conftest.py): kept as /24.
        assert all(re.fullmatch(r"10\.9\.\d+\.0/24", r["address"]) for r in found), found
        assert [r["kind"] for r in reads(db, "--holder", "H1")] == ["isf", "isf"]
    finally:
        site.close()


@pytest.mark.parametrize(("address", "kept"), [
    ("192.0.2.77", "192.0.2.0/24"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::9%eth0", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.7", "198.51.100.0/24"),
    ("testclient", None),
    (None, None),
])
def test_an_address_is_kept_only_as_its_network(address, kept):
    assert access_log.network(address) == kept


def test_each_file_of_statement_holders_is_a_read(db, tmp_path):
    for args in (["--council", "WBC"], ["--provider", "SH"]):
        code, _, err = _ledger("statement", "holders", *args, "--month", "2026-04",
                               "--format", "json", "--out", str(tmp_path / args[1]),
                               "--db", db)
        assert code == 0, err
    found = [(r["kind"], r["id"], r["format"], r["subject"])
             for r in reads(db, "--user", ME)]
    assert found == [("holder", "H1", "json", "holder:H1"),
                     ("holder", "H3", "json", "holder:H3"),
                     ("isf", "H1:SH", "json", "holder:H1")]
    assert [r["kind"] for r in reads(db, "--holder", "H3")] == ["holder"]


def test_a_web_read_that_cannot_be_recorded_is_not_given(db):
    from ledger.app import access
    from tests.web.conftest import PASSWORD, Site, cheap_hasher

    site = Site(db)
    try:
        with mock.patch.object(access, "_hasher", cheap_hasher):
            access.add_sign_in(site.app.state.web.books, "sh-staff", PASSWORD,
                               ["provider:SH"])
        client = site.sign_in("sh-staff")
        path = "/statements/isf/H1:SH?month=2026-04"
        with mock.patch.object(access_log._writer, "__enter__",
                               side_effect=OSError("disk full")):
            refused = client.get(path)
        assert refused.status_code == 404 and "Ann Example" not in refused.text
        assert client.get(path).status_code == 200  # recorded, so given
        assert len(reads(db, "--user", "sh-staff")) == 1
    finally:
        site.close()
