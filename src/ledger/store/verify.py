"""`ledger verify`: recompute every invariant from the stored rows and name the first break
(docs/rules-trust.md#verify).

Checked here, from the rows alone:
- journals, in chain order: sealed, with postings, summing to zero per unit, their payload
  hash matching their postings, their link hash following from the one before;
- records (events, party declarations, direct posts), in chain order: numbered 1, 2, ...
  without a gap, each chained to the one before, each hash covering every stored field of
  the record, of each journal it posted (link and memo) and each party record it wrote,
  and its rules version from version 2 on (a version this program does not know is a
  break), and every property of each account it opened; every journal, party record
  and account opened since revision 0006 belongs to a record;
- every account's holder is the one its path names (docs/rules-trust.md#accounts);
- stored balances equal the posted sums, and all balances in each unit sum to zero;
- every floored balance at or above its floor on every date it has postings;
- no journal posted into a period after the period was closed.
The instrument state is checked by replaying the records (ledger/app/rebuild.py).

With `since_journal` (the last journal a checkpoint covers: docs/rules-trust.md
#checkpoints), every hash and link of both chains is still checked, and every other check
above is still made over the whole ledger, but the postings of the journals up to that
one are not read again: their payload hashes, which the chain covers, are taken as
stored (each was checked against its postings by the verify that preceded the
checkpoint's writing, and the balances, which cover their sums, are checked here).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, text

from ledger.core.change import KNOWN_RULES
from ledger.core.journal import payload_hash_of, sha256_text
from ledger.store import models as m
from ledger.store.chain import GENESIS_HASH, account_properties, journal_link, record_hash
from ledger.store.repo import account_holder, ledger_id_of

STREAM_ROWS = 5000


@dataclass
class ChainHead:
    journals: int = 0
    hash: str = GENESIS_HASH
    # every (journals so far, record hash) the chain passed through, for --expect-head;
    # with `watch`, only that one (so memory does not grow with the chain)
    passed: set[tuple[int, str]] = field(default_factory=lambda: {(0, GENESIS_HASH)})
    watch: tuple[int, str] | None = None

    def reached(self) -> None:
        if self.watch is None or self.watch == (self.journals, self.hash):
            self.passed.add((self.journals, self.hash))

    def text(self) -> str:
        return f"{self.journals}:{self.hash}"


def parse_head(text: str) -> tuple[int, str]:
    """`N:HASH` as printed by verify; ValueError if it is not that."""
    count, _, digest = text.partition(":")
    if not count.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef"
                                                       for c in digest):
        raise ValueError(f"{text[:80]!r} is not N:HASH (as `ledger verify` prints it)")
    return int(count), digest


def first_break(conn: Connection, head: ChainHead | None = None,
                ledger: str = "main", since_journal: int = 0) -> str | None:
    """None when every stored invariant of one ledger holds, else one sentence naming the
    first break. `head`, when given, is filled in with the chain's head as far as it was
    read. `since_journal`: the postings of journals up to this id are not read again."""
    head = head if head is not None else ChainHead()
    lid = ledger_id_of(conn, ledger)
    if lid is None:
        return None if ledger == "main" else f"there is no ledger named {ledger!r}"
    accounts = _check_accounts(conn, lid)  # named first: it says which account changed
    problem = _check_chain_streaming(conn, head, lid, since_journal)
    if problem is not None:
        # The streaming pass assumes each record's journals come together, in chain order
        # (as every writer of this program writes them). Whatever it found, the exact
        # pass below, which holds every journal's link until its record comes, decides
        # and names the first break.
        exact = ChainHead(watch=head.watch)
        links: dict[str, list[list[str]]] = defaultdict(list)
        problem = _check_journals(conn, links, lid, since_journal) or _check_records(
            conn, lambda key: links.pop(key, []), lambda: min(links, default=None), exact,
            lid)
        head.journals, head.hash, head.passed = exact.journals, exact.hash, exact.passed
    return (accounts or problem or _check_head_row(conn, head, lid) or _check_balances(conn, lid)
            or _check_floors(conn, lid) or _check_period_lock(conn, lid))


class _Break(Exception):
    pass


def _journal_links(conn: Connection, lid: int, since_journal: int = 0):
    """(event key, [link hash, memo]) of each journal in chain order, each checked as in
    `_check_journals`; a problem is raised as _Break."""
    for item in _check_journals_iter(conn, lid, since_journal):
        if isinstance(item, str):
            raise _Break(item)
        yield item


def _check_chain_streaming(conn: Connection, head: ChainHead, lid: int,
                           since_journal: int = 0) -> str | None:
    """Journals and records in one merged pass: memory does not grow with the ledger.
    Each record takes the journals that come next in the journal chain with its key."""
    journals = _journal_links(conn, lid, since_journal)
    try:
        upcoming = [next(journals, None)]

        def take(key: str) -> list[list[str]]:
            mine = []
            while upcoming[0] is not None and upcoming[0][0] == key:
                mine.append(upcoming[0][1])
                upcoming[0] = next(journals, None)
            return mine

        return _check_records(conn, take, lambda: upcoming[0] and upcoming[0][0], head, lid)
    except _Break as err:
        return str(err)


def _party_rows(conn: Connection, lid: int) -> dict[str, list[list]]:
    parties: dict[str, list[list]] = defaultdict(list)
    for kind, party_id, valid_from, event_key, data in conn.execute(
            select(m.PartyRecord.kind, m.PartyRecord.id, m.PartyRecord.valid_from,
                   m.PartyRecord.event_key, m.PartyRecord.data)
            .where(m.PartyRecord.ledger_id == lid).order_by(m.PartyRecord.seq)):
        parties[event_key].append(
            [kind, party_id, str(valid_from) if valid_from is not None else None, data])
    return parties


def _check_accounts(conn: Connection, lid: int) -> str | None:
    """Every account's holder is the one its path names: statements find a person's
    accounts by it (docs/rules-trust.md#accounts). This holds for accounts opened before
    their properties were hashed too, whose paths their postings' hashes cover."""
    for path, holder in conn.execute(
            select(m.Account.path, m.Account.holder).where(m.Account.ledger_id == lid)
            .order_by(m.Account.id)):
        owner = account_holder(path)
        if holder != owner:
            stored = repr(holder) if holder is not None else "none"
            belongs = f"{owner}'s" if owner is not None else "no holder's"
            return (f"account {path}: its holder is stored as {stored}, but its path "
                    f"makes it {belongs}")
    return None


def _opened_accounts(conn: Connection, lid: int) -> dict[str, list[list]]:
    """The properties of the accounts each record opened (revision 0006 on), in path
    order, by record key."""
    opened: dict[str, list[list]] = defaultdict(list)
    for event_key, path, holder in conn.execute(
            select(m.Account.event_key, m.Account.path, m.Account.holder)
            .where(m.Account.ledger_id == lid, m.Account.event_key.is_not(None))
            .order_by(m.Account.path)):
        opened[str(event_key)].append(account_properties(path, holder))
    return opened


def _check_head_row(conn: Connection, head: ChainHead, lid: int) -> str | None:
    """The ledger's row holds the heads the next writer chains on: they must be the
    chain's real heads."""
    seq, event_hash, journal_hash = conn.execute(
        select(m.Ledger.event_seq, m.Ledger.event_hash, m.Ledger.journal_hash)
        .where(m.Ledger.id == lid)).one()
    last = conn.execute(select(m.Event.seq, m.Event.hash).where(m.Event.ledger_id == lid)
                        .order_by(m.Event.seq.desc()).limit(1)).first()
    last_journal = conn.execute(select(m.Journal.hash).where(m.Journal.ledger_id == lid)
                                .order_by(m.Journal.id.desc()).limit(1)).scalar_one_or_none()
    if (seq, event_hash) != ((last[0], last[1]) if last else (0, GENESIS_HASH)):
        return "the ledger's head row does not match the last record of its chain"
    if journal_hash != (last_journal or GENESIS_HASH):
        return "the ledger's head row does not match the last journal of its chain"
    return None


_JOURNALS_SQL = (
    "SELECT j.id, j.key, j.type, j.date, j.event_key, j.holder, r.key, j.payload_hash,"
    " j.status, j.prev_hash, j.hash, j.memo FROM journal j"
    " LEFT JOIN journal r ON r.ledger_id = :lid AND r.ledger_id = j.ledger_id"
    " AND r.id = j.reverses_id WHERE j.ledger_id = :lid ORDER BY j.id"
)
_POSTINGS_SQL = (  # a posting to an account of another ledger is its own break
    "SELECT p.journal_id, a.path, p.unit, p.amount_minor, p.date, a.ledger_id FROM posting p"
    " LEFT JOIN account a ON a.ledger_id = :lid AND a.ledger_id = p.ledger_id"
    " AND a.id = p.account_id WHERE p.ledger_id = :lid"
    " AND p.journal_id > :after ORDER BY p.journal_id, p.id"
)
_RECORDS_SQL = (
    "SELECT seq, key, type, date, payload_hash, payload, outcome, source, prev_hash, hash,"
    " rules_version FROM event WHERE ledger_id = :lid ORDER BY seq"
)


def _stream(conn: Connection, sql: str, lid: int, **more):
    # Streamed (yield_per set on the statement, never the connection, where it would
    # stay set and make every later query a server-side cursor).
    return iter(conn.execute(text(sql).execution_options(yield_per=STREAM_ROWS),
                             {"lid": lid, **more}))


def _check_journals(conn: Connection, links: dict[str, list[list[str]]], lid: int,
                    since_journal: int = 0) -> str | None:
    for item in _check_journals_iter(conn, lid, since_journal):
        if isinstance(item, str):
            return item
        links[item[0]].append(item[1])
    return None


def _check_journals_iter(conn: Connection, lid: int, since_journal: int = 0):
    """Each journal in chain order, checked: yields (event key, [link hash, memo]), or a
    problem (a str) and stops. The postings of journals up to `since_journal` are not
    read: their stored payload hashes are used as they are."""
    postings = _stream(conn, _POSTINGS_SQL, lid, after=since_journal)
    pending = next(postings, None)
    prev_hash = GENESIS_HASH
    for (journal_id, key, journal_type, date, event_key, holder, reverses_key, stored_payload,
         status, stored_prev, stored_hash, memo) in _stream(conn, _JOURNALS_SQL, lid):
        if pending is not None and pending[0] < journal_id:
            yield f"postings exist for journal id {pending[0]}, which is not a journal"
            return
        mine: list[list] = []
        sums: dict[str, int] = defaultdict(int)
        where = f"journal {journal_id} ({key})"
        while pending is not None and pending[0] == journal_id:
            _, path, unit, amount, posting_date, account_ledger = pending
            if str(posting_date) != str(date) or account_ledger != lid:
                yield f"{where}: a posting carries another date or ledger than its journal"
                return
            mine.append([path, unit, amount])
            sums[unit] += amount
            pending = next(postings, None)
        problem = None
        payload = stored_payload  # a journal a checkpoint covers: its links only
        if status != "posted":
            problem = f"{where} was never sealed (status {status})"
        elif journal_id <= since_journal:
            pass
        elif not mine:
            problem = f"{where} has no postings"
        else:
            for unit, total in sorted(sums.items()):
                if total != 0:
                    problem = f"{where} does not sum to zero in {unit}: {total}"
                    break
            if problem is None:
                payload = payload_hash_of(journal_type, str(date), holder, reverses_key, mine)
                if payload != stored_payload:
                    problem = f"{where}: its postings do not match its payload hash"
        if problem is None:
            problem = _link_problem(where, stored_prev, prev_hash, key, payload, event_key,
                                    stored_hash)
        if problem is not None:
            yield problem
            return
        yield event_key, [stored_hash, memo]
        prev_hash = stored_hash
    if pending is not None:
        yield f"postings exist for journal id {pending[0]}, which is not a journal"


def _link_problem(where: str, stored_prev: str, prev_hash: str, key: str, payload: str,
                  event_key: str, stored_hash: str) -> str | None:
    """What is wrong with one journal's link in the chain, if anything."""
    if stored_prev != prev_hash:
        return f"{where}: hash chain broken (previous hash does not match)"
    if journal_link(prev_hash, key, payload, event_key) != stored_hash:
        return f"{where}: hash chain broken (its hash does not match its content)"
    return None


def _check_records(conn: Connection, take, orphan, head: ChainHead, lid: int
                   ) -> str | None:
    """The records in chain order, each with its journals' links from `take(key)`;
    `orphan()` names an event whose journals no record took, after the last record."""
    parties = _party_rows(conn, lid)
    opened = _opened_accounts(conn, lid)
    prev = GENESIS_HASH
    expected_seq = 1
    for (seq, key, type_, date, payload_hash, payload, outcome, source, stored_prev,
         stored_hash, rules_version) in _stream(conn, _RECORDS_SQL, lid):
        where = f"record {seq} ({key})"
        if seq != expected_seq:
            return f"record {expected_seq} is missing from the chain (found {seq} next)"
        if rules_version not in KNOWN_RULES:
            return (f"{where} was recorded under rules version {rules_version}, which this "
                    f"version of ledger does not know (it knows {', '.join(map(str, KNOWN_RULES))})")
        if payload is not None and sha256_text(payload) != payload_hash:
            return f"{where}: the event as stored does not match its payload hash"
        if stored_prev != prev:
            return f"{where}: hash chain broken (previous hash does not match)"
        mine = take(key)
        accounts = opened.pop(key, [])
        this = record_hash(prev, seq, key, type_, str(date), payload_hash, payload, outcome,
                           source, mine, parties.pop(key, []), rules_version, accounts)
        if this != stored_hash:
            if accounts:
                named = ", ".join(path for path, _ in accounts[:3])
                more = f" and {len(accounts) - 3} more" if len(accounts) > 3 else ""
                return (f"{where}: hash chain broken (its hash does not match its content "
                        f"or the properties of the accounts it opened: {named}{more})")
            return f"{where}: hash chain broken (its hash does not match its content)"
        head.journals += len(mine)
        head.hash = this
        head.reached()
        prev = this
        expected_seq += 1
    left = orphan()
    if left:
        return f"journals of {left!r} belong to no record in the chain"
    if parties:
        orphan_key = sorted(parties)[0]
        return f"party records of {orphan_key!r} belong to no record in the chain"
    if opened:
        orphan_key = sorted(opened)[0]
        return (f"account {opened[orphan_key][0][0]} names {orphan_key!r} as the record "
                "that opened it, which is not in the chain")
    return None


def _check_balances(conn: Connection, lid: int) -> str | None:
    # Every posting counts: the chain check before this one proved every journal of the
    # ledger sealed, and any posting of no journal of the ledger a break of its own (or,
    # before a checkpoint, the balances the replay rebuilds differ: app/rebuild.py).
    posted = dict(
        ((account_id, unit), total)
        for account_id, unit, total in conn.execute(
            select(m.Posting.account_id, m.Posting.unit, func.sum(m.Posting.amount_minor))
            .where(m.Posting.ledger_id == lid)
            .group_by(m.Posting.account_id, m.Posting.unit)
        )
    )
    stored = {
        (account_id, unit): amount
        for account_id, unit, amount in conn.execute(
            select(m.Balance.account_id, m.Balance.unit, m.Balance.amount_minor)
            .where(m.Balance.ledger_id == lid)
        )
    }
    paths = dict(conn.execute(select(m.Account.id, m.Account.path)
                              .where(m.Account.ledger_id == lid)).all())
    for key in sorted(set(posted) | set(stored)):
        want, have = int(posted.get(key, 0)), int(stored.get(key, 0))
        if want != have:
            return (f"stored balance of {paths.get(key[0], key[0])} {key[1]} is {have} "
                    f"but its postings sum to {want}")
    totals: dict[str, int] = defaultdict(int)
    for (_, unit), amount in posted.items():
        totals[unit] += int(amount)
    for unit, total in sorted(totals.items()):
        if total != 0:
            return f"all balances in {unit} sum to {total}, not zero"
    return None


def _check_floors(conn: Connection, lid: int) -> str | None:
    """Every floored balance, at the end of every date it has postings, is at or above
    the floor in force on that date (a floor is in force from its record's date)."""
    floors: dict[tuple[int, str], list[tuple[dt.date | None, int]]] = defaultdict(list)
    for account_id, unit, floor_minor, since in conn.execute(
            select(m.AccountFloor.account_id, m.AccountFloor.unit, m.AccountFloor.floor_minor,
                   m.Event.date)
            .outerjoin(m.Event, (m.Event.ledger_id == m.AccountFloor.ledger_id)
                       & (m.Event.key == m.AccountFloor.event_key)
                       & (m.Event.ledger_id == lid))
            .where(m.AccountFloor.ledger_id == lid)
            .order_by(m.AccountFloor.id)):
        floors[(account_id, unit)].append((since, floor_minor))
    if not floors:
        return None
    floored = (select(m.AccountFloor.ledger_id, m.AccountFloor.account_id, m.AccountFloor.unit)
               .where(m.AccountFloor.ledger_id == lid).distinct().subquery())
    running: dict[tuple[int, str], int] = defaultdict(int)
    # One pass over every floored account's daily movements, in date order per account.
    for account_id, unit, date, moved in conn.execute(
            select(m.Posting.account_id, m.Posting.unit, m.Journal.date,
                   func.sum(m.Posting.amount_minor))
            .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                  & (m.Journal.id == m.Posting.journal_id))
            .join(floored, (floored.c.ledger_id == m.Posting.ledger_id)
                  & (floored.c.account_id == m.Posting.account_id)
                  & (floored.c.unit == m.Posting.unit))
            .where(m.Posting.ledger_id == lid, m.Journal.ledger_id == lid,
                   m.Journal.status == "posted")
            .group_by(m.Posting.account_id, m.Posting.unit, m.Journal.date)
            .order_by(m.Posting.account_id, m.Posting.unit, m.Journal.date)):
        key = (account_id, unit)
        running[key] += int(moved)
        in_force = [f for since, f in floors[key] if since is None or since <= date]
        if in_force and running[key] < in_force[-1]:
            path = conn.execute(select(m.Account.path).where(
                m.Account.ledger_id == lid, m.Account.id == account_id)).scalar_one()
            return (f"{path} {unit} is {running[key]} at the end of {date}, below its floor "
                    f"of {in_force[-1]}")
    return None


def _check_period_lock(conn: Connection, lid: int) -> str | None:
    late = conn.execute(
        select(m.Journal.key)
        .join(m.PeriodLock, (m.PeriodLock.ledger_id == m.Journal.ledger_id)
              & (m.PeriodLock.until >= m.Journal.date) & (m.PeriodLock.ledger_id == lid))
        .where(m.Journal.ledger_id == lid, m.Journal.created_at > m.PeriodLock.created_at)
        .limit(1)
    ).scalar_one_or_none()
    if late is not None:
        return f"journal {late} was posted into a period after it was closed"
    return None
