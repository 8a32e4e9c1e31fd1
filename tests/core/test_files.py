"""Files the ledger writes (ledger.files.write_whole): whole or not at all for a file, and
straight through for a stream such as /dev/null or a named pipe, which must stay what it
is (renaming a finished file over /dev/null, run as root, replaced the device). A
named pipe stands for /dev/null here: a test must never risk the machine's own."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from ledger.errors import UsageError
from ledger.files import write_whole


def test_a_file_is_written_whole_and_a_failure_leaves_nothing(tmp_path: Path):
    target = tmp_path / "out.csv"
    write_whole(target, lambda out: out.write("a,b\n"))
    assert target.read_text() == "a,b\n"

    def fails(out):
        out.write("half")
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError):
        write_whole(tmp_path / "other.csv", fails)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_named_pipe_is_written_to_and_stays_a_pipe(tmp_path: Path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    write_whole(pipe, lambda out: out.write("date,amount\n"))
    reader.join(timeout=10)
    assert got == [b"date,amount\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


def test_a_directory_is_one_clear_error(tmp_path: Path):
    with pytest.raises(UsageError, match="it is a directory"):
        write_whole(tmp_path, lambda out: out.write("x"))
