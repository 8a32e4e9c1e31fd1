"""`ledger isf import-timesheet` (docs/month-end.md#timesheets): a provider's CSV of
visits, each an isf_delivery; checked whole first; imported once whatever the overlap."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]
SETUP = """\
format: 1
name: setup
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
    - {id: H3, name: Cat, council: WBC}
events:
  - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 40,
     rate: "19.50", carry: {max_borrow_hours: 2}}
  - {date: 2026-04-01, type: isf_open, holder: H2, provider: SH, hours_per_month: 20,
     rate: "20.00"}
  - {date: 2026-04-01, type: isf_advance, holder: H1, provider: SH, month: 2026-04}
  - {date: 2026-04-01, type: isf_advance, holder: H2, provider: SH, month: 2026-04}
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _ledger(tmp_path: Path, db: str) -> str:
    path = tmp_path / "setup.yaml"
    path.write_text(SETUP, encoding="utf-8")
    assert invoke("scenario", "run", str(path), db=db).exit_code == 0
    return db


def _csv(tmp_path: Path, name: str, text: str, bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes(("\ufeff" if bom else "").encode() + textwrap.dedent(text).encode())
    return path


def _hours(db: str, holder: str) -> str:
    out = invoke("balance", "--format", "json", "--account", f"isf:{holder}:SH", db=db).output
    return next(r["balance"] for r in json.loads(out) if r["unit"] == "HRS")


def _import(path: Path, db: str, *more: str):
    return subprocess.run([*MAIN, "isf", "import-timesheet", str(path), "--provider", "SH",
                           *more, "--db", db], capture_output=True, text=True)


def test_visits_in_hours_or_start_and_end_are_posted_once(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "april.csv", """\
         Holder , DATE ,Hours,Worker,Notes
        H1,2026-04-03,1:20,Pat,shopping
        H1,03/04/2026,0:20,Pat,
        H2,2026-04-04,2.5,Sam,
        H1,2026-04-05,0:20,Pat,
        """, bom=True)
    done = _import(sheet, db)
    assert done.returncode == 0, done.stderr
    assert "4 deliveries posted, 0 already recorded" in done.stdout
    assert _hours(db, "H1") == "38"  # 40 - 1:20 - 0:20 - 0:20
    assert _hours(db, "H2") == "17.5"
    # The same file again, or an overlapping export in another order: only new rows.
    assert "0 deliveries posted, 4 already recorded" in _import(sheet, db).stdout
    overlap = _csv(tmp_path, "overlap.csv", """\
        holder,date,hours,worker
        H1,2026-04-05,0:20,Pat
        H1,2026-04-06,1:00,Pat
        H2,2026-04-04,2.5,Sam
        """)
    assert "1 deliveries posted, 2 already recorded" in _import(overlap, db).stdout
    assert _hours(db, "H1") == "37"
    statement = invoke("statement", "holder", "H1", "--month", "2026-04", db=db).output
    assert "(shopping)" in statement


def test_a_visit_that_ends_after_midnight_counts_the_hours_to_the_next_day(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "night.csv", """\
        holder,date,start,end
        H1,2026-04-10,22:00,06:30
        H1,2026-04-11,09:15,09:35
        """)
    assert _import(sheet, db).returncode == 0
    assert _hours(db, "H1") == "31.17"  # 40 - 8:30 - 0:20 = 31:10


def test_every_problem_is_named_with_its_line_and_nothing_is_posted(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "bad.csv", """\
        holder,date,hours,reference
        H1,2026-04-03,1:00,R1
        H9,2026-04-03,1:00,
        H3,2026-04-03,1:00,
        H1,2026-03-31,1:00,
        H1,2026-02-30,1:00,
        H1,2026-04-07,0.33,
        H2,2026-04-08,23:00,
        H1,2026-04-09,x,
        """)
    done = _import(sheet, db)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].endswith("7 problems; nothing was posted")
    by_line = {int(line.split(":")[1]): line for line in lines[:-1]}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9]
    assert "unknown holder 'H9'" in by_line[3]
    assert "H3 has no open ISF with SH on 2026-04-03" in by_line[4]
    # Before the ISF opened: the delivery rule's own refusal, as from any other source.
    assert "invalid: support dated 2026-03-31 is before the ISF opened on 2026-04-01" in (
        by_line[5])
    assert "2026-02-30" in by_line[6]
    assert "whole number of minutes" in by_line[7]
    assert "insufficient_funds" in by_line[8]  # past its borrowing limit
    assert "hours 'x'" in by_line[9]
    assert _hours(db, "H1") == "40"  # row 2 was fine, but nothing was posted


