"""Issue 19's defects in timesheets, each as a user met it: `ledger isf import-timesheet`
against a ledger a scenario file set up, on SQLite and on PostgreSQL. Each file below
once posted a figure other than the one a person reads in it (with exit 0), or refused
what it should have read; now it posts what it means, or is refused with `FILE:LINE: why`
and nothing posted. Every expected figure is worked out here from the file's meaning.
(Bank statements: test_defects_bank.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.imports.run import Ran, ledger

HOUR = 60  # minutes; a 40-hour month is 2400 minutes
SETUP = """\
format: 1
name: setup
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
events:
"""


def scenario(tmp_path: Path, db: str, events: str, setup: str = SETUP) -> None:
    path = tmp_path / "setup.yaml"
    path.write_text(setup + textwrap.dedent(events), encoding="utf-8")
    done = ledger("scenario", "run", path, db=db)
    assert done.code == 0, done.out + done.err


def isf_ledger(tmp_path: Path, db: str, *opened: tuple[str, str], then: str = "") -> str:
    """For each (HOLDER, MONTH) of OPENED (default H1 in April 2026): HOLDER's ISF with SH
    opened on MONTH's first day, 40 hours a month at £20.00 an hour, advanced for MONTH;
    then the events THEN."""
    scenario(tmp_path, db, "".join(
        f"  - {{date: {month}-01, type: isf_open, holder: {holder}, provider: SH,\n"
        f"     hours_per_month: 40, rate: \"20.00\"}}\n"
        f"  - {{date: {month}-01, type: isf_advance, holder: {holder}, provider: SH,\n"
        f"     month: {month}}}\n" for holder, month in opened or [("H1", "2026-04")]) + then)
    return db


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minutes(db: str, holder: str = "H1", as_of: str | None = None, unit: str = "HRS") -> int:
    """The hours left in HOLDER's ISF with SH, in minutes (on AS_OF, if given); with
    unit="GBP", the money left in it, in pence."""
    more = ("--as-of", as_of) if as_of else ()
    done = ledger("balance", "--format", "json", "--account", f"isf:{holder}:SH", *more, db=db)
    assert done.code == 0, done.err
    return next(r["minor_units"] for r in json.loads(done.out) if r["unit"] == unit)


def pence(db: str, as_of: str | None = None) -> int:
    """The money left in H1's ISF with SH (on AS_OF, if given), in pence."""
    return minutes(db, "H1", as_of, unit="GBP")


def timesheet(path: Path, db: str, *more: str) -> Ran:
    return ledger("isf", "import-timesheet", path, "--provider", "SH", *more, db=db)


def refused(done: Ran, path: Path, lines: list[int]) -> dict[int, str]:
    """Refused (exit 2) at exactly LINES, with the closing count."""
    found = done.refusals(path)
    assert done.code == 2, done.out + done.err
    assert sorted(found) == lines, done.err
    count = len(lines)
    assert done.err.rstrip().endswith(
        f"{count} problem{'' if count == 1 else 's'}; nothing was posted"), done.err
    return found


# ------------------------------------------------------------------ clock changes

def test_night_shifts_across_a_clock_change_count_the_time_really_worked(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url, ("H1", "2026-03"), ("H2", "2026-10"))
    sheet = write(tmp_path, "nights.csv", """\
        holder,date,start,end
        H1,2026-03-28,22:00,06:30
        H1,2026-03-29,00:30,03:00
        H2,2026-10-24,22:00,06:30
        """)
    done = timesheet(sheet, db)
    assert done.code == 0, done.err
    # UK clocks go forward at 01:00 GMT on 29 March 2026: 22:00-06:30 from the 28th is
    # 8:30 on the wall but 7:30 worked; 00:30 GMT to 03:00 BST is 1:30 worked.
    assert minutes(db, "H1") == 40 * HOUR - (7 * HOUR + 30) - (1 * HOUR + 30)
    # They go back at 02:00 BST on 25 October 2026: 22:00-06:30 from the 24th is 9:30.
    assert minutes(db, "H2") == 40 * HOUR - (9 * HOUR + 30)


