"""Reading commands as hledger users know them (docs/reading.md): register, print,
accounts, parties and balance over a period, each agreeing with `ledger balance`."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2] / "scenarios"
PILOT = ROOT / "wokingham-isf-pilot.yaml"
GRANT = ROOT / "surrey-advocacy-grant.yaml"


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _balances(db: str, *args: str) -> dict[tuple[str, str], int]:
    out = invoke("balance", "--format", "csv", *args, db=db).output
    return {(r["account"], r["unit"]): int(r["minor_units"]) for r in _rows(out)}


def test_register_runs_from_the_opening_balance_to_the_closing_one(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    done = invoke("register", "--account", "isf:H1", "--from", "2026-05-01", "--to",
                  "2026-05-31", "--format", "csv", db=db_url)
    rows = _rows(done.output)
    assert rows and all("2026-05-01" <= r["date"] <= "2026-05-31" for r in rows)
    opening = _balances(db_url, "--as-of", "2026-04-30")
    closing = _balances(db_url, "--as-of", "2026-05-31")
    last: dict[tuple[str, str], int] = {}
    moved: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        key = (r["account"], r["unit"])
        moved[key] += int(r["minor_units"])
        assert int(r["running_minor"]) == opening.get(key, 0) + moved[key]
        last[key] = int(r["running_minor"])
    for key, value in last.items():
        assert value == closing[key]


def test_balance_over_a_period_is_the_change_between_its_ends(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    moved = _balances(db_url, "--from", "2026-05-01", "--to", "2026-05-31")
    before = _balances(db_url, "--as-of", "2026-04-30")
    after = _balances(db_url, "--as-of", "2026-05-31")
    for key in set(before) | set(after):
        assert moved.get(key, 0) == after.get(key, 0) - before.get(key, 0), key
    both = invoke("balance", "--as-of", "2026-05-31", "--from", "2026-05-01", "--to",
                  "2026-05-31", db=db_url)
    assert both.exit_code != 0


def test_print_shows_each_journal_whole_with_its_reversal_link(db_url, tmp_path):
    assert invoke("scenario", "run", str(GRANT), db=db_url).exit_code == 0
    out = tmp_path / "journals.json"
    done = invoke("print", "--format", "json", "-o", str(out), db=db_url)
    assert done.exit_code == 0, done.output
    journals = json.loads(out.read_text(encoding="utf-8"))
    for j in journals:
        sums: dict[str, int] = defaultdict(int)
        for p in j["postings"]:
            sums[p["unit"]] += p["minor_units"]
        assert set(sums.values()) == {0}, j["journal"]
    reversals = [j for j in journals if j["reverses"]]
    assert reversals
    keys = {j["journal"] for j in journals}
    assert all(j["reverses"] in keys for j in reversals)
    text = invoke("print", db=db_url).output
    assert f"(reverses {reversals[0]['reverses']})" in text


def test_accounts_and_parties_list_what_the_ledger_holds(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    listed = {(r["account"], r["unit"])
              for r in _rows(invoke("accounts", "--format", "csv", db=db_url).output)}
    assert listed == set(_balances(db_url))
    parties = json.loads(invoke("parties", "--format", "json", db=db_url).output)
    kinds = {p["kind"] for p in parties}
    assert {"council", "provider", "holder"} <= kinds
    providers = _rows(invoke("parties", "--kind", "provider", "--format", "csv",
                             db=db_url).output)
    assert providers and [p["id"] for p in providers] == sorted(p["id"] for p in providers)
    assert "SH" in {p["id"] for p in providers}


def test_statements_and_stats_write_to_a_file_the_same_as_to_the_screen(db_url, tmp_path):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    for args in (["statement", "holder", "H1", "--month", "2026-05"],
                 ["statement", "holder", "H1", "--month", "2026-05", "--format", "json"],
                 ["stats", "--format", "json"]):
        out = tmp_path / "out.txt"
        assert invoke(*args, "-o", str(out), db=db_url).exit_code == 0
        assert out.read_text(encoding="utf-8") == invoke(*args, db=db_url).output
