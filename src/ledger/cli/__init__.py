"""The `ledger` command (outputs: docs/statements.md#outputs). A package of thin doors:
each command parses its options, makes one call to `ledger.app` and prints.

Exit status: 0 success; 1 a rejected event, a failed expectation or check; 2 unusable
input or arguments, always as one line on stderr and never a traceback.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from ledger.cli.common import _say
from ledger.errors import LedgerError, UsageError

# Each command's module, imported only when that command runs (or `--help` lists them):
# a command pays at start-up only for what it uses (docs/architecture.md#start-up).
# tests/cli/test_startup_imports.py keeps the read commands light.
COMMANDS = {
    "access-log": "access_log:access_log_command",
    "accounts": "read:accounts_command",
    "balance": "read:balance",
    "checkpoint": "db:checkpoint",
    "db": "db:db_group",
    "dp": "dp:dp_group",
    "export": "export:export",
    "init": "db:init",
    "isf": "isf:isf",
    "parties": "read:parties_command",
    "print": "read:print_command",
    "register": "read:register_command",
    "scenario": "scenario:scenario",
    "serve": "users:serve",
    "statement": "statement:statement",
    "stats": "db:stats",
    "user": "users:user",
    "verify": "db:verify",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported when first asked for (click's lazy-loading
    pattern): `ledger stats` never imports the web view's or the importers' modules."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            from importlib import import_module

            module, _, attr = COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(import_module(f"ledger.cli.{module}"), attr), cmd_name)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="care-ledger")
def cli() -> None:
    """A double-entry ledger for UK adult social care money."""


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
        _say(f"the database could not be used: {_server_says(err)}")
        sys.exit(2)
    except DBAPIError as err:  # refused by the server: a permission, a busy cluster
        _say(f"the database refused the command: {_server_says(err)}")
        sys.exit(2)


def _server_says(err: DBAPIError) -> str:
    """The server's own message, its first line only: never the statement nor its
    parameters, which can hold a password's hash or a person's details
    (docs/statements.md#outputs)."""
    said = str(err.orig).strip().splitlines()
    return said[0] if said else type(err.orig).__name__
