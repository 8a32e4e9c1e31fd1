"""The CSV formula guard (docs/exports.md#csv): a text cell whose first character, after
any leading spaces and quotes, is `=`, `+`, `-`, `@`, a tab or a carriage return is
written with a leading `'`, so a spreadsheet shows it and never runs it; any other cell
is written as it is. Through the command line on SQLite and PostgreSQL, and the rule
itself cell by cell."""

from __future__ import annotations

import csv
import io
import textwrap

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.reports.council_exports import safe

# (cell, what a spreadsheet must be given)
CELLS = [
    ("=1+1", "'=1+1"),
    ("  =1+1", "'  =1+1"),
    ('"=HYPERLINK(1)', "'\"=HYPERLINK(1)"),
    (" '@SUM(1)", "' '@SUM(1)"),
    ("' -2", "'' -2"),
    ("\"' +3", "'\"' +3"),
    ("  \tx", "'  \tx"),
    (" \rx", "' \rx"),
    ("Shop - Ltd", "Shop - Ltd"),
    ("  Shop", "  Shop"),
    ("'quoted'", "'quoted'"),
    ("", ""),
    ("   ", "   "),
]


@pytest.mark.parametrize("cell, written", CELLS, ids=[repr(c) for c, _ in CELLS])
def test_the_guard_looks_past_leading_spaces_and_quotes(cell, written):
    assert safe(cell) == written


SCENARIO = """\
    format: 1
    name: formulas
    parties:
      councils: [{id: C1, name: "  =1+1"}]
      providers: [{id: P1, name: "\\"=HYPERLINK(1)"}]
      holders:
        - {id: A, name: " '@SUM(1)", council: C1}
        - {id: B, name: "Shop - Ltd", council: C1}
"""


def test_a_csv_of_names_never_hands_a_spreadsheet_a_formula(db_url, tmp_path):
    path = tmp_path / "formulas.yaml"
    path.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    env = {"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None}
    assert CliRunner().invoke(cli, ["scenario", "run", str(path), "--db", db_url],
                              env=env).exit_code == 0
    done = CliRunner().invoke(cli, ["parties", "--format", "csv", "--db", db_url], env=env)
    assert done.exit_code == 0, done.output
    names = {row["id"]: row["name"] for row in csv.DictReader(io.StringIO(done.output))}
    assert names == {"C1": "'  =1+1", "P1": "'\"=HYPERLINK(1)", "A": "' '@SUM(1)",
                     "B": "Shop - Ltd"}
