"""`ledger export dp-monitoring` and `ledger export isf-returns` (docs/exports.md)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_dp_monitoring_shows_each_balance_the_weeks_it_holds_and_any_surplus(db_url):
    assert invoke("scenario", "run", str(ROOT / "dp-holder.yaml"), db=db_url).exit_code == 0
    before = invoke("stats", "--format", "json", db=db_url).output
    done = invoke("export", "dp-monitoring", "--council", "BCC", "--as-of", "2026-06-30",
                  "--weeks", "2", "--contingency", "100", db=db_url)
    assert done.exit_code == 0, done.output
    h1, h2 = _rows(done.output)
    balances = {r["account"]: int(r["minor_units"]) for r in _rows(invoke(
        "balance", "--format", "csv", "--as-of", "2026-06-30", db=db_url).output)}
    assert int(h1["balance_minor"]) == balances["holder:H1:dp"]
    # H1: £1,200 a month is £276.92 a week (1,200 x 12 / 52, rounded once); two weeks
    # are £553.85; with the £100 contingency a review would recover the rest.
    assert (h1["weekly_amount_minor"], h1["allowed_minor"]) == ("27692", "55385")
    assert int(h1["surplus_minor"]) == balances["holder:H1:dp"] - 10000 - 55385
    # H2: £560 every four weeks is £140 a week.
    assert h2["weekly_amount_minor"] == "14000"
    assert h2["weeks_held"] == f"{balances['holder:H2:dp'] / 14000:.2f}"
    assert invoke("stats", "--format", "json", db=db_url).output == before  # posts nothing


def test_isf_returns_agree_with_each_providers_month_report(db_url):
    path = ROOT / "wokingham-isf-pilot.yaml"
    assert invoke("scenario", "run", str(path), db=db_url).exit_code == 0
    done = invoke("export", "isf-returns", "--council", "WBC", "--month", "2026-05", db=db_url)
    rows = _rows(done.output)
    report = json.loads(invoke("isf", "reconcile", "--provider", "SH", "--month", "2026-05",
                               "--format", "json", db=db_url).output)
    by_holder = {r["holder"]: r for r in report["isfs"]}
    for row in rows:
        if row["provider"] == "SH":
            theirs = by_holder[row["holder"]]
            assert int(row["money_closing_minor"]) == theirs["money_closing_minor"]
            assert int(row["hours_expired_minutes"]) == theirs["hours_expired_minutes"]
    assert {r["provider"] for r in rows} >= {"SH"}


def test_contracts_export_adds_up_to_the_payments_and_shows_block_utilisation(db_url):
    path = ROOT / "framework-and-block.yaml"
    assert invoke("scenario", "run", str(path), db=db_url).exit_code == 0
    args = ("--council", "ECC", "--from", "2026-04-01", "--to", "2027-03-31")
    rows = _rows(invoke("export", "contracts", *args, db=db_url).output)
    assert rows
    payments = _rows(invoke("export", "payments", *args, db=db_url).output)[:-1]
    contract_types = {"calloff", "block_payment", "spot_purchase", "grant"}
    paid = sum(int(p["minor_units"]) * (1 if p["direction"] == "payment" else -1)
               for p in payments if p["type"] in contract_types)
    assert sum(int(r["spend_minor"]) for r in rows) == paid
    block = next(r for r in rows if r["kind"] == "block")
    assert int(block["contracted_minor"]) == int(block["spend_minor"])  # paid every month
    assert block["utilisation_percent"] == (
        f"{int(block['hours_minutes']) * 100 / int(block['capacity_minutes']):.2f}")
    assert {r["quarter"] for r in rows} <= {"2026-27 Q1", "2026-27 Q2", "2026-27 Q3",
                                            "2026-27 Q4"}


def test_every_finance_export_takes_codes_and_refuses_a_row_no_code_covers(db_url,
                                                                            tmp_path):
    """dp-monitoring, isf-returns and contracts take `--mapping` as gl and payments do
    (docs/exports.md#mapping): codes in three more columns, or exit 2, one line naming
    every unmapped account, and no file."""
    scenarios = {"dp-monitoring": "dp-holder.yaml", "isf-returns": "wokingham-isf-pilot.yaml",
                 "contracts": "framework-and-block.yaml"}
    for kind, name in scenarios.items():  # each in its own ledger, as its council keeps it
        assert invoke("scenario", "run", str(ROOT / name), "--ledger", kind,
                      db=db_url).exit_code == 0
    codes = tmp_path / "codes.yaml"
    codes.write_text("""accounts:
  - {match: "holder:H1:dp", types: [dp_review], cost_centre: DP1, nominal: "5210"}
  - {match: "holder:*:dp", types: [dp_review], cost_centre: DP2}
  - {match: "isf:*:SH", types: [isf_reconcile], cost_centre: ISF, supplier: SUP-7}
  - {match: "provider:*:income", types: [calloff], nominal: "5400"}
  - {match: "provider:*:income", cost_centre: CON, nominal: "5500"}
""", encoding="utf-8")
    exports = {
        "dp-monitoring": ("--council", "BCC", "--as-of", "2026-06-30", "--ledger",
                          "dp-monitoring"),
        "isf-returns": ("--council", "WBC", "--month", "2026-05", "--ledger", "isf-returns"),
        "contracts": ("--council", "ECC", "--from", "2026-04-01", "--to", "2027-03-31",
                      "--ledger", "contracts"),
    }
    coded = {}
    for kind, args in exports.items():
        plain = _rows(invoke("export", kind, *args, db=db_url).output)
        done = invoke("export", kind, *args, "--mapping", str(codes), db=db_url)
        assert done.exit_code == 0, done.output
        coded[kind] = _rows(done.output)
        assert len(coded[kind]) == len(plain) > 0
        for with_codes, without in zip(coded[kind], plain, strict=True):
            added = [k for k in with_codes if k not in without]
            assert added == ["cost_centre", "nominal", "supplier"]
            assert [k for k in with_codes if k in without] == list(without)  # same order
            assert {k: with_codes[k] for k in without} == without  # nothing else changes
    by_holder = {r["holder"]: r for r in coded["dp-monitoring"]}
    assert (by_holder["H1"]["cost_centre"], by_holder["H1"]["nominal"]) == ("DP1", "5210")
    assert (by_holder["H2"]["cost_centre"], by_holder["H2"]["nominal"]) == ("DP2", "")
    sh = [r for r in coded["isf-returns"] if r["provider"] == "SH"]
    assert sh and all((r["cost_centre"], r["supplier"]) == ("ISF", "SUP-7") for r in sh)
    for row in coded["contracts"]:
        assert row["nominal"] == ("5400" if row["kind"] == "framework" else "5500")
    # Leave out the ISF line: if the council has ISFs of another provider, those are named
    # too; the file is never written.
    partial = tmp_path / "partial.yaml"
    partial.write_text("\n".join(line for line in codes.read_text().splitlines()
                                 if "isf:" not in line) + "\n", encoding="utf-8")
    out = tmp_path / "returns.csv"
    import subprocess
    import sys

    failed = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                             "export", "isf-returns", *exports["isf-returns"], "--mapping",
                             str(partial), "-o", str(out), "--db", db_url],
                            capture_output=True, text=True)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1, failed.stderr
    expected = sorted({f"isf:{r['holder']}:{r['provider']} (isf_reconcile)"
                       for r in coded["isf-returns"]})
    assert f"no mapping for {len(expected)} accounts: " + ", ".join(expected) in failed.stderr
    assert not out.exists()
