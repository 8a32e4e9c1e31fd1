"""`ledger ...` in this process, as the console script runs it (`ledger.cli:main`), for
the import tests that check what a user sees: exit status, standard output, and the
`FILE:LINE: reason` refusals on standard error."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import main


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def refusals(self, path: Path) -> dict[int, str]:
        """Each `PATH:LINE: reason` on stderr, by LINE."""
        found: dict[int, str] = {}
        for text in self.err.splitlines():
            if text.startswith(f"{path}:"):
                at, _, why = text[len(f"{path}:"):].partition(": ")
                if at.isdigit():
                    found[int(at)] = why
        return found


def ledger(*args: str, db: str) -> Ran:
    """`ledger ARGS --db DB` as the console script runs it (`ledger.cli:main`), in this
    process; a crash is not caught, so it fails the test with its traceback."""
    runner = CliRunner()
    with runner.isolation(env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None}) as (
            out, err, _):
        saved, sys.argv, code = sys.argv, ["ledger", *map(str, args), "--db", db], 0
        try:
            main()
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
        finally:
            sys.argv = saved
        sys.stdout.flush()
        sys.stderr.flush()
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())
