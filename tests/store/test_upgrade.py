"""A database written by the release of 2026-12-06 (tests/data/release-2026-12-06, before
rules versions existed) still verifies after an upgrade: its records are rules version 1
and are replayed under those rules, its chain keeps the heads that release printed, its
balances are what they were, and new records go on under the current rules
(docs/rules-trust.md#rules-versions). On PostgreSQL the same rows are loaded into a
database built by the migrations of that release, then upgraded."""

from __future__ import annotations

import csv
import io
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ledger.cli import cli
from ledger.core.change import CURRENT_RULES
from ledger.store.schema import make_engine
from tests.dbutil import copy_rows_to_postgres, empty_database

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "release-2026-12-06"
HEADS = dict(line.removeprefix("head ").split(": ")
             for line in (FIXTURE / "heads.txt").read_text().splitlines() if line)
LEDGERS = sorted(HEADS)

# June under the new rules, on the `fee` ledger's ISF (60 h at £21.50, an 8% inside fee):
# May, advanced under the old rules, is reconciled under the new ones.
JUNE = """\
format: 1
name: after-upgrade
parties:
  councils: [{id: WBC, name: Wokingham Borough Council}]
  providers: [{id: SH, name: Support Horizons CIC}]
  holders:
    - {id: DEE, name: Dee Example, council: WBC}
events:
  - {date: 2026-05-31, type: isf_reconcile, holder: DEE, provider: SH, month: 2026-05}
  - {date: 2026-06-01, type: isf_advance, holder: DEE, provider: SH, month: 2026-06}
  - {date: 2026-06-05, type: isf_delivery, holder: DEE, provider: SH, hours: 10}
  - {date: 2026-06-06, type: isf_delivery, holder: DEE, provider: SH, hours: 2,
     worked_on: 2026-05-28}
  - {date: 2026-05-20, type: isf_delivery, holder: DEE, provider: SH, hours: 1,
     expect_error: period_closed}
"""


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.fixture(params=["sqlite", "postgres"])
def released(request, tmp_path):
    """A URL to a copy of the released database, not yet upgraded."""
    if request.param == "sqlite":
        copy = tmp_path / "ledger.db"
        shutil.copyfile(FIXTURE / "ledger.db", copy)
        yield f"sqlite:///{copy}"
        return
    with empty_database("postgres", tmp_path) as url:
        copy_rows_to_postgres(url, FIXTURE / "ledger.db", "0004")
        yield url


def _heads(output: str) -> dict[str, str]:
    return dict(line.removeprefix("head ").split(": ") for line in output.splitlines()
                if line.startswith("head "))


def _balances(db: str, ledger: str) -> list[dict]:
    done = invoke("balance", "--format", "csv", "--ledger", ledger, db=db)
    assert done.exit_code == 0, done.output
    return list(csv.DictReader(io.StringIO(done.output)))


def _versions(db: str, ledger: str) -> list[int]:
    engine = make_engine(db)
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT e.rules_version FROM event e JOIN ledger l ON l.id = e.ledger_id "
            "WHERE l.name = :name ORDER BY e.seq"), {"name": ledger}).scalars().all()
    engine.dispose()
    return list(found)


def test_the_released_database_upgrades_and_verifies_with_the_heads_it_had(released):
    done = invoke("verify", db=released)  # opening it upgrades the schema
    assert done.exit_code == 0, done.output
    assert _heads(done.output) == HEADS
    for ledger in LEDGERS:
        expected = list(csv.DictReader(io.StringIO(
            (FIXTURE / f"balance-{ledger}.csv").read_text())))
        assert _balances(released, ledger) == expected, ledger
        assert set(_versions(released, ledger)) == {1}


def test_replaying_the_released_file_into_it_posts_nothing_new(released):
    before = _balances(released, "fee")
    done = invoke("scenario", "run", str(FIXTURE / "inside-fee.yaml"), "--ledger", "fee",
                  db=released)
    assert done.exit_code == 0, done.output
    assert "0 applied, 6 already recorded" in done.output
    assert _balances(released, "fee") == before
    done = invoke("verify", "--ledger", "fee", db=released)
    assert done.exit_code == 0, done.output
    assert _heads(done.output) == {"fee": HEADS["fee"]} or done.output.splitlines()[-1] == (
        f"head: {HEADS['fee']}")


def test_new_records_take_the_current_rules_and_the_old_ones_keep_theirs(released, tmp_path):
    path = tmp_path / "june.yaml"
    path.write_text(textwrap.dedent(JUNE), encoding="utf-8")
    done = invoke("scenario", "run", str(path), "--ledger", "fee", db=released)
    assert done.exit_code == 0, done.output
    versions = _versions(released, "fee")
    assert versions[:9] == [1] * 9 and versions[9:] == [CURRENT_RULES] * 5
    # Verify replays the old records under the old rules and the new under the new, and
    # the chain still passes through the head the release printed.
    done = invoke("verify", "--ledger", "fee", "--expect-head", HEADS["fee"], db=released)
    assert done.exit_code == 0, done.output
    # June's advance is made under the rules of 2026-12-06: the inside fee now comes out
    # of the hours too. £1,290.00 less the 8% fee (£103.20) buys 55 h 12 min at £21.50.
    balances = {(r["account"], r["unit"]): r["minor_units"] for r in _balances(released, "fee")}
    advanced = [r for r in _print_journals(released, "fee") if r.startswith("isf_advance")]
    assert len(advanced) == 3 and "3312" in advanced[-1]
    assert balances[("provider:SH:fees", "GBP")] == str(3 * 10320)


def _print_journals(db: str, ledger: str) -> list[str]:
    engine = make_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT j.type, j.memo FROM journal j JOIN ledger l ON l.id = j.ledger_id "
            "WHERE l.name = :name ORDER BY j.id"), {"name": ledger}).all()
    engine.dispose()
    return [f"{kind} {memo}" for kind, memo in rows]


@pytest.mark.parametrize(("version", "says"), [
    (1, "hash chain broken"), (3, "rules version 3")])
def test_a_records_rules_version_changed_behind_the_ledgers_back_is_a_break(
        version, says, tmp_path):
    """The version is part of a new record's hash: marking it as made under the old
    rules (so it would be replayed under them) or under rules this program does not know
    is caught."""
    with empty_database("sqlite", tmp_path) as url:
        path = tmp_path / "new.yaml"
        path.write_text(textwrap.dedent("""\
            format: 1
            name: new
            parties:
              councils: [{id: WBC, name: Wokingham}]
              providers: [{id: SH, name: Support Horizons}]
              holders: [{id: DEE, name: Dee Example, council: WBC}]
            events:
              - {date: 2026-06-01, type: isf_open, holder: DEE, provider: SH,
                 hours_per_month: 10, rate: "20.00"}
              - {date: 2026-06-01, type: isf_advance, holder: DEE, provider: SH,
                 month: 2026-06}
            """), encoding="utf-8")
        done = invoke("scenario", "run", str(path), db=url)
        assert done.exit_code == 0, done.output
        assert invoke("verify", db=url).exit_code == 0
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER event_no_update"))
            conn.execute(text(f"UPDATE event SET rules_version = {version} "
                              "WHERE seq = (SELECT MAX(seq) FROM event)"))
        engine.dispose()
        done = invoke("verify", db=url)
        assert done.exit_code == 1 and says in done.output, done.output
