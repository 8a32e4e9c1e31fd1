"""A provider's statement of one ISF it holds (docs/statements.md#isf;
src/ledger/reports/isf_statement.py): `ledger statement isf H --provider P` in text, JSON,
HTML (every version, axe-clean and reflowing at 320 px), PDF and xlsx; its figures are the
person's statement's own ISF figures, and it holds nothing else of the person's."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from tests.app.test_scopes_dated import build
from tests.cli.test_unknown_ids import _ledger

ISF = ("statement", "isf", "H1", "--provider", "SH", "--month", "2026-04")
VERSIONS = {"standard": [], "large_print": ["--large-print"], "easy_read": ["--easy-read"]}


@pytest.fixture
def db(db_url, tmp_path):
    build(db_url, tmp_path).dispose()
    return db_url


def test_every_format(db, tmp_path):
    code, text, err = _ledger(*ISF, "--db", db)
    assert code == 0, err
    assert text.startswith("Individual Service Fund for Ann Example\n"
                           "Held by Support Horizons CIC, April 2026\n")
    assert "Ann Example had 16 hours and used 6 hours of support." in " ".join(text.split())
    code, out, err = _ledger(*ISF, "--format", "json", "--db", db)
    data = json.loads(out)
    assert code == 0 and data["kind"] == "isf" and data["holder"] == "H1"
    isf = data["isf"]
    assert isf["hours_minutes"] == {"opening": 360, "in": 600, "delivered": 360,
                                    "expired": 0, "other": 0, "closing": 600}
    assert isf["money_minor"]["closing"] == 20000
    pdf = tmp_path / "isf.pdf"
    code, _, err = _ledger(*ISF, "--format", "pdf", "-o", str(pdf), "--db", db)
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF"), err
    sheet = tmp_path / "isf.xlsx"
    code, _, err = _ledger(*ISF, "--format", "xlsx", "-o", str(sheet), "--db", db)
    assert code == 0, err
    cells = [v for s in load_workbook(io.BytesIO(sheet.read_bytes())).worksheets
             for row in s.iter_rows(values_only=True) for v in row if v is not None]
    assert 200 in cells  # April's payment in: a number in pounds
    assert not any("Corner Shop" in str(c) for c in cells)


def test_its_figures_are_the_persons_statements_isf_figures(db):
    code, out, err = _ledger(*ISF, "--format", "json", "--db", db)
    assert code == 0, err
    mine = json.loads(out)
    code, out, err = _ledger("statement", "holder", "H1", "--month", "2026-04", "--format",
                             "json", "--db", db)
    theirs = json.loads(out)
    assert code == 0, err
    same = next(i for i in theirs["isf_months"] if i["account"] == "isf:H1:SH")
    assert mine["isf"] == same
    assert mine["lines"] == [line for line in theirs["lines"]
                             if line["account"] == "isf:H1:SH"]
    assert mine["accounts"] == [a for a in theirs["accounts"] if a["account"] == "isf:H1:SH"]
    # ...and nothing else of hers: another provider's ISF, her direct payment.
    assert {a["account"] for a in theirs["accounts"]} > {"isf:H1:SH", "isf:H1:BW"}
    assert "isf:H1:BW" not in json.dumps(mine) and "holder:H1:dp" not in json.dumps(mine)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_every_html_version_is_clean_under_axe(db, axe, version):
    from tests.a11y.axe import format_violations

    code, page, err = _ledger(*ISF, *VERSIONS[version], "--format", "html", "--db", db)
    assert code == 0, err
    assert f'<body class="{version.replace("_", "-")}">' in page
    found = axe.check_html(page)
    assert not found, f"isf {version}: {format_violations(found)}"
    width = axe.reflow_ok(page)
    assert width["ok"], (version, width)


def test_the_easy_read_keeps_to_fifteen_words_a_line(db):
    from ledger.reports.document import EASY_READ_MAX_WORDS, word_count

    code, text, err = _ledger(*ISF, "--easy-read", "--db", db)
    assert code == 0, err
    lines = [line for line in text.splitlines()[2:] if line]
    assert "This money is called an ISF." in lines
    assert all(word_count(line) <= EASY_READ_MAX_WORDS for line in lines), lines
