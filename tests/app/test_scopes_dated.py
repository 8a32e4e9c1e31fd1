"""Dated, least-privilege scopes (docs/web.md#roles; `Scope` in src/ledger/app/statements.py):
a provider reads its own statement of an ISF (kind `isf`) only for the months the ISF was
open, never the person's own statement; a council reads a pool only for the months it
existed and had a member recorded with the council; a pool member reads the pool for the
months they were a member; a provider invites only people it holds an open ISF with; and
`ledger statement holders --provider` writes the provider's ISF statements for the people
whose ISF was open in the month. On both engines (`db_url`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.app.reading import Books
from ledger.app.statements import NotReadable, Period, Scope, readable, statement
from ledger.cli import cli

SCENARIO = """\
format: 1
name: dated-scopes
parties:
  councils:
    - {id: WBC, name: Wokingham Borough Council}
    - {id: RIC, name: London Borough of Richmond upon Thames}
  providers:
    - {id: SH, name: Support Horizons CIC}
    - {id: BW, name: Brightwater Care Ltd}
  holders:
    - {id: H1, name: Ann Example, council: WBC}
    - {id: H2, name: Rafe Richmond, council: RIC}
    - {id: H3, name: Wes Woodley, council: WBC}
events:
  # Ann's ISF with Support Horizons: open from 1 March to 15 May.
  - {date: 2026-03-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
     rate: "20.00", carry: {expire_after_months: 1}}
  - {date: 2026-03-01, type: isf_advance, holder: H1, provider: SH, month: 2026-03}
  - {date: 2026-03-09, type: isf_delivery, holder: H1, provider: SH, hours: 4}
  - {date: 2026-04-01, type: isf_advance, holder: H1, provider: SH, month: 2026-04}
  - {date: 2026-04-09, type: isf_delivery, holder: H1, provider: SH, hours: 6}
  - {date: 2026-05-01, type: isf_advance, holder: H1, provider: SH, month: 2026-05}
  - {date: 2026-05-15, type: isf_close, holder: H1, provider: SH}
  # Her other provider's ISF, and her direct payment with a payee: never on SH's page.
  - {date: 2026-03-01, type: isf_open, holder: H1, provider: BW, hours_per_month: 5,
     rate: "30.00", carry: {expire_after_months: 1}}
  - {date: 2026-03-01, type: isf_advance, holder: H1, provider: BW, month: 2026-03}
  - {date: 2026-03-01, type: dp_payment, holder: H1, amount: "300.00"}
  - {date: 2026-03-05, type: dp_spend, holder: H1, payee: Corner Shop Payee,
     amount: "45.00"}
  # A pool from 2 April: Rafe (Richmond) and Wes (Wokingham), who leaves on 10 May.
  - {date: 2026-04-01, type: dp_payment, holder: H2, amount: "200.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H3, amount: "200.00"}
  - {date: 2026-04-02, type: pool_open, pool: DATED, members: [H2, H3]}
  - {date: 2026-04-02, type: pool_contribute, pool: DATED, holder: H2, amount: "50.00"}
  - {date: 2026-04-02, type: pool_contribute, pool: DATED, holder: H3, amount: "50.00"}
  - {date: 2026-05-10, type: pool_leave, pool: DATED, holder: H3}
  - {date: 2026-06-05, type: pool_spend, pool: DATED, payee: Tea Room, amount: "12.00",
     description: "tea"}
"""


def build(db_url: str, folder: Path) -> Books:
    scenario = folder / "dated.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    done = CliRunner().invoke(cli, ["scenario", "run", str(scenario), "--db", db_url])
    assert done.exit_code == 0, done.output
    return Books.at(db_url, "main")


@pytest.fixture
def books(db_url, tmp_path):
    made = build(db_url, tmp_path)
    yield made
    made.dispose()


def may(books: Books, roles: list[str], kind: str, ident: str, month: str) -> bool:
    """Whether a web reader with `roles` gets the statement for `month`: the same call
    the web's statement page makes."""
    try:
        statement(books, kind, ident, Period.of_month(month), Scope(roles, who="t"),
                  fmt="html")
    except NotReadable:
        return False
    return True


def test_a_provider_reads_its_isf_only_for_the_months_it_was_open(books):
    sh = ["provider:SH"]
    assert not may(books, sh, "isf", "H1:SH", "2026-02")  # before it opened
    for month in ("2026-03", "2026-04", "2026-05"):  # it closed on 15 May
        assert may(books, sh, "isf", "H1:SH", month), month
    assert not may(books, sh, "isf", "H1:SH", "2026-06")  # after it closed
    # Never the person's own statement, in any month; never another provider's ISF.
    for month in ("2026-03", "2026-05"):
        assert not may(books, sh, "holder", "H1", month)
        assert not may(books, sh, "isf", "H1:BW", month)
    assert may(books, ["provider:BW"], "isf", "H1:BW", "2026-06")  # still open


REOPEN = """\
format: 1
name: reopen
events:
  - {date: 2026-08-03, type: isf_open, holder: H1, provider: SH, hours_per_month: 8,
     rate: "20.00", carry: {expire_after_months: 1}}
  - {date: 2026-08-03, type: isf_advance, holder: H1, provider: SH, month: 2026-08}
"""


def test_a_reopened_isf_is_read_for_each_agreement_and_not_between(books, db_url, tmp_path):
    scenario = tmp_path / "reopen.yaml"
    scenario.write_text(REOPEN, encoding="utf-8")
    done = CliRunner().invoke(cli, ["scenario", "run", str(scenario), "--db", db_url])
    assert done.exit_code == 0, done.output
    sh = ["provider:SH"]
    assert [may(books, sh, "isf", "H1:SH", f"2026-{m:02d}") for m in range(2, 10)] == [
        False, True, True, True, False, False, True, True]  # Mar-May, then from August


def test_the_provider_isf_statement_holds_nothing_but_that_isf(books):
    found = statement(books, "isf", "H1:SH", Period.of_month("2026-03"),
                      Scope(["provider:SH"], who="t"), fmt="html")
    data = found.data
    assert {a["account"] for a in data["accounts"]} == {"isf:H1:SH"}
    assert {line["account"] for line in data["lines"]} == {"isf:H1:SH"}
    assert "dp_spend" not in {line["type"] for line in data["lines"]}
    assert data["isf"]["money_minor"]["in"] == 20000  # 10 h at £20.00
    assert data["isf"]["hours_minutes"]["delivered"] == 240
    everything = json.dumps(data) + found.render("text", "standard").decode() \
        + found.render("html", "easy_read").decode()
    for absent in ("Corner Shop Payee", "Brightwater", "isf:H1:BW", "holder:H1:dp",
                   "DATED", "pool", "£300.00", "£45.00"):
        assert absent not in everything, absent
    assert "Individual Service Fund for Ann Example" in everything
    assert "Support Horizons CIC" in everything
    # The person's own statement does hold them: the ISF statement is not it.
    own = statement(books, "holder", "H1", Period.of_month("2026-03"),
                    Scope(["holder:H1"], who="t"), fmt="html")
    assert "Corner Shop Payee" in own.render("text", "standard").decode()


def test_a_council_reads_a_pool_only_while_it_existed_with_one_of_its_people(books):
    wbc, ric = ["council:WBC"], ["council:RIC"]
    assert not may(books, wbc, "pool", "DATED", "2026-03")  # before the pool existed
    assert may(books, wbc, "pool", "DATED", "2026-04")
    assert may(books, wbc, "pool", "DATED", "2026-05")  # Wes left on 10 May
    assert not may(books, wbc, "pool", "DATED", "2026-06")  # its only member had left
    assert not may(books, ric, "pool", "DATED", "2026-03")
    assert may(books, ric, "pool", "DATED", "2026-06")  # Rafe is still a member
    # Its own people, in the months asked; never another council's.
    assert may(books, wbc, "holder", "H3", "2026-06")
    assert not may(books, wbc, "holder", "H2", "2026-04")


def test_a_pool_member_reads_the_pool_for_the_months_they_were_a_member(books):
    wes = ["pool:DATED", "holder:H3"]
    assert not may(books, wes, "pool", "DATED", "2026-03")
    assert may(books, wes, "pool", "DATED", "2026-04")
    assert may(books, wes, "pool", "DATED", "2026-05")
    assert not may(books, wes, "pool", "DATED", "2026-06")  # after he left
    rafe = ["pool:DATED", "holder:H2"]
    assert may(books, rafe, "pool", "DATED", "2026-06")
    # A pool role for no member: the months the pool existed.
    assert may(books, ["pool:DATED"], "pool", "DATED", "2026-06")
    assert not may(books, ["pool:DATED"], "pool", "DATED", "2026-03")


def test_a_refusal_for_a_month_is_the_refusal_for_a_page_that_does_not_exist(books):
    """Same exception, and the web turns both into the one not-found page."""
    with pytest.raises(NotReadable) as outside:
        statement(books, "isf", "H1:SH", Period.of_month("2026-07"),
                  Scope(["provider:SH"], who="t"), fmt="html")
    with pytest.raises(NotReadable) as missing:
        statement(books, "isf", "NOBODY:SH", Period.of_month("2026-04"),
                  Scope(["provider:SH"], who="t"), fmt="html")
    assert type(outside.value) is type(missing.value)


def test_a_provider_invites_only_people_it_holds_an_open_isf_with(books):
    sh = Scope(["provider:SH"])
    with books.read() as store:
        assert sh.view(store, dt.date(2026, 4, 15)).may_invite("holder:H1")
        assert not sh.view(store, dt.date(2026, 6, 1)).may_invite("holder:H1")  # closed
        assert not sh.view(store, dt.date(2026, 4, 15)).may_invite("holder:H3")  # none
        assert sh.view(store, dt.date(2026, 6, 1)).may_invite("provider:SH")
        wbc = Scope(["council:WBC"])
        assert wbc.view(store, dt.date(2026, 4, 15)).may_invite("pool:DATED")
        assert not wbc.view(store, dt.date(2026, 6, 15)).may_invite("pool:DATED")


def test_home_links_follow_the_same_rule(books):
    """The provider's home lists its ISF statement (the page opens on a month it may
    read); a council whose only member left still lists the pool (months it may read)."""
    links = readable(books, Scope(["provider:SH"]), dt.date(2026, 12, 6))
    assert ("isf", "H1:SH", "Ann Example (Support Horizons CIC)") in links
    assert not any(kind == "holder" for kind, _, _ in links)
    from ledger.app.months import latest_month

    # Without a month, the ISF's page opens on the latest month its account moved in...
    assert latest_month(books, "isf", "H1:SH", dt.date(2026, 12, 6)) == "2026-05"
    # ...moved back (or on) to a month the reader may read.
    reader = Scope(["provider:SH"])
    assert reader.opening_month(books, "isf", "H1:SH", "2026-11") == "2026-05"
    assert reader.opening_month(books, "isf", "H1:SH", "2026-01") == "2026-03"
    wes = Scope(["pool:DATED", "holder:H3"])
    assert wes.opening_month(books, "pool", "DATED", "2026-06") == "2026-05"


def test_statement_holders_for_a_provider_writes_its_isf_statements(books, db_url, tmp_path):
    def holders(month: str, out: Path):
        return CliRunner().invoke(cli, ["statement", "holders", "--provider", "SH",
                                        "--month", month, "--format", "json", "--out",
                                        str(out), "--db", db_url])

    may_files = tmp_path / "may"
    done = holders("2026-05", may_files)
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in may_files.iterdir()) == ["H1.json"]
    data = json.loads((may_files / "H1.json").read_text(encoding="utf-8"))
    assert data["kind"] == "isf" and data["provider"] == "SH"
    assert {a["account"] for a in data["accounts"]} == {"isf:H1:SH"}
    one = CliRunner().invoke(cli, ["statement", "isf", "H1", "--provider", "SH", "--month",
                                   "2026-05", "--format", "json", "--db", db_url])
    assert one.exit_code == 0, one.output
    assert (may_files / "H1.json").read_bytes() == one.stdout_bytes
    june = tmp_path / "june"
    done = holders("2026-06", june)  # the ISF closed in May: nobody
    assert done.exit_code == 0, done.output
    assert "0 statements written" in done.output
    assert not june.exists() or list(june.iterdir()) == []


@pytest.mark.parametrize(("args", "said"), [
    (["statement", "isf", "NOBODY", "--provider", "SH", "--month", "2026-05"],
     "error: holder 'NOBODY' is not in ledger 'main'"),
    (["statement", "isf", "H1", "--provider", "NOPE", "--month", "2026-05"],
     "error: provider 'NOPE' is not in ledger 'main'"),
    (["statement", "isf", "H3", "--provider", "SH", "--month", "2026-05"],
     "error: SH holds no ISF for H3 in ledger 'main'"),
])
def test_statement_isf_of_an_unknown_isf_is_one_line_and_exit_2(books, db_url, args, said):
    from tests.cli.test_unknown_ids import _ledger

    code, out, err = _ledger(*args, "--db", db_url)
    assert (code, out, err.strip()) == (2, "", said)
