"""`ledger isf`: a provider's month end and timesheets."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from ledger.cli.common import (
    _checked_month,
    _engine,
    _say,
    db_option,
)
from ledger.errors import UsageError


@click.group()
def isf() -> None:
    """A provider's month end for its Individual Service Funds (docs/month-end.md)."""


def _month_option(fn):
    return click.option("--month", required=True, metavar="YYYY-MM",
                        help="The month (YYYY-MM).")(fn)


def _provider_option(fn):
    return click.option("--provider", required=True, metavar="P",
                        help="The provider's id.")(fn)




def _month_end(db_url: str | None, ledger: str, provider: str, month: str,
               events_for) -> tuple[int, int]:
    """Post, in one transaction, the events `events_for(store)` gives, each under its own
    key (so running again posts nothing). Any refusal: nothing posted, exit 1."""
    from ledger.scenarios.runner import EventFailed, apply_event
    from ledger.store.repo import BatchRefused, DbStore

    engine = _engine(db_url)
    posted = skipped = 0
    with engine.connect() as conn:
        store = DbStore(conn, ledger, batch=True)
        if store.party("provider", provider) is None:
            raise UsageError(f"provider {provider!r} is not in ledger {ledger!r}")
        planned = events_for(store)
        store.prefetch_events([key for key, _ in planned])
        for key, event in planned:
            try:
                outcome, _ = apply_event(store, event, key)
            except EventFailed as err:
                conn.rollback()
                _say(f"{event['holder']}: {event['type']} {month}: {err}; nothing was posted")
                sys.exit(1)
            posted += outcome == "applied"
            skipped += outcome == "skipped"
        try:
            store.commit()
        except BatchRefused as err:
            conn.rollback()
            _say(f"{err.event_key}: {err.error}; nothing was posted")
            sys.exit(1)
    return posted, skipped


@isf.command("advance")
@_provider_option
@_month_option
@db_option
def isf_advance(provider: str, month: str, db_url: str | None, ledger: str) -> None:
    """An isf_advance for MONTH of every ISF of PROVIDER open on its first day and not
    yet advanced for it."""
    from ledger.reports.isf_month import month_bounds, open_on, provider_isfs

    month = _checked_month(month)
    first, _ = month_bounds(month)

    def events(store):
        return [(f"isf-month-end/{provider}/{s['holder']}/{month}/advance",
                 {"date": first.isoformat(), "type": "isf_advance", "holder": s["holder"],
                  "provider": provider, "month": month})
                for s in provider_isfs(store, provider)
                if open_on(s, first) and month not in s["advanced"]]

    posted, skipped = _month_end(db_url, ledger, provider, month, events)
    click.echo(f"{provider} {month}: {posted} advance{'' if posted == 1 else 's'} posted"
               + (f", {skipped} already recorded" if skipped else ""))


@isf.command("reconcile")
@_provider_option
@_month_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
              default="table")
@click.option("--tolerance", default="10", metavar="PERCENT",
              help="Flag a person whose hours delivered differ from the month's hours by "
                   "more than this percent (default 10).")
@db_option
def isf_reconcile(provider: str, month: str, fmt: str, tolerance: str, db_url: str | None,
                  ledger: str) -> None:
    """An isf_reconcile for MONTH of every ISF of PROVIDER not yet reconciled for it
    (dated the month's last day), then the month's report. Running it again posts nothing
    and prints the same report."""
    from fractions import Fraction

    from ledger.domain.base import month_index
    from ledger.reports.isf_month import month_bounds, provider_isfs, report
    from ledger.store.repo import DbStore

    month = _checked_month(month)
    try:
        percent = Fraction(tolerance)
        if percent < 0 or percent > 1000:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--tolerance {tolerance[:20]!r} is not a percent from 0 to "
                         "1000") from None
    first, last = month_bounds(month)

    def events(store):
        out = []
        for s in provider_isfs(store, provider):
            done = s["last_reconciled"]
            if s["closed"] is not None or s["opened"] > last.isoformat() or (
                    done is not None and month_index(done) >= month_index(month)):
                continue
            out.append((f"isf-month-end/{provider}/{s['holder']}/{month}/reconcile",
                        {"date": last.isoformat(), "type": "isf_reconcile",
                         "holder": s["holder"], "provider": provider, "month": month}))
        return out

    _month_end(db_url, ledger, provider, month, events)
    with _engine(db_url, read_only=True).connect() as conn:
        result = report(DbStore(conn, ledger), provider, month, percent)
    _print_month_report(result, fmt)


