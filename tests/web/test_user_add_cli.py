"""`ledger user add --password-stdin` at a terminal (issue 20): it asks for the password
twice without showing it, so the password is on no command line, in no shell history and
not on the screen; the sign-in then works with it."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from ledger.app import access
from ledger.app.reading import Books
from ledger.cli import cli

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long pass phrase"


def read_until(fd: int, text: str, seen: bytearray, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"never saw {text!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen.extend(os.read(fd, 1024))
            except OSError:  # the other end closed
                return


def test_at_a_terminal_the_password_is_asked_twice_and_never_shown(db_url):
    made = CliRunner().invoke(cli, ["scenario", "run",
                                    str(ROOT / "scenarios" / "dp-holder.yaml"), "--db", db_url],
                              catch_exceptions=False)
    assert made.exit_code == 0, made.output
    main, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DATABASE_URL"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ledger"), "user", "add", "zed",
                             "--role", "auditor", "--password-stdin", "--db", db_url],
                            stdin=terminal, stdout=terminal, stderr=terminal, env=env,
                            start_new_session=True)  # the pty is its only terminal
    os.close(terminal)
    seen = bytearray()
    try:
        read_until(main, "Password (not shown)", seen)
        os.write(main, f"{PASSWORD}\n".encode())
        read_until(main, "Password again", seen)
        os.write(main, f"{PASSWORD}\n".encode())
        read_until(main, "added zed", seen)
        assert proc.wait(timeout=30) == 0, bytes(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert PASSWORD.encode() not in seen
    books = Books.at(db_url, "main", mode="write")
    try:
        assert access.sign_in(books, "zed", PASSWORD, "127.0.0.1") is not None
    finally:
        books.dispose()
