"""The ledger side of the oracle tests, driven only through its command line, the way a
user or a provider's month end runs it (the console script's `ledger.cli:main`, in this
process, with click's CliRunner isolating its input and output): one
scenario file per event, `ledger isf advance|reconcile`, `ledger isf import-timesheet`,
`ledger dp import-transactions`, then `ledger balance` and `ledger verify`."""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from ledger.cli import main
from tests.oracle.core import month_of
from tests.oracle.model import Model, NotModelled, Refused

CODE = re.compile(r"\(id [^)]*\): ([a-z_]+):")


def said(done: Result) -> str:
    """What a command printed, and the exception if it crashed."""
    crash = done.exception if not isinstance(done.exception, SystemExit) else None
    return done.output.strip() + (f" [crashed: {crash!r}]" if crash else "")


def pounds(p: int, thousands: bool = False) -> str:
    sign = "-" if p < 0 else ""
    whole = f"{abs(p) // 100:,}" if thousands else str(abs(p) // 100)
    return f"{sign}{whole}.{abs(p) % 100:02d}"


class LedgerCli:
    def __init__(self, url: str, folder: Path, parties: dict) -> None:
        self.url, self.folder, self.parties = url, folder, parties
        self.runner = CliRunner()
        self.files = 0
        done = self._scenario([])
        assert done.exit_code == 0, said(done)

    def invoke(self, *args: str) -> Result:
        """`ledger ARGS --db URL` as the console script runs it (`ledger.cli:main`, which
        turns a user's mistake into one line and exit 2), in this process."""
        argv, crash, code = ["ledger", *args, "--db", self.url], None, 0
        env = {"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None}
        with self.runner.isolation(env=env) as (out, err, both):
            saved, sys.argv = sys.argv, argv
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
            except Exception as error:  # a crash: reported as such by `said`
                crash, code = error, 1
            finally:
                sys.argv = saved
            sys.stdout.flush()
            sys.stderr.flush()
            return Result(self.runner, out.getvalue(), err.getvalue(), both.getvalue(), None,
                          code, crash)

    def _write(self, suffix: str, text: str) -> str:
        self.files += 1
        path = self.folder / f"f{self.files}{suffix}"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def _scenario(self, events: list[dict]) -> Result:
        doc = {"format": 1, "name": "ox", "parties": self.parties, "events": events}
        return self.invoke("scenario", "run", self._write(".yaml", yaml.safe_dump(
            doc, sort_keys=False, allow_unicode=True)))

    # ------------------------------------------------------------ steps

    def event(self, raw: dict, key: str) -> str:
        """`accepted`, or the error code the ledger names for the event."""
        done = self._scenario([{**raw, "id": key}])
        if done.exit_code == 0:
            return "accepted"
        found = CODE.search(done.output)
        if done.exit_code == 1 and found:
            return found.group(1)
        return f"exit {done.exit_code}: {said(done)[-300:]}"

    def advance(self, provider: str, month: str) -> Result:
        return self.invoke("isf", "advance", "--provider", provider, "--month", month)

    def reconcile(self, provider: str, month: str) -> tuple[Result, dict | None]:
        done = self.invoke("isf", "reconcile", "--provider", provider, "--month", month,
                           "--format", "json")
        if done.exit_code != 0:
            return done, None
        text = done.stdout[done.stdout.index("{"):]
        report = json.loads(text)
        return done, {row["holder"]: row for row in report["isfs"]}

    def timesheet(self, provider: str, rows: list[dict], uk_dates: bool,
                  late: bool) -> Result:
        columns = [c for c in ("holder", "date", "hours", "start", "end", "reference",
                               "worker") if any(c in row for row in rows) or c == "date"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            cells = {**row, "date": row["date"].strftime("%d/%m/%Y" if uk_dates else "%Y-%m-%d")}
            writer.writerow([cells.get(c, "") for c in columns])
        path = self._write(".csv", out.getvalue())
        return self.invoke("isf", "import-timesheet", path, "--provider", provider,
                           *(["--late-to-open-month"] if late else []))

    def bank(self, holder: str, lines: list[dict], payees: list[tuple[str, str]],
             thousands: bool) -> Result:
        columns = ["date", "description", "amount"]
        columns += [c for c in ("reference", "balance") if any(c in row for row in lines)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in lines:
            cells = {**row, "date": row["date"].isoformat(),
                     "amount": pounds(row["amount"], thousands)}
            if "balance" in row:
                cells["balance"] = pounds(row["balance"], thousands)
            writer.writerow([cells.get(c, "") for c in columns])
        rules = "".join(f"column {c} = {c}\n" for c in columns) + "".join(
            f"payee {pattern} = {name} | {name.lower()}\n" for pattern, name in payees)
        return self.invoke("dp", "import-transactions", self._write(".csv", out.getvalue()),
                           "--holder", holder, "--rules", self._write(".rules", rules))

    # ------------------------------------------------------------ reading

    def balances(self, as_of: dt.date | None = None) -> dict[tuple[str, str], int]:
        done = self.invoke("balance", "--format", "csv",
                           *(["--as-of", as_of.isoformat()] if as_of else []))
        assert done.exit_code == 0, said(done)
        return {(r["account"], r["unit"]): int(r["minor_units"])
                for r in csv.DictReader(io.StringIO(done.stdout))}

    def statement(self, holder: str, start: dt.date, end: dt.date) -> list[dict]:
        done = self.invoke("statement", "holder", holder, "--from", start.isoformat(),
                           "--to", end.isoformat(), "--format", "json")
        assert done.exit_code == 0, said(done)
        return json.loads(done.stdout)["accounts"]

    def verify(self) -> Result:
        return self.invoke("verify")


# ------------------------------------------------------------------ comparing codes

# Events that never post on their own date (so a closed period is never their fault).
NO_POSTING = ("budget", "dp_schedule", "run_payments", "isf_open", "pool_open", "pool_join",
              "framework_open", "block_open", "close_period", "party_update", "isf_vary")


def other_orders(model: Model, raw: dict, key: str) -> set[str]:
    """The docs list an event's faults, not the order they are checked in: when the ledger
    names another code, it is accepted if another order of the model's checks gives it."""
    codes = set()
    for parties_first, lock_first in ((False, True), (True, False), (False, False)):
        try:
            copy.deepcopy(model).apply(raw, key, parties_first, lock_first)
        except Refused as err:
            codes.add(err.code)
        except NotModelled:
            continue
        else:
            raise AssertionError(f"{raw}: accepted by the model in another order of checks")
    if model.lock is not None and raw["date"] <= model.lock and raw["type"] not in NO_POSTING:
        codes.add("period_closed")  # the closed period checked before the instrument's rules
    isf = model.isfs.get((raw.get("holder"), raw.get("provider")))
    if raw["type"] in ("isf_delivery", "isf_purchase") and isf is not None and \
            model.closed_month(isf, month_of(raw["date"])):
        codes.add("period_closed")  # the ISF's closed month checked before the payee, say
    target = model.events.get(raw.get("event")) if raw["type"] == "reverse" else None
    isf = model.isfs.get(target.get("isf")) if target else None
    if isf is not None and model.closed_month(isf, month_of(raw["date"])):
        codes.add("period_closed")  # a reversal dated in a reconciled month (QUESTIONS.md)
    return codes


def same_code(model: Model, raw: dict, key: str, got: str, want: str,
              open_question: bool = False) -> bool:
    """Both accept, or both refuse with the same code, or with a code another order of
    checks gives, or with any code when the event also meets a case the docs leave open."""
    if got == want:
        return True
    if "accepted" in (got, want) or got.startswith("exit "):
        return False
    return open_question or got in other_orders(model, raw, key)
