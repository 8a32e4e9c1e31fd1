"""Reading timesheets: what each row means, its keys, and every refusal with its line."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ledger.errors import UsageError
from ledger.imports.timesheet import read_rules, read_timesheet

UPGRADE = Path(__file__).parent.parent / "data" / "imports-2026-12-06"


def sheet(tmp_path, text: str, rules: str | None = None, **options):
    path = tmp_path / "timesheet.csv"
    path.write_text(text, encoding="utf-8")
    read = None
    if rules is not None:
        (tmp_path / "t.rules").write_text(rules, encoding="utf-8")
        read = read_rules(tmp_path / "t.rules")
    return read_timesheet(path, "SH", read, **options)


def hours(reading) -> list[str]:
    assert reading.problems == []
    return [row.event["hours"] for row in reading.rows]


def test_a_row_is_a_delivery_on_the_day_worked(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours,worker,reference,notes,provider\n"
                              "H1,03/04/2026,1.5,Pat,V-1,shopping,SH\n")
    assert reading.problems == [] and reading.skipped == []
    [row] = reading.rows
    assert row.line == 2
    assert row.event == {"date": "2026-04-03", "type": "isf_delivery", "holder": "H1",
                         "provider": "SH", "hours": "1:30", "worker": "Pat",
                         "reference": "V-1", "notes": "shopping"}
    assert row.key == "timesheet/SH/ref/V-1" and row.legacy_key is None


@pytest.mark.parametrize(("day", "start", "end", "worked"), [
    ("28/03/2026", "22:00", "06:30", "7:30"),  # the night the clocks go forward
    ("24/10/2026", "22:00", "06:30", "9:30"),  # the night they go back
    ("29/03/2026", "00:30", "03:00", "1:30"),
    ("27/03/2026", "22:00", "06:30", "8:30"),  # an ordinary night
    ("30/04/2026", "23:00", "01:15", "2:15"),  # over a month's end
    ("01/04/2026", "9:00", "17:00:00", "8:00"),
])
def test_a_visit_lasts_the_real_time_between_its_wall_clock_times(tmp_path, day, start,
                                                                   end, worked):
    reading = sheet(tmp_path, f"holder,date,start,end\nH1,{day},{start},{end}\n")
    assert hours(reading) == [worked]
    assert reading.rows[0].start == f"{start:0>5}"[:5]


def test_another_time_zone_can_be_declared(tmp_path):
    reading = sheet(tmp_path, "holder,date,start,end\nH1,2026-03-08,01:00,04:00\n",
                    "timezone America/New_York\n")
    assert hours(reading) == ["2:00"]


def test_a_time_that_does_not_exist_is_refused_even_with_hours(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours,start,end\n"
                              "H1,2026-03-29,1:00,01:30,02:30\n"
                              "H1,2026-03-28,,22:00,01:15\n")
    assert reading.rows == []
    assert [line for line, _ in reading.problems] == [2, 3]
    assert reading.problems[0][1].startswith(
        "start '01:30' (column 'start') does not exist on 2026-03-29 in Europe/London")
    assert reading.problems[1][1].startswith(
        "end '01:15' (column 'end') does not exist on 2026-03-29")


def test_a_time_that_happens_twice_is_refused_unless_hours_decide(tmp_path):
    text = "holder,date,hours,start,end\nH1,2026-10-25,{},01:30,03:00\n"
    refused = sheet(tmp_path, text.format(""))
    assert refused.rows == []
    [(line, why)] = refused.problems
    assert line == 2 and why.startswith("start '01:30' (column 'start') happens twice")
    assert "give the visit's hours" in why
    assert hours(sheet(tmp_path, text.format("2:30"))) == ["2:30"]


@pytest.mark.parametrize(("cells", "says"), [
    ("-2,,", "hours '-2' (column 'Hours'): -2 is negative: hours are at least 0:01"),
    ("0:00,,", "hours '0:00' (column 'Hours'): no time delivered; a cancelled visit is "
               "left out with `skip COLUMN = VALUE` in the rules"),
    ("0,,", "hours '0' (column 'Hours'): no time delivered"),
    ("0.01,,", "hours '0.01' (column 'Hours'): "),
    (",09:00,09:00", "start and end are both 09:00 (columns 'Start', 'End'): a 24-hour "
                     "visit is written with hours"),
    (",24:00,09:00", "start '24:00' (column 'Start') is not a time of day HH:MM"),
    (",09:00:30,10:00", "start '09:00:30' (column 'Start') has seconds"),
    (",09:00,", "no time given: 'Hours' and 'End' empty; give the visit's start and end"),
])
def test_minutes_that_are_not_a_visit_are_refused(tmp_path, cells, says):
    reading = sheet(tmp_path, f"Holder,Date,Hours,Start,End\nH1,2026-04-01,{cells}\n")
    assert reading.rows == []
    [(line, why)] = reading.problems
    assert line == 2 and why.startswith(says)


def test_a_skip_rule_leaves_rows_out_and_counts_them(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours,Visit Status\n"
                              "H1,2026-04-01,0:00,Cancelled\n"
                              "H1,2026-04-02,1:00,Done\n"
                              "H1,2026-04-03,1:00, cancelled \n",
                    "skip Visit Status = Cancelled\n")
    assert hours(reading) == ["1:00"]
    assert reading.skipped == [(2, "skip Visit Status = Cancelled"),
                               (4, "skip Visit Status = Cancelled")]


def test_a_skip_rule_naming_a_column_the_file_lacks_stops_the_reading(tmp_path):
    with pytest.raises(UsageError, match="no 'Status' column"):
        sheet(tmp_path, "holder,date,hours\nH1,2026-04-01,1:00\n", "skip Status = X\n")


def test_with_a_rules_file_a_column_is_not_read_by_its_name_alone(tmp_path):
    reading = sheet(tmp_path, "Client,Day,Hours,From,To\nH1,01/04/2026,2:00,09:00,17:00\n",
                    "column holder = Client\ncolumn date = Day\ncolumn start = From\n"
                    "column end = To\n")
    assert hours(reading) == ["8:00"]


def test_a_rules_file_must_map_what_a_timesheet_needs(tmp_path):
    with pytest.raises(UsageError) as err:
        sheet(tmp_path, "Client,date,hours\nH1,2026-04-01,1:00\n", "column holder = Client\n")
    assert "no date column: the rules map none (add `column date = Header`)" in str(err.value)
    with pytest.raises(UsageError, match="no 'Who' column"):
        sheet(tmp_path, "Client,date,hours\nH1,2026-04-01,1:00\n",
              "column holder = Who\ncolumn date = date\ncolumn hours = hours\n")


def test_month_first_dates_are_refused_unless_declared(tmp_path):
    text = "holder,date,hours\nH1,04/01/2026,1:00\nH1,04/13/2026,1:00\n"
    refused = sheet(tmp_path, text)
    assert [line for line, _ in refused.problems] == [3]
    assert "add `date %m/%d/%Y` to the rules file" in refused.problems[0][1]
    declared = sheet(tmp_path, text, "date %m/%d/%Y\n")
    assert [row.event["date"] for row in declared.rows] == ["2026-04-01", "2026-04-13"]


def test_month_refuses_every_row_outside_it(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours\nH1,30/04/2026,1:00\nH1,01/05/2026,1:00\n"
                              "H1,31/03/2026,1:00\n", month="2026-04")
    assert [row.line for row in reading.rows] == [2]
    assert reading.problems == [(3, "dated 2026-05-01, outside --month 2026-04"),
                                (4, "dated 2026-03-31, outside --month 2026-04")]


def test_every_problem_is_found_each_on_its_line(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours,notes\nh1,2026-04-01,1:00,\n"
                              "H1,2026-04-02,1:00,ok\nH1,2026-04-31,1:00,\n"
                              "H1,2026-04-03,1:00,\"bell\x07\"\n")
    assert [row.line for row in reading.rows] == [3]
    assert [line for line, _ in reading.problems] == [2, 4, 5]
    assert reading.problems[0][1].startswith("holder 'h1' (column 'holder') is not a holder")
    assert "control character U+0007" in reading.problems[2][1]


def test_bytes_in_another_encoding_are_reported_on_their_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"holder,date,hours,notes\nH1,2026-04-01,1:00,caf\xe9\n")
    reading = read_timesheet(path, "SH")
    assert reading.rows == [] and reading.problems[0][0] == 2
    (tmp_path / "r").write_text("encoding cp1252\n")
    assert read_timesheet(path, "SH", read_rules(tmp_path / "r")).rows[0].event["notes"] == "café"


# ---------------------------------------------------------------- keys


def visit_key(holder: str, date: str, which: str, worker: str = "") -> str:
    digest = hashlib.sha256(json.dumps(["SH", holder, date, which, worker]).encode())
    return f"timesheet/SH/visit/{digest.hexdigest()[:32]}"


def test_a_visit_is_known_by_holder_date_start_and_worker_not_its_minutes(tmp_path):
    first = sheet(tmp_path, "holder,date,start,end,worker\nH1,2026-04-01,09:00,11:00,Pat\n")
    changed = sheet(tmp_path, "holder,date,start,end,worker\nH1,1/4/2026,9:00,11:30,Pat\n")
    assert first.rows[0].key == changed.rows[0].key == visit_key("H1", "2026-04-01",
                                                                  "09:00", "Pat")


def test_hours_only_rows_are_told_apart_by_occurrence_among_the_holders_day(tmp_path):
    reading = sheet(tmp_path, "holder,date,hours\nH1,2026-04-01,1:00\nH2,2026-04-01,1:00\n"
                              "H1,2026-04-01,2:00\nH1,2026-04-02,1:00\n")
    assert [row.key for row in reading.rows] == [
        visit_key("H1", "2026-04-01", "#1"), visit_key("H2", "2026-04-01", "#1"),
        visit_key("H1", "2026-04-01", "#2"), visit_key("H1", "2026-04-02", "#1")]
    assert all(row.identical_to is None for row in reading.rows)


def test_identical_rows_are_marked_and_told_apart(tmp_path):
    reading = sheet(tmp_path, "holder,date,start,end\nH1,2026-04-01,09:00,10:00\n"
                              "H1,2026-04-01,18:00,19:00\nH1,2026-04-01,09:00,10:00\n"
                              "H1,2026-04-01,09:00,10:00\n")
    key = visit_key("H1", "2026-04-01", "09:00")
    assert [(r.line, r.key, r.identical_to) for r in reading.rows] == [
        (2, key, None), (3, visit_key("H1", "2026-04-01", "18:00"), None),
        (4, key + "#2", 2), (5, key + "#3", 2)]


def test_one_visit_twice_with_other_figures_is_refused(tmp_path):
    reading = sheet(tmp_path, "holder,date,start,end\nH1,2026-04-01,09:00,10:00\n"
                              "H1,2026-04-01,09:00,11:00\n")
    assert [row.line for row in reading.rows] == [2]
    [(line, why)] = reading.problems
    assert line == 3 and why.startswith("the same visit as line 2")


def test_rows_recorded_by_the_earlier_release_carry_its_keys(tmp_path):
    recorded = {key for (key,) in sqlite3.connect(UPGRADE / "ledger.db").execute(
        "select key from event where key like 'timesheet/%'")}
    hours_csv = read_timesheet(UPGRADE / "hours.csv", "SH")
    rota = read_timesheet(UPGRADE / "rota.csv", "SH", read_rules(UPGRADE / "rota.rules"))
    rows = hours_csv.rows + rota.rows
    assert hours_csv.problems == rota.problems == []
    found = {row.legacy_key for row in rows if row.legacy_key} | {
        row.key for row in rows if row.legacy_key is None}
    assert found == recorded
    assert [row.identical_to for row in hours_csv.rows] == [None, None, None, 4, None]


def test_the_earlier_key_counts_a_night_as_that_release_did(tmp_path):
    reading = sheet(tmp_path, "holder,date,start,end\nH2,28/03/2026,22:00,06:30\n")
    assert hours(reading) == ["7:30"]
    parts = ["SH", "H2", "2026-03-28", "8:30", "22:00", "06:30", ""]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
    assert reading.rows[0].legacy_key == f"timesheet/SH/{digest}#1"


def test_the_earlier_key_read_columns_by_name_even_with_a_rules_file(tmp_path):
    reading = sheet(tmp_path, "Client,date,Hours,From,To\nH1,2026-04-01,2:00,09:00,17:00\n",
                    "column holder = Client\ncolumn date = date\ncolumn start = From\n"
                    "column end = To\n")
    assert hours(reading) == ["8:00"]
    parts = ["SH", "H1", "2026-04-01", "2:00", "09:00", "17:00", ""]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
    assert reading.rows[0].legacy_key == f"timesheet/SH/{digest}#1"


def test_a_row_is_numbered_by_the_line_it_starts_on(tmp_path):
    reading = sheet(tmp_path, 'holder,date,hours,notes\nH1,2026-04-01,1:00,"two\nlines"\n'
                              "H1,2026-04-02,-1,\nH1,2026-04-03,1:00,\n")
    assert [row.line for row in reading.rows] == [5]
    assert [line for line, _ in reading.problems] == [2, 4]
    assert "control character U+000A" in reading.problems[0][1]
