"""Writers at once on PostgreSQL, through the doors a provider uses (docs/month-end.md):
two timesheet imports, an advance beside an import, two reconciles. Whatever the timing,
the books must come out as if the commands had run one after the other: `verify` passes,
and the balances and the month's report equal those of a one-at-a-time run (in either
order). Each writer takes the ledger's lock before it reads any state, so no writer's
change to an ISF's hour lots is written over by another's (issue 18).

Each case is repeated over many trials, every trial in its own ledger of one database
(ledgers never wait on each other), with the commands run as separate `ledger`
processes released together (LEDGER_SOAK=N runs N times as many trials)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from tests.dbutil import empty_database

TRIALS = 6 * int(os.environ.get("LEDGER_SOAK", "1"))

# H1 carries at most 10 h for a month; H2 may borrow 5 h; H3 pays a 10% fee inside its
# budget. Every ISF opens on 1 April; April is advanced before each trial.
SETUP = """\
format: 1
name: concurrency
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
    - {id: H3, name: Cat, council: WBC}
events:
  - {date: 2026-04-01, type: isf_open, holder: H1, provider: SH, hours_per_month: 40,
     rate: "19.50", carry: {expire_after_months: 1, max_hours: 10}}
  - {date: 2026-04-01, type: isf_open, holder: H2, provider: SH, hours_per_month: 30,
     rate: "21.00", carry: {max_borrow_hours: 5}}
  - {date: 2026-04-01, type: isf_open, holder: H3, provider: SH, hours_per_month: 20,
     rate: "20.00", fee: {kind: percent, value: "10", basis: inside}}
