"""Shared fixtures for the import tests: a fresh ledger per Hypothesis example.

`fresh_ledger(setup_yaml)` makes a new ledger (its own `--ledger` name) in the test's
database (`db_url`: SQLite, and PostgreSQL when LEDGER_TEST_POSTGRES_URL is set), runs the
setup scenario in it, and returns a `LedgerRun` that drives the console script's `main` in
this process, the way a user runs `ledger ...` (a user's mistake is exit 2 there)."""

from __future__ import annotations

import csv
import io
import itertools
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import event, note

from ledger.cli import main

_NAMES = itertools.count(1)


@dataclass
class Done:
    """What one command did: its exit status, its two streams, and a crash if any."""

    code: int
    stdout: str
    stderr: str
    crash: BaseException | None = None

    def said(self) -> str:
        crash = "\n[crashed]\n" + "".join(traceback.format_exception(self.crash)[-4:]) if (
            self.crash) else ""
        return f"exit {self.code}\n{self.stdout}\n{self.stderr}{crash}"


class LedgerRun:
    """One ledger in one database, driven through the command line."""

    def __init__(self, url: str, folder: Path, name: str) -> None:
        self.url, self.folder, self.name = url, folder, name
        self.runner = CliRunner()
        self.files = 0

    def invoke(self, *args: str) -> Done:
        argv = ["ledger", *args, "--db", self.url, "--ledger", self.name]
        env = {"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None}
        crash, code = None, 0
        with self.runner.isolation(env=env) as (out, err, _both):
            saved, sys.argv = sys.argv, argv
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
            except Exception as error:  # a crash: the tests fail on it
                crash, code = error, 1
            finally:
                sys.argv = saved
            sys.stdout.flush()
            sys.stderr.flush()
            return Done(code, out.getvalue().decode("utf-8", "replace"),
                        err.getvalue().decode("utf-8", "replace"), crash)

    def write(self, suffix: str, data: bytes) -> Path:
        """A new file in this ledger's folder, written byte for byte."""
        self.files += 1
        path = self.folder / f"{self.name}-{self.files}{suffix}"
        path.write_bytes(data)
        return path

    def balances(self) -> dict[tuple[str, str], int]:
        """Every balance, as {(account, unit): minor units} (pence, or minutes)."""
        done = self.invoke("balance", "--format", "csv")
        assert done.code == 0 and done.crash is None, done.said()
        return {(r["account"], r["unit"]): int(r["minor_units"])
                for r in csv.DictReader(io.StringIO(done.stdout))}

    def counts(self) -> dict[str, int]:
        """`ledger stats`: journals, postings, accounts, events, ..."""
        done = self.invoke("stats")
        assert done.code == 0 and done.crash is None, done.said()
        found = re.findall(r"^\s*(\w+)\s+(\d+)\s*$", done.stdout, re.MULTILINE)
        assert found, done.stdout
        return {name: int(number) for name, number in found}

    def check_import(self, args: list[str], path: Path, refused: set[int],
                     moved: dict[tuple[str, str], int]) -> Done:
        """Run an import: exit 2 naming exactly the lines `refused` (`FILE:LINE: ...`) and
        nothing posted, or exit 0 with each balance moved by `moved` (minor units)."""
        event("refused" if refused else "posted")
        before, counts = self.balances(), self.counts()
        done = self.invoke(*args)
        note(done.said())
        assert done.crash is None and "Traceback" not in done.stderr, done.said()
        if refused:
            assert done.code == 2, f"the model refuses lines {sorted(refused)}\n{done.said()}"
            where = re.compile(rf"^(?:error: )?{re.escape(str(path))}:(\d+):")
            named = {int(m.group(1)) for line in done.stderr.splitlines()
                     if (m := where.match(line))}
            assert named == refused, done.said()
            assert self.balances() == before and self.counts() == counts, "partly posted"
            return done
        assert done.code == 0, done.said()
        after = self.balances()
        for key, change in moved.items():
            assert after.get(key, 0) - before.get(key, 0) == change, (key, after, before)
        return done


@pytest.fixture
def fresh_ledger(db_url, tmp_path):
    """A factory: `fresh_ledger(setup_yaml)` -> a new ledger with that scenario applied."""

    def make(setup: str) -> LedgerRun:
        name = f"imp{next(_NAMES)}"
        folder = tmp_path / name
        folder.mkdir()
        ledger = LedgerRun(db_url, folder, name)
        scenario = ledger.write(".yaml", setup.encode("utf-8"))
        done = ledger.invoke("scenario", "run", str(scenario))
        assert done.code == 0 and done.crash is None, done.said()
        return ledger

    return make
