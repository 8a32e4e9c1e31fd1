"""What a bank statement reader gives, whatever the file (CSV in ledger.imports.bank,
OFX/QFX in ledger.imports.ofx): its lines, in date order, with their keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field

from ledger.imports.reading import ReadRules


@dataclass
class PayeeRule:
    pattern: re.Pattern
    payee: str
    category: str | None


@dataclass
class BankRules(ReadRules):
    payees: list[PayeeRule] = field(default_factory=list)


@dataclass
class Line:
    line: int
    date: dt.date
    description: str
    pence: int  # signed: money in positive, out negative
    balance: int | None
    reference: str | None
    key: str = ""
    legacy_key: str | None = None  # the key the release before the reading rules gave it


@dataclass
class BankReading:
    lines: list[Line] = field(default_factory=list)  # to post, in date order
    problems: list[tuple[int, str]] = field(default_factory=list)
    pending: list[Line] = field(default_factory=list)  # not yet final: listed only
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, the skip rule)


def in_date_order(lines: list[Line]) -> list[Line]:
    """Oldest first. A statement newest first is turned round: by its dates, or when
    every line falls on one date, by its balances (each balance is the one before it
    plus the line's amount)."""
    lines = list(lines)
    if len(lines) > 1 and lines[0].date > lines[-1].date:
        lines.reverse()
    elif len({line.date for line in lines}) == 1 and _newest_first_by_balance(lines):
        lines.reverse()
    return sorted(lines, key=lambda line: line.date)


def _newest_first_by_balance(lines: list[Line]) -> bool:
    if len(lines) < 2 or any(line.balance is None for line in lines):
        return False
    pairs = list(zip(lines, lines[1:], strict=False))
    forward = all(b.balance == a.balance + b.pence for a, b in pairs)  # type: ignore[operator]
    backward = all(a.balance == b.balance + a.pence for a, b in pairs)  # type: ignore[operator]
    return backward and not forward


def assign_keys(lines: list[Line], holder: str) -> None:
    """Each line's key: `bank/H/ref/REFERENCE`, else its date, pence and occurrence among
    lines of that date and amount (not its description, which a bank may change while a
    line is pending); and the key the release before the reading rules gave it."""
    seen: dict[tuple[str, int], int] = {}
    old: dict[str, int] = {}
    for line in lines:
        if line.reference:
            line.key = f"bank/{holder}/ref/{line.reference}"
            continue
        on = line.date.isoformat()
        n = seen[on, line.pence] = seen.get((on, line.pence), 0) + 1
        line.key = f"bank/{holder}/{on}/{line.pence}#{n}"
        parts = [holder, on, line.description, line.pence]
        fingerprint = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
        old[fingerprint] = old.get(fingerprint, 0) + 1
        line.legacy_key = f"bank/{holder}/{fingerprint}#{old[fingerprint]}"


def payee_for(rules: BankRules, description: str) -> PayeeRule | None:
    return next((r for r in rules.payees if r.pattern.search(description)), None)


__all__ = ["BankReading", "BankRules", "Line", "PayeeRule", "assign_keys", "in_date_order",
           "payee_for"]
