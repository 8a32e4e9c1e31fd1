"""The database backend: posting journals in bulk, and the reads a handler needs.

One `DbStore` wraps one connection inside a transaction the caller owns. `apply` writes
one event's change inside a savepoint, so a rejection leaves no trace, and ends it with the
event's record in the hash chain (store/chain.py). The database's triggers (installed by
the migrations) re-check every invariant the Python side has already checked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections import defaultdict

from sqlalchemy import Connection, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting, default_floor, sha256_text
from ledger.domain.base import Change, EventRecord
from ledger.errors import LedgerError
from ledger.store import models as m
from ledger.store.chain import GENESIS_HASH, canonical, journal_link, record_hash

PARTY_RECORD_DATE = dt.date(1900, 1, 1)  # a declaration's record: in force from the start
_JOURNAL_ARRAYS = {  # column -> PostgreSQL type, for the unnest insert
    "key": "varchar", "type": "varchar", "date": "date", "event_key": "varchar",
    "holder": "varchar", "reverses_id": "integer", "payload_hash": "varchar",
    "memo": "text", "status": "varchar", "prev_hash": "varchar", "hash": "varchar",
}
SEAL_CHUNK = 500  # ids per sealing UPDATE: bounded statements on both engines
_DB_ERROR = re.compile(r"ledger:([a-z_]+): ([^\n]*)")
_CONTRACT_CODE = {"append_only": "invalid"}


def party_key(kind: str, party_id: str) -> str:
    """The record key of a party's declaration: declaring it again is a replay."""
    return f"party/{kind}/{party_id}"


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


_UNKNOWN = object()


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


