"""`ledger init`, `ledger stats` and `ledger verify`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ledger.cli.common import (
    DB_HELP,
    _engine,
    _existing_ledger,
    _ledger_name,
    _output_option,
    _to_output,
    db_option,
)
from ledger.errors import UsageError


@click.command()
@db_option
def init(db_url: str | None, ledger: str) -> None:
    """Create or upgrade the database schema, and the ledger NAME in it."""
    from ledger.store.repo import DbStore

    engine = _engine(db_url)
    with engine.connect() as conn:
        DbStore(conn, ledger).lock_for_write()
        conn.commit()
    click.echo(f"ready: {engine.url.render_as_string(hide_password=True)} (ledger {ledger})")


@click.command()
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


@click.command()
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

