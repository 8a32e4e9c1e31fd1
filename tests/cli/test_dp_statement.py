"""`ledger dp import-transactions` (docs/dp-statements.md): money out becomes dp_spend by
the rules, money in is matched and never posted, the balance is checked line by line, and
anything it cannot place stops the import with nothing posted."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]
SETUP = """\
format: 1
name: setup
parties:
  councils: [{id: WBC, name: Wokingham}]
  holders: [{id: H1, name: Ann, council: WBC}]
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1000.00"}
  - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
"""
RULES = """\
# Bank's export: its own names
column date = Date
column description = Details
column paid_in = Money In
column paid_out = Money Out
column balance = Balance
payee (?i)jane\\s+smith = PA-JANE | wages
payee ^TESCO = TESCO | shopping
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _setup(tmp_path: Path, db: str) -> tuple[str, Path]:
    path = tmp_path / "setup.yaml"
    path.write_text(SETUP, encoding="utf-8")
    assert invoke("scenario", "run", str(path), db=db).exit_code == 0
    rules = tmp_path / "bank.rules"
    rules.write_text(RULES, encoding="utf-8")
    return db, rules


def _statement(tmp_path: Path, text: str, name: str = "bank.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _import(path: Path, db: str, rules: Path, *more: str):
    return subprocess.run([*MAIN, "dp", "import-transactions", str(path), "--holder", "H1",
                           "--rules", str(rules), *more, "--db", db],
                          capture_output=True, text=True)


def _balance(db: str) -> str:
    out = invoke("balance", "--format", "json", "--account", "holder:H1:dp", db=db).output
    return json.loads(out)[0]["balance"]


GOOD = """\
    Date,Details,Money In,Money Out,Balance
    03/04/2026,Wokingham BC DP,1000.00,,1000.00
    03/04/2026,H1 contribution,50.00,,1050.00
    10/04/2026,JANE SMITH APRIL,,"£400.00",650.00
    12/04/2026,TESCO STORES 2231,,23.45,626.55
    """


def test_spends_are_posted_by_the_rules_and_payments_in_are_matched_not_posted(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    done = _import(_statement(tmp_path, GOOD), db, rules)
    assert done.returncode == 0, done.stderr
    assert "2 spends posted, 0 already recorded, 2 payments in matched" in done.stdout
    assert _balance(db) == "626.55"
    again = _import(_statement(tmp_path, GOOD), db, rules)
    assert "0 spends posted, 2 already recorded, 2 payments in matched" in again.stdout
    assert _balance(db) == "626.55"
    statement = invoke("statement", "holder", "H1", "--month", "2026-04", "--format", "json",
                       db=db).output
    assert json.loads(statement)["accounts"][0]["out_minor"] == 42345


def test_a_statement_newest_first_reads_the_same(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    header, *rows = textwrap.dedent(GOOD).strip().splitlines()
    newest_first = _statement(tmp_path, "\n".join([header, *reversed(rows)]) + "\n")
    assert _import(newest_first, db, rules).returncode == 0
    assert _balance(db) == "626.55"


def test_what_it_cannot_place_is_listed_and_nothing_is_posted(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    done = _import(_statement(tmp_path, """\
        Date,Details,Money In,Money Out,Balance
        03/04/2026,Wokingham BC DP,1000.00,,
        04/04/2026,Refund from somewhere,12.00,,
        10/04/2026,JANE SMITH APRIL,,400.00,
        11/04/2026,MYSTERY LTD,,9.99,
        """), db, rules)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert ":3: £12.00 in on 2026-04-04 matches no council payment" in lines[0]
    assert ":5: no payee rule matches 'MYSTERY LTD'" in lines[1]
    assert lines[-1].endswith("2 problems; nothing was posted")
    assert _balance(db) == "1050.00"


def test_the_first_balance_that_differs_from_the_ledger_is_named(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    done = _import(_statement(tmp_path, """\
        Date,Details,Money In,Money Out,Balance
        03/04/2026,Wokingham BC DP,1000.00,,1000.00
        03/04/2026,H1 contribution,50.00,,1050.00
        10/04/2026,JANE SMITH APRIL,,400.00,640.00
        12/04/2026,TESCO STORES 2231,,23.45,616.55
        """), db, rules)
    assert done.returncode == 2
    assert ":4: the statement's balance is £640.00 but the ledger's holder:H1:dp is " \
           "£650.00 at the end of 2026-04-10" in done.stderr
    assert done.stderr.count("balance is") == 1
    assert _balance(db) == "1050.00"


def test_a_spend_beyond_what_the_account_holds_is_refused_with_its_line(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    done = _import(_statement(tmp_path, """\
        Date,Details,Money In,Money Out
        10/04/2026,JANE SMITH APRIL,,2000.00
        """), db, rules)
    assert done.returncode == 2 and ":2: insufficient_funds" in done.stderr


def test_a_dry_run_posts_nothing(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    done = _import(_statement(tmp_path, GOOD), db, rules, "--dry-run")
    assert done.returncode == 0
    assert ":4: would post a spend of £400.00 to PA-JANE on 2026-04-10" in done.stdout
    assert _balance(db) == "1050.00"
