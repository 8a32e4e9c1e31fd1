"""Issue 19's defects in bank statements, each as a user met it: `ledger dp
import-transactions` against a ledger a scenario file set up, on SQLite and on
PostgreSQL. Every expected figure is worked out here from the statement's meaning."""

from __future__ import annotations

import json
from pathlib import Path

from tests.imports.test_defects import Ran, ledger, refused, scenario, write

SETUP = """\
format: 1
name: setup
parties:
  councils: [{id: WBC, name: Wokingham}]
  holders: [{id: H1, name: Ann, council: WBC}]
events:
"""
HELD = 505000  # pence: the council's £5,000.00 and Ann's £50.00 contribution
RULES = """\
column date = Date
column description = Details
column amount = Amount
column balance = Balance
payee ^TESCO = TESCO | shopping
payee (?i)jane\\s+smith = PA-JANE | wages
"""


def dp_ledger(tmp_path: Path, db: str, rules: str = RULES) -> tuple[str, Path]:
    scenario(tmp_path, db, """\
        - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "5000.00"}
        - {date: 2026-04-02, type: contribution, holder: H1, amount: "50.00"}
        """, setup=SETUP)
    return db, write(tmp_path, "bank.rules", rules)


def pence(db: str) -> int:
    done = ledger("balance", "--format", "json", "--account", "holder:H1:dp", db=db)
    assert done.code == 0, done.err
    return next(r["minor_units"] for r in json.loads(done.out) if r["unit"] == "GBP")


def statement(path: Path, db: str, rules: Path, *more: str) -> Ran:
    return ledger("dp", "import-transactions", path, "--holder", "H1", "--rules", rules,
                  *more, db=db)


# ------------------------------------------------------------------ money

def test_a_comma_that_is_not_a_thousands_separator_is_refused(tmp_path, db_url):
    db, rules = dp_ledger(tmp_path, db_url)
    bank = write(tmp_path, "bank.csv", """\
        Date,Details,Amount,Balance
        12/04/2026,TESCO STORES 2231,"-1,000.00",
        12/04/2026,TESCO STORES 2231,"-12,50",
        12/04/2026,TESCO STORES 2231,"-1,2",
        12/04/2026,TESCO STORES 2231,"-12,3456",
        """)
    # "-1,000.00" has its comma between groups of three: £1,000.00, fine. Each other is
    # a decimal comma or a slip (£1,250.00 and £12.00 once): which, only the user can say.
    found = refused(statement(bank, db, rules), bank, [3, 4, 5])
    for line, amount in [(3, "-12,50"), (4, "-1,2"), (5, "-12,3456")]:
        assert f"'{amount}'" in found[line] and "not a thousands separator" in found[line]
        assert "decimal ," in found[line]
    assert pence(db) == HELD


def test_a_file_that_declares_a_decimal_comma_is_read_with_it(tmp_path, db_url):
    db, rules = dp_ledger(tmp_path, db_url, RULES + "decimal ,\nseparator ;\n")
    bank = write(tmp_path, "bank.csv", """\
        Date;Details;Amount;Balance
        12/04/2026;TESCO STORES 2231;-12,50;
        13/04/2026;JANE SMITH APRIL;-1.000,00;
        """)
    done = statement(bank, db, rules)
    assert done.code == 0, done.err
    # -£12.50 and -£1,000.00 out of £5,050.00.
    assert pence(db) == HELD - 1250 - 100000
    stray = write(tmp_path, "stray.csv", "Date;Details;Amount;Balance\n"
                                         "14/04/2026;TESCO STORES 2231;-12.50;\n")
    # With a decimal comma declared, a point is not a decimal point.
    found = refused(statement(stray, db, rules), stray, [2])
    assert "'-12.50'" in found[2]
    assert pence(db) == HELD - 1250 - 100000


# ------------------------------------------------------------------ changed rows

def test_a_pending_line_that_settles_under_its_final_text_is_one_payment(tmp_path, db_url):
    db, rules = dp_ledger(tmp_path, db_url)
    early = write(tmp_path, "early.csv", """\
        Date,Details,Amount,Balance
        12/04/2026,TESCO STORES PENDING,-23.45,
        """)
    assert statement(early, db, rules).code == 0
    assert pence(db) == HELD - 2345
    later = write(tmp_path, "later.csv", """\
        Date,Details,Amount,Balance
        12/04/2026,TESCO STORES 2231,-23.45,
        12/04/2026,TESCO STORES 2231,-23.45,
        """)
    done = statement(later, db, rules)
    assert done.code == 0, done.err
    # The first £23.45 that day is the one already recorded (its description changed);
    # the second is another payment of the same amount that day, never refused.
    assert "1 spends posted, 1 already recorded" in done.out
    assert pence(db) == HELD - 2 * 2345


def test_a_line_the_rules_call_pending_is_listed_never_posted(tmp_path, db_url):
    db, rules = dp_ledger(tmp_path, db_url, RULES + "pending description PENDING\n")
    early = write(tmp_path, "early.csv", """\
        Date,Details,Amount,Balance
        11/04/2026,JANE SMITH APRIL,-10.00,
        12/04/2026,TESCO STORES PENDING,-23.45,
        """)
    done = statement(early, db, rules)
    assert done.code == 0, done.err
    assert "pending" in done.out.lower()  # listed, so the user knows it is there
    assert pence(db) == HELD - 1000  # only the £10.00 to Jane, which is final
    later = write(tmp_path, "later.csv", """\
        Date,Details,Amount,Balance
        11/04/2026,JANE SMITH APRIL,-10.00,
        12/04/2026,TESCO STORES 2231,-23.45,
        """)
    assert statement(later, db, rules).code == 0
    assert pence(db) == HELD - 1000 - 2345  # settled: posted once


# ------------------------------------------------------------------ everyday exports

def test_a_one_day_statement_newest_first_is_read_by_its_balances(tmp_path, db_url):
    db, rules = dp_ledger(tmp_path, db_url)
    bank = write(tmp_path, "today.csv", """\
        Date,Details,Amount,Balance
        12/04/2026,TESCO STORES 2231,-23.45,5016.55
        12/04/2026,JANE SMITH APRIL,-10.00,5040.00
        """)
    # £5,050.00 - £10.00 = £5,040.00 first, then - £23.45 = £5,016.55: the bottom line
    # came first, as the balances show.
    done = statement(bank, db, rules)
    assert done.code == 0, done.err
    assert pence(db) == HELD - 1000 - 2345 == 501655
