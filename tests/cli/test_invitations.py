"""`ledger user invitations [--withdraw N]` and the invitations `ledger user readers`
shows (docs/web.md#invitations, #who-may-read): an information governance lead sees every
link that would still make a sign-in, and which of them reach a person's records, and can
withdraw one; a withdrawn link makes nothing, and `verify` checks the withdrawal."""

from __future__ import annotations

import json
import textwrap
from unittest import mock

import pytest
from click.testing import CliRunner

from ledger.app import access
from ledger.app.reading import Books
from ledger.cli import cli
from ledger.errors import UsageError
from tests.web.conftest import cheap_hasher

PASSWORD = "correct horse battery"
PARTIES = """\
format: 1
name: invitations
parties:
  councils:  [{id: WBC, name: Wokingham Borough Council}]
  providers: [{id: SH, name: Support Horizons CIC}]
  holders:   [{id: H1, name: Ann Example, council: WBC},
              {id: H2, name: Ben Example, council: WBC}]
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H2, amount: "100.00"}
"""


def run(db: str, *args: str, stdin: str | None = None):
    with mock.patch.object(access, "_hasher", cheap_hasher):
        return CliRunner().invoke(cli, [*args, "--db", db], input=stdin,
                                  env={"LEDGER_DATABASE_URL": None})


def ok(db: str, *args: str, stdin: str | None = None) -> str:
    done = run(db, *args, stdin=stdin)
    assert done.exit_code == 0, done.output
    return done.output


def token_of(link: str) -> str:
    return link.strip().splitlines()[0].rsplit("/", 1)[1]


@pytest.fixture
def db(db_url, tmp_path):
    scenario = tmp_path / "parties.yaml"
    scenario.write_text(textwrap.dedent(PARTIES), encoding="utf-8")
    ok(db_url, "scenario", "run", str(scenario))
    ok(db_url, "user", "add", "wbc-staff", "--role", "council:WBC", "--password-stdin",
       stdin=PASSWORD + "\n")
    return db_url


def invitations(db: str) -> list[dict]:
    return json.loads(ok(db, "user", "invitations", "--format", "json"))


def test_each_open_link_is_listed_with_its_maker_and_a_withdrawn_one_makes_nothing(db):
    for_ann = token_of(ok(db, "user", "invite", "--role", "holder:H1",
                          "--base-url", "https://care.example"))
    ok(db, "user", "invite", "--role", "council:WBC", "--base-url", "https://care.example")
    books = Books.at(db, "main", mode="write")
    staff = access.sign_in_named(books, "wbc-staff")
    access.invite(books, ["holder:H2"], by=staff)  # made on the web by a member of staff
    listed = invitations(db)
    assert [(i["roles"], i["by"].endswith("(command line)")) for i in listed] == [
        (["holder:H1"], True), (["council:WBC"], True), (["holder:H2"], False)]
    assert listed[2]["by"] == "wbc-staff"
    assert listed[0]["number"] < listed[1]["number"] < listed[2]["number"]

    said = ok(db, "user", "invitations", "--withdraw", str(listed[0]["number"]))
    assert said.startswith(f"withdrew invitation {listed[0]['number']} (holder:H1")
    assert [i["roles"] for i in invitations(db)] == [["council:WBC"], ["holder:H2"]]
    with pytest.raises(UsageError, match="not valid"):
        access.accept_invitation(books, for_ann, "ann", PASSWORD * 2)
    assert access.invitation(books, for_ann) is None  # the link's page: not found
    again = run(db, "user", "invitations", "--withdraw", str(listed[0]["number"]))
    assert isinstance(again.exception, UsageError)  # one line and exit 2 (ledger.cli.main)
    assert str(again.exception) == (f"invitation {listed[0]['number']} is not an open "
                                    "invitation in ledger 'main'; `ledger user "
                                    "invitations` lists them")
    # the staff member leaves: the link they made is no longer open
    ok(db, "user", "remove", "wbc-staff")
    assert [i["roles"] for i in invitations(db)] == [["council:WBC"]]
    books.dispose()
    assert "every invariant holds" in ok(db, "verify")


def test_readers_of_a_person_shows_the_links_that_would_reach_them(db):
    ok(db, "user", "invite", "--role", "holder:H1", "--base-url", "https://care.example")
    ok(db, "user", "invite", "--role", "council:WBC", "--base-url", "https://care.example")
    ok(db, "user", "invite", "--role", "holder:H2", "--base-url", "https://care.example")
    table = ok(db, "user", "readers", "--holder", "H1")
    assert "Invitations not yet used" in table
    waiting = table.split("Invitations not yet used", 1)[1]
    assert "holder:H1" in waiting and "council:WBC" in waiting
    assert "holder:H2" not in waiting  # Ben's link reaches nothing of Ann's
    assert "council WBC" in waiting  # the council's overview names Ann
    number = invitations(db)[0]["number"]
    ok(db, "user", "invitations", "--withdraw", str(number))
    waiting = ok(db, "user", "readers", "--holder", "H1").split("Invitations not yet used")
    assert "holder:H1" not in waiting[1]


def test_the_links_reaching_a_person_as_json(db):
    ok(db, "user", "invite", "--role", "holder:H1", "--base-url", "https://care.example")
    ok(db, "user", "invite", "--role", "holder:H2", "--base-url", "https://care.example")
    ok(db, "user", "invite", "--role", "council:WBC", "--base-url", "https://care.example")
    found = json.loads(ok(db, "user", "invitations", "--holder", "H2", "--format", "json"))
    assert [(i["roles"], i["statements"]) for i in found] == [
        (["holder:H2"], ["holder H2"]), (["council:WBC"], ["holder H2", "council WBC"])]
    unknown = run(db, "user", "invitations", "--holder", "NOBODY")
    assert isinstance(unknown.exception, UsageError)
    assert "'NOBODY' is not in ledger" in str(unknown.exception)
