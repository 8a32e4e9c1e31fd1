"""Bulk work shows a progress bar on a terminal, with the rate and what remains, once it
has run for more than a second, and nothing at all when the output is not a terminal
(docs/architecture.md#progress)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from bench.generate import scenario

LEDGER = str(Path(sys.executable).with_name("ledger"))


def _big_file(folder: Path) -> Path:
    path = folder / "year.json"  # two seconds or more of replay
    path.write_text(json.dumps(scenario(1500, seed=3), default=str), encoding="utf-8")
    return path


def test_a_long_replay_on_a_terminal_shows_progress_with_a_rate(tmp_path):
    path = _big_file(tmp_path)
    leader, follower = pty.openpty()
    # shown from the start here, so the test does not depend on this machine's speed
    env = dict(os.environ, COLUMNS="120", TERM="xterm", LEDGER_PROGRESS_AFTER_S="0")
    proc = subprocess.Popen([LEDGER, "scenario", "run", str(path), "--db",
                             f"sqlite:///{tmp_path / 'l.db'}"], stdin=follower,
                            stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command finished
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=120) == 0
    text = seen.decode(errors="replace")
    assert "events/s" in text and "replaying year.json" in text
    assert "applied" in text  # and the summary line still follows


def test_no_progress_when_the_output_is_not_a_terminal(tmp_path):
    path = _big_file(tmp_path)
    done = subprocess.run([LEDGER, "scenario", "run", str(path), "--db",
                           f"sqlite:///{tmp_path / 'l.db'}"], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, LEDGER_PROGRESS_AFTER_S="0"))
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.count("\n") == 1 and "applied" in done.stdout
