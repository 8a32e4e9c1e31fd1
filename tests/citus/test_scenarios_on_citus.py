"""Every worked example in scenarios/ replayed into a ledger of its own, all of them in
ONE distributed schema on the Citus cluster, gives the same books as on SQLite: every
account's balance in every unit equal to the penny and the minute, and `ledger verify
--ledger NAME` passes for each ledger. Every command runs with Citus's multi-shard
detector on (tests/citus/conftest.py), so a command that needed a second shard fails the
test instead of quietly fanning out across the cluster.

The ledgers are spread over both workers (asserted from `ledger db placements`): the
test is about many ledgers side by side on a cluster, not one ledger on one worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.citus.conftest import detecting, invoke

pytestmark = pytest.mark.citus

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
CSV = ROOT / "scenarios" / "provider-month-end"
# provider-month-end.yaml only opens the ISFs: its months are the README's month end
# ("A provider's month end"), run here in the same order after the file.
MONTH_END = [
    ["isf", "advance", "--provider", "SH", "--month", "2026-04"],
    ["isf", "import-timesheet", str(CSV / "april-timesheet.csv"), "--provider", "SH",
     "--month", "2026-04"],
    ["isf", "reconcile", "--provider", "SH", "--month", "2026-04", "--format", "json"],
    ["isf", "advance", "--provider", "SH", "--month", "2026-05"],
    ["isf", "import-timesheet", str(CSV / "may-rota.csv"), "--rules", str(CSV / "rota.rules"),
     "--provider", "SH", "--month", "2026-05"],
    ["isf", "import-timesheet", str(CSV / "may-rota-corrected.csv"), "--rules",
     str(CSV / "rota.rules"), "--provider", "SH", "--month", "2026-05", "--replace-changed"],
    ["isf", "import-timesheet", str(CSV / "april-late.csv"), "--provider", "SH",
     "--late-to-open-month"],
    ["isf", "reconcile", "--provider", "SH", "--month", "2026-05", "--format", "json"],
]


def _replay_all(db: str) -> tuple[dict[str, list[tuple[str, str, int]]], list[str]]:
    """Each file into its own ledger (named after the file); each ledger's balances as
    (account, unit, minor units), after `verify --ledger` passed for it; and the month
    end's outputs."""
    books = {}
    for path in FILES:
        name = path.stem
        done = invoke("scenario", "run", str(path), "--ledger", name, db=db)
        assert done.exit_code == 0, f"{name}: {done.output}"
        assert "journals posted" in done.output, done.output
    said = []
    for step in MONTH_END:
        done = invoke(*step, "--ledger", "provider-month-end", db=db)
        assert done.exit_code == 0, f"{step}: {done.output}"
        said.append(done.output)
    for path in FILES:
        name = path.stem
        checked = invoke("verify", "--ledger", name, db=db)
        assert checked.exit_code == 0, f"{name}: {checked.output}"
        assert "every invariant holds" in checked.output, checked.output
        shown = invoke("balance", "--format", "json", "--ledger", name, db=db)
        assert shown.exit_code == 0, f"{name}: {shown.output}"
        books[name] = sorted((row["account"], row["unit"], int(row["minor_units"]))
                             for row in json.loads(shown.output))
    return books, said


def test_every_scenario_in_its_own_ledger_on_citus_matches_sqlite(citus_db, tmp_path):
    assert len(FILES) > 5
    on_sqlite, month_end_sqlite = _replay_all(f"sqlite:///{tmp_path / 'books.db'}")
    on_citus, month_end_citus = _replay_all(detecting(citus_db))
    for name, balances in on_sqlite.items():
        assert balances, f"{name} posted nothing on SQLite"
        assert on_citus[name] == balances, name
    # The month end's reports (and what each step said) are the same word for word.
    assert month_end_citus == month_end_sqlite
    placed = invoke("db", "placements", db=citus_db)
    assert placed.exit_code == 0, placed.output
    where = {line.split("\t")[0]: line.split("\t")[2]
             for line in placed.output.strip().splitlines()}
    assert {path.stem for path in FILES} <= set(where)
    assert len({where[path.stem] for path in FILES}) == 2, where  # both workers hold some
