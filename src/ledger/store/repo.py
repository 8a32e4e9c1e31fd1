"""The database backend: posting journals in bulk, and the reads a handler needs.

One `DbStore` wraps one connection inside a transaction the caller owns. `apply` writes
one event's change inside a savepoint, so a rejection leaves no trace. The database's
triggers (store/guards.py) re-check every invariant the Python side has already checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from sqlalchemy import Connection, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting, default_floor
from ledger.domain.base import Change
from ledger.errors import LedgerError
from ledger.store import models as m

GENESIS_HASH = "0" * 64
_JOURNAL_ARRAYS = {  # column -> PostgreSQL type, for the unnest insert
    "key": "varchar", "type": "varchar", "date": "date", "event_key": "varchar",
    "holder": "varchar", "reverses_id": "integer", "payload_hash": "varchar",
    "memo": "text", "status": "varchar", "prev_hash": "varchar", "hash": "varchar",
}
SEAL_CHUNK = 500  # ids per sealing UPDATE: bounded statements on both engines
_DB_ERROR = re.compile(r"ledger:([a-z_]+): ([^\n]*)")
_CONTRACT_CODE = {"append_only": "invalid"}


def chain_hash(prev_hash: str, key: str, payload_hash: str, event_key: str) -> str:
    return hashlib.sha256(f"{prev_hash}|{key}|{payload_hash}|{event_key}".encode()).hexdigest()


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
                select(m.Balance.floor_minor)
                .join(m.Account, m.Account.id == m.Balance.account_id)
                .where(m.Account.path == account, m.Balance.unit == unit.value)
            ).first()
            self._floors[(account, unit)] = row[0] if row else None
        return self._floors[(account, unit)]

    def get_state(self, kind: str, ref: str) -> dict | None:
        data = self.conn.execute(
            select(m.InstrumentState.data).where(
                m.InstrumentState.kind == kind, m.InstrumentState.ref == ref
            )
        ).scalar_one_or_none()
        return json.loads(data) if data is not None else None

    def party(self, kind: str, party_id: str) -> dict | None:
        if (kind, party_id) not in self._parties:
            data = self.conn.execute(
                select(m.Party.data).where(m.Party.kind == kind, m.Party.id == party_id)
            ).scalar_one_or_none()
            self._parties[(kind, party_id)] = json.loads(data) if data is not None else None
        found = self._parties[(kind, party_id)]
        return dict(found) if found is not None else None

    def parties(self, kind: str) -> dict[str, dict]:
        rows = self.conn.execute(select(m.Party.id, m.Party.data).where(m.Party.kind == kind))
        return {pid: json.loads(data) for pid, data in rows}

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
        self._write_lock()  # two runs of one file at once must not race on the same rows
        self._parties.clear()
        for p in parties:
            data = json.dumps(p, sort_keys=True, default=str)
            found = self.conn.execute(
                select(m.Party.data).where(m.Party.kind == p["kind"], m.Party.id == p["id"])
            ).scalar_one_or_none()
            if found is None:
                self.conn.execute(
                    insert(m.Party).values(kind=p["kind"], id=p["id"], name=p["name"], data=data)
                )
            elif found != data:
                self.conn.execute(
                    update(m.Party)
                    .where(m.Party.kind == p["kind"], m.Party.id == p["id"])
                    .values(name=p["name"], data=data)
                )

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
        if change.event.key:
            self.conn.execute(
                insert(m.Event).values(
                    key=change.event.key,
                    type=change.event.type,
                    date=change.event.date,
                    payload_hash=change.event.payload_hash,
                    outcome=change.outcome,
                    source=(change.event.source or "")[-500:] or None,  # the column holds 500
                )
            )
        if change.lock_until is not None:
            self.conn.execute(
                insert(m.PeriodLock).values(until=change.lock_until, event_key=change.event.key)
            )
            self._lock = _UNKNOWN
        for (account, unit), floor_minor in change.floors.items():
            self._set_floor(account, unit, floor_minor)
        self.post(change.journals)
        for (kind, ref), data in change.states.items():
            self._put_state(kind, ref, data)

    def post(self, journals: list[Journal]) -> int:
        """The bulk path: set-based inserts, then one sealing UPDATE per chunk. Keys already
        posted with the same payload are skipped; with another payload, a conflict."""
        self._write_lock()
        fresh = self._without_replays(journals)
        if not fresh:
            return 0
        self._ensure_accounts({(p.account, p.unit) for j in fresh for p in j.postings})
        reverses = self._journal_ids([j.reverses_key for j in fresh if j.reverses_key])
        prev_hash = self._last_hash or self.conn.execute(
            select(m.Journal.hash).order_by(m.Journal.id.desc()).limit(1)
        ).scalar_one_or_none() or GENESIS_HASH
        rows = []
        for j in fresh:
            payload = j.payload_hash()
            this_hash = chain_hash(prev_hash, j.key, payload, j.event_key)
            rows.append({
                "key": j.key, "type": j.type, "date": j.date, "event_key": j.event_key,
                "holder": j.holder,
                "reverses_id": reverses[j.reverses_key] if j.reverses_key else None,
                "payload_hash": payload, "memo": json.dumps(j.memo, sort_keys=True, default=str),
                "status": "draft", "prev_hash": prev_hash, "hash": this_hash,
            })
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
        return len(fresh)

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
        rows = [
            {"account_id": a, "unit": u, "amount_minor": 0,
             "floor_minor": default_floor(*wanted[(a, u)])}
            for a, u in unseen if (a, u) not in existing
        ]
        if rows:
            self.conn.execute(insert(m.Balance), rows)
            for a, u in unseen:
                if (a, u) not in existing:
                    path, unit = wanted[(a, u)]
                    self._floors[(path, unit)] = default_floor(path, unit)
        self._balance_rows.update(unseen)

    def _set_floor(self, account: str, unit: Unit, floor_minor: int) -> None:
        self._ensure_accounts({(account, unit)})
        self.conn.execute(
            update(m.Balance)
            .where(m.Balance.account_id == self._account_ids[account],
                   m.Balance.unit == unit.value)
            .values(floor_minor=floor_minor)
        )
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


__all__ = ["DbStore", "chain_hash", "translate_db_error"]
