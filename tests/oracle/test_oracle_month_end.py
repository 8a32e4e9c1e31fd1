"""The ledger's ISF rules, month end, timesheets and bank lines against the independent
model (tests/oracle/model.py, isf.py, month_end.py), under the rules dated 2026-12-06.

Each step goes to the model and, through the command line only (tests/oracle/drive.py), to
the real ledger on a fresh database (SQLite and PostgreSQL): a scenario event, `ledger isf
advance` or `reconcile`, a timesheet CSV, a bank statement CSV. Per step the outcome must
agree (accepted or the error code; the exit status and, when the model finds one bad line,
that line; the month's report rows); at the end every balance, and `ledger verify` passes.

Normal suite: ORACLE_MONTH_END_EXAMPLES (default 12) random months per engine, plus one
short story per new rule (below), not shrunk unless ORACLE_SHRINK=1 (the failing step is
named in the message). Soak: ORACLE_MONTH_END_EXAMPLES=300.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import note as hypothesis_note
from hypothesis.errors import InvalidArgument

from tests.dbutil import migrated_database, require_postgres
from tests.oracle import month_end as me
from tests.oracle.core import month_index, month_last
from tests.oracle.drive import LedgerCli, said, same_code
from tests.oracle.model import Model, NotModelled, Refused
from tests.oracle.steps import PAYEES, READING_RULES_BUILT, month_end_steps
from tests.oracle.stories import STORIES
from tests.oracle.strategies import PARTIES, model_parties

EXAMPLES = int(os.environ.get("ORACLE_MONTH_END_EXAMPLES", "12"))
# Shrinking a failing month takes minutes of a shared machine; ORACLE_SHRINK=1 turns it on.
PHASES = [Phase.explicit, Phase.generate] + (
    [Phase.shrink] if os.environ.get("ORACLE_SHRINK") else [])


def note(text: str) -> None:
    """Hypothesis's note inside a property; the fixed stories print instead."""
    try:
        hypothesis_note(text)
    except InvalidArgument:
        print(text)


def bank_lines(model: Model, step: dict) -> list[dict]:
    """The statement's lines, made from what the books hold now: money in is one of the
    payments recorded, a few days off; a balance column, right or wrong, is the running
    balance the model expects."""
    h = step["holder"]
    paid = me.payments_into(model, h) if h in model.parties["holder"] else []
    lines = []
    for intent in step["lines"]:
        if "pick" in intent:
            if not paid:
                continue
            _, day, amount = paid[intent["pick"] % len(paid)]
            line = {"date": day + dt.timedelta(days=intent["jitter"]), "amount": amount}
        else:
            line = {"date": intent["date"], "amount": intent["amount"]}
        line["description"] = intent["description"]
        if "reference" in intent:
            line["reference"] = intent["reference"]
        lines.append(line)
    lines.sort(key=lambda line: line["date"])
    if step["balance"] and lines:
        trial = copy.deepcopy(model)
        try:
            ok = me.import_bank(trial, h, lines, PAYEES).exit == 0
        except NotModelled:
            ok = False
        if ok:
            after = 0
            for n in range(len(lines) - 1, -1, -1):
                line = lines[n]
                if n == len(lines) - 1 or lines[n + 1]["date"] != line["date"]:
                    after = 0  # the last line of its day shows the day's closing balance
                line["balance"] = trial.balance(f"holder:{h}:dp", "GBP", line["date"]) - after
                after += line["amount"]
            if step["balance"] == "wrong":
                lines[-1]["balance"] += 1
    return lines


def _lines_named(output: str, problems: list[int]) -> bool:
    """When the model finds exactly one bad line, the ledger's report names it."""
    return len(problems) != 1 or f":{problems[0]}:" in output


