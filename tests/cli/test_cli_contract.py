"""The `ledger` command's fixed outputs (docs/statements.md#outputs): the CSV and JSON a
user or a finance system reads, the exit statuses, and the scenario-run rules of
docs/scenarios.md that show at the command line. Every test runs on SQLite and on
PostgreSQL (`db_url`).

Most tests drive `ledger.cli.cli` in-process with click's CliRunner. Exit status 2 comes
from the console entry point `main()`, which turns unusable input into one line on
stderr, so those tests run the real console script in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ledger.cli import cli
from ledger.store.schema import make_engine
from tests.citus.shards import switch_shard_triggers
from tests.dbutil import is_citus

pytestmark = pytest.mark.citus

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_EXAMPLE = ROOT / "tests" / "data" / "contract-example.yaml"
HEADER = "account,unit,balance,minor_units"

_SCRIPT = Path(sys.executable).with_name("ledger")
LEDGER = [str(_SCRIPT)] if _SCRIPT.exists() else [
    sys.executable, "-c", "from ledger.cli import main; main()"]


# ---------------------------------------------------------------- helpers


def invoke(*args: str, db: str | None = None):
    """Run `ledger ARGS [--db URL]` in-process; the environment's default DB is ignored."""
    argv = list(args) + (["--db", db] if db else [])
    return CliRunner().invoke(cli, argv, env={"LEDGER_DATABASE_URL": None})


