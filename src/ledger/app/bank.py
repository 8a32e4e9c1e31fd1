"""`ledger dp import-transactions` (docs/dp-statements.md): a budget holder's bank or card
statement against the ledger, all or nothing.

Lines are read by ledger.imports.bank. Here, under the ledger's lock: money in is matched
to a council payment or contribution already recorded (never posted); money out becomes a
`dp_spend` to the payee the rules name; then the statement's balance at the end of each
day it gives one must equal the ledger's. Anything it cannot place is a problem on its
line, and nothing is posted.
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
                     rules_file: Path | None = None, dry_run: bool = False) -> Imported:
    rules = read_bank_rules(rules_file) if rules_file is not None else BankRules()
    lines, problems = read_statement(file, holder, rules)
    with db.writing(db_url, ledger) as store:
        return post_lines(store, file, holder, rules, lines, problems, dry_run)


def _payments_in(store: DbStore, account: str) -> list[tuple]:
    """(date, pence, key) of each payment recorded into the account."""
    return [(j.date, sum(p.amount_minor for p in j.postings if p.account == account), j.key)
            for j in store.load_journals(m.Journal.id.in_(touching(store, account)),
                                         m.Journal.type.in_(PAYMENTS_IN))]


def post_lines(store: DbStore, file: Path, holder: str, rules: BankRules, lines: list[Line],
               problems: list[tuple[int, str]], dry_run: bool = False) -> Imported:
    account = f"holder:{holder}:dp"
    done = Imported(file, Outcome(), dry_run=dry_run)

    def plan(locked: DbStore) -> Iterator[Item | Refusal]:
        if locked.party("holder", holder) is None:
            raise UsageError(f"holder {holder!r} is not in ledger {locked.ledger!r}")
        for at, why in problems:
            yield problem(file, at, why)
        recorded = _payments_in(locked, account)
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
            rule = payee_for(rules, line.description)
            if rule is None:
                yield problem(file, line.line, f"no payee rule matches {line.description!r}; "
                                               "add one to the rules file")
                continue
            event = {"date": line.date.isoformat(), "type": "dp_spend", "holder": holder,
                     "payee": rule.payee, "amount": pounds,
                     **({"category": rule.category} if rule.category else {})}
            yield Item(event, line.key, str(file), line.line)

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
