"""`verify`, one way for every door (docs/rules-trust.md#verify): every stored invariant of
each ledger, then a replay of its recorded events, each under the rules version it was
recorded with, compared with what is stored; the first break is named. The chain's head
is given per ledger, and an earlier head can be asked to be still held. Each ledger's
audit chain (sign-ins, sessions, the access log: docs/rules-trust.md#audit-chain) is
checked too and reported on a line of its own, since it is chained apart from the books."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger.app.db import engine, existing_ledger, names
from ledger.app.rebuild import NotReplayable, rebuild_break
from ledger.errors import UsageError
from ledger.store.audit import AuditHead, verify_chain
from ledger.store.repo import ledger_id_of
from ledger.store.verify import ChainHead, first_break, parse_head


@dataclass
class Verified:
    """What verify found: `lines` to print in order, each (to standard error?, text)."""

    problem: str | None = None
    lines: list[tuple[bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(db_url: str | None, only: str | None = None,
           expect_head: str | None = None) -> Verified:
    """Verify every ledger of the database (or only `only`); with `expect_head` (`N:HASH`
    as verify printed it), also that the chain still holds that head."""
    expected = None
    if expect_head is not None:
        try:
            expected = parse_head(expect_head)
        except ValueError as err:
            raise UsageError(f"--expect-head: {err}") from None
    heads: list[tuple[str, ChainHead]] = []
    audits: list[tuple[str, AuditHead]] = []
    problem = note = None
    with engine(db_url, read_only=True).connect() as conn:
        if only is not None:
            existing_ledger(conn, only)
        ledgers = [only] if only is not None else (names(conn) or ["main"])
        if expected is not None and len(ledgers) > 1:
            raise UsageError("--expect-head needs --ledger NAME when the database holds "
                             f"several ledgers ({', '.join(ledgers)})")
        for name in ledgers:
            head = ChainHead(watch=expected or (-1, ""))  # remember only what is asked
            heads.append((name, head))
            problem = first_break(conn, head, name)
            if problem is None:
                try:
                    problem = rebuild_break(conn, name)
                except NotReplayable as err:
                    note = str(err)
            if problem is None:
                problem = _audit_break(conn, name, audits)
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
    if note:
        found.lines.append((False, f"verify: note: {note}"))
    found.problem = problem
    if problem:
        found.lines.append((True, f"verify failed: {problem}"))
    else:
        found.lines.append((False, "verify: every invariant holds"
                            + (f" in {len(heads)} ledgers" if len(heads) > 1 else "")))
    if problem is None:
        for name, audit_head in audits:
            found.lines.append((False, (f"audit {name}: " if len(heads) > 1 else "audit: ")
                                + f"{audit_head.records} records, head {audit_head.text()}"))
    for name, head in heads:
        found.lines.append((False, f"head {name}: {head.text()}" if len(heads) > 1
                            else f"head: {head.text()}"))
    return found


def _audit_break(conn, name: str, audits: list) -> str | None:
    """The first problem of the ledger's audit chain, or None (and its head noted)."""
    lid = ledger_id_of(conn, name)
    if lid is None:
        return None
    head = AuditHead()
    problems = verify_chain(conn, lid, head)
    audits.append((name, head))
    return f"audit chain: {problems[0]}" if problems else None


__all__ = ["Verified", "verify"]