def ok(*args: str, db: str):
    result = invoke(*args, db=db)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real console script, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    return subprocess.run([*LEDGER, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, status: int = 2) -> str:
    assert proc.returncode == status, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def scenario(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def balance_rows(db: str, *options: str) -> list[list[str]]:
    result = ok("balance", "--format", "csv", *options, db=db)
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    return [row for row in csv.reader(io.StringIO("\n".join(lines[1:]) + "\n")) if row]


def balance_map(db: str, *options: str) -> dict[tuple[str, str], int]:
    return {(a, u): int(m) for a, u, _, m in balance_rows(db, *options)}


def stats(db: str) -> dict:
    counts = json.loads(ok("stats", "--format", "json", db=db).stdout)
    for key in ("journals", "postings", "accounts"):
        assert type(counts[key]) is int
    return counts


PARTIES = """\
format: 1
name: {name}
parties:
  councils:  [{{id: WBC, name: Wokingham Borough Council}}]
  providers: [{{id: SH, name: Support Horizons CIC}}]
  holders:   [{{id: H1, name: Ann Example, council: WBC}},
              {{id: H10, name: Ben Example, council: WBC}}]
events:
"""


def with_parties(name: str, events: str) -> str:
    return PARTIES.format(name=name) + textwrap.indent(textwrap.dedent(events).strip(), "  ")


# ---------------------------------------------------------------- the contract example


@pytest.fixture
def contract_example() -> Path:
    if not CONTRACT_EXAMPLE.exists():
        pytest.skip(f"{CONTRACT_EXAMPLE} is absent")
    return CONTRACT_EXAMPLE


def test_contract_example_runs_and_balance_csv_is_exactly_what_the_contract_implies(
        db_url, contract_example):
    run = ok("scenario", "run", str(contract_example), db=db_url)
    assert len(run.stdout.strip().splitlines()) == 1  # one summary line per file
    assert "3 applied" in run.stdout
    result = ok("balance", "--format", "csv", db=db_url)
    assert result.stdout.splitlines() == [
        HEADER,
        "council:WBC:funding,GBP,-780.00,-78000",
        "council:WBC:hours,HRS,-40,-2400",
        "isf:H1:SH,GBP,780.00,78000",
        "isf:H1:SH,HRS,40,2400",
    ]


def test_replaying_the_same_file_posts_nothing_new_and_succeeds(db_url, contract_example):
    ok("scenario", "run", str(contract_example), db=db_url)
    before_rows, before_stats = balance_rows(db_url), stats(db_url)
    again = ok("scenario", "run", str(contract_example), db=db_url)
    assert "0 applied" in again.stdout
    assert re.search(r"\b0 journals? posted", again.stdout)
    assert balance_rows(db_url) == before_rows
    assert stats(db_url)["journals"] == before_stats["journals"]
    assert stats(db_url)["postings"] == before_stats["postings"]


def test_stats_json_counts_match_what_was_posted(db_url, contract_example):
    ok("init", db=db_url)
    assert stats(db_url)["journals"] == 0  # a fresh database
    run = ok("scenario", "run", str(contract_example), db=db_url)
    journals_posted = int(re.search(r"(\d+) journals? posted", run.stdout).group(1))
    counts = stats(db_url)
    assert counts["journals"] == journals_posted >= 1
    assert counts["accounts"] == 3  # council:WBC:funding, council:WBC:hours, isf:H1:SH
    assert counts["postings"] >= 4  # one per account and unit at the very least


def test_stats_counts_one_journal_and_two_postings_per_direct_payment(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("stats", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-08, type: dp_payment, holder: H10, amount: "50.00"}
        - {date: 2026-04-09, type: dp_payment, holder: H1, amount: "25.00"}
    """))
    ok("scenario", "run", str(path), db=db_url)
    counts = stats(db_url)
    assert (counts["journals"], counts["postings"], counts["accounts"]) == (3, 6, 3)


# ---------------------------------------------------------------- balance CSV

FLOWS = """
    - {date: 2026-04-01, id: pay-h1-apr, type: dp_payment, holder: H1, amount: "500.00"}
    - {date: 2026-04-01, type: dp_payment, holder: H10, amount: "300.00"}
    - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
    - {date: 2026-04-03, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
       rate: "20.00"}
    - {date: 2026-04-03, type: isf_advance, holder: H1, provider: SH, month: 2026-04}
    - {date: 2026-04-10, type: dp_spend, holder: H1, payee: PA-JONES, amount: "120.25"}
    - {date: 2026-05-01, id: pay-h1-may, type: dp_payment, holder: H1, amount: "500.00"}
    - {date: 2026-05-02, type: reverse, event: pay-h1-may, reason: paid twice}
"""


def test_balance_csv_rows_are_sorted_by_account_then_unit_with_exact_figures(db_url,
                                                                             tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("flows", FLOWS))), db=db_url)
    rows = balance_rows(db_url)
    keys = [(a, u) for a, u, _, _ in rows]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert ("isf:H1:SH", "GBP") in keys and ("isf:H1:SH", "HRS") in keys
    for _account, unit, shown, minor in rows:
        assert unit in ("GBP", "HRS")
        if unit == "GBP":
            whole, _, part = shown.lstrip("-").partition(".")
            assert len(part) == 2 and whole.isdigit(), shown
            assert int(shown.replace(".", "")) == int(minor)
    figures = {(a, u): (b, int(m)) for a, u, b, m in rows}
    assert figures[("holder:H1:dp", "GBP")] == ("429.75", 42975)  # 500 + 50 - 120.25
    assert figures[("holder:H1:own", "GBP")] == ("-50.00", -5000)
    assert figures[("external:PA-JONES", "GBP")] == ("120.25", 12025)
    assert figures[("isf:H1:SH", "HRS")] == ("10", 600)
    assert figures[("council:WBC:funding", "GBP")] == ("-1000.00", -100000)  # 500+300+200
    # every journal sums to zero per unit, so every unit's balances do too
    for unit in ("GBP", "HRS"):
        assert sum(int(m) for _, u, _, m in rows if u == unit) == 0


def test_balance_csv_includes_accounts_whose_balance_is_zero(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("zero", """
        - {date: 2026-04-01, id: pay, type: dp_payment, holder: H1, amount: "75.10"}
        - {date: 2026-04-05, type: reverse, event: pay, reason: entered by mistake}
    """))
    ok("scenario", "run", str(path), db=db_url)
    assert ok("balance", "--format", "csv", db=db_url).stdout.splitlines() == [
        HEADER,
        "council:WBC:funding,GBP,0.00,0",
        "holder:H1:dp,GBP,0.00,0",
    ]
    assert ok("balance", "--format", "csv", "--as-of", "2026-04-04",
              db=db_url).stdout.splitlines() == [
        HEADER,
        "council:WBC:funding,GBP,-75.10,-7510",
        "holder:H1:dp,GBP,75.10,7510",
    ]


def test_balance_as_of_counts_only_postings_dated_on_or_before_that_day(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("asof", FLOWS))), db=db_url)
    assert balance_rows(db_url, "--as-of", "2026-03-31") == []
    first_day = balance_map(db_url, "--as-of", "2026-04-01")
    assert first_day == {
        ("council:WBC:funding", "GBP"): -80000,
        ("holder:H1:dp", "GBP"): 50000,
        ("holder:H10:dp", "GBP"): 30000,
    }
    before_spend = balance_map(db_url, "--as-of", "2026-04-09")
    assert before_spend[("holder:H1:dp", "GBP")] == 55000
    assert ("external:PA-JONES", "GBP") not in before_spend
    on_spend = balance_map(db_url, "--as-of", "2026-04-10")
    assert on_spend[("holder:H1:dp", "GBP")] == 42975  # the day itself is included
    assert balance_map(db_url, "--as-of", "2026-05-01")[("holder:H1:dp", "GBP")] == 92975
    assert balance_map(db_url, "--as-of", "2026-05-02") == balance_map(db_url)


def test_balance_account_prefix_keeps_only_that_part_of_the_tree(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("prefix", FLOWS))), db=db_url)
    everything = balance_rows(db_url)
    council = balance_rows(db_url, "--account", "council:WBC")
    assert council == [r for r in everything if r[0].startswith("council:WBC:")]
    assert {r[0] for r in council} == {"council:WBC:funding", "council:WBC:hours"}
    # whole path segments: holder:H1 is not holder:H10
    holder = balance_rows(db_url, "--account", "holder:H1")
    assert {r[0] for r in holder} == {"holder:H1:dp", "holder:H1:own"}
    one = balance_rows(db_url, "--account", "isf:H1:SH")
    assert [(a, u) for a, u, _, _ in one] == [("isf:H1:SH", "GBP"), ("isf:H1:SH", "HRS")]
    assert balance_rows(db_url, "--account", "pool") == []
    both = balance_rows(db_url, "--account", "holder", "--as-of", "2026-04-01")
    # sorted as text: "holder:H10:dp" < "holder:H1:dp" because "0" < ":"
    assert [(a, int(m)) for a, _, _, m in both] == [("holder:H10:dp", 30000),
                                                     ("holder:H1:dp", 50000)]


# ---------------------------------------------------------------- verify


def test_verify_exits_0_when_every_invariant_holds(db_url, tmp_path):
    ok("init", db=db_url)
    assert ok("verify", db=db_url).exit_code == 0  # an empty ledger is consistent
    ok("scenario", "run", str(scenario(tmp_path, with_parties("verify", FLOWS))), db=db_url)
    assert ok("verify", db=db_url).exit_code == 0


def _tamper(db_url: str, *statements: str) -> None:
    engine = make_engine(db_url)
    try:
        if is_citus(db_url):  # the guards are on the shards (tests/citus/shards.py)
            switch_shard_triggers(engine, ["posting"], "DISABLE TRIGGER USER")
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER posting_no_update"))
            elif not is_citus(db_url):
                conn.execute(text("ALTER TABLE posting DISABLE TRIGGER USER"))
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _first_journal(db_url: str) -> tuple[int, str, int]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            jid, key = conn.execute(text(
                "SELECT id, key FROM journal ORDER BY id LIMIT 1")).one()
            pid = conn.execute(text(
                "SELECT MIN(id) FROM posting WHERE journal_id = :j"), {"j": jid}).scalar_one()
    finally:
        engine.dispose()
    return jid, key, pid


def test_verify_exits_1_naming_the_journal_whose_posting_was_altered(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("tamper", FLOWS))), db=db_url)
    jid, key, pid = _first_journal(db_url)
    _tamper(db_url, f"UPDATE posting SET amount_minor = amount_minor + 1 WHERE id = {pid}")
    result = invoke("verify", db=db_url)
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert key in message or f"journal {jid}" in message, message
    assert "zero" in message or "balance" in message, message


def test_verify_names_a_balanced_but_altered_journal(db_url, tmp_path):
    """Moving a penny between two postings of one journal keeps it summing to zero, but
    its content no longer matches what was sealed: verify still names that journal."""
    ok("scenario", "run", str(scenario(tmp_path, with_parties("tamper2", FLOWS))), db=db_url)
    jid, key, _ = _first_journal(db_url)
    _tamper(db_url,
            f"UPDATE posting SET amount_minor = amount_minor + 1 WHERE journal_id = {jid} "
            "AND amount_minor > 0",
            f"UPDATE posting SET amount_minor = amount_minor - 1 WHERE journal_id = {jid} "
            "AND amount_minor < 0")
    result = invoke("verify", db=db_url)
    assert result.exit_code == 1, result.output
    assert key in result.stderr or f"journal {jid}" in result.stderr, result.stderr


def test_verify_names_a_stored_balance_that_differs_from_its_postings(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("tamper3", FLOWS))), db=db_url)
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            account_id = conn.execute(text(
                "SELECT id FROM account WHERE path = 'holder:H10:dp'")).scalar_one()
            conn.execute(text("UPDATE balance SET amount_minor = amount_minor + 100 "
                              f"WHERE account_id = {account_id}"))
    finally:
        engine.dispose()
    result = invoke("verify", db=db_url)
    assert result.exit_code == 1, result.output
    assert "holder:H10:dp" in result.stderr, result.stderr


# ---------------------------------------------------------------- holder statement

STATEMENT_EVENTS = """
    - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "500.00"}
    - {date: 2026-04-01, type: dp_payment, holder: H10, amount: "300.00"}
    - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
       rate: "20.00", carry: {expire_after_months: 1}}
    - {date: 2026-04-01, type: isf_advance, holder: H1, provider: SH, month: 2026-04}
    - {date: 2026-04-01, type: isf_open, holder: H10, provider: SH, hours_per_month: 5,
       rate: "20.00"}
    - {date: 2026-04-01, type: isf_advance, holder: H10, provider: SH, month: 2026-04}
    - {date: 2026-04-01, type: pool_open, pool: CLUB, members: [H1, H10]}
    - {date: 2026-04-01, type: fund_open, fund: BURSARY, council: WBC, total: "1000.00",
       cap_per_person: "200.00"}
    - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
    - {date: 2026-04-03, type: bursary_award, fund: BURSARY, holder: H1, amount: "150.00"}
    - {date: 2026-04-03, type: bursary_award, fund: BURSARY, holder: H10, amount: "150.00"}
    - {date: 2026-04-05, type: pool_contribute, pool: CLUB, holder: H1, amount: "100.00"}
    - {date: 2026-04-05, type: pool_contribute, pool: CLUB, holder: H10, amount: "100.00"}
    - {date: 2026-04-30, type: dp_spend, holder: H1, payee: PA-JONES, amount: "10.00"}
    - {date: 2026-05-01, type: dp_payment, holder: H1, amount: "500.00"}
    - {date: 2026-05-03, type: dp_spend, holder: H1, payee: PA-JONES, amount: "320.50"}
    - {date: 2026-05-04, type: isf_delivery, holder: H1, provider: SH, hours: "2.5"}
    - {date: 2026-05-06, type: pool_spend, pool: CLUB, payee: CINEMA, amount: "30.01"}
    - {date: 2026-05-07, type: bursary_spend, fund: BURSARY, holders: [H1], payee: COLLEGE,
       amount: "40.00"}
    - {date: 2026-05-08, type: dp_spend, holder: H10, payee: PA-SMITH, amount: "10.00"}
    - {date: 2026-05-31, type: contribution, holder: H1, amount: "50.00"}
    - {date: 2026-06-01, type: dp_payment, holder: H1, amount: "500.00"}
"""

H1_ACCOUNTS = {
    ("holder:H1:dp", "GBP"), ("holder:H1:own", "GBP"), ("isf:H1:SH", "GBP"),
    ("isf:H1:SH", "HRS"), ("pool:CLUB:H1", "GBP"), ("fund:BURSARY:award:H1", "GBP"),
}


def _belongs_to(account: str, holder: str) -> bool:
    parts = account.split(":")
    return (
        (parts[0] in ("holder", "isf") and len(parts) == 3 and parts[1] == holder)
        or (parts[0] == "pool" and len(parts) == 3 and parts[2] == holder)
        or (parts[0] == "fund" and len(parts) == 4 and parts[2:] == ["award", holder])
    )


def _statement(db_url: str, holder: str, start: str, end: str) -> dict:
    result = ok("statement", "holder", holder, "--from", start, "--to", end,
                "--format", "json", db=db_url)
    return json.loads(result.stdout)


def test_holder_statement_json_has_the_contract_fields_and_figures(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("stmt", STATEMENT_EVENTS))),
       db=db_url)
    got = _statement(db_url, "H1", "2026-05-01", "2026-05-31")
    assert (got["holder"], got["from"], got["to"]) == ("H1", "2026-05-01", "2026-05-31")
    rows = {(r["account"], r["unit"]): r for r in got["accounts"]}
    assert set(rows) == H1_ACCOUNTS
    for row in got["accounts"]:
        assert set(row) >= {"account", "unit", "opening_minor", "in_minor", "out_minor",
                            "closing_minor"}
        for field in ("opening_minor", "in_minor", "out_minor", "closing_minor"):
            assert type(row[field]) is int
        assert row["in_minor"] >= 0 and row["out_minor"] >= 0
        assert row["opening_minor"] + row["in_minor"] - row["out_minor"] == row["closing_minor"]

    def figures(account, unit):
        r = rows[(account, unit)]
        return r["opening_minor"], r["in_minor"], r["out_minor"], r["closing_minor"]

    # in: the May payment and the contribution of 31 May
    assert figures("holder:H1:dp", "GBP") == (44000, 55000, 32050, 66950)
    assert figures("holder:H1:own", "GBP") == (-5000, 0, 5000, -10000)
    assert figures("isf:H1:SH", "GBP") == (20000, 0, 5000, 15000)  # 2.5 h at £20.00
    assert figures("isf:H1:SH", "HRS") == (600, 0, 150, 450)
    assert figures("pool:CLUB:H1", "GBP") == (10000, 0, 1501, 8499)  # odd penny: first listed
    assert figures("fund:BURSARY:award:H1", "GBP") == (15000, 0, 4000, 11000)


def test_holder_statement_opening_and_closing_agree_with_balance_as_of(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("stmt2", STATEMENT_EVENTS))),
       db=db_url)
    for holder, start, end, day_before in [("H1", "2026-05-01", "2026-05-31", "2026-04-30"),
                                           ("H1", "2026-04-02", "2026-05-06", "2026-04-01"),
                                           ("H10", "2026-04-06", "2026-06-30", "2026-04-05")]:
        got = _statement(db_url, holder, start, end)
        opening = {k: v for k, v in balance_map(db_url, "--as-of", day_before).items()
                   if _belongs_to(k[0], holder)}
        closing = {k: v for k, v in balance_map(db_url, "--as-of", end).items()
                   if _belongs_to(k[0], holder)}
        assert {(r["account"], r["unit"]) for r in got["accounts"]} == set(closing)
        for r in got["accounts"]:
            key = (r["account"], r["unit"])
            assert r["opening_minor"] == opening.get(key, 0), (holder, key)
            assert r["closing_minor"] == closing[key], (holder, key)


def test_holder_statement_never_shows_another_holders_accounts(db_url, tmp_path):
    """H1 must not see H10's accounts (nor H10 see H1's), though one id starts the other."""
    ok("scenario", "run", str(scenario(tmp_path, with_parties("stmt3", STATEMENT_EVENTS))),
       db=db_url)
    h1 = _statement(db_url, "H1", "2026-04-01", "2026-06-30")
    assert {r["account"] for r in h1["accounts"]} == {a for a, _ in H1_ACCOUNTS}
    h10 = _statement(db_url, "H10", "2026-04-01", "2026-06-30")
    assert {r["account"] for r in h10["accounts"]} == {
        "holder:H10:dp", "isf:H10:SH", "pool:CLUB:H10", "fund:BURSARY:award:H10"}
    for row in h10["accounts"]:
        assert _belongs_to(row["account"], "H10")


def test_holder_statement_period_before_any_posting_shows_no_movement(db_url, tmp_path):
    ok("scenario", "run", str(scenario(tmp_path, with_parties("stmt4", STATEMENT_EVENTS))),
       db=db_url)
    got = _statement(db_url, "H1", "2026-07-01", "2026-07-31")
    assert got["accounts"]
    for row in got["accounts"]:
        assert row["in_minor"] == row["out_minor"] == 0
        assert row["opening_minor"] == row["closing_minor"]


# ---------------------------------------------------------------- scenario run: status 1


def test_rejected_event_exits_1_naming_its_index_and_id_and_keeps_earlier_events(db_url,
                                                                                 tmp_path):
    path = scenario(tmp_path, with_parties("reject", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, type: dp_spend, holder: H1, payee: SHOP, amount: "40.00"}
        - {date: 2026-04-03, type: dp_spend, holder: H1, payee: SHOP, amount: "60.01"}
        - {date: 2026-04-04, type: dp_payment, holder: H1, amount: "5.00"}
    """))
    result = invoke("scenario", "run", str(path), db=db_url)
    assert result.exit_code == 1, result.output
    assert "event 2" in result.stderr and "reject#2" in result.stderr, result.stderr
    assert "insufficient_funds" in result.stderr
    assert stats(db_url)["journals"] == 2  # the two events before it stay posted
    assert balance_map(db_url)[("holder:H1:dp", "GBP")] == 6000


