"""Reading a direct-payment bank or prepaid-card statement (docs/dp-statements.md), CSV
here under the reading rules of ledger.imports.reading, OFX/QFX in ledger.imports.ofx.

Each line is read into its date, description, signed amount, balance and keys; what
happens to it (money out a `dp_spend` to the payee its rule names, money in matched to a
payment already recorded) is `ledger.app.bank`'s to decide, under the ledger's lock.
Lines a `pending` rule names are listed, never posted. Nothing is guessed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ledger.core.text import text_problem
from ledger.errors import LedgerError, UsageError
from ledger.imports.reading import (
    MAX_ROWS,
    Pending,
    ReadRules,
    Record,
    Rule,
    Table,
    check_month,
    header_value,
    month_option,
    once,
    parse_amount,
    parse_date,
    parse_rules,
    read_table,
    skip_rule,
    why,
)

COLUMNS = ("date", "description", "amount", "paid_in", "paid_out", "balance", "reference")
_OFX_STARTS = (b"OFXHEADER", b"<?OFX", b"<OFX>", b"<?XML")


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


def read_bank_rules(path: Path) -> BankRules:
    """`column`, `separator`, `encoding`, `date`, `skip`, `decimal ,`, `pending`, and
    `payee REGEX = PAYEE [| CATEGORY]` (the first payee rule whose REGEX is found in a
    line's description, ignoring case, names its payee)."""
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

    return parse_rules(path, rules, COLUMNS, {
        "payee": payee_rule, "decimal": decimal_rule(rules), "pending": pending_rule(rules)})


def is_ofx(path: Path) -> bool:
    """An OFX or QFX file, by its first bytes (after a byte order mark and spaces)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError:
        return False  # the CSV reading says why it cannot be read
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return head.upper().startswith(_OFX_STARTS)


def read_statement(path: Path, holder: str, rules: BankRules | None = None,
                   month: str | None = None) -> BankReading:
    """Every line to post, in date order (a statement newest first is turned round) with
    its keys; the lines a `pending` rule names; every problem as (line, reason)."""
    rules = rules or BankRules()
    if is_ofx(path):
        from ledger.imports.ofx import read_ofx
        return read_ofx(path, holder, rules, month)
    month = month_option(month)
    table = read_table(path, rules, COLUMNS, "statement")
    _check_columns(path, table, rules)
    reading = BankReading()
    for record in table.records:
        rule = skip_rule(rules, record)
        if rule:
            reading.skipped.append((record.line, rule))
            continue
        try:
            line = _line(record, table.shown, rules)
            pending = _pending(rules.pending, record, line)
            if not pending:
                check_month(line.date, month)
        except (ValueError, LedgerError) as err:
            reading.problems.append((record.line, why(err)))
            continue
        (reading.pending if pending else reading.lines).append(line)
    reading.lines = in_date_order(reading.lines)
    assign_keys(reading.lines, holder)
    reading.problems = sorted(table.problems + reading.problems)
    return reading


def _check_columns(path: Path, table: Table, rules: BankRules) -> None:
    def missing(name: str) -> str:
        if name in rules.columns:
            return f"no {rules.columns[name]!r} column (the rules' `column {name}`)"
        if rules.mapped:
            return f"no {name} column: the rules map none (add `column {name} = Header`)"
        return f"no {name!r} column"
    for required in ("date", "description"):
        if required not in table.shown:
            raise UsageError(f"{path}:1: {missing(required)}")
    if "amount" not in table.shown and not {"paid_in", "paid_out"} & set(table.shown):
        raise UsageError(f"{path}:1: {missing('amount')}, nor "
                         f"{missing('paid_in').removeprefix('no ')} or "
                         f"{missing('paid_out').removeprefix('no ')}")


def _pending(rules: list[Pending], record: Record, line: Line) -> bool:
    for rule in rules:
        if rule.pattern is not None:
            if rule.pattern.search(line.description):
                return True
        elif record.raw.get((rule.header or "").lower(), "").lower() == rule.value.lower():
            return True
    return False


def _line(record: Record, shown: dict[str, str], rules: BankRules) -> Line:
    cells = record.cells
    on = parse_date(cells["date"], rules, shown["date"])
    description = cells["description"]
    problem = text_problem(description) or ("is empty" if not description else None)
    if problem:
        raise ValueError(f"description (column {shown['description']!r}) {problem}")
    money = {name: parse_amount(cells[name], rules.decimal_comma, shown[name], name)
             for name in ("amount", "paid_in", "paid_out", "balance") if cells.get(name)}
    if "amount" in money:
        pence = money["amount"]
    elif "paid_in" in money and "paid_out" in money:
        raise ValueError(f"both paid in (column {shown['paid_in']!r}) and paid out "
                         f"(column {shown['paid_out']!r}): a line is one or the other")
    elif "paid_in" in money or "paid_out" in money:
        pence = money.get("paid_in", 0) - abs(money.get("paid_out", 0))
    else:
        empty = [shown[n] for n in ("amount", "paid_in", "paid_out") if n in shown]
        raise ValueError("no amount: " + " and ".join(repr(e) for e in empty) + " empty")
    if pence == 0:
        name = next(n for n in ("amount", "paid_in", "paid_out") if n in money)
        raise ValueError(f"{name} {cells[name][:40]!r} (column {shown[name]!r}): no money "
                         "in or out; leave the line out with `skip COLUMN = VALUE`")
    reference = cells.get("reference") or None
    if reference and text_problem(reference):
        raise ValueError(f"reference (column {shown['reference']!r}) "
                         f"{text_problem(reference)}")
    return Line(record.line, on, description, pence, money.get("balance"), reference)


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


def decimal_rule(rules: ReadRules) -> Rule:
    """`decimal ,`: amounts are written 1.234,56."""
    def rule(rest: str, where: str) -> None:
        if rest != ",":
            raise UsageError(f"{where}: expected `decimal ,` (a point is the default)")
        once(rules, "decimal", where)
        rules.decimal_comma = True
    return rule


def pending_rule(rules: ReadRules) -> Rule:
    """`pending Header = Value`, or `pending description REGEX` (searched, any case)."""
    def rule(rest: str, where: str) -> None:
        word, _, regex = rest.partition(" ")
        if word == "description":
            try:
                pattern = re.compile(regex.strip(), re.IGNORECASE)
            except re.error as err:
                raise UsageError(f"{where}: not a regular expression ({err})") from None
            if not regex.strip():
                raise UsageError(f"{where}: expected `pending description REGEX`")
            rules.pending.append(Pending(f"pending {rest}", None, pattern=pattern))
            return
        header, value = header_value(rest, where, "pending")
        rules.pending.append(Pending(f"pending {rest}", header, value))
    return rule


def payee_for(rules: BankRules, description: str) -> PayeeRule | None:
    return next((r for r in rules.payees if r.pattern.search(description)), None)


__all__ = ["MAX_ROWS", "BankReading", "BankRules", "Line", "PayeeRule", "assign_keys",
           "in_date_order", "is_ofx", "payee_for", "read_bank_rules", "read_statement"]
