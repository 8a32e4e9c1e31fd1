"""What every `ledger` command shares: the --db and --ledger options, dates,
output files and one-line errors."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
from pathlib import Path

import click

from ledger.errors import UsageError

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
    from ledger.app.db import existing_ledger

    return existing_ledger(conn, ledger)


def _engine(db_url: str | None, read_only: bool = False):
    """A write engine (creating or upgrading the schema as needed), or for the read
    commands one that never creates a database, never waits for a writer and works on a
    read-only SQLite file (ledger.app.db)."""
    from ledger.app.db import engine

    return engine(db_url, read_only=read_only)


def _date(_ctx, param, value: str | None) -> dt.date | None:
    """YYYY-MM-DD, a real date, years 1900 to 2199 (docs/rules-trust.md#reading), so no
    date arithmetic on it can overflow."""
    from ledger.core.calendar import parse_day as day

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


def _reading_options(fn):
    fn = _output_option(fn)
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]),
                        default="table")(fn)


def _period(date_from: dt.date | None, date_to: dt.date | None,
            month: str | None) -> tuple[dt.date, dt.date]:
    if month is not None:
        if date_from or date_to:
            raise UsageError("give either --month or --from and --to, not both")
        from ledger.core.calendar import MAX_YEAR, MIN_YEAR, month_bounds

        try:
            return month_bounds(month)  # the same years as any date: never overflows
        except ValueError:
            raise UsageError(f"--month {month[:40]!r} is not a month (YYYY-MM, years "
                             f"{MIN_YEAR} to {MAX_YEAR})") from None
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


def _say(message: object) -> None:
    """One line on stderr, whatever the message (a driver's may span several lines)."""
    click.echo("error: " + "; ".join(" ".join(part.split()) for part in str(message)
                                     .splitlines() if part.strip()), err=True)


def _checked_month(month: str) -> str:
    from ledger.core.calendar import parse_month

    try:
        parse_month(month)
    except ValueError:
        raise UsageError(f"--month {month[:40]!r} is not a month (YYYY-MM)") from None
    return month


def _report_import(done, would_post, summary: str) -> None:
    """An import's answer (ledger.app.timesheet.Imported). Problems: each
    `FILE:LINE: reason`, then a count, exit 2. Otherwise, on a dry run, each event that
    would be posted (`would_post(event)`, after its place); each pending bank line, never
    posted; then the summary, with what else happened when anything did."""
    from ledger.core.amounts import format_pence

    file, problems = done.file, done.problems
    if problems:
        for line, why in problems:
            click.echo(f"{file}:{line}: {why}", err=True)
        click.echo(f"{file}: {len(problems)} problem{'' if len(problems) == 1 else 's'}; "
                   "nothing was posted", err=True)
        sys.exit(2)
    if done.dry_run:
        for item in done.posted:
            click.echo(f"{item.where()}: {would_post(item.event)}")
    for line in done.pending:
        sign = "-" if line.pence < 0 else ""
        click.echo(f"{file}:{line.line}: pending, not posted: {line.description} "
                   f"{sign}£{format_pence(abs(line.pence))}")
    summary += "".join(_import_extras(done))
    if done.dry_run:
        click.echo(f"{file}: dry run: {summary}; nothing was written")
    else:
        click.echo(f"{file}: {summary}")


def _import_extras(done) -> list[str]:
    """The summary's counts beyond posted and already recorded, only those not zero."""
    def plural(n: int, one: str, many: str) -> str:
        return f", {n} {one if n == 1 else many}"

    extras = []
    if done.left_out:
        extras.append(f", {done.left_out} left out by skip rules")
    if done.replaced:
        extras.append(f"{plural(done.replaced, 'changed visit', 'changed visits')} replaced")
    if done.late:
        months = sorted(done.late)
        extras.append(f"{plural(sum(done.late.values()), 'late visit', 'late visits')} "
                      f"recorded in {', '.join(months[:-1]) + ' and ' if months[1:] else ''}"
                      f"{months[-1]}")
    if done.pending:
        extras.append(f"{plural(len(done.pending), 'pending line', 'pending lines')} "
                      "not posted")
    return extras
