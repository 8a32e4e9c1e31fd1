"""`--format xlsx` for every council export (docs/exports.md#xlsx): one sheet that equals
the CSV export cell for cell, typed (numbers as numbers, dates as dates), its header row
frozen, and text that a spreadsheet could run held as text, never a formula; read back
with openpyxl and checked against `ledger balance`, on each engine."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from ledger.reports.council_exports import safe
from ledger.reports.sheet import csv_rows, unguarded
from tests.reports.test_export_golden import EXPORTS, ROOT, invoke
from tests.scenarios.test_differential import event


def _sheet(data: bytes):
    book = load_workbook(io.BytesIO(data))
    assert len(book.worksheets) == 1
    return book.worksheets[0]


# Columns whose text cells are figures (hours as H:MM), written with no formula guard
# (docs/exports.md#csv): in the GL, `hours`, and `debit`/`credit` on an hours row.
FIGURE_TEXT = frozenset({"hours", "debit", "credit"})


def _as_csv(value: object, column: str) -> str:
    """A sheet's cell as the CSV writes it, to compare the two."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, str):
        return value if column in FIGURE_TEXT else safe(value)
    return str(value)


def _same_number(cell: object, text: str) -> bool:
    return isinstance(cell, int | float) and not isinstance(cell, bool) and \
        Decimal(str(cell)) == Decimal(text)


def test_every_exports_sheet_equals_its_csv_cell_for_cell_typed(db_url):
    for name, scenario, args, _ in EXPORTS:
        ledger = name.removesuffix(".csv")
        assert invoke("scenario", "run", str(ROOT / "scenarios" / scenario), "--ledger",
                      ledger, db=db_url).exit_code == 0
        plain = invoke("export", *args, "--ledger", ledger, db=db_url)
        sheet_run = invoke("export", *args, "--ledger", ledger, "--format", "xlsx", db=db_url)
        assert plain.exit_code == 0 and sheet_run.exit_code == 0, sheet_run.output
        rows = csv_rows(plain.stdout)
        sheet = _sheet(sheet_run.stdout_bytes)
        assert sheet.freeze_panes == "A2"
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert len(cells) == len(rows) and len(rows) > 1, name
        header = rows[0]
        for row, got in zip(rows, cells, strict=True):
            assert len(got) == len(row), name
            for column, text, value in zip(header, row, got, strict=True):
                if isinstance(value, int | float):
                    assert _same_number(value, text), (name, column, text, value)
                else:
                    assert _as_csv(value, column) == text, (name, column, text, value)
        typed = dict(zip(header, cells[1], strict=True))
        for column in header:  # figures are numbers and dates are dates, never text
            if column.endswith(("_minor", "_minutes")) or column == "minor_units":
                assert isinstance(typed[column], int), (name, column)
            if column == "date":
                assert isinstance(typed[column], dt.datetime), (name, column)


def test_a_cell_a_spreadsheet_would_run_is_text_in_the_sheet(tmp_path):
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
  - {id: "@SUM(1)", date: 2026-04-02, type: dp_payment, holder: H1, amount: "5.00"}