def test_a_time_the_clock_skips_or_shows_twice_is_refused_unless_hours_decide(tmp_path,
                                                                               db_url):
    db = isf_ledger(tmp_path, db_url, ("H1", "2026-03"), ("H2", "2026-10"))
    sheet = write(tmp_path, "odd.csv", """\
        holder,date,start,end,hours
        H1,2026-03-29,01:30,04:00,
        H2,2026-10-25,01:30,03:00,
        H2,2026-10-25,05:00,06:00,1:00
        """)
    # 01:30 on 29 March never happens in London (01:00 GMT becomes 02:00 BST); 01:30 on
    # 25 October happens twice, so 01:30-03:00 is 1:30 or 2:30: both refused.
    found = refused(timesheet(sheet, db), sheet, [2, 3])
    assert "01:30" in found[2] and "01:30" in found[3]
    assert minutes(db, "H1") == 40 * HOUR and minutes(db, "H2") == 40 * HOUR
    # The same ambiguous start with hours given: the hours decide.
    decided = write(tmp_path, "decided.csv", """\
        holder,date,start,end,hours
        H2,2026-10-25,01:30,03:00,2:30
        """)
    assert timesheet(decided, db).code == 0
    assert minutes(db, "H2") == 40 * HOUR - (2 * HOUR + 30)


# ------------------------------------------------------------------ US dates

US_DATES = """\
    holder,date,hours
    H1,04/01/2026,1:00
    H1,04/02/2026,1:00
    H1,04/06/2026,1:00
    H1,04/10/2026,1:00
    """


def test_month_first_dates_outside_the_month_are_refused_not_posted_elsewhere(tmp_path,
                                                                              db_url):
    db = isf_ledger(tmp_path, db_url, ("H1", "2026-01"))  # open since January
    sheet = write(tmp_path, "us.csv", US_DATES + "    H1,04/13/2026,1:00\n")
    found = refused(timesheet(sheet, db, "--month", "2026-04"), sheet, [2, 3, 4, 5, 6])
    # Read day/month (UK): the 4th of January, February, June and October.
    for line, day in [(2, "2026-01-04"), (3, "2026-02-04"), (4, "2026-06-04"),
                      (5, "2026-10-04")]:
        assert f"dated {day}, outside --month 2026-04" in found[line], found[line]
    # There is no 13th month: the refusal names the rule that would read it.
    assert "'04/13/2026'" in found[6] and "date %m/%d/%Y" in found[6]
    assert minutes(db) == 40 * HOUR