def test_rejected_event_posts_none_of_its_parts(db_url, tmp_path):
    """A pool purchase one member cannot afford is refused whole: the other member's part,
    which on its own would have been fine, is not posted either."""
    path = scenario(tmp_path, with_parties("whole", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-01, type: dp_payment, holder: H10, amount: "100.00"}
        - {date: 2026-04-01, type: pool_open, pool: CLUB, members: [H1, H10]}
        - {date: 2026-04-02, type: pool_contribute, pool: CLUB, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, type: pool_contribute, pool: CLUB, holder: H10, amount: "10.00"}
        - {date: 2026-04-03, id: outing, type: pool_spend, pool: CLUB, payee: CINEMA,
           amount: "30.00"}
    """))
    before = invoke("scenario", "run", str(path), db=db_url)
    assert before.exit_code == 1, before.output
    assert "event 5" in before.stderr and "outing" in before.stderr
    assert "insufficient_funds" in before.stderr
    after = balance_map(db_url)
    assert after[("pool:CLUB:H1", "GBP")] == 10000
    assert after[("pool:CLUB:H10", "GBP")] == 1000
    assert not any(account == "external:CINEMA" for account, _ in after)
    assert stats(db_url)["journals"] == 4


def test_one_summary_line_per_file(db_url, tmp_path):
    first = scenario(tmp_path, with_parties("one", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1.00"}
    """), "one.yaml")
    second = scenario(tmp_path, with_parties("two", """
        - {date: 2026-04-01, type: dp_payment, holder: H10, amount: "2.00"}
    """), "two.yaml")
    lines = ok("scenario", "run", str(first), str(second), db=db_url).stdout.splitlines()
    assert len(lines) == 2
    assert "one.yaml" in lines[0] and "1 applied" in lines[0]
    assert "two.yaml" in lines[1] and "1 applied" in lines[1]
    assert stats(db_url)["journals"] == 2


