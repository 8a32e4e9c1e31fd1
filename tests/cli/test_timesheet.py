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
