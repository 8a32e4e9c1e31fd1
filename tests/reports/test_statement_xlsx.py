"""`ledger statement ... --format xlsx` (docs/statements.md#xlsx): the statement's tables,
one sheet each, header row frozen, every cell the figure the statement's own tables print,
typed: money a number in pounds, hours in words exact H:MM
text, dates dates, names text cells that never run as formulas. On both engines."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from ledger.app.reading import Books
from ledger.app.statements import Operator, Period, statement
from ledger.cli import cli

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
WOKINGHAM = SCENARIOS / "wokingham-isf-pilot.yaml"
POOL = SCENARIOS / "pool-shared-pa.yaml"

CASES = {  # (scenario, CLI arguments, (kind, id, from, to, member))
    "holder": (WOKINGHAM, ("holder", "H2", "--month", "2026-05"),
               ("holder", "H2", "2026-05-01", "2026-05-31", None)),
    "provider": (WOKINGHAM, ("provider", "SH", "--month", "2026-05"),
                 ("provider", "SH", "2026-05-01", "2026-05-31", None)),
    "council": (WOKINGHAM, ("council", "WBC", "--from", "2026-04-01", "--to", "2026-06-30"),
                ("council", "WBC", "2026-04-01", "2026-06-30", None)),
    "pool": (POOL, ("pool", "OUTABOUT", "--month", "2026-04"),
             ("pool", "OUTABOUT", "2026-04-01", "2026-04-30", None)),
    "pool-member": (POOL, ("pool", "OUTABOUT", "--month", "2026-04", "--member", "H3"),
                    ("pool", "OUTABOUT", "2026-04-01", "2026-04-30", "H3")),
}


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def document_tables(doc) -> list[tuple[str, list[list[str]]]]:
    """Each table of the statement as printed: its caption, then its header and rows
    (the total row last)."""
    return [(table.caption, [list(table.columns),
                             *[list(row) for row in table.rows],
                             *([list(table.total)] if table.total else [])])
            for section in doc.sections for part in [section, *section.subsections]
            for table in part.tables]


def minutes_of(words: str) -> int | None:
    """'22 hours 45 minutes' -> 1365; None if the cell is not hours in words."""
    found = re.fullmatch(r"(?:(\d+) hours?)?\s*(?:(\d+) minutes?)?", words)
    if not words or not found:
        return None
    return int(found.group(1) or 0) * 60 + int(found.group(2) or 0)


def check_cell(held, printed: str, where: str) -> None:
    """One sheet cell against the printed cell for it."""
    text = printed
    if printed == "":
        assert held in (None, ""), where
    elif re.fullmatch(r"-?£[\d,]+\.\d\d", printed):
        assert isinstance(held, int | float) and not isinstance(held, bool), where
        pounds = Decimal(printed.replace("£", "").replace(",", ""))
        assert Decimal(str(held)).quantize(Decimal("0.01")) == pounds, where
    elif minutes_of(printed) is not None:
        whole, rest = divmod(minutes_of(printed), 60)
        assert held == f"{whole}:{rest:02d}", where
    elif re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", printed):
        assert isinstance(held, dt.datetime), where
        assert held.date() == dt.datetime.strptime(printed, "%d %B %Y").date(), where
    elif isinstance(held, int | float):  # a figure: hours in decimals, a count
        assert Decimal(str(held)) == Decimal(printed), where
    else:
        assert held == text, where


def the_statement(db: str, case: str):
    kind, ident, start, end, member = CASES[case][2]
    books = Books.at(db, "main")
    try:
        return statement(books, kind, ident, Period(dt.date.fromisoformat(start),
                                                    dt.date.fromisoformat(end)),
                         Operator(member))
    finally:
        books.dispose()


def xlsx_of(db: str, args, tmp_path: Path):
    out = tmp_path / "statement.xlsx"
    done = invoke("statement", *args, "--format", "xlsx", "-o", str(out), db=db)
    assert done.exit_code == 0, done.output
    return load_workbook(out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_sheet_equals_the_statements_tables(case, db_url, tmp_path):
    scenario, args, _ = CASES[case]
    assert invoke("scenario", "run", str(scenario), db=db_url).exit_code == 0
    book = xlsx_of(db_url, args, tmp_path)
    tables = document_tables(the_statement(db_url, case).document)
    assert tables, "every statement here has tables"
    assert len(book.worksheets) == len(tables)
    for n, (sheet, (caption, rows)) in enumerate(zip(book.worksheets, tables,
                                                     strict=True), start=1):
        assert sheet.title == f"{n}. {caption}"[:31].rstrip()
        assert sheet.freeze_panes == "A2"
        held = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert held[0] == rows[0]
        assert len(held) == len(rows), caption
        for r, (got, printed) in enumerate(zip(held[1:], rows[1:], strict=True), start=2):
            assert len(got) == len(printed), (caption, r)
            for c, (cell, text) in enumerate(zip(got, printed, strict=True), start=1):
                check_cell(cell, text, f"{caption} row {r} column {c}: {text!r}")


def test_council_sheet_money_is_the_json_figures(db_url, tmp_path):
    """The ISFs' closing balances on the sheet are the statement's JSON figures, in
    pounds, as numbers a spreadsheet adds up, and the total row is their sum."""
    scenario, args, _ = CASES["council"]
    assert invoke("scenario", "run", str(scenario), db=db_url).exit_code == 0
    data = json.loads(invoke("statement", *args, "--format", "json", db=db_url).output)
    book = xlsx_of(db_url, args, tmp_path)
    sheet = next(s for s in book.worksheets if s.title.endswith("Money in each ISF"))
    rows = list(sheet.iter_rows(values_only=True))
    closing = {row[0]: Decimal(str(row[-1])) for row in rows[1:-1]}
    opening = {row[0]: Decimal(str(row[1])) for row in rows[1:-1]}
    assert closing == {i["account"]: Decimal(i["money_closing_minor"]) / 100
                       for i in data["isfs"]}
    assert opening == {i["account"]: Decimal(i["money_opening_minor"]) / 100
                       for i in data["isfs"]}
    assert any(closing.values())
    assert Decimal(str(rows[-1][-1])) == sum(closing.values())
    assert sheet.cell(row=2, column=len(rows[0])).number_format.count("0.00")


def test_hours_table_is_numbers_and_day_by_day_hours_are_exact(db_url, tmp_path):
    assert invoke("scenario", "run", str(WOKINGHAM), db=db_url).exit_code == 0
    council = xlsx_of(db_url, CASES["council"][1], tmp_path)
    hours = next(s for s in council.worksheets if "Hours in each ISF" in s.title)
    for row in list(hours.iter_rows(min_row=2, min_col=2, values_only=True)):
        assert all(isinstance(v, int | float) for v in row), row
    holder = xlsx_of(db_url, CASES["holder"][1], tmp_path)
    day = next(s for s in holder.worksheets if "day by day" in s.title)
    used = [v for (v,) in day.iter_rows(min_row=2, min_col=4, max_col=4, values_only=True)
            if v is not None]
    assert used and all(re.fullmatch(r"\d+:[0-5]\d", v) for v in used), used
    dates = [v for (v,) in day.iter_rows(min_row=2, max_col=1, values_only=True) if v]
    assert dates and all(isinstance(v, dt.datetime) for v in dates)


FORMULA_POOL = """\
format: 1
name: formula-names
parties:
  councils: [{id: RIC, name: Richmond}]
  holders:
    - {id: H1, name: "=HYPERLINK(\\"http://x\\",\\"y\\")", council: RIC, show_name: true}
    - {id: H2, name: "@SUM(1)", council: RIC, show_name: true}
    - {id: H3, name: "+1-2", council: RIC, show_name: true}
events:
  - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H2, amount: "100.00"}
  - {date: 2026-04-01, type: dp_payment, holder: H3, amount: "100.00"}
  - {date: 2026-04-01, type: pool_open, pool: P, members: [H1, H2, H3]}
  - {date: 2026-04-01, type: pool_contribute, pool: P, holder: H1, amount: "30.00"}
  - {date: 2026-04-01, type: pool_contribute, pool: P, holder: H2, amount: "30.00"}
  - {date: 2026-04-01, type: pool_contribute, pool: P, holder: H3, amount: "30.00"}
  - {date: 2026-04-07, type: pool_spend, pool: P, payee: "-PA", amount: "9.00",
     description: "=1+1"}
