"""`ledger verify` as a month-end check: its last line is the chain's head, and
`--expect-head` proves the ledger still holds what it held then
(docs/rules-trust.md#verify)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LEDGER = str(Path(sys.executable).with_name("ledger"))
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
HEAD = re.compile(r"^head: (\d+):([0-9a-f]{64})$")


def _ledger(*args: str, db: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LEDGER, *args, "--db", db], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_verify_prints_the_head_and_holds_it_after_more_work(db_url, tmp_path):
    assert _ledger("scenario", "run", str(SCENARIOS / "dp-holder.yaml"), db=db_url,
                   cwd=tmp_path).returncode == 0
    first = _ledger("verify", db=db_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    found = HEAD.match(first.stdout.splitlines()[-1])
    assert found and int(found.group(1)) > 0
    head = f"{found.group(1)}:{found.group(2)}"
    assert _ledger("verify", "--expect-head", head, db=db_url, cwd=tmp_path).returncode == 0

    # next month's work: the old head is still held, and the journals added are counted
    assert _ledger("scenario", "run", str(SCENARIOS / "grant-instalments.yaml"), db=db_url,
                   cwd=tmp_path).returncode == 0
    later = _ledger("verify", "--expect-head", head, db=db_url, cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    now = HEAD.match(later.stdout.splitlines()[-1])
    assert now and int(now.group(1)) > int(found.group(1))
    added = int(now.group(1)) - int(found.group(1))
    assert f"{added} journals added since" in later.stdout


def test_verify_fails_on_a_head_the_chain_never_held(db_url, tmp_path):
    assert _ledger("scenario", "run", str(SCENARIOS / "dp-holder.yaml"), db=db_url,
                   cwd=tmp_path).returncode == 0
    head = HEAD.match(_ledger("verify", db=db_url, cwd=tmp_path).stdout.splitlines()[-1])
    assert head
    for wrong in (f"{head.group(1)}:{'0' * 64}", f"{int(head.group(1)) + 1}:{head.group(2)}"):
        done = _ledger("verify", "--expect-head", wrong, db=db_url, cwd=tmp_path)
        assert done.returncode == 1
        assert "no longer holds head" in done.stderr
        assert HEAD.match(done.stdout.splitlines()[-1])  # the head is still the last line


def test_a_malformed_expected_head_is_one_line_and_exit_2(db_url, tmp_path):
    assert _ledger("init", db=db_url, cwd=tmp_path).returncode == 0
    done = _ledger("verify", "--expect-head", "yesterday", db=db_url, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "N:HASH" in done.stderr
