"""Start-up: the read commands people run most import only what they use
(docs/architecture.md#start-up). Each command runs in a fresh Python process, as a user
runs it, and reports which modules were loaded when it finished: none of the web view,
the PDF and HTML renderers, spreadsheets, sign-in hashing, two-factor codes, QR codes,
Alembic (only an upgrade needs it) or the SQLAlchemy ORM. Adding `import jinja2` (say)
to the top of ledger.cli makes these tests fail."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
HOLDER_SCENARIO = ROOT / "scenarios" / "dp-holder.yaml"
ISF_SCENARIO = ROOT / "scenarios" / "wokingham-isf-pilot.yaml"

# What no read command below may load: the web view (FastAPI, Starlette, uvicorn,
# Jinja2), PDF (WeasyPrint), spreadsheets (openpyxl), sign-ins (argon2, pyotp, segno),
# schema upgrades (Alembic), the ORM, scenario files (PyYAML) and rich tables.
HEAVY = ("alembic", "argon2", "fastapi", "jinja2", "ledger.web", "openpyxl", "pyotp",
         "rich", "segno", "sqlalchemy.orm", "starlette", "uvicorn", "weasyprint", "yaml")

# Runs `ledger ARGS...` as the console script does, then prints the loaded modules.
PROBE = """
import json, sys
try:
    from ledger.cli import main
    sys.argv = ["ledger", *sys.argv[1:]]
    try:
        main()
    except SystemExit as done:
        if done.code:
            raise
finally:
    sys.stdout.flush()
    sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def _loaded(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def _heavy(modules: set[str], allowed: tuple[str, ...] = ()) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if h not in allowed
                  and (m == h or m.startswith(h + ".")))


@pytest.fixture
def books(db_url) -> str:
    """Ledger main with direct payments (H1's), ledger isf with ISFs (H1's, H2's)."""
    for scenario, ledger in ((HOLDER_SCENARIO, "main"), (ISF_SCENARIO, "isf")):
        done = subprocess.run([sys.executable, "-c", "from ledger.cli import main; main()",
                               "scenario", "run", str(scenario), "--db", db_url,
                               "--ledger", ledger],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert done.returncode == 0, done.stderr
    return db_url


READS = {
    "statement-json-dp": ["statement", "holder", "H1", "--month", "2026-04", "--format",
                          "json"],
    "statement-text-dp": ["statement", "holder", "H1", "--month", "2026-04"],
    "statement-json-isf": ["statement", "holder", "H2", "--month", "2026-05", "--format",
                           "json", "--ledger", "isf"],
    "statement-text-isf": ["statement", "holder", "H2", "--month", "2026-05", "--ledger",
                           "isf"],
    "balance-csv": ["balance", "--format", "csv"],
    "balance-json": ["balance", "--format", "json"],
    "stats": ["stats", "--format", "json"],
    "verify": ["verify"],
}


def test_the_read_commands_load_nothing_they_do_not_use(books):
    for name, args in READS.items():
        modules = _loaded(*args, "--db", books)
        assert "ledger.cli" in modules, name  # the probe did run the command
        assert _heavy(modules) == [], name
        if name != "verify":  # verify replays every event: it validates them (pydantic)
            assert "pydantic" not in modules, name
        assert not any(m.startswith("ledger.cli.") and m not in (
            "ledger.cli.common", f"ledger.cli.{COMMANDS[args[0]].partition(':')[0]}")
            for m in modules), (name, sorted(m for m in modules if m.startswith("ledger.cli")))


def test_help_lists_every_command_and_each_one_loads():
    from click.testing import CliRunner

    listed = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        command = cli.get_command(None, name)
        assert command is not None and command.name == name, name
        assert f"  {name} " in listed, name


def test_a_pdf_statement_still_gets_its_renderer(books, tmp_path):
    """The lazy imports do not lose what a command needs: PDF still loads WeasyPrint."""
    out = tmp_path / "h1.pdf"
    modules = _loaded("statement", "holder", "H1", "--month", "2026-04", "--format", "pdf",
                      "-o", str(out), "--db", books)
    assert "weasyprint" in modules
    assert out.read_bytes().startswith(b"%PDF")