"""


def test_names_like_formulas_are_text_cells(db_url, tmp_path):
    scenario = tmp_path / "formula.yaml"
    scenario.write_text(FORMULA_POOL)
    done = invoke("scenario", "run", str(scenario), db=db_url)
    assert done.exit_code == 0, done.output
    book = xlsx_of(db_url, ("pool", "P", "--month", "2026-04"), tmp_path)
    names = {'=HYPERLINK("http://x","y")', "@SUM(1)", "+1-2"}
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value[:1] in "=+-@":
                    assert cell.data_type == "s", cell.value
                    seen.add(cell.value)
    assert names <= seen, seen
    with zipfile.ZipFile(tmp_path / "statement.xlsx") as package:
        for name in package.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in package.read(name), name  # no formula anywhere


def test_the_same_statement_and_export_give_the_same_bytes(db_url, tmp_path):
    """As a CSV re-export is byte for byte the same, so is a workbook: no time of
    saving in it (openpyxl writes one into the properties and every zip entry)."""
    import time

    assert invoke("scenario", "run", str(WOKINGHAM), db=db_url).exit_code == 0
    made = []
    for n in (1, 2):
        statement_file, export_file = tmp_path / f"s{n}.xlsx", tmp_path / f"g{n}.xlsx"
        assert invoke("statement", "holder", "H2", "--month", "2026-05", "--format", "xlsx",
                      "-o", str(statement_file), db=db_url).exit_code == 0
        assert invoke("export", "gl", "--council", "WBC", "--from", "2026-04-01", "--to",
                      "2026-06-30", "--format", "xlsx", "-o", str(export_file),
                      db=db_url).exit_code == 0
        made.append((statement_file.read_bytes(), export_file.read_bytes()))
        time.sleep(2.1)  # zip times are kept to two seconds
    assert made[0] == made[1]
