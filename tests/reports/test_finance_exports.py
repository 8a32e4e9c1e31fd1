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
