"""The council statement's balance columns carry their sign (issue 20): an ISF overspent
at the start is -£42.00, never "Held at the start £42.00", in text, HTML and the web's
CSV alike, so each row and the total row add up as printed."""

from __future__ import annotations

import datetime as dt
import re
import textwrap

from click.testing import CliRunner

from ledger.cli import cli
from ledger.reports.council_doc import council_document
from ledger.reports.council_statement import council_statement
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine

SCENARIO = """\
format: 1
name: overspent
parties:
  councils:  [{id: WBC, name: Wokingham Borough Council}]
  providers: [{id: SH, name: Support Horizons CIC}]
  holders:   [{id: H1, name: Ann Example, council: WBC}]
events:
  # May: 10 hours (£210.00) advanced, 12 used (£252.00): £42.00 overspent.
  - {date: 2026-05-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 10,
     rate: "21.00", carry: {expire_after_months: 1, max_hours: 10, max_borrow_hours: 2}}
  - {date: 2026-05-01, type: isf_advance, holder: H1, provider: SH, month: 2026-05}
  - {date: 2026-05-10, type: isf_delivery, holder: H1, provider: SH, hours: 12}
  - {date: 2026-05-31, type: isf_reconcile, holder: H1, provider: SH, month: 2026-05}
  # June: £210.00 in, 4 hours (£84.00) used: -42 + 210 - 84 = £84.00.
  - {date: 2026-06-01, type: isf_advance, holder: H1, provider: SH, month: 2026-06}
  - {date: 2026-06-10, type: isf_delivery, holder: H1, provider: SH, hours: 4}
"""

PERIOD = ("--from", "2026-06-01", "--to", "2026-06-30")


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _pence(cell: str) -> int:
    match = re.fullmatch(r"(-?)£([\d,]+)\.(\d\d)", cell.strip().lstrip("'"))
    assert match, f"not a signed amount: {cell!r}"
    value = int(match[2].replace(",", "")) * 100 + int(match[3])
    return -value if match[1] else value


def _adds_up(row: list[str]) -> None:
    opening, advanced, delivered, fees, purchases, returned, closing = map(_pence, row)
    assert opening + advanced - delivered - fees - purchases - returned == closing


def _ledger(tmp_path, db: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(SCENARIO))
    assert invoke("scenario", "run", str(path), db=db).exit_code == 0


def test_an_overspent_isf_opens_at_a_minus_and_the_row_adds_up_in_text(tmp_path, db_url):
    _ledger(tmp_path, db_url)
    done = invoke("statement", "council", "WBC", *PERIOD, db=db_url)
    assert done.exit_code == 0, done.output
    assert "Held at the start" not in done.output
    rows = [line.split()[1:] for line in done.output.splitlines()
            if line.strip().startswith(("isf:H1:SH", "All ISFs"))]
    money_row, total_row = rows[0], rows[1][1:]
    assert money_row[0] == "-£42.00" and money_row[-1] == "£84.00"
    _adds_up(money_row)
    _adds_up(total_row)
    assert "A minus sign" in " ".join(done.output.split())


def test_html_and_the_tables_carry_the_same_signs(tmp_path, db_url):
    from tests.reports.test_statement_xlsx import document_tables

    _ledger(tmp_path, db_url)
    html = invoke("statement", "council", "WBC", *PERIOD, "--format", "html", db=db_url)
    assert html.exit_code == 0
    assert "-£42.00" in html.output and "Held at the start" not in html.output
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            data = council_statement(DbStore(conn), "WBC", dt.date(2026, 6, 1),
                                     dt.date(2026, 6, 30))
    finally:
        engine.dispose()
    rows = [row for _, table in document_tables(council_document(data)) for row in table]
    isf_rows = [r for r in rows if r and r[0] in ("isf:H1:SH", "All ISFs") and len(r) == 8]
    assert len(isf_rows) == 2
    for row in isf_rows:
        _adds_up(row[1:])
    assert isf_rows[0][1] == "-£42.00"


def test_borrowed_hours_carry_their_sign_so_the_hours_row_adds_up(tmp_path, db_url):
    # May: 10 hours allocated, 12 delivered: the ISF ends May 2 hours borrowed.
    _ledger(tmp_path, db_url)
    done = invoke("statement", "council", "WBC", "--from", "2026-05-01", "--to",
                  "2026-05-31", db=db_url)
    assert done.exit_code == 0, done.output
    hours_table = done.output.split("Hours in each ISF", 1)[1]
    row = next(line.split()[1:] for line in hours_table.splitlines()
               if line.strip().startswith("isf:H1:SH"))
    opening, allocated, delivered, expired, closing = map(float, row)
    assert (opening, closing) == (0, -2)
    assert opening + allocated - delivered - expired == closing
