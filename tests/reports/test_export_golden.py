"""Every council export, byte for byte against its golden file, on each engine; and each
file read back with Python's csv against the column spec docs/exports.md gives.
Regenerate the golden files with LEDGER_WRITE_GOLDEN=1 and review the difference."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden"
DOCS = (ROOT / "docs" / "exports.md").read_text(encoding="utf-8")
# (golden file, scenario, export arguments, the docs section whose spec it follows)
EXPORTS = [
    ("gl.csv", "wokingham-isf-pilot.yaml",
     ["gl", "--council", "WBC", "--from", "2026-05-01", "--to", "2026-05-31"], "gl"),
    ("payments.csv", "wokingham-isf-pilot.yaml",
     ["payments", "--council", "WBC", "--from", "2026-04-01", "--to", "2026-06-30"],
     "payments"),
    ("dp-monitoring.csv", "dp-holder.yaml",
     ["dp-monitoring", "--council", "BCC", "--as-of", "2026-06-30"], "dp-monitoring"),
    ("isf-returns.csv", "wokingham-isf-pilot.yaml",
     ["isf-returns", "--council", "WBC", "--month", "2026-05"], "isf-returns"),
    ("contracts.csv", "framework-and-block.yaml",
     ["contracts", "--council", "ECC", "--from", "2026-04-01", "--to", "2027-03-31"],
     "contracts"),
]


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def documented_columns(section: str) -> list[str]:
    """The first column of the spec table under `{#section}` in docs/exports.md (the
    column spec of its latest version, with every column the export writes by default)."""
    part = DOCS.split(f"{{#{section}}}", 1)[1]
    table = re.split(r"Column spec, version \d+[^:\n]*:", part, maxsplit=1)[1].split("\n\n")[1]
    names: list[str] = []
    for line in table.splitlines()[2:]:
        names += re.findall(r"`([a-z_]+)`", line.split("|")[1])
    return names


@pytest.mark.parametrize("name,scenario,args,section", EXPORTS, ids=[e[0] for e in EXPORTS])
def test_each_export_is_its_golden_file_on_every_engine(db_url, name, scenario, args, section):
    assert invoke("scenario", "run", str(ROOT / "scenarios" / scenario), db=db_url
                  ).exit_code == 0
    done = invoke("export", *args, db=db_url)
    assert done.exit_code == 0, done.output
    produced = done.stdout_bytes
    golden = GOLDEN / name
    if os.environ.get("LEDGER_WRITE_GOLDEN") == "1" and db_url.startswith("sqlite"):
        golden.write_bytes(produced)
    assert produced == golden.read_bytes()
    header = next(csv.reader(io.StringIO(produced.decode("utf-8"))))
    rows = list(csv.DictReader(io.StringIO(produced.decode("utf-8"))))
    assert rows and all(len(r) == len(header) for r in rows)
    if section is not None:
        assert header == documented_columns(section)
