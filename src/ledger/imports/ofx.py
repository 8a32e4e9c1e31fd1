"""Reading an OFX or QFX bank or credit-card statement (docs/dp-statements.md#ofx).

`ofxtools` reads the file (OFX 1.x SGML, OFX 2.x XML, and Quicken's QFX, which is OFX 1.x
with Intuit's own tags) and checks it against the OFX specification. The figures are then
read from the text as the bank wrote it: a posting date is the date part of DTPOSTED as
written (the bank's own day; a time zone is never applied, which would move a late-evening
card payment to another day), and TRNAMT is read exactly into pence. Each STMTTRN becomes a
`Line` numbered by the line of the file where it starts, with FITID, the bank's own id, as
its reference.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import unescape

from ofxtools.models.bank.stmt import TRNTYPES
from ofxtools.Parser import OFXTree

from ledger.core.amounts import parse_pence
from ledger.core.text import text_problem
from ledger.errors import LedgerError, UsageError
from ledger.imports.reading import ReadRules, check_month, month_option
from ledger.imports.statement import BankReading, Line, assign_keys, in_date_order

MAX_FILE_BYTES = 64 * 1024 * 1024  # years of a busy account
STATEMENTS = ("STMTRS", "CCSTMTRS")  # a bank account's statement, a card's
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{4,6}(?:\.\d{1,3})?)?(?:\[[^\]]*\])?")
_AMOUNT = re.compile(r"([+-]?)([0-9]*)(?:[.,]([0-9]*))?")
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SPACES = re.compile(r"\s+")
_ENTITIES = {"&nbsp;": " ", "&quot;": '"', "&apos;": "'"}


def read_ofx(path: Path, holder: str, rules: ReadRules, month: str | None = None
             ) -> BankReading:
    """Every transaction of the file's one statement, in date order, with its key; the
    lines the rules call pending apart; every problem as (line, reason)."""
    month = month_option(month)
    data = _bytes(path)
    tree = _tree(path, data)
    statement = _the_statement(path, tree.getroot())
    _check_currency(path, statement)
    elements = list(statement.iter("STMTTRN"))
    starts = _starts(data, b"<STMTTRN>")
    if len(starts) != len(elements):
        raise UsageError(f"{path}: {len(elements)} transactions were read but "
                         f"{len(starts)} <STMTTRN> tags are written; the file is not "
                         "well-formed OFX")
    lines: list[Line] = []
    problems: list[tuple[int, str]] = []
    for at, element in zip(starts, elements, strict=True):
        try:
            lines.append(_line(at, element))
        except (ValueError, LedgerError) as err:
            problems.append((at, _why(err)))
    problems += _same_fitid(lines)
    if not problems:
        _convert(path, tree)  # every rule of the specification the lines did not check
    lines = in_date_order(lines)  # a statement newest first is turned round
    pending = [line for line in lines if _pending(rules, line.description)]
    posted = [line for line in lines if not _pending(rules, line.description)]
    problems += _outside(posted, month)  # a line not yet final is listed, whatever its date
    problems += _balance(data, statement, posted)
    assign_keys(posted, holder)
    return BankReading(lines=posted, problems=sorted(problems), pending=pending, skipped=[])


def _bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise UsageError(f"{path}: cannot read the file ({err.strerror or err})") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB; export a "
                         "shorter period")
    return data


def _tree(path: Path, data: bytes) -> OFXTree:
    tree = OFXTree()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree.parse(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - a third-party parser: whatever it raises, one line
        raise _unreadable(path, err) from None
    return tree


def _convert(path: Path, tree: OFXTree) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Intuit's private QFX tags, skipped by design
            tree.convert()
    except Exception as err:  # noqa: BLE001 - as in _tree
        raise _unreadable(path, err) from None


def _unreadable(path: Path, err: Exception) -> UsageError:
    why = _SPACES.sub(" ", str(err) or type(err).__name__).strip()
    if len(why) > 160:
        why = why[:157] + "..."
    return UsageError(f"{path}: not an OFX file ofxtools can read ({why})")


def _the_statement(path: Path, root: ET.Element | None) -> ET.Element:
    found = [e for e in (root.iter() if root is not None else ()) if e.tag in STATEMENTS]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(f"{path}: no bank or credit-card statement in it (an OFX file with "
                         "STMTRS or CCSTMTRS); export the account's transactions")
    accounts = ", ".join(repr(_text(s, ".//ACCTID")) for s in found)
    raise UsageError(f"{path}: {len(found)} statements in one file (accounts {accounts}); "
                     "export each account to its own file and import it for its holder")


def _check_currency(path: Path, statement: ET.Element) -> None:
    currency = _text(statement, "CURDEF")
    if currency.upper() != "GBP":
        raise UsageError(f"{path}: the statement is in {currency or 'no currency'} "
                         "(CURDEF); the ledger keeps pounds, so only a GBP statement is read")


def _starts(data: bytes, tag: bytes) -> list[int]:
    """The line of the file where each `tag` is written, in order."""
    lines, at, previous = [], 1, 0
    for match in re.finditer(re.escape(tag), data):
        at += len(_LINE_BREAK.findall(data, previous, match.start()))
        previous = match.start()
        lines.append(at)
    return lines


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    if found is None or found.text is None:
        return ""
    return _SPACES.sub(" ", unescape(found.text, _ENTITIES)).strip()


def _line(at: int, element: ET.Element) -> Line:
    if _text(element, "CORRECTACTION"):
        raise ValueError(f"a correction of transaction {_text(element, 'CORRECTFITID')!r} "
                         "(CORRECTACTION); correct the ledger by hand, then import the "
                         "statement without it")
    currency = _text(element, "CURRENCY/CURSYM")
    if currency and currency.upper() != "GBP":
        raise ValueError(f"TRNAMT is in {currency} (CURRENCY); the ledger keeps pounds")
    kind = _text(element, "TRNTYPE")
    if kind not in TRNTYPES:
        raise ValueError(f"TRNTYPE {kind[:20]!r} is not an OFX transaction type "
                         f"({', '.join(TRNTYPES)})" if kind else "no TRNTYPE")
    on = _date(_text(element, "DTPOSTED"), "DTPOSTED")
    pence = _pence(_text(element, "TRNAMT"), "TRNAMT")
    if pence == 0:
        raise ValueError("TRNAMT is 0.00: no money in or out")
    fitid = _text(element, "FITID")
    if not fitid:
        raise ValueError("no FITID: the bank's id for the transaction is required")
    description = _description(element)
    for what, value in (("FITID", fitid), ("description", description)):
        problem = text_problem(value)
        if problem:
            raise ValueError(f"{what} {problem}")
    return Line(at, on, description, pence, None, fitid)


def _description(element: ET.Element) -> str:
    """NAME and MEMO as a person reads them: one of them when the other repeats it (a
    NAME cut short at 32 characters and the MEMO that gives it whole), otherwise both;
    the transaction type when the bank gives neither."""
    name = _text(element, "NAME") or _text(element, "PAYEE/NAME")
    memo = _text(element, "MEMO")
    if memo.upper().startswith(name.upper()):
        return memo or _text(element, "TRNTYPE")
    if name.upper().startswith(memo.upper()):
        return name
    return f"{name} {memo}"


def _date(text: str, what: str) -> dt.date:
    written = _DATE.fullmatch(text)
    if written:
        try:
            return dt.date(*(int(part) for part in written.groups()))
        except ValueError:
            pass
    raise ValueError(f"{what} {text[:40]!r} is not an OFX date (YYYYMMDD, then an "
                     "optional time and time zone)")


def _pence(text: str, what: str) -> int:
    """Pounds as OFX writes them: a sign, digits, and a point or (OFX allows either) a
    comma before the pence; never a thousands separator."""
    written = _AMOUNT.fullmatch(text)
    if not written or not (written[2] or written[3]):
        raise ValueError(f"{what} {text[:40]!r} is not an amount (OFX writes digits, an "
                         "optional sign and a decimal point)")
    sign, pounds, pence = written[1], written[2] or "0", written[3] or ""
    if len(pence) > 2:
        raise ValueError(f"{what} {text[:40]!r} has more than 2 decimal places (OFX writes "
                         "no thousands separators, and pence are the smallest amount)")
    try:
        return parse_pence(f"{sign}{pounds}.{pence or '0'}", what)
    except LedgerError:
        raise ValueError(f"{what} {text[:40]!r} is too large") from None


def _why(err: Exception) -> str:
    return err.message if isinstance(err, LedgerError) else str(err)


def _same_fitid(lines: list[Line]) -> list[tuple[int, str]]:
    first: dict[str, int] = {}
    problems = []
    for line in lines:
        earlier = first.setdefault(line.reference or "", line.line)
        if earlier != line.line:
            problems.append((line.line, f"FITID {line.reference!r} is also the id of the "
                                        f"transaction on line {earlier}; a bank gives each "
                                        "transaction its own, so the file is refused"))
    return problems


def _outside(lines: list[Line], month: str | None) -> list[tuple[int, str]]:
    problems = []
    for line in lines:
        try:
            check_month(line.date, month)
        except ValueError as err:
            problems.append((line.line, str(err)))
    return problems


def _pending(rules: ReadRules, description: str) -> bool:
    """A `pending description REGEX` rule finds its pattern in the description. (A
    `pending Header = Value` rule names a CSV column; an OFX statement has none.)"""
    return any(rule.pattern.search(description) for rule in rules.pending
               if rule.header is None and rule.pattern is not None)


def _balance(data: bytes, statement: ET.Element, lines: list[Line]
             ) -> list[tuple[int, str]]:
    """LEDGERBAL is the balance at the end of DTASOF: put on the last line of that day."""
    ledgerbal = statement.find("LEDGERBAL")
    if ledgerbal is None:
        return []
    at = (_starts(data, b"<LEDGERBAL>") or [0])[0]
    try:
        on = _date(_text(ledgerbal, "DTASOF"), "LEDGERBAL DTASOF")
        pence = _pence(_text(ledgerbal, "BALAMT"), "LEDGERBAL BALAMT")
    except ValueError as err:
        return [(at, str(err))]
    that_day = [line for line in lines if line.date == on]
    if that_day:
        that_day[-1].balance = pence
    return []


__all__ = ["read_ofx"]
