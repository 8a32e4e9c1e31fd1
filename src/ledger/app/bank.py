"""`ledger dp import-transactions` (docs/dp-statements.md): a budget holder's bank or card
statement against the ledger, all or nothing.

Lines are read by ledger.imports.bank. Here, under the ledger's lock: money in is matched
to a council payment or contribution already recorded (never posted); money out becomes a
`dp_spend` to the payee the rules name, unless it is already recorded (under its key, or
the key an earlier release gave it: skipped; under its key with another payee, category,
amount or date: refused, saying what changed); then the statement's balance at the end of
each day it gives one must equal the ledger's. Anything it cannot place is a problem on
its line, and nothing is posted. Lines the bank marks pending are listed, never posted
(docs/dp-statements.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.app import db, timesheet
from ledger.app.submit import Outcome, Refusal, submit
from ledger.app.timesheet import problem
from ledger.core.amounts import Unit, format_pence
from ledger.core.items import Item
from ledger.errors import UsageError
from ledger.imports.bank import (
    BankReading,
    BankRules,
    Line,
    payee_for,
    read_bank_rules,
    read_statement,
)
from ledger.reports.isf_month import touching
from ledger.store import models as m
from ledger.store.repo import DbStore

PAYMENTS_IN = ("dp_payment", "contribution")  # what money into the account may match
MATCH_DAYS = 5  # money in matches a recorded payment dated this many days either side


@dataclass
class Imported(timesheet.Imported):
    matched: int = 0  # lines of money in matched to a recorded payment


def import_statement(db_url: str | None, ledger: str, file: Path, holder: str,
                     rules_file: Path | None = None, dry_run: bool = False,
                     month: str | None = None) -> Imported:
    rules = read_bank_rules(rules_file) if rules_file is not None else BankRules()
    reading = read_statement(file, holder, rules, month)
    with db.writing(db_url, ledger) as store:
        return post_lines(store, file, holder, rules, reading, dry_run)


def _payments_in(store: DbStore, account: str) -> list[tuple]:
    """(date, pence, key) of each payment recorded into the account."""
    return [(j.date, sum(p.amount_minor for p in j.postings if p.account == account), j.key)
            for j in store.load_journals(m.Journal.id.in_(touching(store, account)),
                                         m.Journal.type.in_(PAYMENTS_IN))]


def changes(recorded: dict, event: dict) -> str:
    """What differs between a recorded spend and a line ("payee was 'TESCO', now
    'AMAZON'"), or "" if nothing does."""
    return "; ".join(f"{name} was {_shown(name, recorded.get(name))}, now "
                     f"{_shown(name, event.get(name))}"
                     for name in ("date", "amount", "payee", "category")
                     if recorded.get(name) != event.get(name))


def _shown(name: str, value: object) -> str:
    if value is None:
        return "none"
    return f"£{value}" if name == "amount" else str(value) if name == "date" else repr(value)


def _spend(file: Path, holder: str, rules: BankRules, line: Line,
           spends: dict[str, dict]) -> Item | Refusal | None:
    """Money out: its `dp_spend`, or None if it is already recorded (under the key an
    earlier release gave it, or under its key with the same content), or a refusal."""
    if line.legacy_key in spends:
        return None
    rule = payee_for(rules, line.description)
    event = {"date": line.date.isoformat(), "type": "dp_spend", "holder": holder,
             "payee": rule.payee if rule else None, "amount": format_pence(abs(line.pence)),
             **({"category": rule.category} if rule and rule.category else {})}
    recorded = spends.get(line.key)
    if recorded is not None:
        if rule is None:  # the payee rules are for lines not yet posted
            event.update({k: recorded.get(k) for k in ("payee", "category")})
        changed = changes(recorded, event)
        return None if not changed else problem(
            file, line.line, f"changed since it was imported ({changed}): the recorded "
                             "spend stands; check the line and the payee rules")
    if rule is None:
        return problem(file, line.line, f"no payee rule matches {line.description!r}; "
                                        "add one to the rules file")
    return Item(event, line.key, str(file), line.line)


def post_lines(store: DbStore, file: Path, holder: str, rules: BankRules,
               reading: BankReading, dry_run: bool = False) -> Imported:
    account = f"holder:{holder}:dp"
    lines, problems = reading.lines, reading.problems
    done = Imported(file, Outcome(), dry_run=dry_run, left_out=len(reading.skipped),
                    pending=list(reading.pending))

    def plan(locked: DbStore) -> Iterator[Item | Refusal]:
        if locked.party("holder", holder) is None:
            raise UsageError(f"holder {holder!r} is not in ledger {locked.ledger!r}")
        for at, why in problems:
            yield problem(file, at, why)
        recorded = _payments_in(locked, account)
        spends = locked.recorded_payloads([k for line in lines if line.pence < 0
                                           for k in (line.key, line.legacy_key) if k])
        used: set[str] = set()
        for line in lines:
            pounds = format_pence(abs(line.pence))
            if line.pence > 0:
                near = sorted((abs((d - line.date).days), key) for d, pence, key in recorded
                              if pence == line.pence and key not in used
                              and abs((d - line.date).days) <= MATCH_DAYS)
                if near:
                    used.add(near[0][1])
                    done.matched += 1
                else:
                    yield problem(file, line.line, (
                        f"£{pounds} in on {line.date} matches no council payment or "
                        f"contribution recorded within {MATCH_DAYS} days; record it first, "
                        "then import again"))
                continue
            outcome = _spend(file, holder, rules, line, spends)
            if outcome is None:
                done.recorded += 1
            else:
                yield outcome

    def balances(locked: DbStore) -> list[Refusal]:
        """The bank's balance against the ledger's, at the end of each day it gives one."""
        for index, line in enumerate(lines):
            last_of_day = index + 1 == len(lines) or lines[index + 1].date != line.date
            if line.balance is None or not last_of_day:
                continue
            ours = locked.balance_as_of(account, Unit.GBP, line.date)
            if ours != line.balance:
                return [problem(file, line.line, (
                    f"the statement's balance is £{format_pence(line.balance)} but the "
                    f"ledger's {account} is £{format_pence(ours)} at the end of "
                    f"{line.date}"))]
        return []

    def kept(item: Item, status: str) -> None:
        if status == "applied":
            done.posted.append(item)

    done.outcome = submit(store, plan, atomic=True, dry_run=dry_run, progress=kept,
                          check=balances)
    return done


__all__ = ["Imported", "import_statement", "post_lines"]
