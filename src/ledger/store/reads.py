"""The reads of `DbStore` (store/repo.py): what a handler asks of its ledger (balances,
floors, states, parties, the period lock, recorded events and journals). Each is read
once and kept in the store's caches (store/state.py); a batched store's reads also see
what the batch keeps, an overlay on what is stored."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

from sqlalchemy import Connection, func, or_, select

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting
from ledger.core.plain import copy_plain
from ledger.store import models as m
from ledger.store.sql import (
    SEAL_CHUNK,
    SQL_BALANCE,
    SQL_FLOOR,
    SQL_JOURNAL_HASH,
    SQL_LEDGER_ID,
    SQL_LEDGER_NAMES,
    SQL_MOVES_FROM,
    SQL_PARTY,
    SQL_STATE,
)
from ledger.store.state import UNKNOWN, StoreState


def ledger_id_of(conn: Connection, name: str) -> int | None:
    """The id of the ledger named `name` (from `ledger_name`), or None."""
    return conn.execute(SQL_LEDGER_ID, {"n": name}).scalar_one_or_none()


def ledger_names(conn: Connection) -> list[str]:
    """Every ledger's name, from `ledger_name`: never a read of every ledger's row."""
    return list(conn.execute(SQL_LEDGER_NAMES).scalars())


class Reader(StoreState):
    """The reads of a `DbStore`."""

    # ------------------------------------------------------------ the ledger
    @property
    def lid(self) -> int:
        """This ledger's id; -1 (matching nothing) for a ledger not yet created."""
        if self._id is None:
            found = ledger_id_of(self.conn, self.ledger)
            if found is None:
                return -1
            self._id = found
        return self._id

    def exists(self) -> bool:
        return self.lid != -1

    # ------------------------------------------------------------ Backend reads
    def balance(self, account: str, unit: Unit) -> int:
        return self._stored_balance(account, unit) + self._pend_balance.get((account, unit), 0)

    def _stored_balance(self, account: str, unit: Unit) -> int:
        if (account, unit) not in self._balances:
            row = self.conn.execute(SQL_BALANCE, {"lid": self.lid, "path": account,
                                                   "unit": unit.value}).first()
            self._balances[(account, unit)] = int(row[0]) if row else 0
        return self._balances[(account, unit)]

    def _stored_from(self, account: str, unit: Unit, day: dt.date
                     ) -> tuple[int, dict[dt.date, int]]:
        """The stored balance at the end of the day before `day`, and the posted movement
        of each later date. The postings dated from `day` on are read once, through the
        (account, unit, date) index, and kept: the cost is the later postings, never the
        account's whole history (docs/architecture.md#batches)."""
        cached = self._moves.get((account, unit))
        if cached is None or day < cached[0]:
            rows = {d if isinstance(d, dt.date) else dt.date.fromisoformat(d): int(total)
                    for d, total in self.conn.execute(SQL_MOVES_FROM, {
                        "lid": self.lid, "path": account, "unit": unit.value, "day": day})}
            cached = [day, self._stored_balance(account, unit) - sum(rows.values()), rows]
            self._moves[(account, unit)] = cached
        _, opening, moves = cached
        before = sum(total for d, total in moves.items() if d < day)
        return opening + before, {d: total for d, total in moves.items() if d >= day}

    def balance_as_of(self, account: str, unit: Unit, as_of: dt.date) -> int:
        opening, _ = self._stored_from(account, unit, as_of + dt.timedelta(days=1))
        pending = sum(n for d, n in self._pend_moves.get((account, unit), ()) if d <= as_of)
        return opening + pending

    def balance_moves_from(self, account: str, unit: Unit, day: dt.date
                           ) -> tuple[int, list[tuple[dt.date, int]]]:
        opening, stored = self._stored_from(account, unit, day)
        moves: dict[dt.date, int] = defaultdict(int, stored)
        for d, n in self._pend_moves.get((account, unit), ()):
            if d < day:
                opening += n
            else:
                moves[d] += n
        return opening, sorted(moves.items())

    def _posted(self, journals: list[Journal]) -> None:
        """Keep the cached stored balances and movements true after a write."""
        for j in journals:
            for p in j.postings:
                key = (p.account, p.unit)
                if key in self._balances:
                    self._balances[key] += p.amount_minor
                cached = self._moves.get(key)
                if cached is not None:
                    if j.date < cached[0]:
                        cached[1] += p.amount_minor
                    else:
                        cached[2][j.date] = cached[2].get(j.date, 0) + p.amount_minor

    def floor(self, account: str, unit: Unit) -> int | None:
        if (account, unit) not in self._floors:
            row = self.conn.execute(SQL_FLOOR, {"lid": self.lid, "path": account,
                                                 "unit": unit.value}).first()
            self._floors[(account, unit)] = row[0] if row else None
        return self._floors[(account, unit)]

    def accounts_like(self, path: str) -> set[str]:
        """The account `path`, if this ledger has it (a set, for membership tests)."""
        return set(self.conn.execute(select(m.Account.path).where(
            m.Account.ledger_id == self.lid, m.Account.path == path)).scalars())

    def state_refs(self, kind: str) -> list[str]:
        stored = set(self.conn.execute(
            select(m.InstrumentState.ref).where(m.InstrumentState.ledger_id == self.lid,
                                                m.InstrumentState.kind == kind)).scalars())
        stored.update(ref for k, ref in self._pend_states if k == kind)
        return sorted(stored)

    def states(self, kind: str) -> dict[str, dict]:
        """Every stored state of a kind, read in one query (and kept, as `get_state`
        keeps what it reads): for reports that look at all of them."""
        for ref, data in self.conn.execute(
                select(m.InstrumentState.ref, m.InstrumentState.data).where(
                    m.InstrumentState.ledger_id == self.lid,
                    m.InstrumentState.kind == kind)):
            if (kind, ref) not in self._pend_states:
                self._states[(kind, ref)] = json.loads(data)
        return {ref: state for ref in self.state_refs(kind)
                if (state := self.get_state(kind, ref)) is not None}

    def get_state(self, kind: str, ref: str) -> dict | None:
        # Shared, not copied: a handler's context copies what it reads (Ctx.state).
        if (kind, ref) in self._pend_states:
            return self._pend_states[(kind, ref)]
        if (kind, ref) not in self._states:
            data = self.conn.execute(SQL_STATE, {"lid": self.lid, "kind": kind,
                                                  "ref": ref}).scalar_one_or_none()
            self._states[(kind, ref)] = json.loads(data) if data is not None else None
        return self._states[(kind, ref)]

    def party(self, kind: str, party_id: str, as_of: dt.date | None = None) -> dict | None:
        """The party's record in force on `as_of` (None: the newest), or None."""
        if self._pend_parties:
            self.flush()
        if (kind, party_id) not in self._parties:
            self._parties[(kind, party_id)] = [  # every record, in the order they apply
                (valid_from, json.loads(data)) for valid_from, data in self.conn.execute(
                    SQL_PARTY, {"lid": self.lid, "kind": kind, "id": party_id})]
        found = None
        for valid_from, data in self._parties[(kind, party_id)]:
            if as_of is None or valid_from is None or valid_from <= as_of:
                found = data  # later records supersede earlier ones
        return copy_plain(found) if found is not None else None

    def parties(self, kind: str, as_of: dt.date | None = None,
                only: str | None = None) -> dict[str, dict]:
        """Every party of a kind (or just `only`), each record as in force on `as_of`."""
        if self._pend_parties:
            self.flush()
        query = select(m.PartyRecord.id, m.PartyRecord.data).where(
            m.PartyRecord.ledger_id == self.lid, m.PartyRecord.kind == kind)
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
        if key in self._pend_journals:
            return self._pend_journals[key]
        return self.conn.execute(SQL_JOURNAL_HASH, {"lid": self.lid, "key": key}
                                 ).scalar_one_or_none()

    def journals_for_event(self, event_key: str) -> list[Journal]:
        self.flush()
        return self.load_journals(m.Journal.event_key == event_key)

    def is_reversed(self, journal_key: str) -> bool:
        self.flush()
        original = select(m.Journal.id).where(m.Journal.ledger_id == self.lid,
                                              m.Journal.key == journal_key).scalar_subquery()
        return (
            self.conn.execute(select(m.Journal.id).where(m.Journal.ledger_id == self.lid,
                                                         m.Journal.reverses_id == original))
            .first()
            is not None
        )

    def locked_until(self) -> dt.date | None:
        if self._lock is UNKNOWN:
            self._lock = self.conn.execute(select(func.max(m.PeriodLock.until)).where(
                m.PeriodLock.ledger_id == self.lid)).scalar_one()
        return self._lock  # type: ignore[return-value]

    def event_hash(self, key: str) -> str | None:
        if key in self._pend_events:
            return self._pend_events[key]
        if key not in self._event_hashes:
            self.prefetch_events([key])
        return self._event_hashes[key]


    # ------------------------------------------------------------ loading journals
    def load_journals(self, *where) -> list[Journal]:
        """Posted journals of this ledger matching `where`, with their postings, in
        posting order."""
        return [j for _, j in self.journals_with_ids(*where)]

    def journals_with_ids(self, *where, limit: int | None = None
                          ) -> list[tuple[int, Journal]]:
        """(id, journal) of the first `limit` posted journals matching `where`, in
        posting order."""
        self.flush()
        reversed_j = m.Journal.__table__.alias("reversed_j")
        query = (
            select(m.Journal.__table__, reversed_j.c.key.label("reverses_key"))
            .outerjoin(reversed_j, (reversed_j.c.ledger_id == m.Journal.ledger_id)
                       & (reversed_j.c.id == m.Journal.reverses_id))
            .where(m.Journal.ledger_id == self.lid, m.Journal.status == "posted", *where)
            .order_by(m.Journal.id)
        )
        rows = self.conn.execute(query if limit is None else query.limit(limit)).all()
        if not rows:
            return []
        ids = [row.id for row in rows]
        postings: dict[int, list[Posting]] = {i: [] for i in ids}
        for chunk_start in range(0, len(ids), SEAL_CHUNK):
            chunk = ids[chunk_start:chunk_start + SEAL_CHUNK]
            for journal_id, path, unit, amount in self.conn.execute(
                select(m.Posting.journal_id, m.Account.path, m.Posting.unit,
                       m.Posting.amount_minor)
                .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                      & (m.Account.id == m.Posting.account_id))
                .where(m.Posting.ledger_id == self.lid, m.Account.ledger_id == self.lid,
                       m.Posting.journal_id.in_(chunk))
                .order_by(m.Posting.id)
            ):
                postings[journal_id].append(Posting(path, Unit(unit), amount))
        return [
            (row.id, Journal(
                key=row.key,
                type=row.type,
                date=row.date,
                postings=tuple(postings[row.id]),
                event_key=row.event_key,
                holder=row.holder,
                reverses_key=row.reverses_key,
                memo=json.loads(row.memo),
            ))
            for row in rows
        ]

    def journals_touching(self, prefixes: list[str], until: dt.date) -> list[Journal]:
        """Journals with a posting to an account whose path starts with one of `prefixes`
        (or equals it), dated on or before `until`: what a statement needs."""
        conditions = [m.Account.path.startswith(p, autoescape=True) for p in prefixes]
        touching = (
            select(m.Posting.journal_id)
            .join(m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
                  & (m.Account.id == m.Posting.account_id))
            .where(m.Posting.ledger_id == self.lid, m.Account.ledger_id == self.lid,
                   or_(*conditions))
        )
        return self.load_journals(m.Journal.id.in_(touching), m.Journal.date <= until)
