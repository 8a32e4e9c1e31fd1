"""Files the ledger writes: whole or not at all."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from ledger.errors import UsageError


def write_whole(path: Path, write: Callable, binary: bool = False,
                name: str | None = None) -> None:
    """`write(out)` into a `.NAME.partial` file beside `path`, renamed to `path` only when
    it is complete: a reader never sees half a file, and a failure leaves none. An OS
    error is one line naming the file (`name`, default the path).

    A path that is not a regular file (`/dev/null`, `/dev/stdout`, a named pipe) is a
    stream, not a file to replace: it is written straight to, since renaming a file over
    it would put an ordinary file where the device was (and, run as root, replace the
    machine's /dev/null)."""
    try:
        kind = path.stat().st_mode
    except OSError:
        kind = None
    if kind is not None and not stat.S_ISREG(kind):
        if stat.S_ISDIR(kind):
            raise UsageError(f"{name or path}: cannot write: it is a directory")
        try:
            with (path.open("wb") if binary else
                  path.open("w", encoding="utf-8", newline="")) as out:
                write(out)
        except OSError as err:
            raise UsageError(f"{name or path}: cannot write: {err.strerror or err}") from None
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        with (partial.open("wb") if binary else
              partial.open("w", encoding="utf-8", newline="")) as out:
            write(out)
        partial.replace(path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise UsageError(f"{name or path}: cannot write: {err.strerror or err}") from None
    except BaseException:
        partial.unlink(missing_ok=True)  # nothing half-written, whatever stopped it
        raise
