"""Reading a direct-payment bank or prepaid-card statement (docs/dp-statements.md), CSV
here under the reading rules of ledger.imports.reading, OFX/QFX in ledger.imports.ofx.

Each line is read into its date, description, signed amount, balance and keys; what
happens to it (money out a `dp_spend` to the payee its rule names, money in matched to a
payment already recorded) is `ledger.app.bank`'s to decide, under the ledger's lock.
Lines a `pending` rule names are listed, never posted. Nothing is guessed.
"""

from __future__ import annotations

import re
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
    missing_column,
    month_option,
    once,
    parse_amount,
    parse_date,
    parse_rules,
    read_table,
    skip_rule,
    why,
)
from ledger.imports.statement import (
    BankReading,
    BankRules,
    Line,
    PayeeRule,
    assign_keys,
    in_date_order,
    payee_for,
)

COLUMNS = ("date", "description", "amount", "paid_in", "paid_out", "balance", "reference")
_OFX_STARTS = (b"OFXHEADER", b"<?OFX", b"<OFX>", b"<?XML")


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

    parse_rules(path, rules, COLUMNS, {
        "payee": payee_rule, "decimal": decimal_rule(rules), "pending": pending_rule(rules)})
    return rules


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
    for required in ("date", "description"):
        if required not in table.shown:
            raise UsageError(f"{path}:1: {missing_column(rules, required)}")
    if "amount" not in table.shown and not {"paid_in", "paid_out"} & set(table.shown):
        raise UsageError(f"{path}:1: {missing_column(rules, 'amount')}, nor "
                         f"{missing_column(rules, 'paid_in').removeprefix('no ')} or "
                         f"{missing_column(rules, 'paid_out').removeprefix('no ')}")


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


__all__ = ["MAX_ROWS", "BankReading", "BankRules", "Line", "PayeeRule", "assign_keys",
           "in_date_order", "is_ofx", "payee_for", "read_bank_rules", "read_statement"]