def test_rejected_event_message_names_an_explicit_id(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("named", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, id: oops, type: dp_payment, holder: NOBODY, amount: "1.00"}
    """))
    result = invoke("scenario", "run", str(path), db=db_url)
    assert result.exit_code == 1, result.output
    assert "event 1" in result.stderr and "oops" in result.stderr, result.stderr
    assert "unknown_party" in result.stderr
    assert stats(db_url)["journals"] == 1


def test_failed_expect_exits_1_naming_account_unit_expected_and_actual(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("expect", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, type: expect, balances: {"holder:H1:dp": {GBP: "100.00"}}}
        - {date: 2026-04-03, type: expect, balances: {"holder:H1:dp": {GBP: "99.99"}}}
        - {date: 2026-04-04, type: dp_payment, holder: H1, amount: "100.00"}
    """))
    result = invoke("scenario", "run", str(path), db=db_url)
    assert result.exit_code == 1, result.output
    message = result.stderr
    for part in ("holder:H1:dp", "GBP", "99.99", "100.00"):
        assert part in message, (part, message)
    assert "event 2" in message
    assert stats(db_url)["journals"] == 1  # the run stopped at the failed expect


def test_failed_expect_on_hours_names_the_hours(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("expect-hrs", """
        - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 12.5,
           rate: "20.00"}
        - {date: 2026-04-01, type: isf_advance, holder: H1, provider: SH, month: 2026-04}
        - {date: 2026-04-02, type: expect, balances: {"isf:H1:SH": {HRS: "12"}}}
    """))
    result = invoke("scenario", "run", str(path), db=db_url)
    assert result.exit_code == 1, result.output
    for part in ("isf:H1:SH", "HRS", "12", "12.5"):
        assert part in result.stderr, (part, result.stderr)


