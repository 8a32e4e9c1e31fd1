"""Checkpoints and `verify --since-checkpoint` (docs/rules-trust.md#checkpoints), on both
engines: a checkpoint is a record of the chain holding the state the replay rebuilt;
`--since-checkpoint` checks every hash of the chain and replays only the records after
the newest checkpoint; plain `verify` still replays everything and proves each
checkpoint's state too.

The ledger is tests/store/test_tampering.py's story (payments, a reversal, a pool, a
closed April), a checkpoint, then a month more that reads the history before the
checkpoint: scheduled payments already paid, a floor on every date, a reversal of an
event from before the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from ledger.app.scenarios import run_scenario
from ledger.app.verify import checkpoint, verify
from ledger.cli import cli
from ledger.core.journal import sha256_text
from ledger.scenarios.schema import load_scenario
from ledger.store.chain import record_hash
from ledger.store.repo import DbStore
from tests.store.test_tampering import STORY, _unguarded

pytestmark = pytest.mark.citus

MAY = """
format: 1
name: after-checkpoint
parties:
  councils: [{id: RIC, name: Richmond}]
events:
  - {date: 2026-05-03, type: run_payments, until: 2026-07-31}
  - {id: late-spend, date: 2026-05-04, type: dp_spend, holder: H1, payee: Jo PA,
     amount: "50.00"}
  - {date: 2026-05-05, type: reverse, event: late-spend, reason: entered in error}
  - {date: 2026-05-06, type: pool_spend, pool: OUT, payee: Cinema, amount: "30.00",
     members: [H2, H4]}
  - {date: 2026-05-07, type: dp_spend, holder: H4, payee: Shop, amount: "9000.00",
     expect_error: insufficient_funds}
  - {date: 2026-05-08, type: reverse, event: "tamper-story#11", reason: refunded}
  - {date: 2026-05-09, type: dp_spend, holder: H2, payee: Shop, amount: "10.00"}
