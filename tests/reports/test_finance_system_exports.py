"""Exports a finance system takes as they are (docs/exports.md, column spec version 2,
added 2026-12-06): the GL's description, financial year and period, exact hours,
`--unit` and `--debit-credit`; payments' provider and holder and `--control-file`;
isf-returns in pounds. Each file is read back with `csv` and its totals checked against
`ledger balance`, on each engine."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.reports.test_council_exports import _balance, _rows, invoke

ROOT = Path(__file__).resolve().parents[2]
PILOT = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"
NAMES = ("Ann", "Bob", "Cat", "Dev", "Eve", "Example", "Support Horizons", "Wokingham")

# Hours that are not a whole number of hundredths of an hour (2:20 is 2.333... h), an
# advance on each side of the financial year's turn (March is period 12 of 2025-26,
# April period 1 of 2026-27), and a direct payment to a person's account.
ODD_HOURS = """\
format: 1
name: odd-hours
parties:
  councils:  [{id: C1, name: Council One}]
  providers: [{id: P1, name: Care Provider Ltd}]
  holders:
    - {id: H1, name: Zed Person, council: C1}
    - {id: H2, name: Yan Person, council: C1}
events:
  - {date: 2026-03-01, type: isf_open, holder: H1, provider: P1, hours_per_month: "2:20",
     rate: "18.00"}
  - {date: 2026-03-01, type: isf_advance, holder: H1, provider: P1, month: 2026-03}
  - {date: 2026-04-01, type: isf_advance, holder: H1, provider: P1, month: 2026-04}
  - {date: 2026-04-02, type: dp_payment, holder: H2, amount: "100.00"}