def run_step(model: Model, ledger: LedgerCli, index: int, step: dict) -> None:
    kind = step["kind"]
    where = f"step #{index} {step}"
    try:
        if kind == "event":
            raw, open_question = step["raw"], False
            try:
                model.apply(raw, raw["id"])
                want = "accepted"
            except Refused as err:
                want, open_question = err.code, err.open_question
                note(f"model refuses #{index}: {err}")
            got = ledger.event(raw, raw["id"])
            assert same_code(model, raw, raw["id"], got, want, open_question), \
                f"{where}: ledger {got}, model {want}"
        elif kind == "advance":
            out = me.advance(model, step["provider"], step["month"])
            done = ledger.advance(step["provider"], step["month"])
            assert done.exit_code == out.exit, \
                f"{where}: ledger exit {done.exit_code} ({said(done)}), model exit {out.exit}"
        elif kind == "reconcile":
            out = me.reconcile(model, step["provider"], step["month"])
            done, rows = ledger.reconcile(step["provider"], step["month"])
            assert done.exit_code == out.exit, \
                f"{where}: ledger exit {done.exit_code} ({said(done)}), model exit {out.exit}"
            if out.exit == 0:
                opened = {h for h in out.reconciled  # docs/month-end.md: opened by M's end
                          if model.isfs[(h, step["provider"])]["open_date"] <= month_last(
                              month_index(step["month"]))}
                missing = opened - set(rows)
                assert not missing, f"{where}: no report row for {missing}"
                for h in sorted(set(rows) & set(out.rows)):
                    got = {k: rows[h][k] for k in me.REPORT_KEYS}
                    assert got == out.rows[h], f"{where}: report row {h}: ledger {got}, " \
                                               f"model {out.rows[h]}"
        elif kind == "timesheet":
            out = me.import_timesheet(model, step["provider"], step["rows"], step["late"])
            done = ledger.timesheet(step["provider"], step["rows"], step["uk"], step["late"])
            assert done.exit_code == out.exit and _lines_named(done.output, out.problems), \
                f"{where}: ledger exit {done.exit_code} ({said(done)}), model exit " \
                f"{out.exit} lines {out.problems}"
        elif kind == "bank":
            lines = bank_lines(model, step)
            if not lines:
                return
            out = me.import_bank(model, step["holder"], lines, PAYEES)
            done = ledger.bank(step["holder"], lines, PAYEES, step["thousands"])
            assert done.exit_code == out.exit and _lines_named(done.output, out.problems), \
                f"{where} {lines}: ledger exit {done.exit_code} ({said(done)}), model exit " \
                f"{out.exit} lines {out.problems}"
        elif kind == "balances":
            assert ledger.balances(step["as_of"]) == model.balances(step["as_of"]), \
                f"{where}: balances differ"
    except NotModelled as err:
        note(f"not modelled, sent to neither side #{index}: {err}")


def run_steps(kind: str, steps: list[dict]) -> None:
    model = Model(model_parties())
    with tempfile.TemporaryDirectory() as folder, migrated_database(kind, Path(folder)) as url:
        ledger = LedgerCli(url, Path(folder), PARTIES)
        for index, step in enumerate(steps):
            run_step(model, ledger, index, step)
        got, want = ledger.balances(), model.balances()
        assert got == want, "balances differ: " + ", ".join(
            f"{k}: ledger {got.get(k)}, model {want.get(k)}"
            for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k))
        verified = ledger.verify()
        assert verified.exit_code == 0, said(verified)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_month_end_agrees_with_the_documented_rules(kind):
    if kind == "postgres":
        require_postgres()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=PHASES,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.filter_too_much])
    @given(month_end_steps())
    def check(steps):
        run_steps(kind, steps)

    check()


# Stories that only the timesheet reading rules decide wait for them (READING_RULES_BUILT).
READING_STORIES = {"timesheet_files_are_all_or_nothing", "timesheet_times_are_london_wall_clock"}


@pytest.mark.parametrize("story", sorted(s for s in STORIES
                                         if READING_RULES_BUILT or s not in READING_STORIES))
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_each_rule_of_2026_12_06_agrees_with_the_model(kind, story):
    if kind == "postgres":
        require_postgres()
    run_steps(kind, STORIES[story])
