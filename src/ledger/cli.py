"""The `ledger` command (outputs: docs/statements.md#outputs). Thin: parse options, call
the layers below.

Exit status: 0 success; 1 a rejected event, a failed expectation or check; 2 unusable
input or arguments, always as one line on stderr and never a traceback.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from ledger.core.amounts import format_amount
from ledger.errors import LedgerError, UsageError

DB_HELP = "Database URL (default: $LEDGER_DATABASE_URL, else sqlite:///ledger.db)."
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
LEDGER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")


def _ledger_name(_ctx, param, value: str | None) -> str:
    """--ledger NAME, else $LEDGER_NAME, else main (docs/architecture.md#ledgers)."""
    name = value if value is not None else os.environ.get("LEDGER_NAME") or "main"
    if not LEDGER_NAME.match(name):
        where = "--ledger" if value is not None else "$LEDGER_NAME"
        raise click.BadParameter(f"{where} {name[:40]!r} must match [A-Za-z0-9][A-Za-z0-9_-]* "
                                 "(at most 60 characters)")
    return name


def db_option(fn):
    """--db URL and --ledger NAME: every command takes both."""
    fn = click.option("--ledger", "ledger", default=None, metavar="NAME",
                      callback=_ledger_name, expose_value=True,
                      help="Which ledger in the database (default: $LEDGER_NAME, else main)."
                      )(fn)
    return click.option("--db", "db_url", default=None, metavar="URL", help=DB_HELP)(fn)


def _existing_ledger(conn, ledger: str) -> int:
    """A read command's ledger: its id, or exit 2 if the database has no such ledger."""
    from ledger.store.repo import ledger_id_of, ledger_names

    found = ledger_id_of(conn, ledger)
    if found is None:
        names = ", ".join(ledger_names(conn)) or "none yet"
        raise UsageError(f"there is no ledger named {ledger!r} in this database "
                         f"(ledgers: {names})")
    return found


def _engine(db_url: str | None, read_only: bool = False):
    """A write engine (creating or upgrading the schema as needed), or for the read
    commands one that never creates a database, never waits for a writer and works on a
    read-only SQLite file."""
    from ledger.store.schema import open_database

    return open_database(db_url, read_only=read_only)


def _date(_ctx, param, value: str | None) -> dt.date | None:
    """YYYY-MM-DD, a real date, years 1900 to 2199 (docs/rules-trust.md#reading), so no
    date arithmetic on it can overflow."""
    from ledger.domain.base import day

    if value is None:
        return None
    try:
        return day(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _to_output(output: Path | None, write, binary: bool = False) -> None:
    """`write(out)` to standard output, or to FILE whole or not at all."""
    if output is None:
        write(sys.stdout.buffer if binary else sys.stdout)
        return
    from ledger.files import write_whole

    write_whole(output, write, binary, name=f"-o {output}")


_output_option = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                              default=None, help="Write to FILE (whole or not at all).")
_excel_option = click.option("--excel", is_flag=True,
                             help="A byte order mark and CRLF line ends, for spreadsheets.")


@click.group()
@click.version_option(package_name="care-ledger")
def cli() -> None:
    """A double-entry ledger for UK adult social care money."""


@cli.command()
@db_option
def init(db_url: str | None, ledger: str) -> None:
    """Create or upgrade the database schema, and the ledger NAME in it."""
    from ledger.store.repo import DbStore

    engine = _engine(db_url)
    with engine.connect() as conn:
        DbStore(conn, ledger).lock_for_write()
        conn.commit()
    click.echo(f"ready: {engine.url.render_as_string(hide_password=True)} (ledger {ledger})")


@cli.group()
def scenario() -> None:
    """Replay scenario files (the format: docs/scenarios.md)."""


@scenario.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Check every event against the ledger and say what would happen; "
                   "write nothing.")