def test_same_key_with_a_different_payload_is_duplicate_conflict(db_url, tmp_path):
    first = scenario(tmp_path, with_parties("dup", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, id: pay-2, type: dp_payment, holder: H1, amount: "10.00"}
    """), "first.yaml")
    ok("scenario", "run", str(first), db=db_url)
    before = balance_rows(db_url), stats(db_url)
    changed = scenario(tmp_path, with_parties("dup", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, id: pay-2, type: dp_payment, holder: H1, amount: "11.00"}
    """), "changed.yaml")
    result = invoke("scenario", "run", str(changed), db=db_url)
    assert result.exit_code == 1, result.output
    assert "duplicate_conflict" in result.stderr and "pay-2" in result.stderr
    assert (balance_rows(db_url), stats(db_url)) == before
    # the default key ({name}#{index}) guards the payload just the same
    moved = scenario(tmp_path, with_parties("dup", """
        - {date: 2026-04-01, type: dp_payment, holder: H10, amount: "100.00"}
    """), "moved.yaml")
    result = invoke("scenario", "run", str(moved), db=db_url)
    assert result.exit_code == 1 and "duplicate_conflict" in result.stderr
    assert "dup#0" in result.stderr


def test_expect_error_event_leaves_no_trace_and_the_run_carries_on(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("expected", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
        - {date: 2026-04-02, type: dp_spend, holder: H1, payee: SHOP, amount: "100.01",
           expect_error: insufficient_funds}
        - {date: 2026-04-02, type: dp_payment, holder: NOBODY, amount: "1.00",
           expect_error: unknown_party}
        - {date: 2026-04-02, type: dp_payment, holder: H1, amount: "-1.00",
           expect_error: invalid}
        - {date: 2026-04-03, type: dp_spend, holder: H1, payee: SHOP, amount: "30.00"}
    """))
    result = ok("scenario", "run", str(path), db=db_url)
    assert "3 rejected as expected" in result.stdout
    assert balance_map(db_url) == {
        ("council:WBC:funding", "GBP"): -10000,
        ("holder:H1:dp", "GBP"): 7000,
        ("external:SHOP", "GBP"): 3000,
    }
    counts = stats(db_url)
    assert (counts["journals"], counts["postings"], counts["accounts"]) == (2, 4, 3)
    again = ok("scenario", "run", str(path), db=db_url)
    assert "0 applied" in again.stdout
    assert stats(db_url)["journals"] == 2


def test_expect_error_that_is_not_raised_stops_the_run(db_url, tmp_path):
    path = scenario(tmp_path, with_parties("unexpected", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00",
           expect_error: invalid}
    """))
    result = invoke("scenario", "run", str(path), db=db_url)
    assert result.exit_code == 1, result.output
    assert "event 0" in result.stderr and "unexpected#0" in result.stderr
    assert stats(db_url)["journals"] == 0


