"""`verify`, one way for every door (docs/rules-trust.md#verify): every stored invariant of
each ledger, then a replay of its recorded events, each under the rules version it was
recorded with, compared with what is stored; the first break is named. The chain's head
is given per ledger, and an earlier head can be asked to be still held. Each ledger's
audit chain (sign-ins, sessions, the access log: docs/rules-trust.md#audit-chain) is
checked too and reported on a line of its own, since it is chained apart from the books.

`since_checkpoint` (docs/rules-trust.md#checkpoints): every hash and link of the chain,
then a replay of only the records after the newest checkpoint, from the state it holds.
`checkpoint` makes that proof under the ledger's write lock and, when it holds, writes
the rebuilt state as a new checkpoint record."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from ledger.app.db import engine, existing_ledger, names
from ledger.app.rebuild import NotReplayable, rebuild_break, rebuilt
from ledger.core.change import CURRENT_RULES, Change, EventRecord
from ledger.core.journal import sha256_text
from ledger.errors import UsageError
from ledger.store import checkpoint as checkpoints
from ledger.store.audit import AuditHead, verify_chain
from ledger.store.repo import DbStore, ledger_id_of
from ledger.store.verify import ChainHead, first_break, parse_head

_LAST_RECORD = text("SELECT seq, date FROM event WHERE ledger_id = :lid"
                    " ORDER BY seq DESC LIMIT 1")
_LAST_RECORD_HASH = text("SELECT seq, hash FROM event WHERE ledger_id = :lid"
                         " ORDER BY seq DESC LIMIT 1")


@dataclass
class Verified:
    """What verify found: `lines` to print in order, each (to standard error?, text)."""

    problem: str | None = None
    lines: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(db_url: str | None, only: str | None = None,
           expect_head: str | None = None, expect_audit_head: str | None = None,
           since_checkpoint: bool = False) -> Verified:
    """Verify every ledger of the database (or only `only`); with `expect_head` (`N:HASH`
    as verify printed it), also that the chain still holds that head; with
    `expect_audit_head` (the `audit:` line's head), that the audit chain still holds it.
    `since_checkpoint`: replay only the records after each ledger's newest checkpoint
    (a ledger with none gets the full proof, and a line saying so)."""
    expected = audit_expected = None
    if expect_head is not None:
        try:
            expected = parse_head(expect_head)
        except ValueError as err:
            raise UsageError(f"--expect-head: {err}") from None
    if expect_audit_head is not None:
        try:
            audit_expected = parse_head(expect_audit_head)
        except ValueError as err:
            raise UsageError(f"--expect-audit-head: {err}") from None
    heads: list[tuple[str, ChainHead]] = []
    audits: list[tuple[str, AuditHead]] = []
    problem = note = None
    proved: list[str] = []
    with engine(db_url, read_only=True).connect() as conn:
        if only is not None:
            existing_ledger(conn, only)
        ledgers = [only] if only is not None else (names(conn) or ["main"])
        for option, given in (("--expect-head", expected),
                              ("--expect-audit-head", audit_expected)):
            if given is not None and len(ledgers) > 1:
                raise UsageError(f"{option} needs --ledger NAME when the database holds "
                                 f"several ledgers ({', '.join(ledgers)})")
        for name in ledgers:
            head = ChainHead(watch=expected or (-1, ""))  # remember only what is asked
            heads.append((name, head))
            if since_checkpoint:
                problem, said = _since_checkpoint(conn, head, name)
                proved.append((f"checkpoint {name}: " if len(ledgers) > 1
                               else "checkpoint: ") + said)
            else:
                problem = first_break(conn, head, name)
                if problem is None:
                    try:
                        problem = rebuild_break(conn, name)
                    except NotReplayable as err:
                        note = str(err)
            if problem is None:
                problem = _audit_break(conn, name, audits, audit_expected)
            if problem is not None:
                if len(ledgers) > 1:
                    problem = f"ledger {name}: {problem}"
                break
    found = Verified()
    if problem is None and expected is not None:
        head = heads[0][1]
        if expected not in head.passed:
            problem = (f"the chain no longer holds head {expected[0]}:{expected[1]}: "
                       "something before it was removed or rewritten")
        else:
            found.lines.append((False, f"verify: head {expected[0]}:{expected[1][:12]}... "
                                       f"still held; {head.journals - expected[0]} journals "
                                       "added since"))
    if problem is None and audit_expected is not None:
        if not audits[0][1].held:
            problem = (f"the audit chain no longer holds head {audit_expected[0]}:"
                       f"{audit_expected[1]}: a record at or before it was removed or "
                       "rewritten")
        else:
            found.lines.append((False, f"verify: audit head {audit_expected[0]}:"
                                       f"{audit_expected[1][:12]}... still held; "
                                       f"{audits[0][1].records - audit_expected[0]} "
                                       "records added since"))
    if note:
        found.lines.append((False, f"verify: note: {note}"))
    found.problem = problem
    if problem:
        found.lines.append((True, f"verify failed: {problem}"))
    else:
        found.lines.append((False, "verify: every invariant holds"
                            + (f" in {len(heads)} ledgers" if len(heads) > 1 else "")))
        found.lines += [(False, line) for line in proved]
    if problem is None:
        for name, audit_head in audits:
            found.lines.append((False, (f"audit {name}: " if len(heads) > 1 else "audit: ")
                                + f"{audit_head.records} records, head {audit_head.text()}"))
    for name, head in heads:
        found.lines.append((False, f"head {name}: {head.text()}" if len(heads) > 1
                            else f"head: {head.text()}"))
    return found


def _since_checkpoint(conn: Connection, head: ChainHead, name: str
                      ) -> tuple[str | None, str]:
    """The chain checked whole and the records after the newest checkpoint replayed from
    it: (the first break or None, what was proved)."""
    problem, found, memory = _prove_since(conn, head, name)
    if found is None:
        return problem, "none in this ledger, so every record was replayed"
    replayed = memory.replayed if memory is not None else 0
    return problem, (f"record {found.seq} ({found.key}); every hash of the chain checked, "
                     f"the {replayed} records after it replayed from its state")


def _prove_since(conn: Connection, head: ChainHead, name: str):
    """(first break or None, the newest checkpoint or None, the lean replay's state or
    None): the proof `verify --since-checkpoint` and `checkpoint` make."""
    lid = ledger_id_of(conn, name)
    found = None
    if lid is not None:
        try:
            found = checkpoints.newest(conn, lid)
        except ValueError as err:
            # What the chain says about that record comes first; else this is the break.
            return first_break(conn, head, name) or str(err), None, None
    problem = first_break(conn, head, name, found.journal_id if found else 0)
    if problem is not None:
        return problem, found, None
    memory, problem = rebuilt(conn, name, found)
    return problem, found, memory


@dataclass
class Checkpointed:
    """What `checkpoint` did: `problem` (a break: nothing written), else `lines` to print."""

    problem: str | None = None
    lines: list[str] = field(default_factory=list)


def checkpoint(db_url: str | None, ledger: str) -> Checkpointed:
    """Prove the ledger as `verify --since-checkpoint` does, under its write lock, and
    when it holds, record the rebuilt state as a checkpoint (docs/rules-trust.md
    #checkpoints). Nothing is written when there is a break, or when the newest record is
    already a checkpoint."""
    done = Checkpointed()
    with engine(db_url).connect() as conn:
        existing_ledger(conn, ledger)
        store = DbStore(conn, ledger)
        store.lock_for_write()  # no record can come between the proof and the checkpoint
        head = ChainHead(watch=(-1, ""))
        try:
            problem, found, memory = _prove_since(conn, head, ledger)
        except NotReplayable as err:
            conn.rollback()
            raise UsageError(f"no checkpoint can be made: {err}") from None
        if problem is not None or memory is None:
            conn.rollback()
            done.problem = problem
            return done
        newest = conn.execute(_LAST_RECORD, {"lid": store.lid}).first()
        if newest is None:
            conn.rollback()
            done.lines = ["checkpoint: none written: the ledger has no records yet",
                          f"head: {head.text()}"]
            return done
        after, last = newest
        if found is not None and found.seq == after:
            conn.rollback()
            done.lines = [f"checkpoint: none written: the newest record is already a "
                          f"checkpoint ({found.key})", f"head: {head.text()}"]
            return done
        payload = checkpoints.encode(memory.snapshot(after))
        key = checkpoints.checkpoint_key(after)
        record = EventRecord(key, checkpoints.CHECKPOINT_TYPE, checkpoints.day(last),
                             sha256_text(payload), payload=payload,
                             rules_version=CURRENT_RULES)
        store.apply(Change(record))
        seq, digest = conn.execute(_LAST_RECORD_HASH, {"lid": store.lid}).one()
        conn.commit()
        done.lines = [f"checkpoint: record {seq} ({key}) after record {after}: "
                      f"{len(memory.states)} instrument states, {memory.compared} journals",
                      f"head: {head.journals}:{digest}"]
    return done


def _audit_break(conn, name: str, audits: list, watch: tuple[int, str] | None
                 ) -> str | None:
    """The first problem of the ledger's audit chain, or None (and its head noted)."""
    lid = ledger_id_of(conn, name)
    head = AuditHead(watch=watch)
    if lid is None:
        head.reached()
        audits.append((name, head))
        return None
    problems = verify_chain(conn, lid, head)
    audits.append((name, head))
    return f"audit chain: {problems[0]}" if problems else None


__all__ = ["Checkpointed", "Verified", "checkpoint", "verify"]