class DbStore:
    """Lives for one transaction. It caches what rarely changes (account ids, floors,
    parties, the period lock, the chain's last hash); a rejected change clears them all,
    since its savepoint rolled back whatever they had learned inside it."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._locked = False
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._account_ids: dict[str, int] = {}
        self._balance_rows: set[tuple[int, str]] = set()
        self._floors: dict[tuple[str, Unit], int | None] = {}
        self._parties: dict[tuple[str, str], dict | None] = {}
        self._lock: object = _UNKNOWN
        self._last_hash: str | None = None
        self._last_record: tuple[int, str] | None = None

    # ------------------------------------------------------------ Backend reads
    def balance(self, account: str, unit: Unit) -> int:
        row = self.conn.execute(
            select(m.Balance.amount_minor)
            .join(m.Account, m.Account.id == m.Balance.account_id)
            .where(m.Account.path == account, m.Balance.unit == unit.value)
        ).first()
        return row[0] if row else 0

    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        total = self.conn.execute(
            select(func.coalesce(func.sum(m.Posting.amount_minor), 0))
            .join(m.Journal, m.Journal.id == m.Posting.journal_id)
            .join(m.Account, m.Account.id == m.Posting.account_id)
            .where(
                m.Account.path == account,
                m.Posting.unit == unit.value,
                m.Journal.status == "posted",
                m.Journal.date <= as_of,
            )
        ).scalar_one()
        return int(total)

    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        rows = self.conn.execute(
            select(m.Journal.date >= day, m.Journal.date, func.sum(m.Posting.amount_minor))
            .join(m.Journal, m.Journal.id == m.Posting.journal_id)
            .join(m.Account, m.Account.id == m.Posting.account_id)
            .where(m.Account.path == account, m.Posting.unit == unit.value,
                   m.Journal.status == "posted")
            .group_by(m.Journal.date)
            .order_by(m.Journal.date)
        ).all()
        opening = sum(int(total) for later, _, total in rows if not later)
        return opening, [(d, int(total)) for later, d, total in rows if later]

    def floor(self, account: str, unit: Unit) -> int | None:
        if (account, unit) not in self._floors:
            row = self.conn.execute(
                select(m.AccountFloor.floor_minor)
                .join(m.Account, m.Account.id == m.AccountFloor.account_id)
                .where(m.Account.path == account, m.AccountFloor.unit == unit.value)
                .order_by(m.AccountFloor.id.desc()).limit(1)
            ).first()
            self._floors[(account, unit)] = row[0] if row else None
        return self._floors[(account, unit)]

    def state_refs(self, kind: str) -> list[str]:
        return list(self.conn.execute(
            select(m.InstrumentState.ref).where(m.InstrumentState.kind == kind)
            .order_by(m.InstrumentState.ref)).scalars())

    def get_state(self, kind: str, ref: str) -> dict | None:
        data = self.conn.execute(
            select(m.InstrumentState.data).where(
                m.InstrumentState.kind == kind, m.InstrumentState.ref == ref
            )
        ).scalar_one_or_none()
        return json.loads(data) if data is not None else None

    def party(self, kind: str, party_id: str, as_of: dt.date | None = None) -> dict | None:
        """The party's record in force on `as_of` (None: the newest), or None."""
        if as_of is not None:
            return self.parties(kind, as_of, party_id).get(party_id)
        if (kind, party_id) not in self._parties:
            self._parties[(kind, party_id)] = self.parties(kind, None, party_id).get(party_id)
        found = self._parties[(kind, party_id)]
        return dict(found) if found is not None else None

    def parties(self, kind: str, as_of: dt.date | None = None,
                only: str | None = None) -> dict[str, dict]:
        """Every party of a kind (or just `only`), each record as in force on `as_of`."""
        query = select(m.PartyRecord.id, m.PartyRecord.data).where(m.PartyRecord.kind == kind)
        if only is not None:
            query = query.where(m.PartyRecord.id == only)
        if as_of is not None:
            query = query.where(or_(m.PartyRecord.valid_from.is_(None),
                                    m.PartyRecord.valid_from <= as_of))
        found: dict[str, dict] = {}
        for pid, data in self.conn.execute(query.order_by(m.PartyRecord.valid_from.is_not(None),
                                                          m.PartyRecord.valid_from,
                                                          m.PartyRecord.seq)):
            found[pid] = json.loads(data)  # later rows supersede earlier ones
        return found

    def journal_hash(self, key: str) -> str | None:
        return self.conn.execute(
            select(m.Journal.payload_hash).where(m.Journal.key == key)
        ).scalar_one_or_none()

    def journals_for_event(self, event_key: str) -> list[Journal]:
        return self.load_journals(m.Journal.event_key == event_key)

    def is_reversed(self, journal_key: str) -> bool:
        original = select(m.Journal.id).where(m.Journal.key == journal_key).scalar_subquery()
        return (
            self.conn.execute(select(m.Journal.id).where(m.Journal.reverses_id == original))
            .first()
            is not None
        )

    def locked_until(self) -> dt.date | None:
        if self._lock is _UNKNOWN:
            self._lock = self.conn.execute(select(func.max(m.PeriodLock.until))).scalar_one()
        return self._lock  # type: ignore[return-value]

    def event_hash(self, key: str) -> str | None:
        return self.conn.execute(
            select(m.Event.payload_hash).where(m.Event.key == key)
        ).scalar_one_or_none()

    # ------------------------------------------------------------ loading journals
    def load_journals(self, *where) -> list[Journal]:
        """Posted journals matching `where`, with their postings, in posting order."""
        reversed_j = m.Journal.__table__.alias("reversed_j")
        rows = self.conn.execute(
            select(m.Journal.__table__, reversed_j.c.key.label("reverses_key"))
            .outerjoin(reversed_j, reversed_j.c.id == m.Journal.reverses_id)
            .where(m.Journal.status == "posted", *where)
            .order_by(m.Journal.id)
        ).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        postings: dict[int, list[Posting]] = {i: [] for i in ids}
        for chunk_start in range(0, len(ids), SEAL_CHUNK):
            chunk = ids[chunk_start:chunk_start + SEAL_CHUNK]
            for journal_id, path, unit, amount in self.conn.execute(
                select(m.Posting.journal_id, m.Account.path, m.Posting.unit,
                       m.Posting.amount_minor)
                .join(m.Account, m.Account.id == m.Posting.account_id)
                .where(m.Posting.journal_id.in_(chunk))
                .order_by(m.Posting.id)
            ):
                postings[journal_id].append(Posting(path, Unit(unit), amount))
        return [
            Journal(
                key=row.key,
                type=row.type,
                date=row.date,
                postings=tuple(postings[row.id]),
                event_key=row.event_key,
                holder=row.holder,
                reverses_key=row.reverses_key,
                memo=json.loads(row.memo),
            )
            for row in rows
        ]

    def journals_touching(self, prefixes: list[str], until: dt.date) -> list[Journal]:
        """Journals with a posting to an account whose path starts with one of `prefixes`
        (or equals it), dated on or before `until`: what a statement needs."""
        conditions = [m.Account.path.startswith(p, autoescape=True) for p in prefixes]
        touching = (
            select(m.Posting.journal_id)
            .join(m.Account, m.Account.id == m.Posting.account_id)
            .where(or_(*conditions))
        )
        return self.load_journals(m.Journal.id.in_(touching), m.Journal.date <= until)

    # ------------------------------------------------------------ writes
    def add_parties(self, parties: list[dict]) -> None:
        """Declare parties. A party not yet recorded gets its declaration record (in the
        hash chain); one recorded with exactly this record is left alone; one recorded
        with a different record is `duplicate_conflict` (docs/rules-trust.md#parties)."""
        self._write_lock()  # two runs of one file at once must not race on the same rows
        new = []
        for p in parties:  # every declaration checked before any is written
            payload = canonical(p)
            payload_hash = sha256_text(payload)
            key = party_key(p["kind"], p["id"])
            recorded = self.event_hash(key)
            if recorded == payload_hash:
                continue
            if recorded is not None:
                raise LedgerError("duplicate_conflict", f"{p['kind']} {p['id']} is already "
                                  "recorded with a different record; change it with a dated "
                                  "party_update event")
            new.append(Change(
                EventRecord(key, "party", PARTY_RECORD_DATE, payload_hash, payload=payload),
                parties=[{**p, "valid_from": None}]))
        with self.conn.begin_nested():
            for change in new:
                self.apply(change)

    def apply(self, change: Change) -> None:
        """Write one event's change atomically (a savepoint) or raise LedgerError."""
        self._write_lock()
        try:
            with self.conn.begin_nested():
                self._apply(change)
        except DBAPIError as err:
            self._reset_caches()
            raise translate_db_error(err) from None
        except BaseException:
            self._reset_caches()
            raise

    def _apply(self, change: Change) -> None:
        if change.lock_until is not None:
            self.conn.execute(
                insert(m.PeriodLock).values(until=change.lock_until, event_key=change.event.key)
            )
            self._lock = _UNKNOWN
        for (account, unit), floor_minor in change.floors.items():
            self._set_floor(account, unit, floor_minor, change.event.key)
        key = change.event.key  # a journal belongs to the record of the event that posts it
        links = list(self._post([j if j.event_key == key
                                 else dataclasses.replace(j, event_key=key)
                                 for j in change.journals]).values())
        for (kind, ref), data in change.states.items():
            self._put_state(kind, ref, data)
        party_rows = self._write_parties(change.event.key, change.parties)
        self._record(change.event, change.outcome, links, party_rows)

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
                {"kind": kind, "id": pid, "event_key": event_key, "data": data,
                 "valid_from": dt.date.fromisoformat(vf) if vf else None}
                for kind, pid, vf, data in rows])
        return rows

    def _record(self, event: EventRecord, outcome: str, links: list[list[str]],
                party_rows: list[list]) -> None:
        self._records([(event, outcome, links, party_rows)])

    def _records(self, records: list[tuple[EventRecord, str, list[list[str]], list[list]]]
                 ) -> None:
        """Each event's record: the next link of the chain, covering what it wrote
        (store/chain.py), written in one statement."""
        if self._last_record is None:
            last = self.conn.execute(
                select(m.Event.seq, m.Event.hash).order_by(m.Event.seq.desc()).limit(1)
            ).first()
            self._last_record = (last[0], last[1]) if last else (0, GENESIS_HASH)
        seq, prev = self._last_record
        rows = []
        for event, outcome, links, party_rows in records:
            seq += 1
            source = (event.source or "")[-500:] or None  # the column holds 500
            this = record_hash(prev, seq, event.key, event.type, event.date.isoformat(),
                               event.payload_hash, event.payload, outcome, source, links,
                               party_rows)
            rows.append({"key": event.key, "type": event.type, "date": event.date,
                         "payload_hash": event.payload_hash, "outcome": outcome,
                         "source": source, "seq": seq, "payload": event.payload,
                         "prev_hash": prev, "hash": this})
            prev = this
        if rows:
            self.conn.execute(insert(m.Event), rows)
        self._last_record = (seq, prev)

    def post(self, journals: list[Journal]) -> int:
        """Post journals that belong to no scenario event (bulk loads, tests): each event
        key among them gets a record of type `journals` whose payload is the journals
        themselves, so `verify` can rebuild them. Keys already posted with the same
        payload are skipped; with another payload, a conflict."""
        self._write_lock()
        by_event: dict[str, list[Journal]] = defaultdict(list)
        for j in journals:
            event_key = j.event_key or j.key
            by_event[event_key].append(j if j.event_key == event_key
                                       else dataclasses.replace(j, event_key=event_key))
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
        return len(link_of)

    def _post(self, journals: list[Journal]) -> dict[str, list[str]]:
        """The bulk path: set-based inserts, then one sealing UPDATE per chunk. Keys
        already posted with the same payload are skipped. Returns, for each journal posted
        in order, its key and [link hash, memo text], for the event's record."""
        fresh = self._without_replays(journals)
        if not fresh:
            return {}
        self._ensure_accounts({(p.account, p.unit) for j in fresh for p in j.postings})
        reverses = self._journal_ids([j.reverses_key for j in fresh if j.reverses_key])
        prev_hash = self._last_hash or self.conn.execute(
            select(m.Journal.hash).order_by(m.Journal.id.desc()).limit(1)
        ).scalar_one_or_none() or GENESIS_HASH
        rows = []
        links: dict[str, list[str]] = {}
        for j in fresh:
            payload = j.payload_hash()
            this_hash = journal_link(prev_hash, j.key, payload, j.event_key)
            memo = json.dumps(j.memo, sort_keys=True, default=str)
            rows.append({
                "key": j.key, "type": j.type, "date": j.date, "event_key": j.event_key,
                "holder": j.holder,
                "reverses_id": reverses[j.reverses_key] if j.reverses_key else None,
                "payload_hash": payload, "memo": memo,
                "status": "draft", "prev_hash": prev_hash, "hash": this_hash,
            })
            links[j.key] = [this_hash, memo]
            prev_hash = this_hash
        postings = [
            (j.key, self._account_ids[p.account], p.unit.value, p.amount_minor)
            for j in fresh for p in j.postings
        ]
        insert_rows = self._insert_postgres if self.postgres else self._insert_generic
        id_of = insert_rows(rows, postings)
        ids = [id_of[j.key] for j in fresh]
        for start in range(0, len(ids), SEAL_CHUNK):
            self.conn.execute(
                update(m.Journal)
                .where(m.Journal.id.in_(ids[start:start + SEAL_CHUNK]))
                .values(status="posted")
            )
        self._last_hash = prev_hash  # valid while this transaction holds the write lock
        return links

    def _insert_generic(self, rows: list[dict], postings: list[tuple]) -> dict[str, int]:
        # RETURNING the key as well as the id lets the rows come back in any order, which
        # keeps SQLite on its batched path (sort_by_parameter_order would go row by row).
        id_of = dict(self.conn.execute(
            insert(m.Journal).returning(m.Journal.key, m.Journal.id), rows).all())
        self.conn.execute(insert(m.Posting), [
            {"journal_id": id_of[key], "account_id": account_id, "unit": unit,
             "amount_minor": amount}
            for key, account_id, unit, amount in postings
        ])
        return id_of

    def _insert_postgres(self, rows: list[dict], postings: list[tuple]) -> dict[str, int]:
        """Two set-based statements over arrays (unnest): one round trip each, whatever
        the batch size, and one firing of each statement-level guard trigger."""
        cols = list(_JOURNAL_ARRAYS)
        id_of: dict[str, int] = dict(self.conn.execute(
            text(f"INSERT INTO journal ({', '.join(cols)}) SELECT * FROM unnest("
                 + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _JOURNAL_ARRAYS.items())
                 + ") RETURNING key, id"),
            {c: [r[c] for r in rows] for c in cols},
        ).all())
        self.conn.execute(
            text("INSERT INTO posting (journal_id, account_id, unit, amount_minor) "
                 "SELECT * FROM unnest(CAST(:j AS integer[]), CAST(:a AS integer[]), "
                 "CAST(:u AS varchar[]), CAST(:m AS bigint[]))"),
            {"j": [id_of[p[0]] for p in postings], "a": [p[1] for p in postings],
             "u": [p[2] for p in postings], "m": [p[3] for p in postings]},
        )
        return id_of

    # ------------------------------------------------------------ helpers
    def lock_for_write(self) -> None:
        self._write_lock()

    def _write_lock(self) -> None:
        """Writers take turns, so the hash chain has one order. SQLite's BEGIN IMMEDIATE
        already gives that; PostgreSQL takes a transaction-scoped advisory lock."""
        if self.postgres and not self._locked:
            self.conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
            self._locked = True

    def _without_replays(self, journals: list[Journal]) -> list[Journal]:
        keys = [j.key for j in journals]
        known: dict[str, str] = {}
        for start in range(0, len(keys), SEAL_CHUNK):
            known.update(dict(self.conn.execute(
                select(m.Journal.key, m.Journal.payload_hash)
                .where(m.Journal.key.in_(keys[start:start + SEAL_CHUNK]))
            ).all()))
        fresh = []
        for j in journals:
            if j.key in known:
                if known[j.key] != j.payload_hash():
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
            select(m.Journal.key, m.Journal.id).where(m.Journal.key.in_(keys))
        ).all())
        missing = set(keys) - set(found)
        if missing:
            raise LedgerError("invalid", f"cannot reverse {sorted(missing)[0]!r}: not posted")
        done = self.conn.execute(
            select(m.Journal.key).where(m.Journal.reverses_id.in_(found.values())).limit(1)
        ).scalar_one_or_none()
        if done is not None or len(set(keys)) != len(keys):
            raise LedgerError("invalid", "that journal is already reversed")
        return found

    def _ensure_accounts(self, pairs: set[tuple[str, Unit]]) -> None:
        paths = sorted({path for path, _ in pairs} - set(self._account_ids))
        if paths:
            self._account_ids.update(dict(self.conn.execute(
                select(m.Account.path, m.Account.id).where(m.Account.path.in_(paths))
            ).all()))
            new = [p for p in paths if p not in self._account_ids]
            if new:
                self.conn.execute(insert(m.Account), [{"path": p} for p in new])
                self._account_ids.update(dict(self.conn.execute(
                    select(m.Account.path, m.Account.id).where(m.Account.path.in_(new))
                ).all()))
        wanted = {(self._account_ids[path], unit.value): (path, unit) for path, unit in pairs}
        unseen = [k for k in wanted if k not in self._balance_rows]
        if not unseen:
            return
        existing = set(self.conn.execute(
            select(m.Balance.account_id, m.Balance.unit).where(
                m.Balance.account_id.in_({a for a, _ in unseen})
            )
        ).all())
        rows = [{"account_id": a, "unit": u, "amount_minor": 0}
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
                        floors.append({"account_id": a, "unit": u, "floor_minor": floor,
                                       "event_key": "default"})
            if floors:
                self.conn.execute(insert(m.AccountFloor), floors)
        self._balance_rows.update(unseen)

    def _set_floor(self, account: str, unit: Unit, floor_minor: int, event_key: str) -> None:
        """A new floor is a new row (floors are never edited in place)."""
        self._ensure_accounts({(account, unit)})
        if self.floor(account, unit) == floor_minor:
            return
        self.conn.execute(insert(m.AccountFloor).values(
            account_id=self._account_ids[account], unit=unit.value, floor_minor=floor_minor,
            event_key=event_key))
        self._floors[(account, unit)] = floor_minor

    def _put_state(self, kind: str, ref: str, data: dict) -> None:
        text = json.dumps(data, sort_keys=True, default=str)
        done = self.conn.execute(
            update(m.InstrumentState)
            .where(m.InstrumentState.kind == kind, m.InstrumentState.ref == ref)
            .values(data=text)
        )
        if done.rowcount == 0:
            self.conn.execute(insert(m.InstrumentState).values(kind=kind, ref=ref, data=text))


__all__ = ["DbStore", "journal_from_json", "journal_json", "party_key",
           "translate_db_error"]
