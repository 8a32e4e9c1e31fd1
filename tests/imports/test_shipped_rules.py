"""The rules files shipped in scenarios/rules/, each on a realistic export of the shape it
is written for (tests/data/exports/), imported through the command line into a ledger a
scenario file set up, on SQLite and on PostgreSQL. Every expected figure is worked out
here from what a person reads in the file, never from the importer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.imports.run import Ran
from tests.imports.run import ledger as run

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "scenarios" / "rules"
EXPORTS = ROOT / "tests" / "data" / "exports"
HOUR = 60  # minutes


def ledger(db: str, *args: object) -> Ran:
    """`ledger ARGS --db DB`, the database first as this file's helpers pass it."""
    return run(*map(str, args), db=db)


def set_up(tmp_path: Path, db: str, scenario: str) -> str:
    path = tmp_path / "setup.yaml"
    path.write_text(scenario, encoding="utf-8")
    done = ledger(db, "scenario", "run", path)
    assert done.code == 0, done.out + done.err
    return db


def balances(db: str) -> dict[tuple[str, str], int]:
    """Every balance in the ledger: {(account, unit): pence or minutes}."""
    done = ledger(db, "balance", "--format", "csv")
    assert done.code == 0, done.err
    return {(row["account"], row["unit"]): int(row["minor_units"])
            for row in csv.DictReader(io.StringIO(done.out))}


def hours_left(db: str, holder: str) -> int:
    return balances(db)[(f"isf:{holder}:SH", "HRS")]


ISFS = """\
format: 1
name: shipped-rules
parties:
  councils: [{{id: WBC, name: Wokingham}}]
  providers: [{{id: SH, name: Support Horizons}}]
  holders:
    - {{id: ANN, name: Ann Example, council: WBC}}
    - {{id: BOB, name: Bob Example, council: WBC}}
events:
  - {{date: {month}-01, type: isf_open, holder: ANN, provider: SH, hours_per_month: 40,
     rate: "20.00"}}
  - {{date: {month}-01, type: isf_open, holder: BOB, provider: SH, hours_per_month: 40,
     rate: "20.00"}}
  - {{date: {month}-01, type: isf_advance, holder: ANN, provider: SH, month: {month}}}
  - {{date: {month}-01, type: isf_advance, holder: BOB, provider: SH, month: {month}}}
"""


def timesheet(db: str, sheet: Path, rules: str, month: str) -> Ran:
    return ledger(db, "isf", "import-timesheet", sheet, "--provider", "SH",
                  "--rules", RULES / rules, "--month", month)


# ------------------------------------------------------- a care-planning visit export

VISITS = EXPORTS / "care-planning-visits-march.csv"


def test_the_care_planning_export_posts_the_visits_delivered(tmp_path, db_url):
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-03"))
    done = timesheet(db, VISITS, "care-planning-visits.rules", "2026-03")
    assert done.code == 0, done.err
    # Ann: 09:05-10:10 on 23 March (1:05) and 13:10-14:25 on 30 March (1:15); her visit
    # of 24 March was cancelled (no actual times) and is left out.
    assert hours_left(db, "ANN") == 40 * HOUR - (1 * HOUR + 5) - (1 * HOUR + 15)
    # Bob: a waking night 22:00-06:30 from Saturday 28 March, when the clocks go forward
    # at 01:00 (the export's Duration says 08:30, but 7:30 passed), and 17:00-19:15 on
    # 31 March (2:15).
    assert hours_left(db, "BOB") == 40 * HOUR - (7 * HOUR + 30) - (2 * HOUR + 15)
    assert "4 deliveries posted, 0 already recorded" in done.out


def test_the_care_planning_export_imported_again_posts_nothing(tmp_path, db_url):
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-03"))
    assert timesheet(db, VISITS, "care-planning-visits.rules", "2026-03").code == 0
    before = balances(db)
    again = timesheet(db, VISITS, "care-planning-visits.rules", "2026-03")
    assert again.code == 0, again.err
    assert "0 deliveries posted, 4 already recorded" in again.out
    assert balances(db) == before


def test_the_care_planning_export_keeps_its_windows_text(tmp_path, db_url):
    # The export is Windows-1252: "Zoë", "Café" and the dash of "Shopping – bought"
    # are single bytes there. Read as declared, they are the letters the carer typed.
    assert "Café".encode("cp1252") in VISITS.read_bytes()
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-03"))
    assert timesheet(db, VISITS, "care-planning-visits.rules", "2026-03").code == 0
    shown = ledger(db, "statement", "holder", "ANN", "--month", "2026-03", "--format", "json")
    assert shown.code == 0, shown.err
    assert "Café trip" in shown.out
    assert "Shopping – bought bread and milk" in shown.out