""", encoding="utf-8")
    assert invoke("scenario", "run", str(path), db=db).exit_code == 0
    out = tmp_path / "payments.xlsx"
    done = invoke("export", "payments", "--council", "C1", "--from", "2026-04-01", "--to",
                  "2026-04-30", "--format", "xlsx", "-o", str(out), db=db)
    assert done.exit_code == 0, done.output
    sheet = _sheet(out.read_bytes())
    journals = [sheet.cell(row=r, column=2) for r in (2, 3)]
    assert [c.value for c in journals] == ['=HYPERLINK("x")', "@SUM(1)"]
    assert all(c.data_type == "s" for c in journals)  # text, not a formula


def test_the_gl_sheet_reconciles_to_the_ledgers_balances(db_url):
    assert invoke("scenario", "run", str(ROOT / "scenarios" / "wokingham-isf-pilot.yaml"),
                  db=db_url).exit_code == 0
    done = invoke("export", "gl", "--council", "WBC", "--from", "2026-05-01", "--to",
                  "2026-05-31", "--format", "xlsx", "--debit-credit", db=db_url)
    assert done.exit_code == 0, done.output
    rows = list(_sheet(done.stdout_bytes).iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    at = {c: header.index(c) for c in ("account", "unit", "minor_units", "debit_minor",
                                       "credit_minor")}
    moved: dict[tuple[str, str], int] = {}
    for r in body:
        signed = (r[at["debit_minor"]] or 0) - (r[at["credit_minor"]] or 0)
        assert signed == r[at["minor_units"]]
        key = (r[at["account"]], r[at["unit"]])
        moved[key] = moved.get(key, 0) + signed

    def balance(as_of: str) -> dict[tuple[str, str], int]:
        out = invoke("balance", "--format", "csv", "--as-of", as_of, db=db_url).output
        rows = csv_rows(out)
        i = {c: rows[0].index(c) for c in ("account", "unit", "minor_units")}
        return {(r[i["account"]], r[i["unit"]]): int(r[i["minor_units"]]) for r in rows[1:]}

    before, after = balance("2026-04-30"), balance("2026-05-31")
    for key in [k for k in after if k[0].startswith("council:WBC:")]:
        assert moved.get(key, 0) == after[key] - before.get(key, 0), key


def test_excel_line_ends_are_refused_with_a_sheet(tmp_path):
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path}/l.db"
    assert invoke("scenario", "run", str(ROOT / "scenarios" / "wokingham-isf-pilot.yaml"),
                  db=db).exit_code == 0
    done = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                           "export", "gl", "--council", "WBC", "--from", "2026-05-01",
                           "--to", "2026-05-31", "--format", "xlsx", "--excel", "--db", db],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--excel" in done.stderr


@given(st.text(max_size=12))
def test_the_sheet_holds_each_text_cell_as_it_was_before_the_guard(text):
    assert unguarded(safe(text)) == text


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(event, min_size=1, max_size=20), st.integers(0, 150), st.integers(0, 150))
def test_for_any_ledger_the_gl_and_payments_sheets_equal_their_csv(events, a, b):
    """A property over random ledgers (the differential test's events): the sheet of the
    GL (with debit and credit) and of payments equals its CSV, cell for cell, typed."""
    import tempfile
    from pathlib import Path

    from ledger.app.scenarios import run_scenario
    from ledger.reports.council_exports import write_gl, write_payments
    from ledger.reports.sheet import write_xlsx
    from ledger.store.repo import DbStore
    from ledger.store.schema import make_engine, upgrade
    from tests.dbutil import migrated_database
    from tests.scenarios.test_differential import _scenario, _with_expectations

    start = dt.date(2026, 4, 1) + dt.timedelta(days=min(a, b))
    end = dt.date(2026, 4, 1) + dt.timedelta(days=max(a, b))
    with tempfile.TemporaryDirectory() as folder, migrated_database("sqlite", Path(folder)) as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            run_scenario(DbStore(conn), _scenario(_with_expectations(events)))
        with engine.connect() as conn:
            exports = [
                lambda out: write_gl(conn, 1, "C1", start, end, out, split=True),
                lambda out: write_payments(conn, 1, "C1", start, end, out)]
            for write in exports:
                text, data = io.StringIO(), io.BytesIO()
                write(text)
                write_xlsx(write, data, "export")
                rows = csv_rows(text.getvalue())
                cells = [list(r) for r in _sheet(data.getvalue()).iter_rows(values_only=True)]
                assert len(cells) == len(rows)
                for row, got in zip(rows, cells, strict=True):
                    for column, text_cell, value in zip(rows[0], row, got, strict=True):
                        if isinstance(value, int | float):
                            assert _same_number(value, text_cell)
                        else:
                            assert _as_csv(value, column) == text_cell
        engine.dispose()
