"""The `ledger` command (outputs: docs/statements.md#outputs). A package of thin doors:
each command parses its options, makes one call to `ledger.app` and prints.

Exit status: 0 success; 1 a rejected event, a failed expectation or check; 2 unusable
input or arguments, always as one line on stderr and never a traceback.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import OperationalError

from ledger.cli import access_log, db, dp, export, isf, read, scenario, statement, users
from ledger.cli.common import _say
from ledger.errors import LedgerError, UsageError


@click.group()
@click.version_option(package_name="care-ledger")
def cli() -> None:
    """A double-entry ledger for UK adult social care money."""



for _command in (db.init, db.stats, db.verify, db.checkpoint, scenario.scenario, isf.isf, dp.dp_group,
                 read.balance, read.accounts_command, read.parties_command,
                 read.register_command, read.print_command, statement.statement,
                 export.export, users.user, users.serve, access_log.access_log_command):
    cli.add_command(_command)


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
