"""Checkpoints of the rebuilt state, kept in the books' chain (docs/rules-trust.md#checkpoints).

A checkpoint is a record of the hash chain like any other (a row of `event`, type
`checkpoint`, key `checkpoint/N`), written by `ledger checkpoint` after the records before
it have been replayed and found to rebuild exactly what is stored. Its payload (the
record's "event as written", canonical JSON, hashed by `payload_hash` and so by the
record's hash) is the state that replay rebuilt once record N had been applied:

- `after`: N, the last record it covers; `journals`: how many journals those records
  posted, and `journal`: the key and link hash of the last of them (null, null if none);
- `balances`: [account, unit, amount] of every account that has postings;
- `floors`: [account, unit, floor] set by the records (the default floors are a rule);
- `states`: [kind, ref, data] of every instrument;
- `parties`: [kind, id, [[valid from or null, record], ...]] of every party;
- `lock`: the period lock (ISO date) or null.

Being a record, a checkpoint is covered by the chain's head like every record, so a
checkpoint edited with the guards off breaks the chain at its own record; `verify`
replays through it and also proves its state is what the records before it rebuild.
`verify --since-checkpoint` loads the newest one and replays only the records after it.
What is dated history (postings, journal and event keys) is not copied: it is stored in
the chain already and read from there, up to the checkpoint's last journal.

This module only reads and encodes; the state comes from the replay (ledger/app/rebuild.py)
and is written through the store's one write path (DbStore.apply), so the chain's rules
are the writer's own.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ledger.store.chain import canonical

CHECKPOINT_TYPE = "checkpoint"
FORMAT = 1

_NEWEST = text("SELECT seq, key, payload FROM event WHERE ledger_id = :lid"
               " AND type = 'checkpoint' ORDER BY seq DESC LIMIT 1")
_JOURNAL_ID = text("SELECT id, hash FROM journal WHERE ledger_id = :lid AND key = :key")
_RECORDS_SINCE = text("SELECT COUNT(*) FROM event WHERE ledger_id = :lid AND seq > :seq")


def checkpoint_key(after: int) -> str:
    """The key of the checkpoint written after record `after`."""
    return f"checkpoint/{after}"


@dataclass
class Checkpoint:
    """The newest checkpoint as stored: its own record's seq and key, and its state."""

    seq: int
    key: str
    state: dict
    journal_id: int  # the id of the last journal it covers (0: none)

    @property
    def after(self) -> int:
        return int(self.state["after"])

    @property
    def journals(self) -> int:
        return int(self.state["journals"])


def encode(state: dict) -> str:
    """The payload text of a checkpoint: canonical JSON, as every record's payload."""
    return canonical({"format": FORMAT, **state})


def newest(conn: Connection, lid: int) -> Checkpoint | None:
    """The newest checkpoint of a ledger, or None. Raises ValueError when its payload is not
    a checkpoint this program can read (the chain check names the record's own break)."""
    row = conn.execute(_NEWEST, {"lid": lid}).first()
    if row is None:
        return None
    seq, key, payload = row
    try:
        state = json.loads(payload)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError
        last_key, last_hash = state["journal"]
        int(state["after"]), int(state["journals"])
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"record {seq} ({key}) is not a checkpoint this version of ledger "
                         "can read") from err
    journal_id = 0
    if last_key is not None:
        found = conn.execute(_JOURNAL_ID, {"lid": lid, "key": last_key}).first()
        if found is None or found[1] != last_hash:
            raise ValueError(f"record {seq} ({key}): the last journal it covers, {last_key}, "
                             "is not in the journal chain as it says")
        journal_id = int(found[0])
    return Checkpoint(seq, key, state, journal_id)


def records_since(conn: Connection, lid: int, seq: int) -> int:
    """How many records come after record `seq`."""
    return int(conn.execute(_RECORDS_SINCE, {"lid": lid, "seq": seq}).scalar_one())


def day(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


__all__ = ["CHECKPOINT_TYPE", "Checkpoint", "checkpoint_key", "encode", "newest",
           "records_since"]
