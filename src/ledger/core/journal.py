"""Accounts, postings and journals as plain immutable data, with the core checks.

No I/O here. A journal is balanced postings in one or both units; the store refuses
anything these checks would refuse, so a check here is a clear early error, not the guard.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from ledger.core.amounts import Unit
from ledger.core.text import text_problem
from ledger.errors import LedgerError

PARTY_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]*$")
# A segment of an account path: a party id, a fixed word (funding, dp, ...), or an
# external name, which may be any printable text without a colon.
_SEGMENT = re.compile(r"^[^:\s][^:]*$")


# Limits the schema's columns hold on every engine (store/models.py): a longer value is
# the user's mistake, refused here with a clear message, never a database error.
MAX_PARTY_ID_CHARS = 60
MAX_ACCOUNT_CHARS = 200
MAX_JOURNAL_KEY_CHARS = 300  # the journal.key and event.key columns
# Event keys (an event's id, or `{name}#{n}`). A handler derives its journals' keys from
# the event key: the longest today is `{key}/award/{holder}` (+7+60 characters), then
# `{key}@YYYY-MM-DD` (+11) and `{key}/{n}` for a reversal's n-th journal. 200 leaves 100
# characters for any such suffix, so a derived key always fits the 300-character column.
MAX_KEY_CHARS = 200


def check_party_id(value: str, what: str = "party id") -> str:
    if not isinstance(value, str) or not PARTY_ID.fullmatch(value):  # `$` takes "H1\n"
        raise LedgerError("invalid", f"{what} {value!r} must match [A-Z0-9][A-Z0-9_-]*")
    if len(value) > MAX_PARTY_ID_CHARS:
        raise LedgerError("invalid", f"{what} {value[:20]!r}... is longer than "
                                     f"{MAX_PARTY_ID_CHARS} characters")
    return value


def check_account(path: str) -> str:
    if len(path) > MAX_ACCOUNT_CHARS:
        raise LedgerError("invalid", f"account {path[:40]!r}... is longer than "
                                     f"{MAX_ACCOUNT_CHARS} characters")
    parts = path.split(":")
    if len(parts) < 2 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise LedgerError("invalid", f"account {path!r} is not a colon-separated path")
    problem = text_problem(path, MAX_ACCOUNT_CHARS)
    if problem:
        raise LedgerError("invalid", f"account {path!r} {problem}")
    return path


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    unit: Unit
    amount_minor: int  # pence for GBP, minutes for HRS; positive = into the account


@dataclass(frozen=True, slots=True)
class Journal:
    key: str  # idempotency key, unique forever
    type: str  # e.g. dp_payment, surplus_recovery, isf_underspend_return, reversal
    date: date  # effective date; the period lock applies to it
    postings: tuple[Posting, ...]
    event_key: str = ""  # the scenario event (or command) that posted it
    holder: str | None = None  # the budget holder it is for, when there is one
    reverses_key: str | None = None  # set on a reversal: the journal it undoes
    memo: dict = field(default_factory=dict, compare=False)  # JSON-able detail for reports

    def payload_hash(self) -> str:
        """Hash of what the journal posts; the same key with another hash is a conflict."""
        return payload_hash_of(
            self.type, self.date.isoformat(), self.holder, self.reverses_key,
            [[p.account, p.unit.value, p.amount_minor] for p in self.postings])


# json.dumps(value, separators=(",", ":")) exactly, with one encoder for every call.
_compact = json.JSONEncoder(separators=(",", ":")).encode


def payload_hash_of(journal_type: str, date_iso: str, holder: str | None,
                    reverses_key: str | None, postings: list[list]) -> str:
    """The one definition of a journal's payload hash, used when posting and by `verify`
    (which rebuilds it from stored rows without making objects)."""
    body = {  # keys in sorted order, so the text is canonical
        "date": date_iso,
        "holder": holder,
        "postings": sorted(postings),
        "reverses": reverses_key,
        "type": journal_type,
    }
    return sha256_text(_compact(body))


def sha256_text(text: str) -> str:
    """SHA-256 of a text's UTF-8 bytes, in hex: every hash the ledger stores."""
    return hashlib.sha256(text.encode()).hexdigest()


def transfer(from_account: str, to_account: str, unit: Unit, amount_minor: int) -> list[Posting]:
    """`from -> to` as two postings; direction comes from the event type, so amount > 0."""
    assert amount_minor > 0, amount_minor
    return [
        Posting(check_account(from_account), unit, -amount_minor),
        Posting(check_account(to_account), unit, amount_minor),
    ]


def unit_sums(postings: tuple[Posting, ...] | list[Posting]) -> dict[Unit, int]:
    sums: dict[Unit, int] = defaultdict(int)
    for p in postings:
        sums[p.unit] += p.amount_minor
    return dict(sums)


def check_journal(journal: Journal) -> None:
    if len(journal.key) > MAX_JOURNAL_KEY_CHARS:
        raise LedgerError("invalid", f"journal key {journal.key[:40]!r}... is longer than "
                                     f"{MAX_JOURNAL_KEY_CHARS} characters (use a shorter id)")
    if not journal.postings:
        raise LedgerError("invalid", f"journal {journal.key} has no postings")
    for p in journal.postings:
        check_account(p.account)
        if not isinstance(p.amount_minor, int) or isinstance(p.amount_minor, bool):
            raise LedgerError("invalid", f"journal {journal.key}: amounts must be integers")
        if p.amount_minor == 0:
            raise LedgerError("invalid", f"journal {journal.key}: a posting of zero")
    for unit, total in unit_sums(journal.postings).items():
        if total != 0:
            raise LedgerError(
                "unbalanced", f"journal {journal.key} does not sum to zero in {unit} ({total})"
            )


def reversal_of(original: Journal, key: str, on: date, event_key: str, reason: str) -> Journal:
    """The exact opposite of `original`, dated `on`, linked to it."""
    return Journal(
        key=key,
        type="reversal",
        date=on,
        postings=tuple(Posting(p.account, p.unit, -p.amount_minor) for p in original.postings),
        event_key=event_key,
        holder=original.holder,
        reverses_key=original.key,
        memo={"reason": reason, "reverses_type": original.type},
    )

