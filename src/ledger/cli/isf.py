"""`ledger isf`: a provider's month end and timesheets, doors onto `ledger.app.month_end`
and `ledger.app.timesheet`."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from ledger.cli.common import _checked_month, _report_import, _say, db_option
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


def _refused(done) -> None:
    """Every refusal of a month end on its own line; nothing was posted: exit 1."""
    from ledger.app.month_end import refusal_text

    for refusal in done.outcome.refusals:
        _say(f"{refusal_text(refusal)}; nothing was posted")
    sys.exit(1)


def _skipped(done, err: bool = False) -> None:
    for skip in done.skipped:
        click.echo(f"{done.provider} {done.month}: {skip.holder} left alone: {skip.why}",
                   err=err)


@isf.command("advance")
@_provider_option
@_month_option
@db_option
def isf_advance(provider: str, month: str, db_url: str | None, ledger: str) -> None:
    """An isf_advance for MONTH of every ISF of PROVIDER open in it and still open, not
    yet advanced for it (docs/month-end.md#which-isfs)."""
    from ledger.app.month_end import advance

    done = advance(db_url, ledger, provider, _checked_month(month))
    if not done.ok:
        _refused(done)
    posted, skipped = done.outcome.applied, done.outcome.skipped
    click.echo(f"{provider} {done.month}: {posted} advance{'' if posted == 1 else 's'} "
               "posted" + (f", {skipped} already recorded" if skipped else ""))
    _skipped(done)


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
    """An isf_reconcile for MONTH of every ISF of PROVIDER advanced for it and not yet
    reconciled (dated the month's last day), then the month's report. Running it again
    posts nothing and prints the same report."""
    from fractions import Fraction

    from ledger.app.month_end import reconcile

    month = _checked_month(month)
    try:
        percent = Fraction(tolerance)
        if percent < 0 or percent > 1000:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--tolerance {tolerance[:20]!r} is not a percent from 0 to "
                         "1000") from None
    done = reconcile(db_url, ledger, provider, month, percent)
    if not done.ok:
        _refused(done)
    result = done.report
    assert result is not None  # made whenever the reconciliations went through
    if done.skipped and fmt == "json":  # in the report, so its reader sees them
        result = {**result, "left_alone": [{"holder": s.holder, "why": s.why}
                                           for s in done.skipped]}
    _print_month_report(result, fmt)
    if fmt != "json":
        _skipped(done, err=fmt == "csv")  # a CSV's standard output is the rows alone


@isf.command("import-timesheet")
@click.argument("file", type=click.Path(path_type=Path))
@_provider_option
@click.option("--rules", "rules_file", type=click.Path(path_type=Path), default=None,
              help="A rules file for another export's layout (docs/month-end.md#rules).")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="Refuse every row dated outside this month.")
@click.option("--replace-changed", is_flag=True, help="A visit changed since it was "
              "imported: reverse the recorded one and record it as it is now.")
@click.option("--allow-identical-rows", is_flag=True, help="Rows identical in every "
              "column are separate visits, not a likely duplicate.")
@click.option("--late-to-open-month", is_flag=True, help="A row in a month already "
              "reconciled: record it in the open month, with the day it was worked.")
@click.option("--dry-run", is_flag=True, help="Check the file and print what would be "
              "posted; post nothing.")
@db_option
def isf_import_timesheet(file: Path, provider: str, rules_file: Path | None,
                         month: str | None, replace_changed: bool,
                         allow_identical_rows: bool, late_to_open_month: bool,
                         dry_run: bool, db_url: str | None, ledger: str) -> None:
    """Each row of a timesheet CSV as an isf_delivery for isf:HOLDER:PROVIDER
    (docs/month-end.md#timesheets). The whole file is checked first: any problem, and
    nothing is posted (exit 2, every problem as FILE:LINE: reason)."""
    from ledger.app.timesheet import Options, import_timesheet

    options = Options(replace_changed, allow_identical_rows, late_to_open_month)
    done = import_timesheet(db_url, ledger, file, provider, rules_file, dry_run,
                            _checked_month(month) if month is not None else None, options)
    n = done.count("isf_delivery")
    _report_import(done, _would_post,
                   f"{n} would be posted, {done.already} already recorded" if dry_run
                   else f"{n} deliveries posted, {done.already} already recorded")


def _would_post(event: dict) -> str:
    if event["type"] == "reverse":
        return f"would reverse {event['event']} on {event['date']} ({event['reason']})"
    worked = f" (worked {event['worked_on']})" if event.get("worked_on") else ""
    return f"would post {event['hours']} for {event['holder']} on {event['date']}{worked}"


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
