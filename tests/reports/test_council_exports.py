"""`ledger export gl` and `ledger export payments` (docs/exports.md#gl, #payments): they
reconcile to the ledger to the penny, are the same bytes every time, and never hand a
spreadsheet a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from collections import defaultdict
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.app.scenarios import run_scenario
from ledger.cli import cli
from ledger.reports.balances import balances
from ledger.reports.council_exports import write_gl, write_payments
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from tests.dbutil import migrated_database
from tests.scenarios.test_differential import _scenario, _with_expectations, event

ROOT = Path(__file__).resolve().parents[2]
PILOT = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def _balance(db: str, as_of: str) -> dict[tuple[str, str], int]:
    out = invoke("balance", "--format", "csv", "--as-of", as_of, db=db).output
    return {(r["account"], r["unit"]): int(r["minor_units"]) for r in _rows(out)}


def test_the_gl_export_balances_per_journal_and_moves_each_account_as_the_ledger(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    done = invoke("export", "gl", "--council", "WBC", "--from", "2026-05-01", "--to",
                  "2026-05-31", db=db_url)
    assert done.exit_code == 0, done.output
    rows = _rows(done.output)
    # The contract's columns, in its order; column spec version 2 adds more after them.
    assert list(rows[0])[:7] == ["date", "journal", "type", "account", "unit", "amount",
                                 "minor_units"]
    assert all("2026-05-01" <= r["date"] <= "2026-05-31" for r in rows)
    assert [r["date"] for r in rows] == sorted(r["date"] for r in rows)
    per_journal: dict[tuple[str, str], int] = defaultdict(int)
    moved: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        per_journal[(r["journal"], r["unit"])] += int(r["minor_units"])
        moved[(r["account"], r["unit"])] += int(r["minor_units"])
    assert set(per_journal.values()) == {0}
    before, after = _balance(db_url, "2026-04-30"), _balance(db_url, "2026-05-31")
    for key in [k for k in after if k[0].startswith("council:WBC:")]:
        assert moved.get(key, 0) == after[key] - before.get(key, 0), key
    again = invoke("export", "gl", "--council", "WBC", "--from", "2026-05-01", "--to",
                   "2026-05-31", db=db_url)
    assert again.output == done.output  # the same bytes every time


def test_the_payments_total_is_what_left_the_councils_funding(db_url):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    done = invoke("export", "payments", "--council", "WBC", "--from", "2026-04-01", "--to",
                  "2026-06-30", db=db_url)
    rows = _rows(done.output)
    total = rows.pop()
    assert total["date"] == "TOTAL" and int(total["journal"]) == len(rows)
    assert {r["direction"] for r in rows} == {"payment", "recovery"}
    assert all(int(r["minor_units"]) > 0 for r in rows)
    net = sum(int(r["minor_units"]) * (1 if r["direction"] == "payment" else -1) for r in rows)
    assert int(total["minor_units"]) == net
    funding = ("council:WBC:funding", "GBP")
    before, after = _balance(db_url, "2026-03-31"), _balance(db_url, "2026-06-30")
    assert net == -(after[funding] - before.get(funding, 0))


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(tmp_path):
    db = f"sqlite:///{tmp_path}/l.db"
    path = tmp_path / "f.yaml"
    path.write_text("""\
format: 1
name: formula
parties:
  councils: [{id: C1, name: Council}]
  holders: [{id: H1, name: Ann, council: C1}]
events:
  - {id: "=HYPERLINK(\\"x\\")", date: 2026-04-01, type: dp_payment, holder: H1, amount: "10.00"}
