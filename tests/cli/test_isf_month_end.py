"""`ledger isf advance` and `ledger isf reconcile` (docs/month-end.md): every ISF of a
provider at once, re-running posts nothing, and the report adds up to the ledger."""

from __future__ import annotations

import csv
import io
import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

PARTIES = """\
format: 1
name: NAME
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}, {id: OT, name: Other}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
    - {id: H3, name: Cat, council: WBC}
events:
"""
OPEN = """\
  - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 40,
     rate: "19.50", carry: {expire_after_months: 1, max_hours: 10}}
  - {date: 2026-04-01, type: isf_open, holder: H2, provider: SH, hours_per_month: 20,
     rate: "20.00", fee: {kind: percent, value: "5", basis: on_top}, underspend: retain}
  - {date: 2026-04-15, type: isf_open, holder: H3, provider: SH, hours_per_month: 10,
     rate: "20.00"}
  - {date: 2026-04-01, type: isf_open, holder: H1, provider: OT, hours_per_month: 5,
     rate: "18.00"}
"""
APRIL = """\
  - {date: 2026-04-10, type: isf_delivery, holder: H1, provider: SH, hours: "20:30"}
  - {date: 2026-04-12, type: isf_delivery, holder: H2, provider: SH, hours: "19:40"}
  - {date: 2026-04-13, type: isf_purchase, holder: H2, provider: SH, payee: GYM,
     amount: "30.00"}
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _run(tmp_path: Path, name: str, events: str, db: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(PARTIES.replace("NAME", name) + textwrap.dedent(events), encoding="utf-8")
    done = invoke("scenario", "run", str(path), db=db)
    assert done.exit_code == 0, done.output


def _balance(db: str, account: str, unit: str, as_of: str) -> int:
    done = invoke("balance", "--format", "csv", "--as-of", as_of, "--account", account, db=db)
    rows = [r for r in csv.DictReader(io.StringIO(done.output))
            if r["account"] == account and r["unit"] == unit]
    return int(rows[0]["minor_units"]) if rows else 0


def test_advance_reaches_every_open_isf_of_the_provider_once(db_url, tmp_path):
    _run(tmp_path, "open", OPEN, db_url)
    done = invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db_url)
    assert done.exit_code == 0 and "3 advances posted" in done.output, done.output
    # H3 opened on the 15th: advanced for its first month, dated its opening day (nothing
    # on the 14th). OT is another provider.
    assert _balance(db_url, "isf:H3:SH", "HRS", "2026-04-14") == 0
    assert _balance(db_url, "isf:H3:SH", "HRS", "2026-04-15") == 600
    assert _balance(db_url, "isf:H1:OT", "HRS", "2026-04-30") == 0
    again = invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db_url)
    assert "0 advances posted" in again.output
    may = invoke("isf", "advance", "--provider", "SH", "--month", "2026-05", db=db_url)
    assert "3 advances posted" in may.output


def test_reconcile_reports_each_isf_and_the_rows_add_up_to_the_ledger(db_url, tmp_path):
    _run(tmp_path, "open", OPEN, db_url)
    invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db_url)
    _run(tmp_path, "april", APRIL, db_url)
    done = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                  "--format", "json", db=db_url)
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert [r["holder"] for r in report["isfs"]] == ["H1", "H2", "H3"]
    for row in report["isfs"]:
        account = f"isf:{row['holder']}:SH"
        assert row["hours_opening_minutes"] + row["hours_allocated_minutes"] - row[
            "hours_delivered_minutes"] - row["hours_expired_minutes"] + row[
            "hours_other_minutes"] == row["hours_closing_minutes"]
        assert row["money_opening_minor"] + row["money_in_minor"] - row[
            "money_delivered_minor"] - row["money_fees_minor"] - row[
            "money_purchases_minor"] - row["money_returned_minor"] + row[
            "money_other_minor"] == row["money_closing_minor"]
        assert row["hours_closing_minutes"] == _balance(db_url, account, "HRS", "2026-04-30")
        assert row["money_closing_minor"] == _balance(db_url, account, "GBP", "2026-04-30")
    h1, h2 = report["isfs"][0], report["isfs"][1]
    # H1: 40 h, 20 h 30 min delivered, 19 h 30 min left, cap 10: 9 h 30 min expire, and
    # their worth goes back (£19.50 x 9.5 = £185.25).
    assert (h1["hours_delivered_minutes"], h1["hours_expired_minutes"],
            h1["money_returned_minor"]) == (1230, 570, 18525)
    # H2: £400 + 5% on top; 19 h 40 min at £20 = £393.33; £30 at the gym; the 20 minutes
    # left expire at the month's end (no carry-over) and no money goes back (retain).
    assert (h2["money_in_minor"], h2["money_fees_minor"], h2["money_delivered_minor"],
            h2["money_purchases_minor"], h2["hours_expired_minutes"],
            h2["money_returned_minor"]) == (42000, 2000, 39333, 3000, 20, 0)
    assert h2["flag"] == "" and h1["flag"] == "under"  # 20.5 of 40 h: more than 10% under
    totals = report["totals"]
    assert totals["holder"] == "TOTAL"
    assert totals["money_closing_minor"] == sum(r["money_closing_minor"]
                                                for r in report["isfs"])
    # Running it again posts nothing and prints the same report.
    again = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                   "--format", "json", db=db_url)
    assert json.loads(again.output) == report
    csv_out = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                     "--format", "csv", db=db_url).output
    rows = list(csv.DictReader(io.StringIO(csv_out)))
    assert [r["holder"] for r in rows] == ["H1", "H2", "H3", "TOTAL"]
    assert int(rows[0]["hours_expired_minutes"]) == 570
    table = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04", db=db_url)
    assert table.exit_code == 0 and "TOTAL" in table.output


def test_a_refusal_for_one_isf_posts_nothing_for_any(tmp_path, db_url):
    db = db_url
    _run(tmp_path, "open", OPEN, db)
    invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db)
    invoke("isf", "advance", "--provider", "SH", "--month", "2026-05", db=db)
    before = invoke("stats", "--format", "json", db=db).output
    # May before April: months are reconciled in order, so every ISF is refused.
    done = invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-05", db=db)
    assert done.exit_code == 1
    assert invoke("stats", "--format", "json", db=db).output == before


def test_the_shipped_month_end_gives_the_figures_worked_by_hand(db_url):
    """scenarios/provider-month-end.yaml and its CSV files: April as its comments work it."""
    root = Path(__file__).resolve().parents[2] / "scenarios"
    assert invoke("scenario", "run", str(root / "provider-month-end.yaml"), db=db_url
                  ).exit_code == 0
    invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db_url)
    done = invoke("isf", "import-timesheet",
                  str(root / "provider-month-end" / "april-timesheet.csv"),
                  "--provider", "SH", db=db_url)
    assert "12 deliveries posted" in done.output, done.output
    report = json.loads(invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                               "--format", "json", db=db_url).output)
    ann, bob, cat = report["isfs"]
    assert (ann["hours_delivered_minutes"], ann["hours_expired_minutes"],
            ann["money_returned_minor"], ann["hours_closing_minutes"]) == (720, 1080, 35100, 600)
    assert (bob["money_in_minor"], bob["money_fees_minor"], bob["money_closing_minor"]) == (
        42000, 2000, 0)
    assert (cat["hours_closing_minutes"], cat["money_closing_minor"]) == (-120, -4200)


def test_the_shipped_may_with_a_correction_and_a_late_timesheet(db_url):
    """The README's month end on: May's rota, then a corrected export of it (Cat's 12 May
    visit ran on from 14:20 to 14:50, and a 19 May visit was added), then Ann's timesheet
    for 29 April found after April was reconciled (docs/month-end.md#worked-example)."""
    root = Path(__file__).resolve().parents[2] / "scenarios"
    files = root / "provider-month-end"
    rules = str(files / "rota.rules")
    assert invoke("scenario", "run", str(root / "provider-month-end.yaml"), db=db_url
                  ).exit_code == 0
    for month, sheet in (("2026-04", ["april-timesheet.csv"]),
                         ("2026-05", ["may-rota.csv", "--rules", rules])):
        assert invoke("isf", "advance", "--provider", "SH", "--month", month,
                      db=db_url).exit_code == 0
        done = invoke("isf", "import-timesheet", str(files / sheet[0]), *sheet[1:],
                      "--provider", "SH", "--month", month, db=db_url)
        assert done.exit_code == 0, done.output
        if month == "2026-04":
            assert invoke("isf", "reconcile", "--provider", "SH", "--month", month,
                          db=db_url).exit_code == 0
    stats = invoke("stats", "--format", "json", db=db_url).output

    corrected = ("isf", "import-timesheet", str(files / "may-rota-corrected.csv"), "--rules",
                 rules, "--provider", "SH", "--month", "2026-05")
    refused = invoke(*corrected, db=db_url)
    assert refused.exit_code == 2
    assert ("may-rota-corrected.csv:8: changed since it was imported (was 4:20, now 4:50; "
            "notes were none, now 'ran late: GP appointment')") in refused.output
    assert "may-rota-corrected.csv:9" not in refused.output  # the new visit is fine
    assert invoke("stats", "--format", "json", db=db_url).output == stats  # nothing posted
    assert invoke(*corrected, "--replace-changed", db=db_url).exit_code == 0

    late = ("isf", "import-timesheet", str(files / "april-late.csv"), "--provider", "SH")
    refused = invoke(*late, db=db_url)
    assert refused.exit_code == 2 and "april-late.csv:2:" in refused.output
    assert "period_closed" in refused.output and "2026-04" in refused.output
    assert invoke(*late, "--late-to-open-month", db=db_url).exit_code == 0
    again = invoke(*late, "--late-to-open-month", db=db_url)  # nothing new the second time
    assert again.exit_code == 0 and "0 deliveries posted, 1 already recorded" in again.output

    report = json.loads(invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-05",
                               "--format", "json", db=db_url).output)
    ann, bob, cat = report["isfs"]
    # Ann: three visits of 9:00-11:30 (2:30 each) and the late 2:00, at £19.50 an hour.
    assert ann["hours_delivered_minutes"] == 3 * 150 + 120
    assert ann["money_delivered_minor"] == (3 * 150 + 120) * 1950 // 60
    assert bob["hours_delivered_minutes"] == 2 * 300  # two visits of 13:00-18:00
    # Cat: 22:00-06:00 (8:00), 12 May now 4:50 (the 4:20 posted first is reversed, in
    # "other"), 19 May 10:00-13:00 (3:00).
    net = cat["hours_delivered_minutes"] - cat["hours_other_minutes"]
    assert net == 480 + 290 + 180
    april = json.loads(invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                              "--format", "json", db=db_url).output)
    assert april["isfs"][0]["hours_delivered_minutes"] == 720  # April's report unchanged


