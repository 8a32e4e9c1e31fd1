"""bench/citus_ledgers.py's own logic, without a cluster: which ledgers each case takes
(each on a shard of its own, spread evenly over the workers, none used twice) and the
table it writes into docs/scaling.md (a dash where Citus was not measured)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import citus_ledgers  # noqa: E402

W1, W2 = "127.0.0.1:5441", "127.0.0.1:5442"


def _placements() -> dict[str, tuple[int, str]]:
    # 16 ledgers over 8 shards: shards 1-4 on the first worker, 5-8 on the second.
    return {f"b{n:02d}": (1 + n % 8, W1 if n % 8 < 4 else W2) for n in range(16)}


def test_each_case_takes_new_ledgers_on_shards_of_their_own_spread_over_the_workers():
    placements = _placements()
    sets = citus_ledgers.choose(placements, [1, 2, 4, 1, 2, 4])
    assert [len(s) for s in sets] == [1, 2, 4, 1, 2, 4]
    every = [name for chosen in sets for name in chosen]
    assert len(every) == len(set(every)), "a ledger used by two cases"
    for chosen in sets:
        shards = [placements[n][0] for n in chosen]
        assert len(shards) == len(set(shards)), chosen
        on_first = sum(placements[n][1] == W1 for n in chosen)
        assert on_first == len(chosen) - len(chosen) // 2, chosen


def test_too_few_ledgers_on_one_worker_is_an_error():
    placements = {"a": (1, W1), "b": (2, W1), "c": (5, W2)}
    with pytest.raises(ValueError, match=W2):
        citus_ledgers.choose(placements, [4])


def test_two_ledgers_on_one_shard_never_share_a_case():
    placements = {"a": (1, W1), "b": (1, W1), "c": (5, W2), "d": (6, W2)}
    with pytest.raises(ValueError, match="shards of their own"):
        citus_ledgers.choose(placements, [4])


def _result(citus: dict | None) -> dict:
    figures = {"per_writer": [10.0, 12.5], "journals_s": 22.5, "postings_s": 45.0,
               "errors": 0, "first_error": ""}
    return {
        "date": "2026-12-07 02:00 UTC", "commit": "abc1234", "quick": False,
        "machine": {"cpus": 2, "python": "3.11.7"},
        "postgres": {"server_version": "15", "fsync": "on", "synchronous_commit": "on"},
        "citus": {"server_version": "15", "fsync": "on", "synchronous_commit": "on",
                  "citus": "13.2-1", "workers": [W1, W2], "shard_count": 8},
        "seconds": 6.0, "batch": 50, "load_average": {"start": [1.0, 2.0, 3.0],
                                                      "end": [1.5, 2.0, 3.0]},
        "citus_error": None if citus else "(psycopg.errors.InternalError_) refused",
        "cases": [{"mode": "single", "writers": 2, "postgres": figures, "citus": citus,
                   "ratio": 0.5 if citus else None,
                   "ledgers": [{"name": "b00", "shard": 1, "worker": W1},
                               {"name": "b05", "shard": 6, "worker": W2}]}]}


def test_the_doc_table_puts_citus_beside_postgresql():
    citus = {"per_writer": [5.0, 6.25], "journals_s": 11.25, "postings_s": 22.5,
             "errors": 1, "first_error": "boom"}
    result = _result(citus)
    result["citus_transaction"] = [
        {"journals": 1, "remote_commands": 14, "local_commands": 2, "two_phase_commit": True},
        {"journals": 50, "remote_commands": 14, "local_commands": 2,
         "two_phase_commit": False}]
    block = citus_ledgers.doc_block(result)
    assert block.startswith(citus_ledgers.START) and block.endswith(citus_ledgers.END)
    assert ("| single | 2 | b00 (5441), b05 (5442) | 22.5 (10, 12.5) | 11.25 (5, 6.25) | 45 "
            "| 22.5 | 0.5× | 0, 1 |") in block
    assert "`boom`" in block
    assert ("1 journal: 14 commands from the coordinator to the worker, 2 run on the "
            "coordinator, committed in two phases") in block
    assert "50 journals: 14 commands" in block and "committed in one phase" in block


def test_the_doc_says_when_citus_was_not_measured():
    block = citus_ledgers.doc_block(_result(None))
    assert "| 22.5 (10, 12.5) | – | 45 | – | – | 0, – |" in block
    assert "refused" in block
