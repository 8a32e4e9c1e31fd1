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
           expect_head: str | None = None, expect_audit_head: str | None = None) -> Verified:
    """Verify every ledger of the database (or only `only`); with `expect_head` (`N:HASH`
    as verify printed it), also that the chain still holds that head; with
    `expect_audit_head` (the `audit:` line's head), that the audit chain still holds it."""
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
    if problem is None:
        for name, audit_head in audits:
            found.lines.append((False, (f"audit {name}: " if len(heads) > 1 else "audit: ")
                                + f"{audit_head.records} records, head {audit_head.text()}"))
    for name, head in heads:
        found.lines.append((False, f"head {name}: {head.text()}" if len(heads) > 1
                            else f"head: {head.text()}"))
    return found


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


__all__ = ["Verified", "verify"]