def test_month_first_dates_declared_in_the_rules_post_in_their_month(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    rules = write(tmp_path, "us.rules", "# a US export\ndate %m/%d/%Y\n")
    sheet = write(tmp_path, "us.csv", US_DATES)
    done = timesheet(sheet, db, "--rules", rules, "--month", "2026-04")
    assert done.code == 0, done.err
    # 1, 2, 6 and 10 April, an hour each: three by the 9th, all four within April.
    assert minutes(db, as_of="2026-04-09") == 40 * HOUR - 3 * HOUR
    assert minutes(db, as_of="2026-04-30") == minutes(db) == 40 * HOUR - 4 * HOUR


# ------------------------------------------------------------------ columns

def test_with_a_rules_file_only_mapped_columns_are_read(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    rules = write(tmp_path, "rota.rules", """\
        column holder = Client
        column date = Shift Date
        column start = From
        column end = To
        """)
    sheet = write(tmp_path, "rota.csv", """\
        Client,Shift Date,From,To,Hours
        H1,03/04/2026,09:00,17:00,2:00
        """)
    done = timesheet(sheet, db, "--rules", rules)
    assert done.code == 0, done.err
    # The visit is 09:00-17:00, 8 hours; the unmapped "Hours" column is not read.
    assert minutes(db) == 40 * HOUR - 8 * HOUR


def test_a_start_equal_to_its_end_is_refused_not_read_as_a_day(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    sheet = write(tmp_path, "same.csv", """\
        holder,date,start,end
        H1,2026-04-03,10:00,11:00
        H1,2026-04-04,09:00,09:00
        """)
    found = refused(timesheet(sheet, db), sheet, [3])
    assert "24-hour visit is written with hours" in found[3]
    assert minutes(db) == 40 * HOUR  # line 2 was fine, but nothing was posted


# ------------------------------------------------------------------ changed rows

@pytest.mark.parametrize("header,before,after", [
    ("holder,date,hours,worker", "H1,2026-04-03,2:00,Pat", "H1,2026-04-03,2:30,Pat"),
    ("holder,date,start,end,worker", "H1,2026-04-03,09:00,11:00,Pat",
     "H1,2026-04-03,09:00,11:30,Pat"),
])
def test_a_corrected_visit_is_reported_as_changed_and_replaced_only_when_asked(
        tmp_path, db_url, header, before, after):
    db = isf_ledger(tmp_path, db_url)
    first = write(tmp_path, "first.csv", f"{header}\n{before}\n")
    assert timesheet(first, db).code == 0
    assert minutes(db) == 40 * HOUR - 2 * HOUR
    corrected = write(tmp_path, "corrected.csv", f"{header}\n{after}\n")
    found = refused(timesheet(corrected, db), corrected, [2])
    assert "changed since it was imported (was 2:00, now 2:30)" in found[2]
    assert minutes(db) == 40 * HOUR - 2 * HOUR  # not 4:30 in all
    replaced = timesheet(corrected, db, "--replace-changed")
    assert replaced.code == 0, replaced.err
    # The 2:00 reversed and the 2:30 recorded: 2:30 delivered in all, £50.00 at £20.00
    # an hour out of the month's £800.00.
    assert minutes(db) == 40 * HOUR - (2 * HOUR + 30)
    assert pence(db) == 80000 - 5000
    # The corrected file again, with or without the flag: already recorded.
    assert timesheet(corrected, db).code == 0
    assert timesheet(corrected, db, "--replace-changed").code == 0
    assert minutes(db) == 40 * HOUR - (2 * HOUR + 30)


def test_identical_rows_are_refused_as_a_likely_duplicate_unless_allowed(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    sheet = write(tmp_path, "twice.csv", """\
        holder,date,hours,worker
        H1,2026-04-03,1:00,Pat
        H1,2026-04-03,1:00,Pat
        """)
    found = refused(timesheet(sheet, db), sheet, [3])
    assert "identical to line 2" in found[3] and "--allow-identical-rows" in found[3]
    assert minutes(db) == 40 * HOUR
    allowed = timesheet(sheet, db, "--allow-identical-rows")
    assert allowed.code == 0, allowed.err
    assert minutes(db) == 40 * HOUR - 2 * HOUR  # two visits of an hour
    # Both are recorded now: the file again posts nothing, with or without the flag.
    assert timesheet(sheet, db, "--allow-identical-rows").code == 0
    assert timesheet(sheet, db).code == 0
    assert minutes(db) == 40 * HOUR - 2 * HOUR


def test_a_note_added_to_an_imported_visit_is_a_change_not_a_duplicate_conflict(tmp_path,
                                                                                db_url):
    db = isf_ledger(tmp_path, db_url)
    header = "holder,date,hours,worker,notes\n"
    first = write(tmp_path, "first.csv", header + "H1,2026-04-03,1:00,Pat,\n")
    assert timesheet(first, db).code == 0
    noted = write(tmp_path, "noted.csv", header + "H1,2026-04-03,1:00,Pat,shopping\n"
                  "H1,2026-04-04,0:30,Pat,\n")
    done = timesheet(noted, db)
    found = refused(done, noted, [2])
    assert "changed since it was imported" in found[2]
    assert "duplicate_conflict" not in done.err
    assert minutes(db) == 40 * HOUR - 1 * HOUR
    assert timesheet(noted, db, "--replace-changed").code == 0
    # The hour is replaced by the same hour with its note; the new half hour is posted.
    assert minutes(db) == 40 * HOUR - 1 * HOUR - 30
    statement = ledger("statement", "holder", "H1", "--month", "2026-04", db=db)
    assert "shopping" in statement.out


# ------------------------------------------------------------------ late rows

def _april_report(db: str) -> str:
    done = ledger("isf", "reconcile", "--provider", "SH", "--month", "2026-04", "--format",
                  "json", db=db)
    assert done.code == 0, done.err
    return done.out


def test_a_late_row_leaves_a_reconciled_month_alone(tmp_path, db_url):
    # The rate goes up from May: £25.00 an hour for support given from 1 May.
    db = isf_ledger(tmp_path, db_url, then="  - {date: 2026-04-01, type: isf_vary, "
                    "holder: H1, provider: SH, from: 2026-05, rate: \"25.00\"}\n")
    april = write(tmp_path, "april.csv", "holder,date,hours\nH1,2026-04-03,1:00\n")
    assert timesheet(april, db).code == 0
    report = _april_report(db)  # April reconciled and its report sent
    assert ledger("isf", "advance", "--provider", "SH", "--month", "2026-05", db=db).code == 0
    end_of_april, first_of_may = minutes(db, as_of="2026-04-30"), minutes(db, as_of="2026-05-01")
    money = pence(db, as_of="2026-05-01")
    late = write(tmp_path, "late.csv", """\
        holder,date,hours
        H1,2026-04-03,1:00
        H1,2026-04-20,2:00
        """)
    # Line 2 is already recorded (skipped, whatever its date); line 3 is new, in April.
    found = refused(timesheet(late, db), late, [3])
    assert "period_closed" in found[3] and "2026-04" in found[3]
    assert minutes(db, as_of="2026-05-01") == first_of_may
    done = timesheet(late, db, "--late-to-open-month")
    assert done.code == 0, done.err
    # Posted on 1 May (the month after April, the last reconciled), worked on 20 April
    # and so valued at April's £20.00 an hour (£40.00, not £50.00): April's figures and
    # report are as they were sent.
    assert minutes(db, as_of="2026-04-30") == end_of_april
    assert minutes(db, as_of="2026-05-01") == first_of_may - 2 * HOUR
    assert pence(db, as_of="2026-05-01") == money - 4000
    assert _april_report(db) == report
    # Recorded under the row's own key: the file again posts nothing, flag or not.
    assert timesheet(late, db).code == 0
    assert timesheet(late, db, "--late-to-open-month").code == 0
    assert minutes(db) == first_of_may - 2 * HOUR


# ------------------------------------------------------------------ everyday exports

def test_cancelled_visits_are_left_out_by_a_skip_rule_and_counted(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    sheet = write(tmp_path, "visits.csv", """\
        holder,date,hours,Status
        H1,2026-04-03,1:00,Done
        H1,2026-04-04,0:00,Cancelled
        H1,2026-04-05,2:00, cancelled
        """)
    # Without a rule, the 0:00 visit is refused, saying how to leave it out.
    found = refused(timesheet(sheet, db), sheet, [3])
    assert "no time delivered" in found[3] and "skip" in found[3]
    assert minutes(db) == 40 * HOUR
    rules = write(tmp_path, "visits.rules", "skip Status = Cancelled\n")
    done = timesheet(sheet, db, "--rules", rules)
    assert done.code == 0, done.err
    # Lines 3 and 4 are cancelled (trimmed, any case): only line 2's hour is posted.
    assert minutes(db) == 40 * HOUR - 1 * HOUR
    summary = done.out.replace(str(sheet), "FILE").lower()
    assert re.search(r"\b2\b[^\n]*skip|skip[^\n]*\b2\b", summary), done.out  # counted


MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]


def test_negative_hours_are_named_as_negative_by_the_console_script(tmp_path, db_url):
    db = isf_ledger(tmp_path, db_url)
    sheet = write(tmp_path, "minus.csv", "holder,date,hours\nH1,2026-04-03,-2\n")
    done = subprocess.run([*MAIN, "isf", "import-timesheet", str(sheet), "--provider", "SH",
                           "--db", db], capture_output=True, text=True)
    found = refused(Ran(done.returncode, done.stdout, done.stderr), sheet, [2])
    assert "-2" in found[2] and "is negative" in found[2] and "at least 0:01" in found[2]
    assert "0 minutes" not in found[2] and "Traceback" not in done.stderr
    assert minutes(db) == 40 * HOUR