@isf.command("import-timesheet")
@click.argument("file", type=click.Path(path_type=Path))
@_provider_option
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="A column-mapping rules file for another export's layout.")
@click.option("--dry-run", is_flag=True, help="Check the file and print what would be "
              "posted; post nothing.")
@db_option
def isf_import_timesheet(file: Path, provider: str, rules_file: Path | None, dry_run: bool,
                         db_url: str | None, ledger: str) -> None:
    """Each row of a timesheet CSV as an isf_delivery for isf:HOLDER:PROVIDER
    (docs/month-end.md#timesheets). The whole file is checked first: any problem, and
    nothing is posted (exit 2, every problem as FILE:LINE: reason)."""
    from ledger.imports.timesheet import read_rules, read_timesheet
    from ledger.scenarios.runner import EventFailed, apply_event
    from ledger.store.repo import BatchRefused, DbStore

    rules = read_rules(rules_file) if rules_file is not None else None
    rows, problems = read_timesheet(file, provider, rules)
    engine = _engine(db_url)
    posted: list = []
    skipped = 0
    with engine.connect() as conn:
        store = DbStore(conn, ledger, batch=True)
        if store.party("provider", provider) is None:
            raise UsageError(f"provider {provider!r} is not in ledger {ledger!r}")
        store.prefetch_events([row.key for row in rows])
        for row in rows:
            state = store.get_state("isf", f"{row.event['holder']}:{provider}")
            if state is None or state["opened"] > row.event["date"] or (
                    state["closed"] is not None and state["closed"] <= row.event["date"]):
                if store.party("holder", row.event["holder"]) is None:
                    problems.append((row.line, f"unknown holder {row.event['holder']!r}"))
                else:
                    problems.append((row.line, f"{row.event['holder']} has no open ISF with "
                                               f"{provider} on {row.event['date']}"))
                continue
            try:
                outcome, _ = apply_event(store, row.event, row.key, source=str(file))
            except EventFailed as err:
                problems.append((row.line, str(err)))
                continue
            if outcome == "applied":
                posted.append(row)
            else:
                skipped += 1
        if not problems and not dry_run:
            try:
                store.commit()
            except BatchRefused as err:
                line = next(r.line for r in rows if r.key == err.event_key)
                problems.append((line, str(err.error)))
        if problems or dry_run:
            conn.rollback()
    if problems:
        for line, why in sorted(problems):
            click.echo(f"{file}:{line}: {why}", err=True)
        click.echo(f"{file}: {len(problems)} problem{'' if len(problems) == 1 else 's'}; "
                   "nothing was posted", err=True)
        sys.exit(2)
    if dry_run:
        for row in posted:
            e = row.event
            click.echo(f"{file}:{row.line}: would post {e['hours']} for {e['holder']} on "
                       f"{e['date']}")
        click.echo(f"{file}: dry run: {len(posted)} would be posted, {skipped} already "
                   "recorded; nothing was written")
    else:
        click.echo(f"{file}: {len(posted)} deliveries posted, {skipped} already recorded")


def _print_month_report(result: dict, fmt: str) -> None:
    from ledger.reports.isf_month import ROW_KEYS

    rows = [*result["isfs"], result["totals"]]
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    elif fmt == "csv":
        out = csv.writer(sys.stdout, lineterminator="\r\n")
        out.writerow(ROW_KEYS)
        for row in rows:
            out.writerow([row[key] for key in ROW_KEYS])
    else:
        from ledger.reports.render import month_end_table

        month_end_table(result)

