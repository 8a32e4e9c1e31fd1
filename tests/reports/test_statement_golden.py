"""One statement of each kind, byte for byte against its golden file, on each engine: the
words a person reads (text), the easy-read version, and the HTML page. A change to what
a person reads shows up here as a difference to review. Regenerate with
LEDGER_WRITE_GOLDEN=1 and read the difference before committing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "golden" / "statements"
# (golden name, scenario, statement arguments)
KINDS = [
    ("holder-H2-2026-05", "wokingham-isf-pilot.yaml", ["holder", "H2", "--month", "2026-05"]),
    ("pool-OUTABOUT-2026-04-member-H3", "pool-shared-pa.yaml",
     ["pool", "OUTABOUT", "--month", "2026-04", "--member", "H3"]),
    ("provider-SH-2026-05", "wokingham-isf-pilot.yaml",
     ["provider", "SH", "--month", "2026-05"]),
    ("council-WBC-2026-q1", "wokingham-isf-pilot.yaml",
     ["council", "WBC", "--from", "2026-04-01", "--to", "2026-06-30"]),
]
FORMATS = [("txt", []), ("easy.txt", ["--easy-read"]), ("html", ["--format", "html"])]


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.mark.parametrize("name,scenario,args", KINDS, ids=[k[0] for k in KINDS])
def test_each_statement_kind_is_its_golden_file(db_url, name, scenario, args):
    assert invoke("scenario", "run", str(ROOT / "scenarios" / scenario), db=db_url
                  ).exit_code == 0
    for suffix, flags in FORMATS:
        done = invoke("statement", *args, *flags, db=db_url)
        assert done.exit_code == 0, done.output
        golden = GOLDEN / f"{name}.{suffix}"
        if os.environ.get("LEDGER_WRITE_GOLDEN"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_bytes(done.stdout_bytes)
        assert done.stdout_bytes == golden.read_bytes(), (
            f"{golden.name} differs: review with LEDGER_WRITE_GOLDEN=1 and git diff")
