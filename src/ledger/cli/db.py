"""`ledger init`, `ledger stats` and `ledger verify`: doors onto `ledger.app.db` and
`ledger.app.verify`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ledger.cli.common import DB_HELP, _ledger_name, _output_option, _to_output, db_option


@click.command()
@db_option
def init(db_url: str | None, ledger: str) -> None:
    """Create or upgrade the database schema, and the ledger NAME in it."""
    from ledger.app import db

    click.echo(f"ready: {db.init(db_url, ledger)} (ledger {ledger})")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@_output_option
@db_option
def stats(fmt: str, output: Path | None, db_url: str | None, ledger: str) -> None:
    """Counts of journals, postings and accounts."""
    from ledger.app import db

    counts = db.stats(db_url, ledger)
    text = (json.dumps(counts) + "\n" if fmt == "json"
            else "".join(f"{name:>14}  {n}\n" for name, n in counts.items()))
    _to_output(output, lambda out: out.write(text))


@click.command()
@click.option("--expect-head", default=None, metavar="N:HASH",
              help="Also fail unless the chain still holds this head (from an earlier run).")
@click.option("--expect-audit-head", default=None, metavar="N:HASH",
              help="Also fail unless the audit chain (sign-ins, sessions, reads) still holds "
                   "this head (the `audit:` line of an earlier run).")
@click.option("--since-checkpoint", is_flag=True,
              help="Check every hash and link of the chain, but replay only the records "
                   "after the newest checkpoint, from the state it holds (a ledger with no "
                   "checkpoint is replayed whole, and a line says so). Plain verify is the "
                   "full proof; docs/rules-trust.md#checkpoints says what each proves.")
@click.option("--db", "db_url", default=None, metavar="URL", help=DB_HELP)
@click.option("--ledger", "only", default=None, metavar="NAME",
              help="Only this ledger (default: $LEDGER_NAME if set, else every ledger).")
def verify(expect_head: str | None, expect_audit_head: str | None, since_checkpoint: bool,
           db_url: str | None, only: str | None) -> None:
    """Recompute every invariant from the stored rows, replay the recorded events and
    compare; exit 1 naming the first break. The last line is the chain's head (one line
    per ledger when there are several)."""
    from ledger.app.verify import verify as check

    if only is not None or os.environ.get("LEDGER_NAME"):
        only = _ledger_name(None, None, only)
    found = check(db_url, only, expect_head, expect_audit_head, since_checkpoint)
    for to_stderr, line in found.lines:
        click.echo(line, err=to_stderr)
    if not found.ok:
        sys.exit(1)


@click.command()
@db_option
def checkpoint(db_url: str | None, ledger: str) -> None:
    """Prove the ledger as `verify --since-checkpoint` does and, when every invariant
    holds, record the state the replay rebuilt as a checkpoint in the chain, so later
    `verify --since-checkpoint` runs replay only what comes after it. Exit 1 naming the
    first break, with nothing written. Run it at each month end
    (docs/rules-trust.md#checkpoints); the last line is the chain's new head."""
    from ledger.app.verify import checkpoint as make

    done = make(db_url, ledger)
    if done.problem is not None:
        click.echo(f"checkpoint failed: {done.problem}", err=True)
        sys.exit(1)
    for line in done.lines:
        click.echo(line)


@click.group("db")
def db_group() -> None:
    """The database itself: spreading it over a Citus cluster (docs/scaling.md)."""


@db_group.command("distribute")
@click.option("--shard-count", type=int, default=None, metavar="N",
              help="Shards per table (default: the cluster's citus.shard_count, 32).")
@click.option("--db", "db_url", default=None, metavar="URL", help=DB_HELP)
def distribute(shard_count: int | None, db_url: str | None) -> None:
    """Spread every ledger's books over the Citus cluster whose coordinator --db names:
    each table distributed by ledger (a ledger's rows together on one worker), ledger
    names copied to every node, every guard on every shard. Run once, after the schema
    is created; running it again changes nothing."""
    from ledger.app import db

    done = db.distribute(db_url, shard_count)
    if done.already:
        click.echo(f"already distributed: {done.shard_count} shards per table over "
                   f"{len(done.workers)} workers ({', '.join(done.workers)})")
    else:
        click.echo(f"distributed: {done.shard_count} shards per table over "
                   f"{len(done.workers)} workers ({', '.join(done.workers)}); "
                   f"{done.guards} guards on every shard")


@db_group.command("placements")
@click.option("--db", "db_url", default=None, metavar="URL", help=DB_HELP)
def placements(db_url: str | None) -> None:
    """Which worker holds each ledger: one line per ledger, NAME SHARD HOST:PORT."""
    from ledger.app import db

    for name, shard, node in db.placements(db_url):
        click.echo(f"{name}\t{shard}\t{node}")
