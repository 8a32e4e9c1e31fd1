"""`ledger dp import-transactions`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ledger.cli.common import (
    _engine,
    db_option,
)
from ledger.errors import UsageError


@click.group("dp")
def dp_group() -> None:
    """Direct payments: a budget holder's bank or card statement (docs/dp-statements.md)."""


@dp_group.command("import-transactions")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--holder", required=True, metavar="H", help="The budget holder's id.")
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="Column mapping and payee rules (docs/dp-statements.md#rules).")
@click.option("--dry-run", is_flag=True, help="Check and print what would be posted.")
@db_option
def dp_import_transactions(file: Path, holder: str, rules_file: Path | None, dry_run: bool,
                           db_url: str | None, ledger: str) -> None:
    """Money out of the direct-payment account becomes dp_spend; money in is matched to
    the council payments and contributions recorded; anything it cannot place is listed
    and nothing is posted."""
    from ledger.core.amounts import Unit, format_pence
    from ledger.imports.bank import (
        MATCH_DAYS,
        BankRules,
        payee_for,
        read_bank_rules,
        read_statement,
    )
    from ledger.reports.isf_month import touching
    from ledger.scenarios.runner import EventFailed, apply_event
    from ledger.store import models as m
    from ledger.store.repo import BatchRefused, DbStore

    rules = read_bank_rules(rules_file) if rules_file is not None else BankRules()
    lines, problems = read_statement(file, holder, rules)
    account = f"holder:{holder}:dp"
    engine = _engine(db_url)
    posted, skipped, matched = [], 0, 0
    with engine.connect() as conn:
        store = DbStore(conn, ledger, batch=True)
        if store.party("holder", holder) is None:
            raise UsageError(f"holder {holder!r} is not in ledger {ledger!r}")
        recorded = [  # (date, pence, key) of each payment into the account
            (j.date, sum(p.amount_minor for p in j.postings if p.account == account), j.key)
            for j in store.load_journals(m.Journal.id.in_(touching(store, account)),
                                         m.Journal.type.in_(["dp_payment", "contribution"]))]
        used: set[str] = set()
        store.prefetch_events([line.key for line in lines])
        for line in lines:
            pounds = format_pence(abs(line.pence))
            if line.pence > 0:
                near = sorted((abs((d - line.date).days), key) for d, pence, key in recorded
                              if pence == line.pence and key not in used
                              and abs((d - line.date).days) <= MATCH_DAYS)
                if near:
                    used.add(near[0][1])
                    matched += 1
                else:
                    problems.append((line.line, (
                        f"£{pounds} in on {line.date} matches no council payment or "
                        f"contribution recorded within {MATCH_DAYS} days; record it first, "
                        "then import again")))
                continue
            rule = payee_for(rules, line.description)
            if rule is None:
                problems.append((line.line, f"no payee rule matches {line.description!r}; "
                                            "add one to the rules file"))
                continue
            event = {"date": line.date.isoformat(), "type": "dp_spend", "holder": holder,
                     "payee": rule.payee, "amount": pounds,
                     **({"category": rule.category} if rule.category else {})}
            try:
                outcome, _ = apply_event(store, event, line.key, source=str(file))
            except EventFailed as err:
                problems.append((line.line, str(err)))
                continue
            if outcome == "applied":
                posted.append((line, event))
            else:
                skipped += 1
        if not problems:  # the bank's balance against the ledger's, at each day's end
            for index, line in enumerate(lines):
                last_of_day = index + 1 == len(lines) or lines[index + 1].date != line.date
                if line.balance is None or not last_of_day:
                    continue
                ours = store.balance_as_of(account, Unit.GBP, line.date)
                if ours != line.balance:
                    problems.append((line.line, (
                        f"the statement's balance is £{format_pence(line.balance)} but the "
                        f"ledger's {account} is £{format_pence(ours)} at the end of "
                        f"{line.date}")))
                    break
        if not problems and not dry_run:
            try:
                store.commit()
            except BatchRefused as err:
                at = next(x.line for x in lines if x.key == err.event_key)
                problems.append((at, str(err.error)))
        if problems or dry_run:
            conn.rollback()
    if problems:
        for at, why in sorted(problems):
            click.echo(f"{file}:{at}: {why}", err=True)
        click.echo(f"{file}: {len(problems)} problem{'' if len(problems) == 1 else 's'}; "
                   "nothing was posted", err=True)
        sys.exit(2)
    if dry_run:
        for line, event in posted:
            click.echo(f"{file}:{line.line}: would post a spend of £{event['amount']} to "
                       f"{event['payee']} on {event['date']}")
        click.echo(f"{file}: dry run: {len(posted)} spends would be posted, {skipped} already "
                   f"recorded, {matched} payments in matched; nothing was written")
    else:
        click.echo(f"{file}: {len(posted)} spends posted, {skipped} already recorded, "
                   f"{matched} payments in matched")