"""




def _odd_hours(db: str, tmp_path: Path) -> None:
    path = tmp_path / "odd-hours.yaml"
    path.write_text(ODD_HOURS, encoding="utf-8")
    done = invoke("scenario", "run", str(path), db=db)
    assert done.exit_code == 0, done.output


def _export(db: str, *args: str) -> list[dict]:
    done = invoke("export", *args, db=db)
    assert done.exit_code == 0, done.output
    return _rows(done.output)


def _minutes(hours: str) -> int:
    sign = -1 if hours.startswith("-") else 1
    whole, rest = hours.lstrip("-").split(":")
    return sign * (int(whole) * 60 + int(rest))


# ---------------------------------------------------------------- gl


def test_gl_rows_carry_the_financial_year_and_period_april_being_period_1(db_url, tmp_path):
    _odd_hours(db_url, tmp_path)
    rows = _export(db_url, "gl", "--council", "C1", "--from", "2026-03-01", "--to",
                   "2026-04-30")
    periods = {(r["date"], r["financial_year"], r["period"]) for r in rows}
    assert periods == {("2026-03-01", "2025-26", "12"), ("2026-04-01", "2026-27", "1"),
                       ("2026-04-02", "2026-27", "1")}
    # The contract's columns keep their places; the new ones follow.
    assert list(rows[0])[:7] == ["date", "journal", "type", "account", "unit", "amount",
                                 "minor_units"]


def test_gl_hours_are_written_exactly_as_h_mm_and_never_rounded(db_url, tmp_path):
    _odd_hours(db_url, tmp_path)
    rows = _export(db_url, "gl", "--council", "C1", "--from", "2026-03-01", "--to",
                   "2026-03-31")
    hours = [r for r in rows if r["unit"] == "HRS"]
    # A figure, not text: a negative one is written as it is, with no formula guard, so a
    # finance import takes it without hand editing (docs/exports.md#csv).
    assert hours and {r["hours"] for r in hours} == {"2:20", "-2:20"}
    assert all(_minutes(r["hours"]) == int(r["minor_units"]) for r in hours)
    assert all(r["hours"] == "" for r in rows if r["unit"] == "GBP")


def test_gl_descriptions_name_no_person_only_ids_and_journal_types(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    rows = _export(db_url, "gl", "--council", "WBC", "--from", "2026-04-01", "--to",
                   "2026-06-30")
    assert rows and all(r["description"] for r in rows)
    assert not [r["description"] for r in rows if any(n in r["description"] for n in NAMES)]
    for r in rows:
        assert r["description"].startswith(r["type"] + " ")
        if r["account"].startswith("isf:"):
            _, holder, provider = r["account"].split(":")
            assert f"holder {holder}" in r["description"]
            assert f"provider {provider}" in r["description"]


def test_gl_unit_chooses_money_or_hours_rows_and_without_it_both(db_url, tmp_path):
    _odd_hours(db_url, tmp_path)
    args = ("gl", "--council", "C1", "--from", "2026-03-01", "--to", "2026-04-30")
    both = _export(db_url, *args)
    money = _export(db_url, *args, "--unit", "GBP")
    hours = _export(db_url, *args, "--unit", "HRS")
    assert {r["unit"] for r in both} == {"GBP", "HRS"}
    assert money == [r for r in both if r["unit"] == "GBP"]
    assert hours == [r for r in both if r["unit"] == "HRS"]
    refused = invoke("export", *args, "--unit", "hours", db=db_url)
    assert refused.exit_code == 2 and "Traceback" not in refused.output


def test_gl_debit_and_credit_columns_add_up_to_the_ledgers_movement(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    rows = _export(db_url, "gl", "--council", "WBC", "--from", "2026-05-01", "--to",
                   "2026-05-31", "--unit", "GBP", "--debit-credit")
    assert rows and {r["unit"] for r in rows} == {"GBP"}
    moved: dict[str, int] = defaultdict(int)
    per_journal: dict[str, int] = defaultdict(int)
    for r in rows:
        debit, credit = r["debit_minor"], r["credit_minor"]
        assert (debit == "") != (credit == "")  # one side only
        signed = int(debit) if debit else -int(credit)
        assert signed == int(r["minor_units"])
        assert (r["debit"] or r["credit"]).replace(".", "") == str(abs(signed)).rjust(3, "0")
        moved[r["account"]] += signed
        per_journal[r["journal"]] += signed
    assert set(per_journal.values()) == {0}  # each journal's debits equal its credits
    before, after = _balance(db_url, "2026-04-30"), _balance(db_url, "2026-05-31")
    funding = ("council:WBC:funding", "GBP")
    assert moved["council:WBC:funding"] == after[funding] - before.get(funding, 0)


# ---------------------------------------------------------------- payments


def test_payments_name_the_provider_and_holder_beside_the_counterparty(db_url, tmp_path):
    _odd_hours(db_url, tmp_path)
    rows = _export(db_url, "payments", "--council", "C1", "--from", "2026-03-01", "--to",
                   "2026-04-30")
    total = rows.pop()
    assert total["date"] == "TOTAL" and (total["provider"], total["holder"]) == ("", "")
    by_account = {r["counterparty"]: (r["provider"], r["holder"]) for r in rows}
    assert by_account == {"isf:H1:P1": ("P1", "H1"), "holder:H2:dp": ("", "H2")}


def test_a_control_file_takes_the_totals_and_the_export_is_one_shape(db_url, tmp_path):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    args = ("payments", "--council", "WBC", "--from", "2026-04-01", "--to", "2026-06-30")
    control, out = tmp_path / "control.csv", tmp_path / "payments.csv"
    with_total = _export(db_url, *args)
    done = invoke("export", *args, "-o", str(out), "--control-file", str(control),
                  db=db_url)
    assert done.exit_code == 0, done.output
    rows = _rows(out.read_text(encoding="utf-8"))
    assert rows == with_total[:-1]  # the same rows, no TOTAL line
    assert all(r["direction"] in ("payment", "recovery") for r in rows)
    (figures,) = _rows(control.read_text(encoding="utf-8"))
    paid = sum(int(r["minor_units"]) for r in rows if r["direction"] == "payment")
    back = sum(int(r["minor_units"]) for r in rows if r["direction"] == "recovery")
    assert (int(figures["rows"]), int(figures["payments_minor"]),
            int(figures["recoveries_minor"]), int(figures["net_minor"])) == (
        len(rows), paid, back, paid - back)
    for name in ("payments", "recoveries", "net"):
        assert figures[name] == f"{int(figures[name + '_minor']) / 100:.2f}"
    assert (figures["council"], figures["from"], figures["to"]) == (
        "WBC", "2026-04-01", "2026-06-30")
    # The net is what left the council's funding, as `ledger balance` has it.
    funding = ("council:WBC:funding", "GBP")
    before, after = _balance(db_url, "2026-03-31"), _balance(db_url, "2026-06-30")
    assert int(figures["net_minor"]) == -(after[funding] - before.get(funding, 0))
    assert figures["net_minor"] == with_total[-1]["minor_units"]


def test_the_control_file_cannot_be_the_export_itself(db_url, tmp_path):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    out = tmp_path / "payments.csv"
    done = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                           "export", "payments", "--council", "WBC", "--from", "2026-04-01",
                           "--to", "2026-06-30", "-o", str(out), "--control-file", str(out),
                           "--db", db_url], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--control-file" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
    control = tmp_path / "control.csv"  # under another name, both are written
    assert invoke("export", "payments", "--council", "WBC", "--from", "2026-04-01", "--to",
                  "2026-06-30", "-o", str(out), "--control-file", str(control),
                  db=db_url).exit_code == 0
    assert out.exists() and control.exists()


# ---------------------------------------------------------------- isf-returns


def test_isf_returns_give_each_money_column_in_pounds_as_well(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    rows = _export(db_url, "isf-returns", "--council", "WBC", "--month", "2026-05")
    assert rows
    minor = [c for c in rows[0] if c.startswith("money_") and c.endswith("_minor")]
    assert len(minor) == 8
    for r in rows:
        for column in minor:
            pounds = r[column.removesuffix("_minor")]
            assert pounds == f"{'-' if int(r[column]) < 0 else ''}" \
                             f"{abs(int(r[column])) // 100}.{abs(int(r[column])) % 100:02d}"
    # Closing money, in pounds, is each ISF's balance at the month's end.
    after = _balance(db_url, "2026-05-31")
    for r in rows:
        pence = round(float(r["money_closing"]) * 100)
        assert pence == after.get((f"isf:{r['holder']}:{r['provider']}", "GBP"), 0)