LARGE = """\
  - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 400,
     rate: "250.00"}
  - {date: 2026-04-01, type: isf_open, holder: H2, provider: SH, hours_per_month: 300,
     rate: "333.33"}
  - {date: 2026-04-01, type: isf_open, holder: H3, provider: SH, hours_per_month: "7:30",
     rate: "21.50"}
"""
LARGE_APRIL = """\
  - {date: 2026-04-10, type: isf_delivery, holder: H1, provider: SH, hours: "399:59"}
  - {date: 2026-04-12, type: isf_delivery, holder: H2, provider: SH, hours: "17:45"}
  - {date: 2026-04-13, type: isf_delivery, holder: H3, provider: SH, hours: "0:20"}
"""


def _h_mm(minutes: int) -> str:
    return f"{'-' if minutes < 0 else ''}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"


def _pounds(pence: int) -> str:
    return f"{'-' if pence < 0 else ''}{abs(pence) // 100}.{abs(pence) % 100:02d}"


def _table_rows(text: str, holder: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip()[1:-1].split("│")]
            for line in text.splitlines() if line.startswith(f"│ {holder} ")]


def test_the_month_end_table_fits_100_columns_with_hours_as_h_mm(db_url, tmp_path):
    """Six-figure totals, an hour count in the hundreds and minutes that decimals would
    round: every line fits 100 columns, nothing is cut short, hours read H:MM."""
    _run(tmp_path, "large", LARGE, db_url)
    invoke("isf", "advance", "--provider", "SH", "--month", "2026-04", db=db_url)
    _run(tmp_path, "large-april", LARGE_APRIL, db_url)
    args = ("isf", "reconcile", "--provider", "SH", "--month", "2026-04")
    report = json.loads(invoke(*args, "--format", "json", db=db_url).output)
    table = invoke(*args, "--format", "table", db=db_url)
    assert table.exit_code == 0, table.output
    widest = max(table.output.splitlines(), key=len)
    assert len(widest) <= 100, widest
    assert "…" not in table.output
    hours = ("hours_opening_minutes", "hours_allocated_minutes", "hours_delivered_minutes",
             "hours_expired_minutes", "hours_other_minutes", "hours_closing_minutes")
    money = ("money_opening_minor", "money_in_minor", "money_delivered_minor",
             "money_fees_minor", "money_purchases_minor", "money_returned_minor",
             "money_other_minor", "money_closing_minor")
    assert report["totals"]["money_in_minor"] >= 100_000_00  # six figures, as promised
    for row in [*report["isfs"], report["totals"]]:
        hours_row, money_row = _table_rows(table.output, row["holder"])
        assert hours_row[1:7] == [_h_mm(row[k]) for k in hours], hours_row
        assert hours_row[7] == row["flag"]
        assert money_row[1:9] == [_pounds(row[k]) for k in money], money_row
    assert _table_rows(table.output, "H3")[0][3] == "0:20"  # not 0.33
