"""A ledger whose timesheets and bank statement were imported by the release before the
reading rules (tests/data/imports-2026-12-06, keys `timesheet/SH/<fingerprint>#n` and
`bank/D1/<fingerprint>#n`): importing the same files again after the upgrade posts
nothing new and says every row is already recorded, and the ledger still verifies
(docs/month-end.md#keys). On PostgreSQL the same rows are loaded into a database built by
the migrations, as tests/store/test_upgrade.py does for the release database."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ledger.cli import cli
from ledger.store.schema import make_engine
from tests.dbutil import copy_rows_to_postgres, empty_database

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "imports-2026-12-06"
REVISION = "0005"  # the fixture's schema (its alembic_version)


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.fixture(params=["sqlite", "postgres"])
def imported(request, tmp_path):
    """A URL to a copy of the fixture's ledger (read from a copy, so that opening it never
    writes beside the fixture)."""
    copy = tmp_path / "ledger.db"
    shutil.copyfile(FIXTURE / "ledger.db", copy)
    if request.param == "sqlite":
        yield f"sqlite:///{copy}"
        return
    with empty_database("postgres", tmp_path) as url:
        copy_rows_to_postgres(url, copy, REVISION)
        yield url


def _balances(db: str) -> list[dict]:
    done = invoke("balance", "--format", "csv", db=db)
    assert done.exit_code == 0, done.output
    return list(csv.DictReader(io.StringIO(done.output)))


def _events(db: str) -> int:
    engine = make_engine(db)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM event")).scalar_one()
    engine.dispose()
    return count


@pytest.mark.parametrize("args,summary", [
    (["isf", "import-timesheet", "hours.csv", "--provider", "SH"],
     "0 deliveries posted, 5 already recorded"),
    (["isf", "import-timesheet", "rota.csv", "--provider", "SH", "--rules", "rota.rules"],
     "0 deliveries posted, 4 already recorded"),
    (["dp", "import-transactions", "bank.csv", "--holder", "D1", "--rules", "bank.rules"],
     "0 spends posted, 4 already recorded, 1 payments in matched"),
])
def test_a_file_imported_before_the_upgrade_posts_nothing_when_imported_again(
        imported, args, summary):
    before, events = _balances(imported), _events(imported)
    files = [str(FIXTURE / a) if a.endswith((".csv", ".rules")) else a for a in args]
    done = invoke(*files, db=imported)
    assert done.exit_code == 0, done.output
    assert done.output.strip().endswith(f": {summary}")
    assert _balances(imported) == before
    assert _events(imported) == events
    verified = invoke("verify", db=imported)
    assert verified.exit_code == 0, verified.output


def test_two_identical_rows_recorded_before_the_upgrade_are_not_refused_as_duplicates(
        imported):
    """hours.csv's two identical rows were posted as two visits by that release: both
    are recognised as recorded before the identical-rows check, so nothing is refused."""
    done = invoke("isf", "import-timesheet", str(FIXTURE / "hours.csv"), "--provider", "SH",
                  "--dry-run", db=imported)
    assert done.exit_code == 0, done.output
    assert "identical" not in done.output
    assert "would post" not in done.output