""", encoding="utf-8")
    assert invoke("scenario", "run", str(path), db=db).exit_code == 0
    done = invoke("export", "payments", "--council", "C1", "--from", "2026-04-01", "--to",
                  "2026-04-30", db=db)
    assert _rows(done.output)[0]["journal"] == "'=HYPERLINK(\"x\")"
    excel = invoke("export", "gl", "--council", "C1", "--from", "2026-04-01", "--to",
                   "2026-04-30", "--excel", db=db)
    raw = excel.stdout_bytes.decode("utf-8")  # as written: the runner's .output folds CRLF
    assert raw.startswith("\ufeffdate,journal,") and "\r\n" in raw
    assert ",-10.00,-1000," in raw  # a negative amount stays a number


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(event, min_size=1, max_size=20), st.integers(0, 150), st.integers(0, 150))
def test_for_any_ledger_the_exports_reconcile_to_its_balances(events, a, b):
    start = dt.date(2026, 4, 1) + dt.timedelta(days=min(a, b))
    end = dt.date(2026, 4, 1) + dt.timedelta(days=max(a, b))
    scenario = _scenario(_with_expectations(events))
    with tempfile.TemporaryDirectory() as folder, migrated_database("sqlite", Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            run_scenario(DbStore(conn), scenario)
        with engine.connect() as conn:
            gl, pay = io.StringIO(), io.StringIO()
            write_gl(conn, 1, "C1", start, end, gl)
            write_payments(conn, 1, "C1", start, end, pay)
            before = {(r.account, r.unit.value): r.minor
                      for r in balances(conn, start - dt.timedelta(days=1))}
            after = {(r.account, r.unit.value): r.minor for r in balances(conn, end)}
        engine.dispose()
    moved: dict[tuple[str, str], int] = defaultdict(int)
    for r in _rows(gl.getvalue()):
        moved[(r["account"], r["unit"])] += int(r["minor_units"])
    for key in set(after) | set(before):
        if key[0].startswith("council:C1:"):
            assert moved.get(key, 0) == after.get(key, 0) - before.get(key, 0), key
    total = _rows(pay.getvalue())[-1]
    funding = ("council:C1:funding", "GBP")
    assert int(total["minor_units"]) == -(after.get(funding, 0) - before.get(funding, 0))


MAPPING = """\
accounts:
  - {match: "council:WBC:funding", cost_centre: ASC100, nominal: "5100"}
  - {match: "council:WBC:hours", cost_centre: ASC100, nominal: "9000"}
  - {match: "isf:*:SH", cost_centre: ASC300, nominal: "5300", supplier: SUP-0042}
  - {match: "provider:SH:*", cost_centre: ASC300, nominal: "5310", supplier: SUP-0042}
"""


def test_a_mapping_adds_finance_codes_and_an_unmapped_account_stops_the_export(db_url,
                                                                            tmp_path):
    assert invoke("scenario", "run", str(PILOT), db=db_url).exit_code == 0
    mapping = tmp_path / "codes.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    args = ("--council", "WBC", "--from", "2026-05-01", "--to", "2026-05-31",
            "--mapping", str(mapping))
    done = invoke("export", "payments", *args, db=db_url)
    assert done.exit_code == 0, done.output
    rows = _rows(done.output)[:-1]
    assert rows and all(r["supplier"] == "SUP-0042" and r["nominal"] == "5300" for r in rows)
    # Without the ISF lines, the ISF accounts are unmapped: every one is named, in one
    # line, and nothing is written.
    import subprocess
    import sys

    partial = tmp_path / "partial.yaml"
    partial.write_text("\n".join(MAPPING.splitlines()[:3]) + "\n", encoding="utf-8")
    out = tmp_path / "gl.csv"
    failed = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                             "export", "gl", *args[:-1], str(partial), "-o", str(out),
                             "--db", db_url], capture_output=True, text=True)
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
    assert "no mapping for" in failed.stderr
    assert "isf:H1:SH (isf_advance)" in failed.stderr and "isf:H2:SH" in failed.stderr
    assert not out.exists()
    mapping.write_text(MAPPING + '  - {match: "*", nominal: "9999"}\n', encoding="utf-8")
    gl = _rows(invoke("export", "gl", *args, db=db_url).output)
    assert all(r["nominal"] for r in gl)
    assert {r["nominal"] for r in gl if r["account"] == "council:WBC:funding"} == {"5100"}