@db_option
def scenario_run(files: tuple[Path, ...], db_url: str | None, ledger: str,
                 dry_run: bool = False) -> None:
    """Replay each FILE into the ledger; one summary line per file."""
    from contextlib import ExitStack

    from ledger.progress import BulkProgress
    from ledger.scenarios.runner import BATCH_EVENTS, run_scenario
    from ledger.scenarios.schema import ScenarioStream
    from ledger.store.repo import DbStore

    with ExitStack() as opened:
        # Every event of every file is read and checked before anything is written (exit
        # 2, nothing written); then each file is read again, a batch at a time, and
        # replayed on the batched path: one durable transaction per BATCH_EVENTS events
        # (docs/architecture.md#batches, #limits).
        streams = [(path, opened.enter_context(ScenarioStream(path))) for path in files]
        counts = [stream.check() for _, stream in streams]
        if dry_run:
            _dry_run(streams, db_url, ledger)
            return
        engine = _engine(db_url)
        for (path, stream), count in zip(streams, counts, strict=True):
            with BulkProgress(count, f"replaying {path.name}") as bar, \
                    engine.connect() as conn:
                store = DbStore(conn, ledger, batch=True)
                result = run_scenario(store, stream, source=str(path), progress=bar.advance,
                                      commit_every=BATCH_EVENTS)
                store.commit()
            _report_run(path, result)


def _dry_run(streams: list, db_url: str | None, ledger: str) -> None:
    """Every file replayed, in order, inside one transaction that is rolled back: each
    event is checked exactly as a real run would check it, and nothing is written
    (docs/scenarios.md#dry-run). A database that does not exist yet is not created: the
    files are checked against an empty ledger in memory."""
    from ledger.scenarios.runner import run_scenario
    from ledger.store.repo import DbStore
    from ledger.store.schema import database_url, make_engine, upgrade

    url = database_url(db_url)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None
    if path is not None and not Path(path).is_file():
        engine = make_engine("sqlite://")
        upgrade(engine)
    else:
        engine = _engine(db_url)
    with engine.connect() as conn:
        store = DbStore(conn, ledger, batch=True)
        for source, stream in streams:
            result = run_scenario(store, stream, source=str(source))
            _report_run(source, result, dry=True)  # exits 1, rolling back, if it stopped
        conn.rollback()


def _report_run(path: Path, result, dry: bool = False) -> None:
    """One summary line per file; a run that stopped says where and exits 1."""
    journals = f"{result.journals} journal{'' if result.journals == 1 else 's'}"
    if dry:
        click.echo(f"{path}: dry run: {result.applied} would be applied, {result.skipped} "
                   f"already recorded, {result.rejected_as_expected} rejected as expected, "
                   f"{journals} would be posted; nothing was written")
    else:
        click.echo(
            f"{path}: {result.applied} applied, {result.skipped} already recorded, "
            f"{result.rejected_as_expected} rejected as expected, {journals} posted"
        )
    if result.failure:
        _say(result.failure)
        sys.exit(1)


@cli.group()
def isf() -> None:
    """A provider's month end for its Individual Service Funds (docs/month-end.md)."""


def _month_option(fn):
    return click.option("--month", required=True, metavar="YYYY-MM",
                        help="The month (YYYY-MM).")(fn)


def _provider_option(fn):
    return click.option("--provider", required=True, metavar="P",
                        help="The provider's id.")(fn)


def _checked_month(month: str) -> str:
    from ledger.reports.isf_month import month_bounds

    try:
        month_bounds(month)
    except ValueError:
        raise UsageError(f"--month {month[:40]!r} is not a month (YYYY-MM)") from None
    return month


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


@cli.group("dp")
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


def _account_prefix(_ctx, param, value: str | None) -> str | None:
    """An account path or the start of one: at most as long as an account, no control
    characters (docs/rules-trust.md#reading), so it never reaches the database otherwise."""
    from ledger.core.journal import MAX_ACCOUNT_CHARS
    from ledger.core.text import text_problem

    if value is None:
        return None
    problem = text_problem(value, MAX_ACCOUNT_CHARS)
    if problem:
        raise click.BadParameter(f"{value[:40]!r} {problem}")
    return value


@cli.command()
@click.option("--as-of", callback=_date, help="Only postings dated on or before DATE.")
@click.option("--from", "date_from", callback=_date,
              help="With --to: the movement of each account over the period instead.")
