"""`ledger export beancount` (docs/exports.md#beancount): Beancount's own `bean-check`
accepts the file, and the balances Beancount computes from it equal `ledger balance`,
to the penny and the minute, on both engines."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import data
from hypothesis import given
from hypothesis import strategies as st

from ledger.reports.beancount import account_name

BIN = Path(sys.executable).parent
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
# hours and overspends (ISFs), pools with members' names as payees, a bursary fund with
# awards, framework and block contracts, a reversal and a closed quarter
FILES = ["wokingham-isf-pilot.yaml", "richmond-pooling-consortium.yaml", "bursary-pot.yaml",
         "framework-and-block.yaml", "dp-quarterly-review.yaml"]


def _ledger(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ledger"), *args, "--db", db], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", FILES)
def test_bean_check_accepts_the_export_and_its_balances_equal_ledger_balance(
        name, db_url, tmp_path):
    assert _ledger("scenario", "run", str(SCENARIOS / name), db=db_url,
                   cwd=tmp_path).returncode == 0
    out = tmp_path / "ledger.beancount"
    done = _ledger("export", "beancount", "-o", str(out), db=db_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    checked = subprocess.run([str(BIN / "bean-check"), str(out)], capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", (
        checked.stdout + checked.stderr)

    entries, errors, _ = loader.load_file(str(out))
    assert errors == []
    path_of = {e.account: e.meta["path"] for e in entries if isinstance(e, data.Open)}
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                totals[(path_of[posting.account], posting.units.currency)] += \
                    posting.units.number
    from_beancount = {}
    for (path, currency), number in totals.items():
        minor = number * 100 if currency == "GBP" else number  # MIN are minutes
        assert minor == minor.to_integral_value()
        from_beancount[(path, "GBP" if currency == "GBP" else "HRS")] = int(minor)

    table = _ledger("balance", "--format", "csv", db=db_url, cwd=tmp_path).stdout
    from_ledger = {(row["account"], row["unit"]): int(row["minor_units"])
                   for row in csv.DictReader(io.StringIO(table))}
    assert from_beancount == from_ledger
    assert any(unit == "HRS" for _, unit in from_ledger) or name != FILES[0]


def test_an_empty_ledger_exports_a_file_bean_check_accepts(db_url, tmp_path):
    assert _ledger("init", db=db_url, cwd=tmp_path).returncode == 0
    out = tmp_path / "empty.beancount"
    assert _ledger("export", "beancount", "-o", str(out), db=db_url,
                   cwd=tmp_path).returncode == 0
    checked = subprocess.run([str(BIN / "bean-check"), str(out)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


_SEGMENT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":"),
                   min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)


@given(st.lists(_SEGMENT, min_size=2, max_size=2, unique=True))
def test_two_different_payees_never_share_a_beancount_account(names):
    a, b = (account_name(f"external:{n}") for n in names)
    assert a != b
    for name in (a, b):
        assert name.startswith("Expenses:External:")
