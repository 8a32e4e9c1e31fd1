"""`ledger scenario run --dry-run`: every event checked as a real run checks it, what would
happen printed, nothing written (docs/scenarios.md#dry-run)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"
MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _state(db: str) -> tuple[str, str]:
    stats = invoke("stats", "--format", "json", db=db)
    head = invoke("verify", db=db).output.strip().splitlines()[-1]
    return stats.output, head


def test_a_dry_run_says_what_would_happen_and_writes_nothing(db_url):
    assert invoke("init", db=db_url).exit_code == 0
    before = _state(db_url)
    done = invoke("scenario", "run", str(SCENARIO), "--dry-run", db=db_url)
    assert done.exit_code == 0, done.output
    assert "dry run: 101 would be applied" in done.output
    assert "91 journals would be posted; nothing was written" in done.output
    assert _state(db_url) == before
    # The real run then does exactly what the dry run said.
    real = invoke("scenario", "run", str(SCENARIO), db=db_url)
    assert "101 applied, 0 already recorded, 4 rejected as expected, 91 journals posted" in (
        real.output)


def test_a_dry_run_against_a_database_that_does_not_exist_creates_nothing(tmp_path):
    db = tmp_path / "new.db"
    done = invoke("scenario", "run", str(SCENARIO), "--dry-run", db=f"sqlite:///{db}")
    assert done.exit_code == 0 and "101 would be applied" in done.output
    assert not db.exists()


def test_a_dry_run_that_meets_a_rejection_names_it_exits_1_and_writes_nothing(tmp_path,
                                                                              db_url):
    path = tmp_path / "over.yaml"
    path.write_text(textwrap.dedent("""\
        format: 1
        name: over
        parties:
          councils: [{id: C1, name: Council}]
          holders: [{id: H1, name: Holder, council: C1}]
        events:
          - {date: 2026-04-01, type: dp_payment, holder: H1, amount: "100.00"}
          - {date: 2026-04-02, type: dp_spend, holder: H1, payee: PA, amount: "500.00"}
        """), encoding="utf-8")
    assert invoke("init", db=db_url).exit_code == 0
    done = subprocess.run([*MAIN, "scenario", "run", str(path), "--dry-run", "--db", db_url],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert f"{path}:8: event 1" in done.stderr and "insufficient_funds" in done.stderr
    assert '"journals": 0' in invoke("stats", "--format", "json", db=db_url).output


def test_a_dry_run_of_several_files_checks_each_against_what_the_ones_before_did(tmp_path,
                                                                                 db_url):
    """The files are checked in order in one transaction: the second may spend what the
    first paid in, as a real run would allow; nothing of either is written."""
    head = textwrap.dedent("""\
        format: 1
        name: NAME
        parties:
          councils: [{id: C1, name: Council}]
          holders: [{id: H1, name: Holder, council: C1}]
        events:
        """)
    pay, spend = tmp_path / "pay.yaml", tmp_path / "spend.yaml"
    pay.write_text(head.replace("NAME", "pay") + "  - {date: 2026-04-01, type: dp_payment, "
                   "holder: H1, amount: '100.00'}\n", encoding="utf-8")
    spend.write_text(head.replace("NAME", "spend") + "  - {date: 2026-04-02, type: dp_spend, "
                     "holder: H1, payee: PA, amount: '60.00'}\n", encoding="utf-8")
    assert invoke("init", db=db_url).exit_code == 0
    before = _state(db_url)
    done = invoke("scenario", "run", str(pay), str(spend), "--dry-run", db=db_url)
    assert done.exit_code == 0, done.output
    assert f"{spend}: dry run: 1 would be applied" in done.output
    assert _state(db_url) == before
    # Alone, the second file is refused: the dry run above did see the first.
    alone = invoke("scenario", "run", str(spend), "--dry-run", db=db_url)
    assert alone.exit_code == 1 and "insufficient_funds" in alone.output
    assert _state(db_url) == before
