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


# ------------------------------------------------ keys, pending lines, --month
# (docs/dp-statements.md)

def test_a_line_whose_description_became_final_is_not_posted_twice(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    first = _statement(tmp_path, """\
        Date,Details,Money In,Money Out
        12/04/2026,TESCO STORES 2231 PENDING,,23.45
        12/04/2026,TESCO STORES 2231 PENDING,,23.45
        """, "first.csv")
    done = _import(first, db, rules)
    assert done.returncode == 0, done.stderr
    assert "2 spends posted" in done.stdout  # two equal payments in a day are two lines
    final = _statement(tmp_path, """\
        Date,Details,Money In,Money Out
        12/04/2026,TESCO STORES 2231,,23.45
        12/04/2026,TESCO STORES 2231,,23.45
        14/04/2026,TESCO STORES 2231,,5.00
        """, "final.csv")
    done = _import(final, db, rules)
    assert done.returncode == 0, done.stderr
    assert "1 spends posted, 2 already recorded" in done.stdout
    assert _balance(db) == "998.10"  # 1050.00 - 23.45 - 23.45 - 5.00


def test_a_recorded_line_the_rules_now_give_another_payee_is_refused_saying_so(tmp_path,
                                                                              db_url):
    db, rules = _setup(tmp_path, db_url)
    statement = _statement(tmp_path, """\
        Date,Details,Money In,Money Out
        12/04/2026,TESCO STORES 2231,,23.45
        """)
    assert _import(statement, db, rules).returncode == 0
    changed = tmp_path / "changed.rules"
    changed.write_text(RULES.replace("^TESCO = TESCO | shopping", "^TESCO = TESCO | food"),
                       encoding="utf-8")
    done = _import(statement, db, changed)
    assert done.returncode == 2
    assert ":2: changed since it was imported (category was 'shopping', now 'food')" in (
        done.stderr)
    assert _balance(db) == "1026.55"


def test_pending_lines_are_listed_and_never_posted(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    pending = tmp_path / "pending.rules"
    pending.write_text(RULES + "pending description \\bPENDING\\b\n", encoding="utf-8")
    statement = _statement(tmp_path, """\
        Date,Details,Money In,Money Out
        10/04/2026,JANE SMITH APRIL,,400.00
        12/04/2026,TESCO STORES 2231 PENDING,,23.45
        """)
    done = _import(statement, db, pending)
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip().splitlines()
    assert out[0].endswith(":3: pending, not posted: TESCO STORES 2231 PENDING -£23.45")
    assert out[-1].endswith("1 spends posted, 0 already recorded, 0 payments in matched, "
                            "1 pending line not posted")
    assert _balance(db) == "650.00"


def test_month_refuses_lines_outside_it(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    statement = _statement(tmp_path, """\
        Date,Details,Money In,Money Out
        30/04/2026,JANE SMITH APRIL,,400.00
        01/05/2026,TESCO STORES 2231,,23.45
        """)
    done = _import(statement, db, rules, "--month", "2026-04")
    assert done.returncode == 2
    assert ":3: dated 2026-05-01, outside --month 2026-04" in done.stderr
    assert _balance(db) == "1050.00"
    done = _import(statement, db, rules, "--month", "2026-05")
    assert done.returncode == 2 and ":2: dated 2026-04-30, outside --month 2026-05" in (
        done.stderr)


def test_lines_left_out_by_skip_rules_are_counted(tmp_path, db_url):
    db, rules = _setup(tmp_path, db_url)
    skipping = tmp_path / "skip.rules"
    skipping.write_text(RULES + "skip Type = Transfer\n", encoding="utf-8")
    statement = _statement(tmp_path, """\
        Date,Details,Money In,Money Out,Type
        10/04/2026,JANE SMITH APRIL,,400.00,Payment
        11/04/2026,TO SAVINGS,,100.00,transfer
        """)
    done = _import(statement, db, skipping)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(", 1 left out by skip rules")
    assert _balance(db) == "650.00"


def test_a_line_recorded_under_its_reference_with_another_amount_is_refused(tmp_path,
                                                                           db_url):
    db, rules = _setup(tmp_path, db_url)
    with_ref = tmp_path / "ref.rules"
    with_ref.write_text(RULES + "column reference = Ref\n", encoding="utf-8")
    header = "Date,Details,Money In,Money Out,Ref\n"
    first = _statement(tmp_path, header + "12/04/2026,TESCO STORES,,23.45,T-1\n", "a.csv")
    assert _import(first, db, with_ref).returncode == 0
    # Its description changed and no payee rule matches it now: a recorded line needs none.
    other = _statement(tmp_path, header + "12/04/2026,CARD 2231,,23.45,T-1\n", "b.csv")
    done = _import(other, db, with_ref)
    assert done.returncode == 0 and "0 spends posted, 1 already recorded" in done.stdout
    changed = _statement(tmp_path, header + "12/04/2026,TESCO STORES,,25.00,T-1\n", "c.csv")
    done = _import(changed, db, with_ref)
    assert done.returncode == 2
    assert ":2: changed since it was imported (amount was £23.45, now £25.00)" in done.stderr
    assert _balance(db) == "1026.55"
