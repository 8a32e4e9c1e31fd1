"""`ledger export ... --mapping FILE` as a user runs it (docs/exports.md#mapping): every
code reaches the export exactly as written in the file, and a file that cannot be read
as the page describes is one line `FILE:LINE:COLUMN: why`, exit 2, and no export."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PILOT = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"
MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]
MAY = ("--council", "WBC", "--from", "2026-05-01", "--to", "2026-05-31")

# Codes that a YAML 1.1 reading turned into 5349, 64 and False, and a YAML 1.2 core
# reading into 12345 and 100; and a catch-all whose nominal looks like a float.
CODES = """\
accounts:
  - {match: "isf:*:SH", cost_centre: 012345, nominal: 0100, supplier: no}
  - match: council:WBC:funding
    cost_centre: 012345
    nominal: 0100
    supplier: no
  - {match: "*", cost_centre: 0777, nominal: 1e3}
"""


def _pilot(db: str) -> None:
    done = CliRunner().invoke(cli, ["scenario", "run", str(PILOT), "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})
    assert done.exit_code == 0, done.output


def _export(kind: str, mapping: Path, out: Path, db: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MAIN, "export", kind, *MAY, "--mapping", str(mapping), "-o",
                           str(out), "--db", db], capture_output=True, text=True)


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_codes_reach_the_export_exactly_as_written(db_url, tmp_path):
    _pilot(db_url)
    mapping = tmp_path / "codes.yaml"
    mapping.write_text(CODES, encoding="utf-8")
    gl = tmp_path / "gl.csv"
    done = _export("gl", mapping, gl, db_url)
    assert done.returncode == 0, done.stderr
    rows = _rows(gl)
    funding = [r for r in rows if r["account"] == "council:WBC:funding"]
    rest = [r for r in rows if r["account"] != "council:WBC:funding"
            and not re.fullmatch(r"isf:.*:SH", r["account"])]
    assert funding and rest
    for r in funding:
        assert (r["cost_centre"], r["nominal"], r["supplier"]) == ("012345", "0100", "no")
    for r in rest:
        assert (r["cost_centre"], r["nominal"], r["supplier"]) == ("0777", "1e3", "")
    payments = tmp_path / "payments.csv"
    assert _export("payments", mapping, payments, db_url).returncode == 0
    paid = _rows(payments)[:-1]  # the last row is the total
    assert paid and all(r["counterparty"].startswith("isf:") for r in paid)
    assert {(r["cost_centre"], r["nominal"], r["supplier"]) for r in paid} == {
        ("012345", "0100", "no")}


# (what is wrong, the file, the line and column it is refused at, words of the reason)
REFUSED = [
    ("a key written twice", 'accounts:\n  - match: "*"\n    nominal: 0100\n'
     "    nominal: 0200\n", 4, 5, "written twice"),
    ("a key written twice in a flow entry", 'accounts:\n  - {match: "*", nominal: 1, '
     "match: x}\n", 2, 30, "written twice"),
    ("an unclosed list", 'accounts:\n  - {match: "*", nominal: 0100\n', 3, 1,
     "not valid YAML"),
    ("a tab indent", 'accounts:\n\t- {match: "*", nominal: 1}\n', 2, 1, "not valid YAML"),
    ("an alias", 'accounts:\n  - &e {match: "*", nominal: 1}\n  - *e\n', 2, 5,
     "anchors and aliases"),
    ("a tag", 'accounts:\n  - {match: "*", nominal: !!int 0100}\n', 2, 27, "tags"),
    ("no entries", "accounts: []\n", 1, 11, "list of entries"),
    ("an empty file", "", 1, 1, "accounts"),
    ("a second key beside accounts", 'accounts:\n  - {match: "*", nominal: 1}\n'
     "version: 2\n", 3, 1, "unknown field 'version'"),
    ("a misspelt field", 'accounts:\n  - {match: "*", nominl: 1}\n', 2, 18,
     "unknown field 'nominl'"),
    ("a code that is a list", 'accounts:\n  - {match: "*", nominal: [1, 2]}\n', 2, 27,
     "one piece of text"),
    ("an empty code", 'accounts:\n  - match: "*"\n    nominal:\n    supplier: S1\n', 3, 13,
     "empty"),
    ("an entry with no match", "accounts:\n  - {nominal: 1}\n", 2, 5, "match"),
    ("an entry with no code", 'accounts:\n  - {match: "*"}\n', 2, 5, "gives no code"),
    ("types not a list", 'accounts:\n  - {match: "*", types: dp_payment, nominal: 1}\n',
     2, 25, "list of journal types"),
]


def test_a_mapping_that_cannot_be_read_is_one_line_exit_2_and_no_export(db_url, tmp_path):
    _pilot(db_url)
    out = tmp_path / "gl.csv"
    for what, text, line, column, reason in REFUSED:
        mapping = tmp_path / "codes.yaml"
        mapping.write_text(text, encoding="utf-8")
        failed = _export("gl", mapping, out, db_url)
        assert failed.returncode == 2, what
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr, what
        assert failed.stderr.startswith(f"error: {mapping}:{line}:{column}: "), (what, failed.stderr)
        assert reason in failed.stderr, (what, failed.stderr)
        assert not out.exists(), what


@pytest.mark.parametrize("kind", ["dp-monitoring", "isf-returns", "contracts"])
def test_every_council_export_reads_the_mapping_by_the_same_rules(kind, db_url, tmp_path):
    _pilot(db_url)
    mapping = tmp_path / "codes.yaml"
    mapping.write_text('accounts:\n  - {match: "*", cost_centre: 012345}\n'
                       "  - {match: x, cost_centre: 012345, cost_centre: 1}\n",
                       encoding="utf-8")
    own = {"dp-monitoring": ["--as-of", "2026-05-31"], "isf-returns": ["--month", "2026-05"],
           "contracts": ["--from", "2026-05-01", "--to", "2026-05-31"]}[kind]
    failed = subprocess.run([*MAIN, "export", kind, "--council", "WBC", *own, "--mapping",
                             str(mapping), "--db", db_url], capture_output=True, text=True)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.startswith(f"error: {mapping}:3:37: ") and failed.stderr.count("\n") == 1
    assert "'cost_centre' is written twice" in failed.stderr
