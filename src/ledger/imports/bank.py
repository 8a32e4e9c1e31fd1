"""Reading a direct-payment bank or prepaid-card statement (docs/dp-statements.md).

Each line is read into its date, description, signed amount, balance and key; what
happens to it (money out a `dp_spend` to the payee its rule names, money in matched to a
payment already recorded) is `ledger.app.bank`'s to decide, under the ledger's lock.
Nothing is guessed.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ledger.core.amounts import parse_pence
from ledger.core.text import text_problem
from ledger.errors import LedgerError, UsageError
from ledger.imports.timesheet import (
    MAX_ROWS,
    Rules,
    _date,
    _why,
    open_csv,
    parse_rules,
    positions,
)

COLUMNS = ("date", "description", "amount", "paid_in", "paid_out", "balance", "reference")


@dataclass
class PayeeRule:
    pattern: re.Pattern
    payee: str
    category: str | None


@dataclass
class BankRules(Rules):
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


def read_bank_rules(path: Path) -> BankRules:
    """`column NAME = Header`, `separator X`, and `payee REGEX = PAYEE [| CATEGORY]`
    (the first payee rule whose REGEX is found in a line's description, ignoring case,
    names its payee)."""
    rules = BankRules()

    def payee_rule(rest: str, where: str) -> None:
        pattern, eq, target = rest.rpartition("=")
        payee_text, _, category_text = target.partition("|")
        payee, category = payee_text.strip(), category_text.strip() or None
        if not eq or not pattern.strip() or not payee or ":" in payee:
            raise UsageError(f"{where}: expected `payee REGEX = PAYEE [| CATEGORY]`")
        try:
            compiled = re.compile(pattern.strip(), re.IGNORECASE)
        except re.error as err:
            raise UsageError(f"{where}: not a regular expression ({err})") from None
        rules.payees.append(PayeeRule(compiled, payee, category))

    parse_rules(path, rules, COLUMNS, {"payee": payee_rule})
    return rules


def _money(text: str) -> int:
    """Pounds as a bank writes them: `-12.50`, `12.50`, `£1,234.00`, `(12.50)`."""
    cleaned = text.replace("£", "").replace(",", "").strip()
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    if cleaned.startswith("-"):
        negative, cleaned = not negative, cleaned[1:]
    pence = parse_pence(cleaned)
    return -pence if negative else pence


def read_statement(path: Path, holder: str, rules: BankRules
                   ) -> tuple[list[Line], list[tuple[int, str]]]:
    """Every line, in date order (a statement newest first is turned round), with its
    key, and every problem as (line, reason)."""
    reader = open_csv(path, rules.separator)
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"{path}: empty: a statement starts with a header row") from None
    position = positions(header, rules, COLUMNS)
    shown = lambda name: rules.columns.get(name, name)  # noqa: E731
    for required in ("date", "description"):
        if required not in position:
            raise UsageError(f"{path}:1: no {shown(required)!r} column")
    if "amount" not in position and not {"paid_in", "paid_out"} & set(position):
        raise UsageError(f"{path}:1: no {shown('amount')!r} column, nor "
                         f"{shown('paid_in')!r} / {shown('paid_out')!r}")
    lines: list[Line] = []
    problems: list[tuple[int, str]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(lines) + len(problems) >= MAX_ROWS:
                raise UsageError(f"{path}: more than {MAX_ROWS:,} rows")
            cells = {n: values[i].strip() if i < len(values) else ""
                     for n, i in position.items()}
            try:
                lines.append(_line(reader.line_num, cells))
            except (ValueError, LedgerError) as err:
                problems.append((reader.line_num, _why(err)))
    except csv.Error as err:
        problems.append((reader.line_num, f"not CSV ({err})"))
    if len(lines) > 1 and lines[0].date > lines[-1].date:
        lines.reverse()  # newest first, as many banks write them
    seen: dict[str, int] = {}
    for line in lines:
        if line.reference:
            line.key = f"bank/{holder}/ref/{line.reference}"
            continue
        parts = [holder, line.date.isoformat(), line.description, line.pence]
        fingerprint = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
        seen[fingerprint] = seen.get(fingerprint, 0) + 1
        line.key = f"bank/{holder}/{fingerprint}#{seen[fingerprint]}"
    return lines, problems


def _line(number: int, cells: dict[str, str]) -> Line:
    try:
        on = _date(cells["date"])
    except ValueError:
        raise ValueError(f"date {cells['date'][:40]!r} is not YYYY-MM-DD or DD/MM/YYYY") \
            from None
    description = cells["description"]
    problem = text_problem(description)
    if problem or not description:
        raise ValueError(f"description {problem or 'is empty'}")
    try:
        if cells.get("amount"):
            pence = _money(cells["amount"])
        else:
            paid_in = _money(cells["paid_in"]) if cells.get("paid_in") else 0
            paid_out = _money(cells["paid_out"]) if cells.get("paid_out") else 0
            if paid_in and paid_out:
                raise ValueError("both paid in and paid out")
            pence = paid_in - abs(paid_out)
        balance = _money(cells["balance"]) if cells.get("balance") else None
    except (ValueError, LedgerError) as err:
        raise ValueError(f"amount: {_why(err)}") from None
    if pence == 0:
        raise ValueError("no money in or out")
    reference = cells.get("reference") or None
    if reference and text_problem(reference):
        raise ValueError(f"reference {text_problem(reference)}")
    return Line(number, on, description, pence, balance, reference)


def payee_for(rules: BankRules, description: str) -> PayeeRule | None:
    return next((r for r in rules.payees if r.pattern.search(description)), None)


__all__ = ["BankRules", "Line", "payee_for", "read_bank_rules",
           "read_statement"]
