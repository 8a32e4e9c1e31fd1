"""`--ledger NAME` on every command (docs/architecture.md#ledgers)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "dp-holder.yaml"
MAIN = [sys.executable, "-c", "from ledger.cli import main; main()"]


def invoke(*args: str, db: str, env: dict | None = None):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None,
                                   **(env or {})})


def _balances(db: str, *extra: str) -> dict[str, str]:
    done = invoke("balance", "--format", "csv", *extra, db=db)
    assert done.exit_code == 0, done.output
    return {(r["account"], r["unit"]): r["minor_units"]
            for r in csv.DictReader(io.StringIO(done.output))}


def test_two_ledgers_in_one_database_keep_their_own_books(db_url):
    assert invoke("scenario", "run", str(SCENARIO), "--ledger", "wokingham",
                  db=db_url).exit_code == 0
    assert _balances(db_url, "--ledger", "wokingham")
    # The same file in another ledger is applied again (its keys are that ledger's own),
    # and main has nothing.
    again = invoke("scenario", "run", str(SCENARIO), db=db_url, env={"LEDGER_NAME": "surrey"})
    assert again.exit_code == 0 and " 0 applied" not in again.output, again.output
    assert _balances(db_url, "--ledger", "surrey") == _balances(db_url, "--ledger", "wokingham")
    replay = invoke("scenario", "run", str(SCENARIO), "--ledger", "surrey", db=db_url)
    assert " 0 applied" in replay.output and "0 journals posted" in replay.output
    done = invoke("verify", db=db_url)
    assert done.exit_code == 0, done.output
    heads = done.output.strip().splitlines()[-2:]
    assert [line.split(":")[0] for line in heads] == ["head surrey", "head wokingham"]
    one = invoke("verify", "--ledger", "surrey", db=db_url)
    assert one.output.strip().splitlines()[-1].startswith("head: ")


def test_a_read_command_on_a_ledger_that_does_not_exist_exits_2_and_names_those_there_are(
        tmp_path):
    db = f"sqlite:///{tmp_path}/l.db"
    assert invoke("scenario", "run", str(SCENARIO), "--ledger", "wokingham",
                  db=db).exit_code == 0
    for args in (["balance"], ["stats"], ["verify"], ["export", "beancount"],
                 ["statement", "holder", "H1", "--month", "2026-04"]):
        done = subprocess.run([*MAIN, *args, "--ledger", "surrey", "--db", db],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1
        assert "no ledger named 'surrey'" in done.stderr and "wokingham" in done.stderr


def test_a_ledger_name_that_is_not_a_name_is_refused(tmp_path):
    done = subprocess.run([*MAIN, "balance", "--ledger", "a b;", "--db",
                           f"sqlite:///{tmp_path}/x.db"], capture_output=True, text=True)
    assert done.returncode == 2 and "--ledger" in done.stderr