def test_a_reference_reused_with_different_content_is_refused(tmp_path, db_url):
    """The reference names the visit: other minutes under it are a change, reported with
    both figures (docs/month-end.md#keys), never posted beside the first."""
    db = _ledger(tmp_path, db_url)
    first = _csv(tmp_path, "a.csv", "holder,date,hours,reference\nH1,2026-04-03,1:00,R1\n")
    assert _import(first, db).returncode == 0
    second = _csv(tmp_path, "b.csv", "holder,date,hours,reference\nH1,2026-04-03,2:00,R1\n")
    done = _import(second, db)
    assert done.returncode == 2
    assert ":2: changed since it was imported (was 1:00, now 2:00)" in done.stderr
    assert _hours(db, "H1") == "39"


def test_a_dry_run_prints_what_would_be_posted_and_posts_nothing(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "s.csv", "holder,date,hours\nH1,2026-04-03,1:15\n")
    done = _import(sheet, db, "--dry-run")
    assert done.returncode == 0
    assert ":2: would post 1:15 for H1 on 2026-04-03" in done.stdout
    assert "dry run: 1 would be posted" in done.stdout
    assert _hours(db, "H1") == "40"


def test_a_rota_export_is_read_through_a_rules_file(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    rules = tmp_path / "rota.rules"
    rules.write_text(textwrap.dedent("""\
        # RotaCloud-style export: semicolons, its own names
        separator ;
        column holder = Client Ref
        column date = Shift Date
        column start = From
        column end = To
        column worker = Carer
        """), encoding="utf-8")
    sheet = _csv(tmp_path, "rota.csv", """\
        Shift Date;Client Ref;From;To;Carer
        02/04/2026;H1;09:00;10:45;Jo
        """)
    done = _import(sheet, db, "--rules", str(rules))
    assert done.returncode == 0, done.stderr
    assert _hours(db, "H1") == "38.25"


@pytest.mark.parametrize("rules_text,why", [
    ("column colour = Red\n", "NAME one of"),
    ("frobnicate\n", "unknown rule"),
])
def test_a_rules_file_it_cannot_read_is_one_line_naming_its_line(tmp_path, db_url, rules_text, why):
    db = _ledger(tmp_path, db_url)
    rules = tmp_path / "r.rules"
    rules.write_text("# fine\n" + rules_text, encoding="utf-8")
    sheet = _csv(tmp_path, "s.csv", "holder,date,hours\nH1,2026-04-03,1:15\n")
    done = _import(sheet, db, "--rules", str(rules))
    assert done.returncode == 2 and f"{rules}:2:" in done.stderr and why in done.stderr


def test_a_visit_in_a_closed_period_or_at_an_unreadable_time_is_refused(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    close = tmp_path / "close.yaml"
    close.write_text(SETUP.replace("name: setup", "name: close").split("events:")[0]
                     + "events:\n  - {date: 2026-04-30, type: close_period, until: "
                       "2026-04-15}\n", encoding="utf-8")
    assert invoke("scenario", "run", str(close), db=db).exit_code == 0
    sheet = _csv(tmp_path, "late.csv", """\
        holder,date,start,end
        H1,2026-04-10,09:00,10:00
        H1,2026-04-20,25:00,10:00
        H1,2026-04-21,09:00,10:00
        """)
    done = _import(sheet, db)
    assert done.returncode == 2
    assert ":2: period_closed" in done.stderr
    assert ":3: start '25:00' (column 'start') is not a time of day HH:MM" in done.stderr
    assert done.stderr.strip().endswith("2 problems; nothing was posted")
    assert _hours(db, "H1") == "40"


def test_a_row_dated_before_the_isf_opened_gets_the_answer_a_scenario_file_gets(tmp_path,
                                                                                db_url):
    """One rule, decided once by the delivery itself: the same refusal from a timesheet
    row as from a scenario file's event (docs/month-end.md#timesheets)."""
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "early.csv", "holder,date,hours\nH1,2026-03-31,1:00\n")
    done = _import(sheet, db)
    assert done.returncode == 2
    from_sheet = done.stderr.splitlines()[0].split(":2: ", 1)[1]
    early = tmp_path / "early.yaml"
    early.write_text(SETUP.replace("name: setup", "name: early").split("events:")[0]
                     + "events:\n  - {date: 2026-03-31, type: isf_delivery, holder: H1, "
                       "provider: SH, hours: '1:00'}\n", encoding="utf-8")
    run = subprocess.run([*MAIN, "scenario", "run", str(early), "--db", db],
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert from_sheet.startswith("invalid: ") and run.stderr.rstrip().endswith(from_sheet)
    assert _hours(db, "H1") == "40"


# ---------------------------------------------------------------- keys, changes, late rows
# (docs/month-end.md#keys, #late-rows)

def test_a_corrected_visit_is_refused_with_both_figures_or_replaced_when_asked(tmp_path,
                                                                               db_url):
    db = _ledger(tmp_path, db_url)
    first = _csv(tmp_path, "may.csv", """\
        holder,date,start,end,worker
        H1,2026-04-12,10:00,12:00,Pat
        H1,2026-04-13,10:00,11:00,Pat
        """)
    assert _import(first, db).returncode == 0
    assert _hours(db, "H1") == "37"  # 40 - 2:00 - 1:00
    corrected = _csv(tmp_path, "may-corrected.csv", """\
        holder,date,start,end,worker
        H1,2026-04-12,10:00,12:30,Pat
        H1,2026-04-13,10:00,11:00,Pat
        H1,2026-04-19,09:00,09:30,Pat
        """)
    done = _import(corrected, db)
    assert done.returncode == 2
    assert ":2: changed since it was imported (was 2:00, now 2:30)" in done.stderr
    assert done.stderr.strip().endswith("1 problem; nothing was posted")
    assert _hours(db, "H1") == "37"  # not even the new visit of the 19th
    dry = _import(corrected, db, "--replace-changed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert ":2: would reverse " in dry.stdout and ":2: would post 2:30 for H1" in dry.stdout
    assert _hours(db, "H1") == "37"
    done = _import(corrected, db, "--replace-changed")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "2 deliveries posted, 1 already recorded, 1 changed visit replaced")
    assert _hours(db, "H1") == "36"  # 40 - 2:30 - 1:00 - 0:30: the 2:00 is gone
    again = _import(corrected, db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 deliveries posted, 3 already recorded")
    # The first export again: compared with what stands now, the 2:30.
    back = _import(first, db)
    assert back.returncode == 2
    assert ":2: changed since it was imported (was 2:30, now 2:00)" in back.stderr
    assert invoke("verify", db=db).exit_code == 0


def test_notes_added_to_an_imported_visit_are_a_change_not_a_conflict(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    first = _csv(tmp_path, "a.csv", "holder,date,hours,notes\nH1,2026-04-03,1:00,\n")
    assert _import(first, db).returncode == 0
    noted = _csv(tmp_path, "b.csv", "holder,date,hours,notes\nH1,2026-04-03,1:00,late start\n")
    done = _import(noted, db)
    assert done.returncode == 2
    assert "duplicate_conflict" not in done.stderr
    assert ":2: changed since it was imported (notes were none, now 'late start')" in (
        done.stderr)
    done = _import(noted, db, "--replace-changed")
    assert done.returncode == 0, done.stderr
    assert _hours(db, "H1") == "39"
    statement = invoke("statement", "holder", "H1", "--month", "2026-04", db=db).output
    assert "(late start)" in statement


@pytest.mark.parametrize("row", ["H2,2026-04-04,2.5,,,Sam", "H2,2026-04-04,,09:00,11:30,Sam"])
def test_two_identical_rows_are_refused_unless_allowed(tmp_path, db_url, row):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "twice.csv", f"holder,date,hours,start,end,worker\n{row}\n{row}\n")
    done = _import(sheet, db)
    assert done.returncode == 2
    assert ":3: identical to line 2: a likely duplicate" in done.stderr
    assert "--allow-identical-rows" in done.stderr
    assert _hours(db, "H2") == "20"
    done = _import(sheet, db, "--allow-identical-rows")
    assert done.returncode == 0, done.stderr
    assert "2 deliveries posted" in done.stdout
    assert _hours(db, "H2") == "15"
    # Recorded rows are skipped before the check: the file again posts and refuses nothing.
    again = _import(sheet, db)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("0 deliveries posted, 2 already recorded")


def _reconcile_april(tmp_path: Path, db: str) -> None:
    for args in (["isf", "reconcile", "--provider", "SH", "--month", "2026-04"],
                 ["isf", "advance", "--provider", "SH", "--month", "2026-05"]):
        done = invoke(*args, db=db)
        assert done.exit_code == 0, done.output


def test_a_late_row_is_refused_naming_its_month_or_recorded_in_the_open_month(tmp_path,
                                                                              db_url):
    db = _ledger(tmp_path, db_url)
    _reconcile_april(tmp_path, db)
    before = _hours(db, "H1")
    report = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                    "--format", "json", db=db).output
    late = _csv(tmp_path, "april-late.csv", "holder,date,hours,worker\nH1,2026-04-29,2:00,Pat\n")
    done = _import(late, db)
    assert done.returncode == 2
    line = done.stderr.splitlines()[0]
    assert ":2: period_closed: 2026-04 is already reconciled" in line
    assert "--late-to-open-month" in line and "2026-05" in line
    done = _import(late, db, "--late-to-open-month")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "1 deliveries posted, 0 already recorded, 1 late visit recorded in 2026-05")
    assert float(_hours(db, "H1")) == float(before) - 2
    # April's report is as it went out; the row is recorded once, however often it comes.
    assert invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                  "--format", "json", db=db).output == report
    again = _import(late, db, "--late-to-open-month")
    assert again.stdout.strip().endswith("0 deliveries posted, 1 already recorded")
    assert invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-05",
                  db=db).exit_code == 0
    # May reconciled too: the open month has moved on, the row is still recorded.
    for more in ([], ["--late-to-open-month"]):
        later = _import(late, db, *more)
        assert later.returncode == 0, later.stderr
        assert later.stdout.strip().endswith("0 deliveries posted, 1 already recorded")
    assert invoke("verify", db=db).exit_code == 0