"""

# Two timesheets for April: the first half of the month and the second. Each alone keeps
# every bank within its limits; together H2 borrows 3 h of the 5 it may (16 h + 17 h of 30).
MINUTES = {"H1": (60, 90), "H2": (96, 102), "H3": (45, 50)}  # per row: first, second file


def _sheet(half: int) -> str:
    lines = ["holder,date,hours,reference"]
    for holder, per_row in MINUTES.items():
        for n in range(10):
            day = 1 + n + 15 * half
            minutes = per_row[half]
            lines.append(f"{holder},2026-04-{day:02d},{minutes // 60}:{minutes % 60:02d},"
                         f"{holder}-{half}-{n}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def pg_db(tmp_path_factory) -> Iterator[str]:
    with empty_database("postgres", tmp_path_factory.mktemp("pg")) as url:
        yield url


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sheets")
    out = {"setup": folder / "setup.yaml", "first": folder / "first.csv",
           "second": folder / "second.csv", "whole": folder / "whole.csv"}
    out["setup"].write_text(SETUP, encoding="utf-8")
    out["first"].write_text(_sheet(0), encoding="utf-8")
    out["second"].write_text(_sheet(1), encoding="utf-8")
    out["whole"].write_text(_sheet(0) + "".join(_sheet(1).splitlines(True)[1:]),
                            encoding="utf-8")
    return out


def _invoke(db: str, ledger: str, *args: str):
    return CliRunner().invoke(cli, [*args, "--db", db, "--ledger", ledger],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _ok(db: str, ledger: str, *args: str) -> str:
    done = _invoke(db, ledger, *args)
    assert done.exit_code == 0, (args, done.output)
    return done.output


def _import(path: Path) -> list[str]:
    return ["isf", "import-timesheet", str(path), "--provider", "SH"]


ADVANCE = ["isf", "advance", "--provider", "SH", "--month"]
RECONCILE_APRIL = ["isf", "reconcile", "--provider", "SH", "--month", "2026-04",
                   "--format", "json"]


# Each writer is the `ledger` console entry point in its own process. It loads first, then
# waits at a barrier, so the writers start their work within a few milliseconds of each
# other rather than a Python start-up apart.
AT_THE_BARRIER = """\
import os, sys, time
from ledger.cli import main
ready, go = sys.argv[1:3]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
sys.argv = ["ledger", *sys.argv[3:]]
main()
"""


def _at_once(db: str, ledger: str, *commands: list[str]) -> list[subprocess.CompletedProcess]:
    """Run every command as its own `ledger` process, all released at the same moment."""
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DATABASE_URL",
                                                            "LEDGER_NAME")}
    with tempfile.TemporaryDirectory() as folder:
        ready = [Path(folder, f"ready{n}") for n in range(len(commands))]
        go = Path(folder, "go")
        procs = [subprocess.Popen([sys.executable, "-c", AT_THE_BARRIER, str(r), str(go),
                                   *cmd, "--db", db, "--ledger", ledger],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for r, cmd in zip(ready, commands, strict=True)]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline and all(
                p.poll() is None for p in procs):
            time.sleep(0.005)
        go.touch()
        done = []
        for cmd, proc in zip(commands, procs, strict=True):
            out, err = proc.communicate(timeout=120)
            done.append(subprocess.CompletedProcess(cmd, proc.returncode, out, err))
    return done


def _setup(db: str, ledger: str, files: dict[str, Path], *then: list[str]) -> None:
    _ok(db, ledger, "scenario", "run", str(files["setup"]))
    _ok(db, ledger, *ADVANCE, "2026-04")
    for command in then:
        _ok(db, ledger, *command)


def _outcome(db: str, ledger: str) -> tuple[str, str, str]:
    """What a user checks after the writers: verify passes; then the balances, April's
    report (reconciling April if it is not yet) and the balances after it."""
    checked = _invoke(db, ledger, "verify")
    assert checked.exit_code == 0, f"ledger {ledger}: verify failed:\n{checked.output}"
    before = _ok(db, ledger, "balance", "--format", "csv")
    report = _ok(db, ledger, *RECONCILE_APRIL)
    after = _ok(db, ledger, "balance", "--format", "csv")
    checked = _invoke(db, ledger, "verify")
    assert checked.exit_code == 0, f"ledger {ledger}: verify after reconcile:\n{checked.output}"
    return before, report, after


def _serial(db: str, name: str, files, setup: list[list[str]],
            orders: list[list[list[str]]]) -> list[tuple[str, str, str]]:
    """The outcome of the commands run one after the other, in each order given."""
    outcomes = []
    for n, order in enumerate(orders):
        ledger = f"{name}{n}"
        _setup(db, ledger, files, *setup)
        for command in order:
            _ok(db, ledger, *command)
        outcomes.append(_outcome(db, ledger))
    return outcomes


def _trials(db: str, name: str, files, setup: list[list[str]], together: list[list[str]],
            serial: list[tuple[str, str, str]]) -> None:
    for trial in range(TRIALS):
        ledger = f"{name}{trial}"
        _setup(db, ledger, files, *setup)
        results = _at_once(db, ledger, *together)
        for result in results:
            assert result.returncode == 0, (trial, result.args, result.stdout, result.stderr)
        outcome = _outcome(db, ledger)
        assert outcome in serial, (
            f"trial {trial}: the books differ from every one-at-a-time run\n"
            f"balances:\n{outcome[0]}\none at a time:\n{serial[0][0]}\n"
            f"April's report:\n{outcome[1]}\none at a time:\n{serial[0][1]}")


def test_two_timesheet_imports_at_once_lose_no_delivery(pg_db, files):
    first, second = _import(files["first"]), _import(files["second"])
    serial = _serial(pg_db, "tsref", files, [], [[first, second], [second, first]])
    # Both files together leave H2 3 h in debt: the test's figures are what they claim.
    assert "isf:H2:SH,HRS,-3,-180" in serial[0][0]
    assert serial[0] == serial[1]
    _trials(pg_db, "ts", files, [], [first, second], serial)


def test_an_advance_beside_an_import_loses_neither(pg_db, files):
    may, whole = [*ADVANCE, "2026-05"], _import(files["whole"])
    serial = _serial(pg_db, "adref", files, [], [[may, whole], [whole, may]])
    _trials(pg_db, "ad", files, [], [may, whole], serial)


def test_two_reconciles_at_once_post_once_and_give_one_report(pg_db, files):
    setup = [_import(files["whole"]), [*ADVANCE, "2026-05"]]
    (serial,) = _serial(pg_db, "rcref", files, setup, [[RECONCILE_APRIL]])
    for trial in range(TRIALS):
        ledger = f"rc{trial}"
        _setup(pg_db, ledger, files, *setup)
        results = _at_once(pg_db, ledger, RECONCILE_APRIL, RECONCILE_APRIL)
        for result in results:
            assert result.returncode == 0, (trial, result.stdout, result.stderr)
            # Each prints the report a reconcile run alone prints.
            assert result.stdout == serial[1], (trial, result.stdout, serial[1])
        assert _outcome(pg_db, ledger) == serial, f"trial {trial}"