"""


def _run(engine, tmp_path: Path, name: str, body: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    with engine.begin() as conn:
        result = run_scenario(DbStore(conn), load_scenario(path), str(path))
    assert result.failure is None, result.failure


def _text(found) -> list[str]:
    return [line for _, line in found.lines]


def _books(db_url, engine, tmp_path) -> None:
    """The story, a checkpoint, then May."""
    _run(engine, tmp_path, "story", STORY)
    made = checkpoint(db_url, "main")
    assert made.problem is None
    _run(engine, tmp_path, "may", MAY)


def _checkpoint_record(engine) -> tuple[int, str]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT seq, key FROM event WHERE type = 'checkpoint'")).one()


def test_since_checkpoint_replays_only_the_records_after_it(db_url, engine, tmp_path):
    _run(engine, tmp_path, "story", STORY)
    made = checkpoint(db_url, "main")
    assert made.problem is None
    seq, key = _checkpoint_record(engine)
    assert made.lines[0].startswith(f"checkpoint: record {seq} ({key}) after record {seq - 1}")
    _run(engine, tmp_path, "may", MAY)
    full, since = verify(db_url), verify(db_url, since_checkpoint=True)
    assert full.ok and since.ok, (full.problem, since.problem)
    with engine.connect() as conn:
        after = conn.execute(text("SELECT COUNT(*) FROM event WHERE seq > :s"),
                             {"s": seq}).scalar_one()
    assert after == 7
    assert _text(since)[1] == (f"checkpoint: record {seq} ({key}); every hash of the chain "
                               f"checked, the {after} records after it replayed from its state")
    # The same head, audit line and first line as the full proof.
    assert _text(since)[0] == _text(full)[0] == "verify: every invariant holds"
    assert _text(since)[2:] == _text(full)[1:]
    # May's run of payments paid July only: April to June were paid before the checkpoint.
    with engine.connect() as conn:
        paid = conn.execute(text("SELECT COUNT(*) FROM journal WHERE type = 'dp_payment'"
                                 " AND holder = 'H1'")).scalar_one()
    assert paid == 4


def test_a_second_checkpoint_starts_from_the_first(db_url, engine, tmp_path):
    _books(db_url, engine, tmp_path)
    second = checkpoint(db_url, "main")
    assert second.problem is None
    assert checkpoint(db_url, "main").lines[0].startswith("checkpoint: none written")
    since = verify(db_url, since_checkpoint=True)
    assert since.ok, since.problem
    assert "the 0 records after it replayed" in _text(since)[1]
    # The full proof replays through both checkpoints and proves each one's state.
    assert verify(db_url).ok


def test_without_a_checkpoint_everything_is_replayed(db_url, engine, tmp_path):
    _run(engine, tmp_path, "story", STORY)
    since = verify(db_url, since_checkpoint=True)
    assert since.ok, since.problem
    assert _text(since)[1] == "checkpoint: none in this ledger, so every record was replayed"


TAMPERED_AFTER = {
    "an instrument's state edited": (
        "UPDATE instrument_state SET data = REPLACE(data, '\"H2\"', '\"H7\"')"
        " WHERE kind = 'pool'", "instrument state"),
    "both legs of a journal after the checkpoint doubled": (
        "UPDATE posting SET amount_minor = amount_minor * 2 WHERE journal_id = (SELECT id"
        " FROM journal WHERE key LIKE 'after-checkpoint#6%' ORDER BY id LIMIT 1)",
        "payload hash"),
    "a record after the checkpoint edited": (
        "UPDATE event SET payload = REPLACE(payload, '10.00', '1.00'), payload_hash = 'x'"
        " WHERE key = 'after-checkpoint#6'", "record"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_AFTER))
def test_since_checkpoint_catches_a_change_after_the_checkpoint(db_url, engine, tmp_path,
                                                                case):
    _books(db_url, engine, tmp_path)
    statement, named = TAMPERED_AFTER[case]
    _unguarded(engine, statement)
    since = verify(db_url, since_checkpoint=True)
    assert not since.ok and named in since.problem, since.problem
    assert not verify(db_url).ok


def test_the_state_after_the_checkpoint_is_what_the_records_rebuild(db_url, engine,
                                                                    tmp_path):
    """Edited state the chain does not hash: only the replay from the checkpoint finds it,
    and `checkpoint` refuses to record it."""
    _books(db_url, engine, tmp_path)
    _unguarded(engine, "UPDATE instrument_state SET data = REPLACE(data, '\"H4\"', '\"H5\"')"
                       " WHERE kind = 'pool'")
    since = verify(db_url, since_checkpoint=True)
    assert since.problem == "instrument state pool OUT differs from what the events rebuild"
    refused = checkpoint(db_url, "main")
    assert refused.problem == since.problem
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM event WHERE type = 'checkpoint'")
                            ).scalar_one() == 1


TAMPERED_BEFORE = {
    "a record before the checkpoint edited": (
        "UPDATE event SET source = 'forged' WHERE seq = 3", "record 3 "),
    "a journal's memo before the checkpoint edited": (
        "UPDATE journal SET memo = '{\"payee\": \"Casino\"}' WHERE id = (SELECT MIN(id)"
        " FROM journal WHERE type = 'dp_spend')", "hash chain broken"),
    "a checkpoint's state edited": (
        "UPDATE event SET payload = REPLACE(payload, '\"H2\"', '\"H7\"')"
        " WHERE type = 'checkpoint'", "checkpoint/"),
    "a checkpoint's state and payload hash edited": (
        "UPDATE event SET payload = REPLACE(payload, '[\"holder:H1:dp\",\"GBP\",',"
        " '[\"holder:H1:dp\",\"GBP\",1'), payload_hash = 'x' WHERE type = 'checkpoint'",
        "checkpoint/"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_BEFORE))
def test_the_chain_check_catches_a_change_before_the_checkpoint(db_url, engine, tmp_path,
                                                                case):
    _books(db_url, engine, tmp_path)
    statement, named = TAMPERED_BEFORE[case]
    _unguarded(engine, statement)
    for found in (verify(db_url, since_checkpoint=True), verify(db_url)):
        assert not found.ok and named in found.problem, found.problem


def test_a_forged_checkpoint_with_its_hashes_recomputed_fails_the_full_proof(
        db_url, engine, tmp_path):
    """The newest record is a checkpoint whose state was edited, its payload hash, its
    record hash and the ledger's head recomputed: the chain holds, and the full replay
    still finds the state is not what the records before it rebuild."""
    _run(engine, tmp_path, "story", STORY)
    assert checkpoint(db_url, "main").problem is None
    with engine.connect() as conn:
        seq, key, type_, date, payload, prev, outcome, version = conn.execute(text(
            "SELECT seq, key, type, date, payload, prev_hash, outcome, rules_version"
            " FROM event WHERE type = 'checkpoint'")).one()
    state = json.loads(payload)
    for row in state["states"]:
        if row[0] == "pool":
            row[2]["forged"] = True
    forged = json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = sha256_text(forged)
    link = record_hash(prev, seq, key, type_, str(date), digest, forged, outcome, None, [],
                       [], version, [])
    quoted = forged.replace("'", "''").replace(":", "\\:")  # text() binds :name
    _unguarded(engine,
               f"UPDATE event SET payload = '{quoted}', payload_hash = '{digest}',"
               f" hash = '{link}' WHERE key = '{key}'",
               f"UPDATE ledger SET event_hash = '{link}'")
    full = verify(db_url)
    assert full.problem == (f"record {seq} ({key}): the checkpoint's states differ from what "
                            "the records before it rebuild")


def test_the_commands(db_url, engine, tmp_path):
    _run(engine, tmp_path, "story", STORY)
    runner = CliRunner()
    made = runner.invoke(cli, ["checkpoint", "--db", db_url])
    assert made.exit_code == 0, made.output
    seq, key = _checkpoint_record(engine)
    first, head = made.output.splitlines()
    assert first.startswith(f"checkpoint: record {seq} ({key}) after record {seq - 1}: ")
    since = runner.invoke(cli, ["verify", "--since-checkpoint", "--db", db_url])
    plain = runner.invoke(cli, ["verify", "--db", db_url])
    assert since.exit_code == plain.exit_code == 0, since.output + plain.output
    assert since.output.splitlines()[-1] == plain.output.splitlines()[-1] == head
    _unguarded(engine, "UPDATE event SET source = 'forged' WHERE seq = 2")
    broken = runner.invoke(cli, ["verify", "--since-checkpoint", "--db", db_url])
    assert broken.exit_code == 1
    assert "verify failed: record 2 " in broken.output
    refused = runner.invoke(cli, ["checkpoint", "--db", db_url])
    assert refused.exit_code == 1
    assert "checkpoint failed: record 2 " in refused.output
