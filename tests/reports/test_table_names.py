"""Table output prints names exactly as stored (docs/reading.md#names): a payee `Shop [/x]`
does not crash a table, `[bold]` stays on the page, `isf:A:P1` and `:smile:` are never
emoji. Through the command line, on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from ledger.cli import cli

SCENARIO = """\
    format: 1
    name: names
    parties:
      councils: [{id: C1, name: "[bold]Council[/bold]"}]
      providers: [{id: P1, name: "Care :smile: [red]Ltd"}]
      holders:
        - {id: A, name: "Ann [/x] Example", council: C1}
    events:
      - {date: 2026-04-01, type: dp_payment, holder: A, amount: "500.00"}
      - {date: 2026-04-02, type: dp_spend, holder: A, payee: "Shop [/x]", amount: "10.00"}
      - {date: 2026-04-03, type: dp_spend, holder: A, payee: "[bold]", amount: "5.00"}
      - {date: 2026-04-01, type: isf_open, holder: A, provider: P1, hours_per_month: 10,
         rate: "20.00"}
      - {date: 2026-04-01, type: isf_advance, holder: A, provider: P1, month: 2026-04}
"""
ACCOUNTS = ["external:Shop [/x]", "external:[bold]", "isf:A:P1", "holder:A:dp"]
NAMES = ["[bold]Council[/bold]", "Care :smile: [red]Ltd", "Ann [/x] Example"]


def invoke(*args: str, db: str):
    return CliRunner().invoke(cli, [*args, "--db", db],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


@pytest.fixture
def db(db_url, tmp_path) -> str:
    path = tmp_path / "names.yaml"
    path.write_text(textwrap.dedent(SCENARIO), encoding="utf-8")
    done = invoke("scenario", "run", str(path), db=db_url)
    assert done.exit_code == 0, done.output
    return db_url


def _cells(output: str) -> set[str]:
    """Every cell of a rich table, stripped of its padding."""
    return {cell.strip() for line in output.splitlines() for cell in line.split("│")}


@pytest.mark.parametrize("args, expected", [
    (["balance"], ACCOUNTS),
    (["balance", "--from", "2026-04-01", "--to", "2026-04-30"], ACCOUNTS),
    (["accounts"], ACCOUNTS),
    (["register", "--account", "external:"], ACCOUNTS[:2]),
    (["register", "--account", "isf:A"], ["isf:A:P1"]),
    (["parties"], NAMES),
], ids=["balance", "movements", "accounts", "register", "register-isf", "parties"])
def test_a_table_prints_every_name_as_stored(db, args, expected):
    done = invoke(*args, db=db)
    assert done.exit_code == 0, (done.output, done.exception)
    assert set(expected) <= _cells(done.output), done.output
    assert "🅰" not in done.output and "😄" not in done.output


def test_a_title_that_holds_markup_is_printed_as_given(db):
    done = invoke("register", "--account", "external:[bold]", db=db)
    assert done.exit_code == 0, (done.output, done.exception)
    assert "Register of external:[bold]" in done.output
    assert "external:[bold]" in _cells(done.output)
