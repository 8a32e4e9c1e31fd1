"""The one write path of `DbStore` (store/repo.py), and its batch.

Every write goes through `_write`, which writes a list of events' changes with a few
set-based statements: journals, postings, sealing, state, party records, floors, the
period lock, the event records (the hash chain, store/chain.py) and the ledger's head row.
The database's triggers (installed by the migrations) re-check every invariant the Python
side has already checked. On PostgreSQL the journals, postings, seal, records and head go
in one call of `ledger_write` (migration 0009), one round trip; on SQLite, as plain tuples
to the driver's `executemany`, with no statement built per row."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import defaultdict
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord, default_floor
from ledger.core.journal import Journal, Posting, sha256_text
from ledger.errors import LedgerError
from ledger.store import models as m
from ledger.store.chain import (
    GENESIS_HASH,
    account_properties,
    canonical,
    journal_link,
    record_hash,
)
from ledger.store.reads import ledger_id_of
from ledger.store.sql import (
    EVENT_COLUMNS,
    JOURNAL_ARRAYS,
    JOURNAL_FN_COLUMNS,
    SEAL_CHUNK,
    SQL_ACCOUNT_IDS,
    SQL_ACCOUNTS,
    SQL_EVENT_SQLITE,
    SQL_HEAD,
    SQL_JOURNAL_SQLITE,
    SQL_JOURNAL_SQLITE_ONE,
    SQL_KNOWN_JOURNALS,
    SQL_LEDGER_ID,
    SQL_LOCK_PG,
    SQL_LOCK_SQLITE,
    SQL_MAX_JOURNAL,
    SQL_NAME_LEDGER,
    SQL_NEW_LEDGER,
    SQL_NEXT_LEDGER_PG,
    SQL_NEXT_LEDGER_SQLITE,
    SQL_POSTING_SQLITE,
    SQL_SEAL_SQLITE,
    SQL_WRITE_PG,
)
from ledger.store.state import UNKNOWN, StoreState

PARTY_RECORD_DATE = dt.date(1900, 1, 1)  # a declaration's record: in force from the start
ANALYZE_AFTER = 1000  # journals a PostgreSQL writer posts before it may refresh statistics
_ANALYZED = ("journal", "posting", "account", "balance", "account_floor", "event",
             "instrument_state", "party_record", "ledger")
_DB_ERROR = re.compile(r"ledger:([a-z_]+): ([^\n]*)")
_CONTRACT_CODE = {"append_only": "invalid"}


def party_key(kind: str, party_id: str) -> str:
    """The record key of a party's declaration: declaring it again is a replay."""
    return f"party/{kind}/{party_id}"


def account_holder(path: str) -> str | None:
    """The budget holder an account belongs to: holder:{H}:*, isf:{H}:*, pool:*:{H},
    fund:*:award:{H} (docs/statements.md), else None."""
    parts = path.split(":")
    match parts:
        case ["holder", h, _] | ["isf", h, _] | ["pool", _, h] | ["fund", _, "award", h]:
            return h
    return None


def translate_db_error(err: DBAPIError) -> LedgerError:
    """A trigger's `ledger:CODE: why` (or a unique key) as a contract error."""
    text = str(err.orig)
    found = _DB_ERROR.search(text)
    if found:
        code = _CONTRACT_CODE.get(found.group(1), found.group(1))
        return LedgerError(code, f"the database refused it: {found.group(2)}")
    if isinstance(err, IntegrityError) and "reverses_id" in text:
        return LedgerError("invalid", "that journal is already reversed")
    if isinstance(err, IntegrityError) and "key" in text:
        return LedgerError("duplicate_conflict", "that key is already recorded")
    raise err


class BatchRefused(Exception):
    """The database refused one event of a batch: every event before it is written."""

    def __init__(self, event_key: str, error: LedgerError) -> None:
        super().__init__(str(error))
        self.event_key = event_key
        self.error = error


