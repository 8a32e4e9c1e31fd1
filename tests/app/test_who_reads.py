"""Who may read a person's records (docs/web.md#who-may-read): `ledger user readers
--holder H` lists each sign-in with the statements holding something of H's it may read
and the days, from the same rules as the web view. Expected answers are worked by hand
from the rules in docs/web.md#roles on the dated scenario of test_scopes_dated. On both
engines."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ledger.cli import cli
from tests.app.test_scopes_dated import build
from tests.imports.run import ledger

USERS = {  # username: roles
    "wbc": ["council:WBC"],
    "ric": ["council:RIC"],
    "sh": ["provider:SH"],
    "bw": ["provider:BW"],
    "wes": ["holder:H3", "pool:DATED"],
    "gone": ["council:WBC"],
    "audit": ["auditor"],
}
PASSWORD = "a long enough password"


def invoke(db_url: str, *args: str, stdin: str | None = None):
    return CliRunner().invoke(cli, [*args, "--db", db_url], input=stdin,
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def ledger_with_users(db_url: str, tmp_path) -> None:
    build(db_url, tmp_path).dispose()
    for name, roles in USERS.items():
        role_args = [a for role in roles for a in ("--role", role)]
        done = invoke(db_url, "user", "add", name, *role_args, "--password-stdin",
                      stdin=PASSWORD + "\n")
        assert done.exit_code == 0, done.output
    assert invoke(db_url, "user", "remove", "gone").exit_code == 0


def readers(db_url: str, holder: str) -> dict[tuple[str, str], list[tuple]]:
    done = invoke(db_url, "user", "readers", "--holder", holder, "--format", "json")
    assert done.exit_code == 0, done.output
    return {(r["username"], f"{r['kind']} {r['id']}"):
            [(d["from"], d["to"]) for d in r["days"]] for r in json.loads(done.output)}


def test_who_may_read_a_pool_member_and_for_which_days(db_url, tmp_path):
    ledger_with_users(db_url, tmp_path)
    # Wes (H3, recorded with Wokingham) was in pool DATED from 2 April until he left on
    # 10 May; Rafe (Richmond's) stays in it. Richmond reads the pool for Rafe's days, so
    # it saw Wes's part of it only while Wes was a member too. No provider, and not the
    # removed sign-in.
    member = [("2026-04-02", "2026-05-10")]
    assert readers(db_url, "H3") == {
        ("wbc", "holder H3"): [(None, None)],
        ("wbc", "pool DATED"): member,
        ("wbc", "council WBC"): [(None, None)],
        ("ric", "pool DATED"): member,
        ("wes", "holder H3"): [(None, None)],
        ("wes", "pool DATED"): member,
        ("audit", "holder H3"): [(None, None)],
        ("audit", "pool DATED"): member,
        ("audit", "council WBC"): [(None, None)],
    }


def test_a_provider_reaches_a_person_only_while_its_isf_was_open(db_url, tmp_path):
    ledger_with_users(db_url, tmp_path)
    found = readers(db_url, "H1")
    # Support Horizons' ISF with Ann ran 1 March to 15 May; Brightwater's is still open.
    assert found[("sh", "isf H1:SH")] == [("2026-03-01", "2026-05-15")]
    assert found[("sh", "provider SH")] == [("2026-03-01", "2026-05-15")]
    assert found[("bw", "isf H1:BW")] == [("2026-03-01", None)]
    assert ("sh", "holder H1") not in found and ("sh", "isf H1:BW") not in found
    assert not any(user == "gone" for user, _ in found)


def test_the_table_names_each_reader_and_an_unknown_person_is_one_line(db_url, tmp_path):
    ledger_with_users(db_url, tmp_path)
    table = invoke(db_url, "user", "readers", "--holder", "H1")
    assert table.exit_code == 0, table.output
    assert "isf H1:SH" in table.output and "2026-03-01 to 2026-05-15" in table.output
    missing = ledger("user", "readers", "--holder", "NOBODY", db=db_url)
    assert missing.code == 2 and missing.out == ""
    assert missing.err.strip().splitlines() == [
        "error: holder 'NOBODY' is not in ledger 'main'"]
