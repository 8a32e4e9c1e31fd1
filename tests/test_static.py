"""The project's own static checks run with the tests, so CI holds them: ruff's lint
rules over the whole tree, mypy over src/ (with pydantic's plugin), and no tracked file
citing material outside the repository (sources are cited through docs/sources.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    done = _run(str(BIN / "ruff"), "check", "--quiet", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing_in_src():
    done = _run(sys.executable, "-m", "mypy")
    assert done.returncode == 0, done.stdout + done.stderr


# Files outside the repository that users never have: the project states every rule it
# follows in docs/ and cites docs/ (sources in docs/sources.md). Built from pieces so this
# file does not match itself.
_OUTSIDE = ["../" + "shared", "CONTRACT" + ".md", "CONTRACT" + " section", "DESIGN" + ".md",
            "DOMAIN" + ".md", "STYLE" + ".md", "research" + "/", "seeds" + "/",
            "ledger" + "_anchors"]


def test_no_tracked_file_cites_material_users_do_not_have():
    listed = _run("git", "ls-files", "-z")
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): nothing to list
        return
    found = []
    for name in filter(None, listed.stdout.split("\0")):
        path = ROOT / name
        if not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data:  # binary
            continue
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            found += [f"{name}:{number}: {word}" for word in _OUTSIDE if word in line]
    assert not found, "\n".join(found)
