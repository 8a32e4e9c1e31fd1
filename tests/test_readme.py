"""Every command in README.md's ```bash blocks runs as written and exits 0 (issue 5).

The commands run with bash in a temporary folder holding a copy of the repository's
scenarios/ and a `.venv` link to this virtual environment, with the venv's bin folder
first on PATH, so both `ledger ...` and `.venv/bin/ledger ...` resolve to this checkout's
console script. Two commands are special:
- the set-up line creates a venv and pip-installs the project; we check that part's text
  is exactly the documented one and run (as written) only its `ledger` commands;
- the test command `.venv/bin/pytest -q -n auto --dist loadgroup` is checked to be
  present, never run from here (it would run this test again).
The Citus example (URLs at host `coordinator`) runs only when LEDGER_TEST_CITUS_URL is
set, against a fresh, not yet distributed schema on that cluster.
The PostgreSQL example runs only when LEDGER_TEST_POSTGRES_URL is set, and then against
a fresh schema on that server: its URL is substituted for the one in the README, and the
database it says to create first is created on that server under a name of its own and
dropped afterwards. `ledger user add ... --password-stdin` is given the password on
standard input, as a person types it at the prompt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger.scenarios.schema import load_scenario
from tests.dbutil import bare_schema, empty_database, require_citus

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
VENV_BIN = Path(sys.executable).parent
SETUP = ["python3 -m venv .venv", ".venv/bin/pip install -q -e '.[dev]'"]
TEST_COMMAND = ".venv/bin/pytest -q -n auto --dist loadgroup"
PG_URL_IN_README = re.compile(r"postgres(?:ql)?(?:\+\w+)?://\S+")
CREATE_DATABASE = re.compile(r"CREATE DATABASE (\w+)")
PASSWORD = "a long pass phrase"


def fenced_blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}[ \t]*\n(.*?)^```", text, flags=re.S | re.M)


def bash_commands() -> list[str]:
    """Every command line of every ```bash block, in order (`\\` continuations joined)."""
    commands = []
    for block in fenced_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


COMMANDS = bash_commands()


def is_setup(command: str) -> bool:
    return "pip install" in command or "-m venv" in command


def is_citus(command: str) -> bool:
    return "@coordinator:" in command


def is_postgres(command: str) -> bool:
    return PG_URL_IN_README.search(command) is not None and not is_citus(command)


@pytest.fixture
def workspace(tmp_path) -> Path:
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
    return tmp_path


def run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DATABASE_URL",
                                                           "VIRTUAL_ENV")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    typed = f"{PASSWORD}\n" if "--password-stdin" in command else ""
    proc = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, input=typed)
    assert proc.returncode == 0, (
        f"README command failed (exit {proc.returncode}):\n  {command}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    assert "Traceback" not in proc.stderr
    return proc


def test_readme_has_commands_to_exercise():
    assert any(c.startswith("ledger ") for c in COMMANDS)
    assert sum(is_setup(c) for c in COMMANDS) == 1


def test_readme_test_command_is_present():
    assert TEST_COMMAND in COMMANDS
    marked = re.search(r"<!-- test-command -->\s*```bash\n(.*?)\n```", README.read_text())
    assert marked is not None and marked.group(1).strip() == TEST_COMMAND


def test_readme_setup_command_is_the_documented_one_and_its_ledger_part_runs(workspace):
    [command] = [c for c in COMMANDS if is_setup(c)]
    parts = [p.strip() for p in command.split("&&")]
    assert parts[:2] == SETUP, command  # create the venv, install the project: not re-run
    rest = parts[2:]
    assert rest, "the set-up line should go on to replay a demo and read a statement"
    for part in rest:
        assert part.startswith(".venv/bin/ledger "), part
    proc = run(" && ".join(rest), workspace)
    assert proc.stdout.strip()


def test_readme_never_puts_a_password_on_the_command_line():
    """A password typed into a command (`echo 'secret' | ledger user add ...`) lands in the
    shell's history: every sign-in is made with the password asked for, not written."""
    adds = [c for c in COMMANDS if "--password-stdin" in c]
    assert adds, "the README shows how to make a sign-in"
    for command in adds:
        assert command.startswith("ledger user add "), command
        assert not re.search(r"\becho\b|\bprintf\b|<<|\|", command), command


def test_readme_tour_commands_run_as_written_in_order(workspace):
    """The tour's commands build on one another (pool.db), so they run in README order.
    `ledger serve` runs until stopped: it is started, must answer its sign-in page, and
    is stopped (on a free port when the README gives none)."""
    tour = [c for c in COMMANDS if not is_setup(c) and c != TEST_COMMAND and not is_postgres(c)
            and not is_citus(c)]
    assert tour
    for command in tour:
        if command.startswith("ledger serve"):
            serve(command, workspace)
        else:
            run(command, workspace)


def serve(command: str, cwd: Path) -> None:
    import socket
    import time
    import urllib.request

    if "--port" not in command:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command += f" --port {port}"
    else:
        port = int(re.search(r"--port[ =](\d+)", command).group(1))
    env = {k: v for k, v in os.environ.items() if k not in ("LEDGER_DATABASE_URL",
                                                           "VIRTUAL_ENV")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=cwd, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    assert r.status == 200 and b"Sign in" in r.read()
                    break
            except OSError:
                assert server.poll() is None, f"{command} stopped: {server.stderr.read()}"
                assert time.monotonic() < deadline, f"{command} never answered"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_readme_postgresql_example_runs_against_a_test_database(workspace, tmp_path):
    """Substitutes a fresh schema on LEDGER_TEST_POSTGRES_URL's server for the README's
    URL (skipped, or failed under CI=true, when that variable is not set)."""
    examples = [c for c in COMMANDS if is_postgres(c)]
    assert examples, "the README documents a PostgreSQL example"
    create, *rest = examples
    made = CREATE_DATABASE.search(create)
    assert made, "the PostgreSQL example creates its database first"
    assert rest and all(db_name(c) == made.group(1) for c in rest), examples
    with empty_database("postgres", tmp_path) as url:
        with created_database(create, workspace):
            for command in rest:
                # the test URL carries a schema option; quoted so the shell passes it whole
                run(PG_URL_IN_README.sub(lambda _: f"'{url}'", command), workspace)


def db_name(command: str) -> str:
    from urllib.parse import urlsplit

    found = PG_URL_IN_README.search(command)
    return urlsplit(found.group(0)).path.lstrip("/") if found else ""


@contextmanager
def created_database(command: str, cwd: Path) -> Iterator[None]:
    """Runs the README's CREATE DATABASE against the test server, for a name of its own,
    and drops that database afterwards."""
    import uuid

    from sqlalchemy import create_engine, text

    from tests.dbutil import require_postgres

    server = require_postgres()
    name = f"readme_{uuid.uuid4().hex[:12]}"
    run(CREATE_DATABASE.sub(f"CREATE DATABASE {name}",
                            PG_URL_IN_README.sub(lambda _: f"'{server}'", command)), cwd)
    try:
        yield
    finally:
        admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


def test_readme_yaml_example_is_a_scenario_that_replays(workspace, tmp_path):
    blocks = [b for b in fenced_blocks("yaml") if "format:" in b]
    assert blocks
    for n, block in enumerate(blocks):
        path = workspace / f"readme-example-{n}.yaml"
        path.write_text(textwrap.dedent(block), encoding="utf-8")
        load_scenario(path)
        run(f"ledger scenario run {path.name} --db sqlite:///readme-{n}.db", workspace)


def test_readme_citus_example_runs_on_the_test_cluster(workspace):
    """The Citus example's commands, in order, on a fresh schema of LEDGER_TEST_CITUS_URL's
    cluster made only by them (skipped, or failed under CI=true, without that variable)."""
    examples = [c for c in COMMANDS if is_citus(c)]
    assert [c.split()[1:3] for c in examples] == [["init", "--db"], ["db", "distribute"],
                                                  ["db", "placements"]], examples
    with bare_schema(require_citus()) as url:
        out = [run(PG_URL_IN_README.sub(lambda _: f"'{url}'", c), workspace).stdout
               for c in examples]
    assert out[1].startswith("distributed: ")
    assert out[2].startswith("main\t")