@click.option("--to", "date_to", callback=_date, help="The period's last day, inclusive.")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only accounts at or below PREFIX (whole path segments).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@_output_option
@db_option
def balance(as_of: dt.date | None, date_from: dt.date | None, date_to: dt.date | None,
            prefix: str | None, fmt: str, output: Path | None, db_url: str | None,
            ledger: str) -> None:
    """Balances per account and unit; with --from and --to, each account's movement over
    the period (docs/reading.md)."""
    from ledger.reports.balances import balances
    from ledger.reports.reading import movements

    if (date_from or date_to) and as_of:
        raise UsageError("give either --as-of or --from and --to, not both")
    if (date_from is None) != (date_to is None):
        raise UsageError("a period needs both --from and --to")
    if date_from and date_to and date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    with _engine(db_url, read_only=True).connect() as conn:
        lid = _existing_ledger(conn, ledger)
        if date_from and date_to:
            moved = movements(conn, lid, date_from, date_to, prefix)
            _emit(moved, ("account", "unit", "balance", "minor_units"), fmt, output,
                  f"Movements {date_from} to {date_to}")
            return
        rows = balances(conn, as_of, prefix, lid)
    if fmt == "table" and output is None:
        from ledger.reports.render import balance_table

        balance_table(rows, as_of)
        return
    _emit([{"account": r.account, "unit": r.unit.value,
            "balance": format_amount(r.minor, r.unit), "minor_units": r.minor} for r in rows],
          ("account", "unit", "balance", "minor_units"), fmt, output,
          f"Balances as of {as_of}" if as_of else "Balances")


def _emit(rows, columns: tuple[str, ...], fmt: str, output: Path | None, title: str) -> None:
    """Rows as a table, CSV (section 5.4's rules: docs/exports.md#csv) or JSON, to
    standard output or to FILE whole or not at all."""
    from ledger.reports.council_exports import safe

    def write(out) -> None:
        if fmt == "json":
            out.write(json.dumps(list(rows), indent=2, ensure_ascii=False) + "\n")
        elif fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(columns)
            for row in rows:  # amounts stay numbers; only text is guarded
                writer.writerow([safe(v) if isinstance(v, str) and not NUMBER.match(v) else v
                                 for v in (row[c] for c in columns)])
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column)
            for row in rows:
                table.add_row(*(str(row[c]) for c in columns))
            Console(file=out, width=200).print(table)

    _to_output(output, write)


def _reading_options(fn):
    fn = _output_option(fn)
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
                        default="table")(fn)


@cli.command("accounts")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only accounts at or below PREFIX.")
@_reading_options
@db_option
def accounts_command(prefix: str | None, fmt: str, output: Path | None, db_url: str | None,
                     ledger: str) -> None:
    """Every account with postings: its units, first and last dates, and posting count."""
    from ledger.reports.reading import accounts

    with _engine(db_url, read_only=True).connect() as conn:
        rows = accounts(conn, _existing_ledger(conn, ledger), prefix)
    _emit(rows, ("account", "unit", "first", "last", "postings"), fmt, output, "Accounts")


@cli.command("parties")
@click.option("--kind", type=click.Choice(["council", "provider", "holder", "pool"]),
              default=None, help="Only this kind.")
@click.option("--as-of", callback=_date, help="Records as they stood on DATE.")
@_reading_options
@db_option
def parties_command(kind: str | None, as_of: dt.date | None, fmt: str, output: Path | None,
                    db_url: str | None, ledger: str) -> None:
    """Councils, providers, holders and pools."""
    from ledger.reports.reading import parties
    from ledger.store.repo import DbStore

    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        rows = parties(DbStore(conn, ledger), kind, as_of)
    _emit(rows, ("kind", "id", "name", "council"), fmt, output, "Parties")


@cli.command("register")
@click.option("--account", "prefix", required=True, metavar="PREFIX",
              callback=_account_prefix, help="Accounts at or below PREFIX.")