def test_a_typo_in_the_care_planning_export_is_refused_on_its_line(tmp_path, db_url):
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-03"))
    before = balances(db)
    sheet = EXPORTS / "care-planning-visits-march-typo.csv"
    done = timesheet(db, sheet, "care-planning-visits.rules", "2026-03")
    assert done.code == 2, done.out + done.err
    # Line 5 is the 30 March visit, its Actual End typed "14:2S".
    refused = done.refusals(sheet)
    assert list(refused) == [5], done.err
    assert "14:2S" in refused[5] and "Actual End" in refused[5]
    assert done.err.rstrip().endswith("1 problem; nothing was posted")
    assert balances(db) == before


# ------------------------------------------------------- a rota with start and end times

ROTA = EXPORTS / "rota-october.csv"


def test_the_rota_export_posts_each_shift_as_worked(tmp_path, db_url):
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-10"))
    done = timesheet(db, ROTA, "rota-start-end.rules", "2026-10")
    assert done.code == 0, done.err
    # Ann: a waking night 22:00-06:30 from Saturday 24 October, when the clocks go back at
    # 02:00 (9:30 passed), 09:00-12:00 on the 25th (3:00), 18:00-20:15 on the 31st (2:15).
    assert hours_left(db, "ANN") == 40 * HOUR - (9 * HOUR + 30) - 3 * HOUR - (2 * HOUR + 15)
    # Bob: 14:00-17:30 (3:30), and 23:00 to 01:00 the next morning (2:00).
    assert hours_left(db, "BOB") == 40 * HOUR - (3 * HOUR + 30) - 2 * HOUR
    assert "5 deliveries posted, 0 already recorded" in done.out
    again = timesheet(db, ROTA, "rota-start-end.rules", "2026-10")
    assert again.code == 0, again.err
    assert "0 deliveries posted, 5 already recorded" in again.out
    assert hours_left(db, "BOB") == 40 * HOUR - (3 * HOUR + 30) - 2 * HOUR


def test_a_typo_in_the_rota_export_is_refused_on_its_line(tmp_path, db_url):
    db = set_up(tmp_path, db_url, ISFS.format(month="2026-10"))
    before = balances(db)
    sheet = EXPORTS / "rota-october-typo.csv"
    done = timesheet(db, sheet, "rota-start-end.rules", "2026-10")
    assert done.code == 2, done.out + done.err
    refused = done.refusals(sheet)  # line 4: Bob's shift end typed "1730"
    assert list(refused) == [4], done.err
    assert "1730" in refused[4] and "Shift End" in refused[4]
    assert balances(db) == before


# ------------------------------------------------------- a bank's CSV, newest first

BANK = EXPORTS / "bank-newest-first-april.csv"
HOLDER = """\
format: 1
name: shipped-bank-rules
parties:
  councils: [{id: WBC, name: Wokingham}]
  holders: [{id: H1, name: Ann Example, council: WBC}]
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "1250.00"}
  - {date: 2026-04-01, type: contribution, holder: H1, amount: "75.00"}
"""


def statement(db: str, path: Path) -> Ran:
    return ledger(db, "dp", "import-transactions", path, "--holder", "H1",
                  "--rules", RULES / "bank-newest-first.rules", "--month", "2026-04")


def test_the_newest_first_bank_export_posts_the_final_spends(tmp_path, db_url):
    db = set_up(tmp_path, db_url, HOLDER)
    done = statement(db, BANK)
    assert done.code == 0, done.err
    # Money in (£1,250.00 from the council, £75.00 contribution) matches what is
    # recorded; out: wages £480.00, two card payments of £23.45 on 14 April, the leisure
    # centre £12.50 and the alarm £35.00. The Tesco line marked PENDING is not final.
    assert "5 spends posted, 0 already recorded, 2 payments in matched" in done.out
    assert f"{BANK}:2: pending" in done.out  # listed for a person, never posted
    money = balances(db)
    assert money[("external:PA-JANE-SMITH", "GBP")] == 480_00
    assert money[("external:TESCO", "GBP")] == 2 * 23_45
    assert money[("external:WOKINGHAM-LEISURE", "GBP")] == 12_50
    assert money[("external:CARELINE", "GBP")] == 35_00
    # ...leaving the balance the bank printed on its last final line, £750.60.
    assert money[("holder:H1:dp", "GBP")] == 1250_00 + 75_00 - 480_00 - 2 * 23_45 - 12_50 \
        - 35_00 == 750_60
    again = statement(db, BANK)
    assert again.code == 0, again.err
    assert "0 spends posted, 5 already recorded, 2 payments in matched" in again.out
    assert balances(db) == money


def test_a_typo_in_the_bank_export_is_refused_on_its_line(tmp_path, db_url):
    db = set_up(tmp_path, db_url, HOLDER)
    before = balances(db)
    path = EXPORTS / "bank-newest-first-april-typo.csv"
    done = statement(db, path)
    assert done.code == 2, done.out + done.err
    # Line 5 is a Tesco payment typed "23,45": not a thousands separator, and this bank
    # writes pence after a point.
    refused = done.refusals(path)
    assert 5 in refused and "23,45" in refused[5] and "Paid out" in refused[5], done.err
    assert balances(db) == before