def journal_json(j: Journal) -> dict:
    """A journal as plain JSON: the payload of a `journals` record."""
    return {"key": j.key, "type": j.type, "date": j.date.isoformat(), "event_key": j.event_key,
            "holder": j.holder, "reverses_key": j.reverses_key, "memo": j.memo,
            "postings": [[p.account, p.unit.value, p.amount_minor] for p in j.postings]}


def journal_from_json(d: dict) -> Journal:
    return Journal(key=d["key"], type=d["type"], date=dt.date.fromisoformat(d["date"]),
                   postings=tuple(Posting(a, Unit(u), n) for a, u, n in d["postings"]),
                   event_key=d["event_key"], holder=d["holder"],
                   reverses_key=d["reverses_key"], memo=d["memo"])


class Writer(StoreState):
    """The writes of a `DbStore`: at once, or kept for the batch and flushed."""

    # ------------------------------------------------------------ writes
    def add_parties(self, parties: list[dict]) -> None:
        """Declare parties. A party not yet recorded gets its declaration record (in the
        hash chain); one recorded with exactly this record is left alone; one recorded
        with a different record is `duplicate_conflict` (docs/rules-trust.md#parties)."""
        self._write_lock()  # two runs of one file at once must not race on the same rows
        self.flush()
        new, seen = [], set()
        for p in parties:  # every declaration checked before any is written
            payload = canonical(p)
            payload_hash = sha256_text(payload)
            key = party_key(p["kind"], p["id"])
            recorded = self.event_hash(key)
            if recorded == payload_hash or key in seen:
                continue
            if recorded is not None:
                raise LedgerError("duplicate_conflict", f"{p['kind']} {p['id']} is already "
                                  "recorded with a different record; change it with a dated "
                                  "party_update event")
            seen.add(key)
            new.append(Change(
                EventRecord(key, "party", PARTY_RECORD_DATE, payload_hash, payload=payload),
                parties=[{**p, "valid_from": None}]))
        if new:
            self._write_now(new)

    def apply(self, change: Change) -> None:
        """Write one event's change atomically (at once, or with the batch) or raise."""
        self._write_lock()
        if not self.batch:
            self._write_now([change])
            return
        if change.lock_until is not None or change.parties or any(
                j.reverses_key for j in change.journals) or (
                change.floors and set(change.floors) & set(self._pend_moves)):
            # Written in order: what came before it goes in first (docs/architecture.md
            # #batches).
            self.flush()
        self._pending.append(change)
        for j in change.journals:
            self._pend_journals[j.key] = self._payload_hash(j)
            for p in j.postings:
                self._pend_balance[(p.account, p.unit)] += p.amount_minor
                self._pend_moves[(p.account, p.unit)].append((j.date, p.amount_minor))
        for key, data in change.states.items():  # as it will read back once stored
            self._pend_states[key] = json.loads(json.dumps(data, sort_keys=True, default=str))
        for key, floor_minor in change.floors.items():
            self._floors[key] = floor_minor
        if change.lock_until is not None:
            self._lock = change.lock_until
        self._pend_parties = self._pend_parties or bool(change.parties)
        self._pend_events[change.event.key] = change.event.payload_hash
        if len(self._pending) >= self._flush_every:
            self.flush()

    def flush(self) -> None:
        """Write every kept change (the batched path). If the database refuses the batch,
        each change is written again on its own until the one it refuses: those before it
        stay written, and BatchRefused names it."""
        if not self._pending:
            return
        changes = self._pending
        self._forget_pending()
        try:
            self._write_now(changes)
        except LedgerError:
            for change in changes:
                try:
                    self._write_now([change])
                except LedgerError as err:
                    raise BatchRefused(change.event.key, err) from None
            raise

    def commit(self) -> None:
        """Write what is kept and commit: one durable transaction per batch. The caches
        are kept: the next write locks the ledger again, and forgets them all if another
        writer moved the ledger's head in between (`_write_lock`)."""
        self.flush()
        self.conn.commit()
        self._locked = False

    def rollback(self) -> None:
        """Undo everything since the last commit: what was written, what is kept for the
        batch and what was read (the ledger's lock goes with the transaction)."""
        self.conn.rollback()
        self._reset_caches()

    def _write_now(self, changes: list[Change]) -> None:
        try:
            with self.conn.begin_nested():
                self._write(changes)
        except DBAPIError as err:
            self._reset_caches()
            raise translate_db_error(err) from None
        except BaseException:
            self._reset_caches()
            raise
        finally:
            self._hashes = {}  # the written batch's journals are not needed again

    def _write(self, changes: list[Change]) -> None:
        self._write_lock()
        lid = self._id
        locks = [{"ledger_id": lid, "until": c.lock_until, "event_key": c.event.key}
                 for c in changes if c.lock_until is not None]
        if locks:
            self.conn.execute(insert(m.PeriodLock), locks)
            self._lock = UNKNOWN
        floors = [(account, unit, floor_minor, c.event.key)
                  for c in changes for (account, unit), floor_minor in c.floors.items()]
        journals = []
        opened_by: dict[str, str] = {}  # an account not yet stored: the first record using it
        for c in changes:  # a journal belongs to the record of the event that posts it
            key = c.event.key
            journals += [(key, j if j.event_key == key else dataclasses.replace(j, event_key=key))
                         for j in c.journals]
            for j in c.journals:
                for p in j.postings:
                    opened_by.setdefault(p.account, key)
            for account, _ in c.floors:
                opened_by.setdefault(account, key)
        self._opened = defaultdict(list)
        self._ensure_accounts({(p.account, p.unit) for _, j in journals for p in j.postings}
                              | {(a, u) for a, u, _, _ in floors}, opened_by)
        for account, unit, floor_minor, event_key in floors:
            self._set_floor(account, unit, floor_minor, event_key)
        links = self._post([j for _, j in journals])
        by_event: dict[str, list[list[str]]] = defaultdict(list)
        for event_key, j in journals:
            if j.key in links:
                by_event[event_key].append(links[j.key])
        states: dict[tuple[str, str], dict] = {}
        for c in changes:
            states.update(c.states)
        self._put_states(states)
        for state_key, data in states.items():  # as it reads back from its stored text
            self._states[state_key] = json.loads(json.dumps(data, sort_keys=True, default=str))
        records = []
        for c in changes:
            party_rows = self._write_parties(c.event.key, c.parties)
            records.append((c.event, c.outcome, by_event.get(c.event.key, []), party_rows))
        self._records(records)
        self._move_head()

    def _move_head(self) -> None:
        """Move the ledger's head; on PostgreSQL, with the journals, postings and records
        made since the last write, in one call of `ledger_write` (migration 0009: the same
        statements, run server-side, every trigger firing as before)."""
        seq, head = self._last_record or (0, GENESIS_HASH)
        journal_head = self._last_hash or GENESIS_HASH
        if not self.postgres:
            self.conn.execute(SQL_HEAD, {"seq": seq, "head": head, "lid": self._id,
                                          "journal": journal_head})
        else:
            journals, postings = self._unsent_journals
            records = self._unsent_records
            self._unsent_journals, self._unsent_records = ([], []), []
            params: dict[str, object] = {"lid": self._id, "seq": seq, "head": head,
                                         "journal": journal_head}
            for c in JOURNAL_FN_COLUMNS:
                params[f"j_{c}"] = [r[c] for r in journals]
            for n, c in enumerate(("journal", "account", "unit", "amount")):
                params[f"p_{c}"] = [p[n] for p in postings]
            for c in EVENT_COLUMNS[1:]:
                params[f"e_{c}"] = [r[c] for r in records]
            self.conn.execute(SQL_WRITE_PG, params)
        self._refresh_statistics()

    def _write_parties(self, event_key: str, parties: list[dict]) -> list[list]:
        rows = []
        for p in parties:
            record = {k: v for k, v in p.items() if k != "valid_from"}
            valid_from = p.get("valid_from")
            valid_from = str(valid_from) if valid_from is not None else None
            rows.append([record["kind"], record["id"], valid_from, canonical(record)])
            self._parties.pop((record["kind"], record["id"]), None)
        if rows:
            self.conn.execute(insert(m.PartyRecord), [
                {"ledger_id": self._id, "kind": kind, "id": pid, "event_key": event_key,
                 "data": data, "valid_from": dt.date.fromisoformat(vf) if vf else None}
                for kind, pid, vf, data in rows])
        return rows

    def _records(self, records: list[tuple[EventRecord, str, list[list[str]], list[list]]]
                 ) -> None:
        """Each event's record: the next link of the chain, covering what it wrote
        (store/chain.py), written in one statement."""
        seq, prev = self._last_record or (0, GENESIS_HASH)
        rows: list[dict[str, Any]] = []
        for event, outcome, links, party_rows in records:
            seq += 1
            source = (event.source or "")[-500:] or None  # the column holds 500
            this = record_hash(prev, seq, event.key, event.type, event.date.isoformat(),
                               event.payload_hash, event.payload, outcome, source, links,
                               party_rows, event.rules_version,
                               sorted(self._opened.pop(event.key, [])))
            rows.append({"ledger_id": self._id, "key": event.key, "type": event.type,
                         "date": event.date, "payload_hash": event.payload_hash,
                         "outcome": outcome, "source": source, "seq": seq,
                         "payload": event.payload, "prev_hash": prev, "hash": this,
                         "rules_version": event.rules_version})
            self._event_hashes[event.key] = event.payload_hash
            prev = this
        if self.postgres:  # sent with the journals and the head: one call (_move_head)
            self._unsent_records = rows
        elif rows:
            self.conn.exec_driver_sql(SQL_EVENT_SQLITE, [
                tuple(r[c] if c != "date" else r[c].isoformat() for c in EVENT_COLUMNS)
                for r in rows])
        self._last_record = (seq, prev)

    def post(self, journals: list[Journal]) -> int:
        """Post journals that belong to no scenario event (bulk loads, tests): each event
        key among them gets a record of type `journals` whose payload is the journals
        themselves, so `verify` can rebuild them. Keys already posted with the same
        payload are skipped; with another payload, a conflict."""
        self._write_lock()
        self.flush()
        by_event: dict[str, list[Journal]] = defaultdict(list)
        for j in journals:
            event_key = j.event_key or j.key
            by_event[event_key].append(j if j.event_key == event_key
                                       else dataclasses.replace(j, event_key=event_key))
        self._opened = defaultdict(list)
        try:
            with self.conn.begin_nested():
                link_of = self._post([j for batch in by_event.values() for j in batch])
                records: list[tuple[EventRecord, str, list[list[str]], list[list]]] = []
                for event_key, everything in by_event.items():
                    batch = [j for j in everything if j.key in link_of]  # replays skipped
                    if not batch:
                        continue
                    payload = canonical([journal_json(j) for j in batch])
                    record = EventRecord(event_key, "journals", min(j.date for j in batch),
                                         sha256_text(payload), payload=payload)
                    records.append((record, "applied", [link_of[j.key] for j in batch], []))
                self._records(records)
                self._move_head()
        except BaseException:
            self._reset_caches()
            raise
        finally:
            self._hashes = {}
        return len(link_of)

    def _post(self, journals: list[Journal]) -> dict[str, list[str]]:
        """Set-based inserts, then one sealing UPDATE per chunk. Keys already posted with
        the same payload are skipped. Returns, for each journal posted in order, its key
        and [link hash, memo text], for the event's record."""
        fresh = self._without_replays(journals)
        if not fresh:
            return {}
        opened_by: dict[str, str] = {}
        for j in fresh:
            for p in j.postings:
                opened_by.setdefault(p.account, j.event_key)
        self._ensure_accounts({(p.account, p.unit) for j in fresh for p in j.postings},
                              opened_by)
        reverses = self._journal_ids([j.reverses_key for j in fresh if j.reverses_key])
        prev_hash = self._last_hash or GENESIS_HASH
        rows = []
        links: dict[str, list[str]] = {}
        for j in fresh:
            payload = self._payload_hash(j)
            this_hash = journal_link(prev_hash, j.key, payload, j.event_key)
            memo = json.dumps(j.memo, sort_keys=True, default=str)
            rows.append({
                "ledger_id": self._id, "key": j.key, "type": j.type, "date": j.date,
                "event_key": j.event_key, "holder": j.holder,
                "reverses_id": reverses[j.reverses_key] if j.reverses_key else None,
                "payload_hash": payload, "memo": memo,
                "status": "draft", "prev_hash": prev_hash, "hash": this_hash,
            })
            links[j.key] = [this_hash, memo]
            prev_hash = this_hash
        postings = [
            (j.key, self._account_ids[p.account], p.unit.value, p.amount_minor, j.date)
            for j in fresh for p in j.postings
        ]
        if self.postgres:  # sent with the records and the head: one call (_move_head)
            position = {r["key"]: n for n, r in enumerate(rows, start=1)}
            self._unsent_journals = (rows, [(position[p[0]], *p[1:4]) for p in postings])
        else:
            first, last = self._insert_sqlite(rows, postings)
            self.conn.exec_driver_sql(SQL_SEAL_SQLITE, (self._id, first, last))
        self._last_hash = prev_hash  # valid while this transaction holds the write lock
        self._posted(fresh)
        self._posted_since_analyze += len(fresh)
        return links

    def _insert_sqlite(self, rows: list[dict], postings: list[tuple]) -> tuple[int, int]:
        """SQLite: the journals take the ids after the newest, as SQLite itself would give
        them (this transaction holds the database's only write lock, BEGIN IMMEDIATE), so
        the rows go to the driver's executemany as plain tuples, with no RETURNING and no
        per-row statement building; the first and last id are returned for the seal."""
        values = [tuple(r[c] if c != "date" else r[c].isoformat() for c in JOURNAL_ARRAYS)
                  for r in rows]
        if len(rows) == 1:  # one journal: SQLite gives its id
            first = self.conn.exec_driver_sql(SQL_JOURNAL_SQLITE_ONE, values[0]).lastrowid
        else:
            first = self.conn.exec_driver_sql(SQL_MAX_JOURNAL).scalar_one() + 1
            self.conn.exec_driver_sql(SQL_JOURNAL_SQLITE, [
                (n, *v) for n, v in enumerate(values, start=first)])
        id_of = {r["key"]: n for n, r in enumerate(rows, start=first)}
        lid = self._id
        self.conn.exec_driver_sql(SQL_POSTING_SQLITE, [
            (lid, id_of[key], account_id, unit, amount, on.isoformat())
            for key, account_id, unit, amount, on in postings])
        return first, first + len(rows) - 1

    # ------------------------------------------------------------ helpers
    def _refresh_statistics(self) -> None:
        """PostgreSQL plans the guards' queries from its statistics. A big first load into
        new tables, before autovacuum has analysed them (or on a server that runs without
        it), would leave the planner guessing: it once chose an index on (ledger, holder)
        for a lookup by (ledger, event key) and read every journal for every event. So a
        writer that has posted many journals since its last look analyses the tables when
        they grew by a fifth or more since PostgreSQL last counted them.

        Not on a database that spreads the tables over machines (Citus): there the
        guards' queries are planned on each machine, against its own part of a table,
        which that machine's autovacuum analyses; from the coordinator, ANALYZE would go
        to every part of every ledger, and the coordinator's own count of a spread table
        stays 0, so it would go every time."""
        if not self.postgres or self._posted_since_analyze < ANALYZE_AFTER:
            return
        if self._distributed is None:
            from ledger.store.citus import is_distributed

            self._distributed = is_distributed(self.conn)
        if self._distributed:
            self._posted_since_analyze = 0
            return
        counted = self.conn.execute(text(
            "SELECT reltuples FROM pg_class WHERE oid = CAST('journal' AS regclass)")).scalar()
        if counted is None or counted < 0 or self._posted_since_analyze > 0.2 * counted:
            # ANALYZE holds its table lock to the end of this transaction, and a second
            # ANALYZE would wait for it: a writer in another ledger must never wait on this
            # one, so only one writer at a time analyses, and the others do not wait.
            if not self.conn.execute(text("SELECT pg_try_advisory_xact_lock(4242002)")
                                     ).scalar():
                return
            self.conn.execute(text(f"ANALYZE {', '.join(_ANALYZED)}"))
        self._posted_since_analyze = 0

    def lock_for_write(self) -> None:
        self._write_lock()

    def _write_lock(self) -> None:
        """Writers in one ledger take turns, so its hash chain has one order: each locks
        its ledger's row (PostgreSQL: FOR UPDATE), which holds the chain's heads. Writers
        in different ledgers lock different rows and never wait on each other. SQLite
        allows one writer at a time anyway (BEGIN IMMEDIATE). The row is found by the
        ledger's id, looked up by name in `ledger_name`, never by name in `ledger`
        (docs/scaling.md#layout)."""
        if self._locked:
            return
        lid = ledger_id_of(self.conn, self.ledger)
        if lid is None:  # the ledger's first write makes it
            lid = self._new_ledger()
        lock = SQL_LOCK_PG if self.postgres else SQL_LOCK_SQLITE
        row = self.conn.execute(lock, {"lid": lid}).one()
        head = (row.event_seq, row.event_hash)
        if head != self._last_record:
            # Another writer wrote since our last commit, or this is our first lock and
            # whatever was read before it may be stale: read everything again.
            self._reset_caches()
        self._id = lid
        self._last_record = head
        self._last_hash = row.journal_hash
        self._locked = True

    def _new_ledger(self) -> int:
        """Make this ledger: take an id (PostgreSQL: the next of ledger's sequence;
        SQLite: the next after the newest, under the file's write lock), claim the name
        with it, and if the claim is ours, make the ledger's row with that id. Two first
        writers at once: the second's claim waits for the first's to commit or roll back,
        then finds its id (the second's id is never used). Returns the ledger's id."""
        taken = self.conn.execute(SQL_NEXT_LEDGER_PG if self.postgres
                                  else SQL_NEXT_LEDGER_SQLITE).scalar_one()
        self.conn.execute(SQL_NAME_LEDGER, {"n": self.ledger, "lid": taken})
        lid = self.conn.execute(SQL_LEDGER_ID, {"n": self.ledger}).scalar_one()
        if lid == taken:
            self.conn.execute(SQL_NEW_LEDGER, {"lid": lid, "n": self.ledger,
                                                "g": GENESIS_HASH})
        return int(lid)

    def _payload_hash(self, j: Journal) -> str:
        """A journal's payload hash, worked out once for the batch that holds it (`apply`
        keeps it for the reads, the write checks replays and chains with it)."""
        known = self._hashes.get(id(j))
        if known is not None and known[0] is j:
            return known[1]
        payload = j.payload_hash()
        self._hashes[id(j)] = (j, payload)
        return payload

    def _without_replays(self, journals: list[Journal]) -> list[Journal]:
        keys = [j.key for j in journals]
        known: dict[str, str] = {}
        for start in range(0, len(keys), SEAL_CHUNK):
            known.update(dict(self.conn.execute(SQL_KNOWN_JOURNALS, {
                "lid": self._id, "keys": keys[start:start + SEAL_CHUNK]}).all()))
        fresh = []
        for j in journals:
            if j.key in known:
                if known[j.key] != self._payload_hash(j):
                    raise LedgerError("duplicate_conflict",
                                      f"journal key {j.key!r} is already posted with a "
                                      "different payload")
                continue
            fresh.append(j)
        return fresh

    def _journal_ids(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        found = dict(self.conn.execute(
            select(m.Journal.key, m.Journal.id).where(m.Journal.ledger_id == self._id,
                                                      m.Journal.key.in_(keys))
        ).all())
        missing = set(keys) - set(found)
        if missing:
            raise LedgerError("invalid", f"cannot reverse {sorted(missing)[0]!r}: not posted")
        done = self.conn.execute(
            select(m.Journal.key).where(m.Journal.ledger_id == self._id,
                                        m.Journal.reverses_id.in_(found.values())).limit(1)
        ).scalar_one_or_none()
        if done is not None or len(set(keys)) != len(keys):
            raise LedgerError("invalid", "that journal is already reversed")
        return found

    def _ensure_accounts(self, pairs: set[tuple[str, Unit]], opened_by: dict[str, str]
                         ) -> None:
        """Make the accounts not yet stored, each naming the record that opens it
        (`opened_by`: path -> record key), which then covers its properties in its hash
        (docs/rules-trust.md#accounts); and their balance rows and default floors."""
        paths = sorted({path for path, _ in pairs} - set(self._account_ids))
        for start in range(0, len(paths), SEAL_CHUNK):
            chunk = paths[start:start + SEAL_CHUNK]
            # Each account's id and the units it has balance rows in, in one query.
            for path, account_id, unit in self.conn.execute(
                    SQL_ACCOUNTS, {"lid": self._id, "paths": chunk}):
                self._account_ids[path] = account_id
                self._balance_units_read.add(account_id)
                if unit is not None:
                    self._balance_rows.add((account_id, unit))
            new = [p for p in chunk if p not in self._account_ids]
            if new:
                rows = [{"ledger_id": self._id, "path": p, "holder": account_holder(p),
                         "event_key": opened_by[p]} for p in new]
                self.conn.execute(insert(m.Account), rows)
                for p in new:
                    self._opened[opened_by[p]].append(account_properties(p, account_holder(p)))
                for path, account_id in self.conn.execute(
                        SQL_ACCOUNT_IDS, {"lid": self._id, "paths": new}):
                    self._account_ids[path] = account_id
                    self._balance_units_read.add(account_id)  # none yet
        wanted = {(self._account_ids[path], unit.value): (path, unit) for path, unit in pairs}
        unseen = [k for k in wanted if k not in self._balance_rows]
        if not unseen:
            return
        existing: set[tuple[int, str]] = set()
        ids = sorted({a for a, _ in unseen if a not in self._balance_units_read})
        for start in range(0, len(ids), SEAL_CHUNK):
            existing.update(self.conn.execute(
                select(m.Balance.account_id, m.Balance.unit).where(
                    m.Balance.ledger_id == self._id,
                    m.Balance.account_id.in_(ids[start:start + SEAL_CHUNK]))).all())
        rows = [{"ledger_id": self._id, "account_id": a, "unit": u, "amount_minor": 0}
                for a, u in unseen if (a, u) not in existing]
        if rows:
            self.conn.execute(insert(m.Balance), rows)
            floors = []
            for a, u in unseen:
                if (a, u) not in existing:
                    path, unit = wanted[(a, u)]
                    floor = default_floor(path, unit)
                    self._floors[(path, unit)] = floor
                    if floor is not None:
                        floors.append({"ledger_id": self._id, "account_id": a, "unit": u,
                                       "floor_minor": floor, "event_key": "default"})
            if floors:
                self.conn.execute(insert(m.AccountFloor), floors)
        self._balance_rows.update(unseen)

    def _set_floor(self, account: str, unit: Unit, floor_minor: int, event_key: str) -> None:
        """A new floor is a new row (floors are never edited in place)."""
        current = self.conn.execute(
            select(m.AccountFloor.floor_minor)
            .where(m.AccountFloor.ledger_id == self._id,
                   m.AccountFloor.account_id == self._account_ids[account],
                   m.AccountFloor.unit == unit.value)
            .order_by(m.AccountFloor.id.desc()).limit(1)).scalar_one_or_none()
        if current != floor_minor:
            self.conn.execute(insert(m.AccountFloor).values(
                ledger_id=self._id, account_id=self._account_ids[account], unit=unit.value,
                floor_minor=floor_minor, event_key=event_key))
        self._floors[(account, unit)] = floor_minor

    def _put_states(self, states: dict[tuple[str, str], dict]) -> None:
        """Each state's newest value, in one statement (an upsert)."""
        if not states:
            return
        rows = [{"ledger_id": self._id, "kind": kind, "ref": ref,
                 "data": json.dumps(data, sort_keys=True, default=str)}
                for (kind, ref), data in states.items()]
        if self.postgres:
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        statement = upsert(m.InstrumentState)
        self.conn.execute(statement.on_conflict_do_update(
            index_elements=["ledger_id", "kind", "ref"],
            set_={"data": statement.excluded.data}), rows)