@click.option("--from", "date_from", callback=_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_date, help="Last day, inclusive.")
@_reading_options
@db_option
def register_command(prefix: str, date_from: dt.date | None, date_to: dt.date | None,
                     fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Each posting to the accounts, with its account's running balance."""
    from ledger.reports.reading import register

    with _engine(db_url, read_only=True).connect() as conn:
        rows = list(register(conn, _existing_ledger(conn, ledger), prefix, date_from,
                             date_to))
    _emit(rows, ("date", "journal", "type", "account", "unit", "amount", "minor_units",
                 "running", "running_minor"), fmt, output, f"Register of {prefix}")


@cli.command("print")
@click.option("--account", "prefix", default=None, metavar="PREFIX", callback=_account_prefix,
              help="Only journals touching accounts at or below PREFIX.")
@click.option("--from", "date_from", callback=_date, help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_date, help="Last day, inclusive.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_output_option
@db_option
def print_command(prefix: str | None, date_from: dt.date | None, date_to: dt.date | None,
                  fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Journals with their type, key, memo, reversal link and postings."""
    from ledger.reports.reading import journals, print_text
    from ledger.store.repo import DbStore

    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        rows = journals(DbStore(conn, ledger), prefix, date_from, date_to)
    text = (json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n"
            if fmt == "json" else print_text(rows))
    _to_output(output, lambda out: out.write(text))


def _period(date_from: dt.date | None, date_to: dt.date | None,
            month: str | None) -> tuple[dt.date, dt.date]:
    if month is not None:
        if date_from or date_to:
            raise UsageError("give either --month or --from and --to, not both")
        from ledger.domain.base import MAX_YEAR, MIN_YEAR, day

        try:
            first = day(f"{month}-01")  # the same years as any date: never overflows
        except ValueError:
            raise UsageError(f"--month {month[:40]!r} is not a month (YYYY-MM, years "
                             f"{MIN_YEAR} to {MAX_YEAR})") from None
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return first, following - dt.timedelta(days=1)
    if date_from is None or date_to is None:
        raise UsageError("a statement needs --from and --to (or --month)")
    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    return date_from, date_to


def _statement_options(fn):
    fn = click.option("--from", "date_from", callback=_date, help="First day (YYYY-MM-DD).")(fn)
    fn = click.option("--to", "date_to", callback=_date, help="Last day, inclusive.")(fn)
    fn = click.option("--month", default=None, metavar="YYYY-MM",
                      help="A calendar month instead of --from/--to.")(fn)
    fn = _format_options(fn)
    fn = _output_option(fn)
    return db_option(fn)


def _format_options(fn):
    fn = click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "pdf"]),
                      default="text", help="text (default), json, html or pdf.")(fn)
    fn = click.option("--easy-read", "easy_read", is_flag=True,
                      help="Easy read: short sentences, one idea a line, large type.")(fn)
    fn = click.option("--large-print", "large_print", is_flag=True,
                      help="Large print (18 point text or more).")(fn)
    return fn


def _variant(easy_read: bool, large_print: bool, preference: str | None) -> str:
    """What the reader asked for, else the person's recorded preference
    (docs/statements.md#formats)."""
    from ledger.reports.html import version_for

    if easy_read and large_print:
        raise UsageError("give --easy-read or --large-print, not both")
    return version_for(preference, "easy_read" if easy_read else
                       "large_print" if large_print else None)


def _write_document(document, data: dict, fmt: str, variant: str, output: Path | None) -> None:
    """One statement in the asked format (ledger.reports.html.render_statement)."""
    from ledger.reports.html import render_statement

    content = render_statement(document, data, fmt, variant)
    _to_output(output, lambda out: out.write(content), binary=True)


@cli.group()
def statement() -> None:
    """Statements for a budget holder, a pooling group, a provider or a council."""


@statement.command("holder")
@click.argument("holder")
@_statement_options
def statement_holder(holder: str, date_from, date_to, month, fmt: str, easy_read: bool,
                     large_print: bool, output: Path | None, db_url: str | None,
                     ledger: str) -> None:
    """What HOLDER had, received and spent in a period, and their personal budgets, in
    words. The person's recorded format (easy read, large print) is the default."""
    from ledger.reports.holder_doc import holder_document
    from ledger.reports.statements import holder_statement
    from ledger.store.repo import DbStore

    start, end = _period(date_from, date_to, month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        result = holder_statement(DbStore(conn, ledger), holder, start, end)
    variant = _variant(easy_read, large_print, result.get("statement_format"))
    _write_document(holder_document(result), result, fmt, variant, output)


@statement.command("holders")
@click.option("--council", default=None, metavar="C", help="Every person of council C.")
@click.option("--provider", default=None, metavar="P",
              help="Every person whose ISF provider P holds.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@click.option("--format", "fmt", type=click.Choice(["json", "html", "pdf"]), default="html",
              help="html (default), json or pdf.")
@click.option("--out", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The folder for the files (made if missing): one per person, HOLDER.EXT.")
@db_option
def statement_holders(council: str | None, provider: str | None, month: str, fmt: str,
                      out_dir: Path, db_url: str | None, ledger: str) -> None:
    """One statement file per person of a council or a provider, each in the person's
    recorded version (docs/statements.md#many)."""
    from ledger.progress import BulkProgress
    from ledger.reports.bulk import holders_for, write_holder_statements
    from ledger.store.repo import DbStore

    start, end = _period(None, None, month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        holders = holders_for(store, council=council, provider=provider, month_end=end)
        with BulkProgress(len(holders), "writing statements") as bar:
            written = write_holder_statements(store, holders, start, end, fmt, out_dir,
                                              progress=bar)
    click.echo(f"{written} statements written to {out_dir}")


@statement.command("pool")
@click.argument("pool")
@click.option("--member", default=None, metavar="H",
              help="A member's own copy: says how H appears to the others and marks "
                   "their rows; H's recorded format is the default.")
@_statement_options
def statement_pool(pool: str, member: str | None, date_from, date_to, month, fmt: str,
                   easy_read: bool, large_print: bool, output: Path | None,
                   db_url: str | None, ledger: str) -> None:
    """Who paid what for whom in POOL: each member's share, purchases and their split."""
    from ledger.reports.pool_doc import label_for, pool_document
    from ledger.reports.statements import pool_statement_from_store
    from ledger.store.repo import DbStore

    start, end = _period(date_from, date_to, month)
    preference = label = None
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        result = pool_statement_from_store(store, pool, start, end)
        if member is not None:
            parties = store.parties("holder", as_of=end)
            state = store.get_state("pool", pool) or {}
            if member not in parties or member not in {
                    p["holder"] for p in state.get("history", [])}:
                raise UsageError(f"--member {member}: not a member of pool {pool}")
            label = label_for(state, parties, member)
            preference = parties[member].get("statement_format")
    variant = _variant(easy_read, large_print, preference)
    try:
        document = pool_document(result, member_label=label)
    except ValueError as err:
        raise UsageError(f"--member {member}: {err}") from None
    _write_document(document, result, fmt, variant, output)


@statement.command("provider")
@click.argument("provider")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@_format_options
@_output_option
@db_option
def statement_provider(provider: str, month: str, fmt: str, easy_read: bool,
                       large_print: bool, output: Path | None, db_url: str | None,
                       ledger: str) -> None:
    """Every ISF that PROVIDER holds, for one month, in one document."""
    from ledger.reports.provider_statement import provider_document, provider_statement
    from ledger.store.repo import DbStore

    month = _checked_month(month)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        if store.party("provider", provider) is None:
            raise UsageError(f"provider {provider!r} is not in this ledger")
        result = provider_statement(store, provider, month)
    _write_document(provider_document(result), result, fmt,
                    _variant(easy_read, large_print, None), output)


@statement.command("council")
@click.argument("council")
@click.option("--from", "date_from", required=True, callback=_date, help="First day.")
@click.option("--to", "date_to", required=True, callback=_date, help="Last day, inclusive.")
@_format_options
@_output_option
@db_option
def statement_council(council: str, date_from: dt.date, date_to: dt.date, fmt: str,
                      easy_read: bool, large_print: bool, output: Path | None,
                      db_url: str | None, ledger: str) -> None:
    """Budgets, direct payments, ISFs, pools, contracts and grants of COUNCIL: paid,
    recovered and held."""
    from ledger.reports.council_doc import council_document
    from ledger.reports.council_statement import council_statement
    from ledger.store.repo import DbStore

    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        if store.party("council", council) is None:
            raise UsageError(f"council {council!r} is not in this ledger")
        result = council_statement(store, council, date_from, date_to)
    _write_document(council_document(result), result, fmt,
                    _variant(easy_read, large_print, None), output)


@cli.group()
def export() -> None:
    """Files for other systems (docs/exports.md)."""


@export.command("beancount")
@_output_option
@db_option
def export_beancount(output: Path | None, db_url: str | None, ledger: str) -> None:
    """The whole ledger as a Beancount file: bean-check accepts it and its balances equal
    `ledger balance` (hours as the commodity MIN, in minutes)."""
    from ledger.reports.beancount import write_beancount

    with _engine(db_url, read_only=True).connect() as conn:
        lid = _existing_ledger(conn, ledger)
        _to_output(output, lambda out: write_beancount(conn, out, lid))


def _council_export(kind: str):
    """`ledger export gl|payments --council C --from DATE --to DATE` (docs/exports.md)."""

    @export.command(kind)
    @click.option("--council", required=True, metavar="C", help="The council's id.")
    @click.option("--from", "date_from", required=True, callback=_date,
                  help="First day (YYYY-MM-DD).")
    @click.option("--to", "date_to", required=True, callback=_date,
                  help="Last day, inclusive.")
    @_output_option
    @_excel_option
    @click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
                  help="Finance codes for accounts (docs/exports.md#mapping).")
    @db_option
    def command(council: str, date_from: dt.date, date_to: dt.date, output: Path | None,
                excel: bool, mapping_file: Path | None, db_url: str | None,
                ledger: str) -> None:
        from ledger.reports.council_exports import (
            check_mapped,
            rows_gl,
            rows_payments,
            write_gl,
            write_payments,
        )

        if date_to < date_from:
            raise UsageError(f"--to {date_to} is before --from {date_from}")
        write: Callable[..., int] = write_gl if kind == "gl" else write_payments
        mapping, where = _mapping(mapping_file)
        with _engine(db_url, read_only=True).connect() as conn:
            lid = _existing_ledger(conn, ledger)
            if mapping is not None:  # never a blank code: every unmapped account, no file
                rows = rows_gl if kind == "gl" else rows_payments
                check_mapped(mapping, where, rows(conn, lid, council, date_from, date_to))
            _to_output(output, lambda out: write(conn, lid, council, date_from, date_to, out,
                                                 excel, mapping))

    command.__doc__ = {
        "gl": "Every posting of each journal in the period that touches the council's "
              "accounts, for its general ledger.",
        "payments": "Each payment out of and recovery into the council's funding in the "
                    "period, and their total."}[kind]
    return command


export_gl = _council_export("gl")
export_payments = _council_export("payments")




def _mapping(path: Path | None) -> tuple:
    """(mapping, its name for errors) from `--mapping FILE`, or (None, "")."""
    from ledger.reports.council_exports import read_mapping

    return (read_mapping(path), str(path)) if path is not None else (None, "")


@export.command("dp-monitoring")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--as-of", "as_of", required=True, callback=_date, help="The day (YYYY-MM-DD).")
@click.option("--weeks", default="8", metavar="N",
              help="Weeks of support a person may hold before a review recovers the rest "
                   "(default 8).")
@click.option("--contingency", default="0", metavar="POUNDS",
              help="A contingency each person may also keep (default 0).")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_dp_monitoring(council: str, as_of: dt.date, weeks: str, contingency: str,
                         output: Path | None, excel: bool, mapping_file: Path | None,
                         db_url: str | None, ledger: str) -> None:
    """Every direct-payment account of the council's people on a day: balance, weeks of
    support held, and the surplus a review would recover, with its working. Posts
    nothing."""
    from fractions import Fraction

    from ledger.core.amounts import parse_pence
    from ledger.reports.council_exports import write_dp_monitoring
    from ledger.store.repo import DbStore

    try:
        held_weeks = Fraction(weeks)
        if held_weeks < 0 or held_weeks > 520 or held_weeks.denominator > 100:
            raise ValueError
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"--weeks {weeks[:20]!r} is not a number of weeks from 0 to 520") \
            from None
    try:
        contingency_pence = parse_pence(contingency)
    except LedgerError as err:
        raise UsageError(f"--contingency: {err}") from None
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_dp_monitoring(
            store, council, as_of, held_weeks, contingency_pence, out, excel, *mapping))


@export.command("contracts")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--from", "date_from", required=True, callback=_date, help="First day.")
@click.option("--to", "date_to", required=True, callback=_date, help="Last day, inclusive.")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_contracts(council: str, date_from: dt.date, date_to: dt.date,
                     output: Path | None, excel: bool, mapping_file: Path | None,
                     db_url: str | None, ledger: str) -> None:
    """Per contract and quarter: spend and hours against what was contracted (block
    utilisation, framework call-offs by service and rate, spot purchases, grants)."""
    from ledger.reports.council_exports import write_contracts
    from ledger.store.repo import DbStore

    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_contracts(store, council, date_from, date_to,
                                                       out, excel, *mapping))


@export.command("isf-returns")
@click.option("--council", required=True, metavar="C", help="The council's id.")
@click.option("--month", required=True, metavar="YYYY-MM", help="The month.")
@_output_option
@_excel_option
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path), default=None,
              help="Finance codes for accounts (docs/exports.md#mapping).")
@db_option
def export_isf_returns(council: str, month: str, output: Path | None, excel: bool,
                       mapping_file: Path | None, db_url: str | None, ledger: str) -> None:
    """Per ISF of the council's people, every provider: the month's hours and money
    allocated, delivered, expired and returned, opening and closing."""
    from ledger.reports.council_exports import write_isf_returns
    from ledger.store.repo import DbStore

    month = _checked_month(month)
    mapping = _mapping(mapping_file)
    with _engine(db_url, read_only=True).connect() as conn:
        _existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        _to_output(output, lambda out: write_isf_returns(store, council, month, out, excel,
                                                         *mapping))


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@_output_option
@db_option
def stats(fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Counts of journals, postings and accounts."""
    from ledger.reports.balances import stats as count

    with _engine(db_url, read_only=True).connect() as conn:
        counts = count(conn, _existing_ledger(conn, ledger))
    text = (json.dumps(counts) + "\n" if fmt == "json"
            else "".join(f"{name:>14}  {n}\n" for name, n in counts.items()))
    _to_output(output, lambda out: out.write(text))


@cli.command()
@click.option("--expect-head", default=None, metavar="N:HASH",
              help="Also fail unless the chain still holds this head (from an earlier run).")
@click.option("--db", "db_url", default=None, metavar="URL", help=DB_HELP)
@click.option("--ledger", "only", default=None, metavar="NAME",
              help="Only this ledger (default: $LEDGER_NAME if set, else every ledger).")
def verify(expect_head: str | None, db_url: str | None, only: str | None) -> None:
    """Recompute every invariant from the stored rows, replay the recorded events and
    compare; exit 1 naming the first break. The last line is the chain's head (one line
    per ledger when there are several)."""
    from ledger.scenarios.rebuild import NotReplayable, rebuild_break
    from ledger.store.repo import ledger_names
    from ledger.store.verify import ChainHead, first_break, parse_head

    if only is not None or os.environ.get("LEDGER_NAME"):
        only = _ledger_name(None, None, only)
    expected = None
    if expect_head is not None:
        try:
            expected = parse_head(expect_head)
        except ValueError as err:
            raise UsageError(f"--expect-head: {err}") from None
    heads: list[tuple[str, ChainHead]] = []
    problem = note = None
    with _engine(db_url, read_only=True).connect() as conn:
        if only is not None:
            _existing_ledger(conn, only)
        names = [only] if only is not None else (ledger_names(conn) or ["main"])
        if expected is not None and len(names) > 1:
            raise UsageError("--expect-head needs --ledger NAME when the database holds "
                             f"several ledgers ({', '.join(names)})")
        for name in names:
            head = ChainHead(watch=expected or (-1, ""))  # remember only what is asked
            heads.append((name, head))
            problem = first_break(conn, head, name)
            if problem is None:
                try:
                    problem = rebuild_break(conn, name)
                except NotReplayable as err:
                    note = str(err)
            if problem is not None:
                if len(names) > 1:
                    problem = f"ledger {name}: {problem}"
                break
    if problem is None and expected is not None:
        head = heads[0][1]
        if expected not in head.passed:
            problem = (f"the chain no longer holds head {expected[0]}:{expected[1]}: "
                       "something before it was removed or rewritten")
        else:
            click.echo(f"verify: head {expected[0]}:{expected[1][:12]}... still held; "
                       f"{head.journals - expected[0]} journals added since")
    if note:
        click.echo(f"verify: note: {note}")
    if problem:
        click.echo(f"verify failed: {problem}", err=True)
    else:
        click.echo("verify: every invariant holds"
                   + (f" in {len(heads)} ledgers" if len(heads) > 1 else ""))
    for name, head in heads:
        click.echo(f"head {name}: {head.text()}" if len(heads) > 1 else f"head: {head.text()}")
    if problem:
        sys.exit(1)


@cli.group()
def user() -> None:
    """Sign-ins for the web view (docs/web.md#sign-in)."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, metavar="ROLE",
              help="holder:H, pool:L, provider:P, council:C or auditor; repeat for more.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
@db_option
def user_add(username: str, roles: tuple[str, ...], password_stdin: bool,
             db_url: str | None, ledger: str) -> None:
    """Make a sign-in USERNAME with its roles; the password is read from stdin."""
    from ledger.store.repo import DbStore
    from ledger.web.users import add_user

    password = sys.stdin.readline().rstrip("\r\n")
    engine = _engine(db_url)
    with engine.begin() as conn:
        _existing_ledger(conn, ledger)
        add_user(conn, DbStore(conn, ledger).lid, username, password, list(roles))
    click.echo(f"added {username}: {', '.join(sorted(set(roles)))}")


@user.command("invite")
@click.option("--role", "roles", multiple=True, required=True, metavar="ROLE",
              help="What the invited person may read; repeat for more.")
@click.option("--base-url", default="http://127.0.0.1:8000", show_default=True,
              help="Where the web view is served, for the link.")
@db_option
def user_invite(roles: tuple[str, ...], base_url: str, db_url: str | None,
                ledger: str) -> None:
    """Print a one-time invitation link (valid 14 days) for a new sign-in."""
    from ledger.store.repo import DbStore
    from ledger.web.app import _now
    from ledger.web.users import create_invite

    engine = _engine(db_url)
    with engine.begin() as conn:
        _existing_ledger(conn, ledger)
        token = create_invite(conn, DbStore(conn, ledger).lid, list(roles), None, _now())
    click.echo(f"{base_url.rstrip('/')}/invite/{token}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (localhost only by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (several need a PostgreSQL database).")
@click.option("--https-only", is_flag=True,
              help="Send the session cookie over HTTPS only (behind a TLS proxy).")
@db_option
def serve(host: str, port: int, workers: int, https_only: bool, db_url: str | None,
          ledger: str) -> None:
    """Serve the ledger's statements, read-only, behind a sign-in (docs/web.md)."""
    import os

    import uvicorn

    from ledger.store.schema import database_url
    from ledger.web.app import create_app

    url = database_url(db_url)
    engine = _engine(db_url)  # creates or upgrades the schema once, before any worker
    with engine.connect() as conn:
        _existing_ledger(conn, ledger)
    engine.dispose()
    if workers > 1:
        if url.startswith("sqlite"):
            raise UsageError("--workers above 1 needs a PostgreSQL database")
        os.environ.update(LEDGER_DATABASE_URL=url, LEDGER_NAME=ledger,
                          LEDGER_HTTPS_ONLY="1" if https_only else "0")
        create_app(url, ledger, https_only)  # makes the session key once, before the workers
        _serve_workers(host, port, workers)
        return
    uvicorn.run(create_app(url, ledger, https_only), host=host, port=port,
                proxy_headers=True, log_level="warning")


def _serve_workers(host: str, port: int, workers: int) -> None:
    """Several uvicorn workers on one socket that we bind ourselves: named as TCP, so
    asyncio switches off Nagle's delay on each connection (uvicorn's own bind for several
    workers leaves the protocol out, which costs about 40 ms a reply)."""
    import socket

    from uvicorn import Config
    from uvicorn.supervisors import Multiprocess

    config = Config("ledger.web.app:create_app_from_env", factory=True, host=host, port=port,
                    workers=workers, proxy_headers=True, log_level="warning")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


def _say(message: object) -> None:
    """One line on stderr, whatever the message (a driver's may span several lines)."""
    click.echo("error: " + "; ".join(" ".join(part.split()) for part in str(message)
                                     .splitlines() if part.strip()), err=True)


def main() -> None:
    """Console entry point: a user's mistake is one line on stderr, never a traceback."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        _say("aborted")
        sys.exit(2)
    except click.ClickException as err:
        _say(err.format_message())
        sys.exit(2)
    except UsageError as err:
        _say(err)
        sys.exit(2)
    except LedgerError as err:
        _say(err)
        sys.exit(1)
    except OperationalError as err:
        _say(f"the database could not be used: {err.orig}")
        sys.exit(2)
