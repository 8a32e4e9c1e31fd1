"""`ledger serve` as a newcomer starts it (issue 20): it says where it is and how to stop
it, and that address answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCENARIO = ROOT / "scenarios" / "dp-holder.yaml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_ledger(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["scenario", "run", str(SCENARIO), "--db", db_url],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_serve_prints_its_address_and_how_to_stop_it(db_url):
    make_ledger(db_url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    server = subprocess.Popen([str(BIN / "ledger"), "serve", "--db", db_url, "--port",
                               str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    stop = threading.Timer(30, server.kill)  # a server that says nothing fails, not hangs
    stop.start()
    try:
        first = server.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first, (first, server.stderr.read())
        assert "Ctrl+C" in first
        address = first.split()[first.split().index("at") + 1]
        with urllib.request.urlopen(f"{address}login", timeout=10) as answer:
            assert answer.status == 200 and b"Sign in" in answer.read()
    finally:
        stop.cancel()
        server.terminate()
        server.wait(timeout=10)


def test_serve_on_a_port_in_use_says_so_in_one_line(db_url):
    make_ledger(db_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(BIN / "ledger"), "serve", "--db", db_url, "--port",
                               str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr and "Ctrl+C" not in done.stdout