def test_month_refuses_rows_outside_it(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    sheet = _csv(tmp_path, "s.csv", """\
        holder,date,hours
        H1,2026-04-30,1:00
        H1,01/05/2026,1:00
        """)
    done = _import(sheet, db, "--month", "2026-04")
    assert done.returncode == 2
    assert ":3: dated 2026-05-01, outside --month 2026-04" in done.stderr
    assert _hours(db, "H1") == "40"
    bad = _import(sheet, db, "--month", "April")
    assert bad.returncode == 2 and "--month 'April'" in bad.stderr


def test_rows_left_out_by_skip_rules_are_counted(tmp_path, db_url):
    db = _ledger(tmp_path, db_url)
    rules = tmp_path / "visits.rules"
    rules.write_text("column holder = Client\ncolumn date = Date\ncolumn hours = Hours\n"
                     "skip Status = Cancelled\n", encoding="utf-8")
    sheet = _csv(tmp_path, "s.csv", """\
        Client,Date,Hours,Status
        H1,2026-04-03,1:00,Done
        H1,2026-04-04,0:00,cancelled
        H1,2026-04-05,2:00,CANCELLED
        """)
    done = _import(sheet, db, "--rules", str(rules))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "1 deliveries posted, 0 already recorded, 2 left out by skip rules")
    assert _hours(db, "H1") == "39"