# ---------------------------------------------------------------- status 2 (console script)


BAD_FILES = {
    "missing-file": None,
    "invalid-yaml": "format: 1\nname: broken\nevents: [\n  {date: 2026-04-01, type: [\n",
    "missing-format": textwrap.dedent("""\
        name: no-format
        parties:
          councils: [{id: WBC, name: W}]
          holders: [{id: H1, name: A, council: WBC}]
        events:
          - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
    """),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unusable_scenario_file_exits_2_with_one_line_and_writes_nothing(db_url, tmp_path,
                                                                         case):
    good = scenario(tmp_path, with_parties("good", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
    """), "good.yaml")
    bad = tmp_path / f"{case}.yaml"
    if BAD_FILES[case] is not None:
        bad.write_text(BAD_FILES[case], encoding="utf-8")
    # a good file before the bad one: every file is checked before anything is written
    proc = run_script("scenario", "run", str(good), str(bad), "--db", db_url, cwd=tmp_path)
    line = assert_one_line_error(proc, 2)
    assert bad.name in line
    # nothing was written: not even a schema, so a read command finds no ledger there
    # (on Citus the schema is made and distributed first, so: no journal, no event)
    stats = run_script("stats", "--db", db_url, cwd=tmp_path)
    if is_citus(db_url):
        counts = dict(line.split() for line in stats.stdout.splitlines() if line.strip())
        assert stats.returncode == 0 and counts["journals"] == counts["events"] == "0", counts
    else:
        assert_one_line_error(stats, 2)


def test_bad_db_url_exits_2_with_one_line_and_no_traceback(tmp_path):
    proc = run_script("balance", "--format", "csv", "--db", "not-a-url", cwd=tmp_path)
    assert_one_line_error(proc, 2)
    proc = run_script("stats", "--db", f"sqlite:///{tmp_path}/no/such/folder/x.db",
                      cwd=tmp_path)
    assert_one_line_error(proc, 2)


def test_a_file_that_is_not_a_database_exits_2_with_one_line(tmp_path):
    (tmp_path / "notes.db").write_text("shopping list\n")
    proc = run_script("stats", "--db", f"sqlite:///{tmp_path}/notes.db", cwd=tmp_path)
    assert "not a database" in assert_one_line_error(proc, 2)


def test_a_database_from_a_newer_version_exits_2_with_one_line(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path}/newer.db"
    assert run_script("init", "--db", url, cwd=tmp_path).returncode == 0
    with sqlite3.connect(tmp_path / "newer.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    proc = run_script("stats", "--db", url, cwd=tmp_path)
    assert "newer version" in assert_one_line_error(proc, 2)


def test_unsupported_database_url_exits_2_with_one_line_and_no_traceback(tmp_path):
    proc = run_script("balance", "--format", "csv", "--db", "mysql://root@127.0.0.1/x",
                      cwd=tmp_path)
    assert_one_line_error(proc, 2)


def test_unreachable_postgres_url_exits_2_with_one_line(tmp_path):
    proc = run_script("stats", "--db", "postgresql://nobody@127.0.0.1:1/nothing",
                      cwd=tmp_path)
    assert_one_line_error(proc, 2)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_database_that_refuses_the_write_is_one_line_that_shows_no_values(db_url,
                                                                          tmp_path):
    """A council's database administrator gives the command a role that may only read:
    the server refuses the write. One line with the server's reason, exit 2, and never
    the statement or its values (a password's hash, a person's details)."""
    import uuid

    from sqlalchemy.engine import make_url

    good = scenario(tmp_path, with_parties("good", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
    """))
    assert run_script("scenario", "run", str(good), "--db", db_url, cwd=tmp_path
                      ).returncode == 0
    role = f"reader_{uuid.uuid4().hex[:10]}"
    schema = make_url(db_url).query["options"].split("=", 1)[1]
    admin = make_engine(db_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        conn.execute(text(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}"))
    as_reader = make_url(db_url).set(username=role).render_as_string(hide_password=False)
    try:
        proc = subprocess.run(
            [*LEDGER, "user", "add", "bob", "--role", "auditor", "--password-stdin",
             "--db", as_reader], input="correct horse battery staple\n",
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
            env={k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"})
        line = assert_one_line_error(proc, 2)
        assert line.startswith("error: the database refused the command: permission denied"
                               " for "), line
        assert "argon2" not in proc.stderr and "INSERT" not in proc.stderr
        proc = run_script("scenario", "run", str(good), "--ledger", "other", "--db",
                          as_reader, cwd=tmp_path)
        line = assert_one_line_error(proc, 2)
        assert "permission denied" in line and "INSERT" not in line, line
        # and reading still works for that role
        assert run_script("stats", "--db", as_reader, cwd=tmp_path).returncode == 0
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def test_bad_as_of_date_exits_2_with_one_line_and_no_traceback(db_url, tmp_path):
    for day in ("2026-13-01", "yesterday"):
        proc = run_script("balance", "--format", "csv", "--as-of", day, "--db", db_url,
                          cwd=tmp_path)
        line = assert_one_line_error(proc, 2)
        assert day in line


def test_console_script_exit_statuses_for_success_and_rejection(db_url, tmp_path):
    good = scenario(tmp_path, with_parties("script", """
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
    """), "good.yaml")
    bad = scenario(tmp_path, with_parties("script-bad", """
        - {date: 2026-04-01, type: dp_spend, holder: H1, payee: SHOP, amount: "500.00"}
    """), "bad.yaml")
    proc = run_script("scenario", "run", str(good), "--db", db_url, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    proc = run_script("scenario", "run", str(bad), "--db", db_url, cwd=tmp_path)
    line = assert_one_line_error(proc, 1)
    assert "event 0" in line and "script-bad#0" in line
