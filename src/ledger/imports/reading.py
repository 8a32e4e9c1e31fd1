"""The reading rules shared by the timesheet and bank statement importers
(docs/month-end.md#reading-rules): the rules file, opening a CSV in its encoding, and
reading dates, clock times and amounts so that a file means one thing or is refused.

Every refusal of a value names it, its column as the export writes it, and what would
make it right. A problem in a row is a ValueError (the importer reports it on its line
and reads on); a problem that stops the reading is a UsageError.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from ledger.core.amounts import parse_pence
from ledger.core.calendar import parse_day, parse_month
from ledger.errors import LedgerError, UsageError

MAX_FILE_BYTES = 64 * 1024 * 1024  # a provider's month for thousands of people
MAX_ROWS = 1_000_000
UK_DATE = "DD/MM/YYYY"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::(\d\d))?$")
_SPACES = " \u00a0\u202f"  # a space, and the no-break spaces some exports group with


@dataclass
class Pending:
    """A `pending` rule: a header and a value, or (header None) a description regex."""

    text: str
    header: str | None
    value: str = ""
    pattern: re.Pattern | None = None


@dataclass
class ReadRules:
    """What a rules file (`--rules FILE`) says about reading an export."""

    columns: dict[str, str] = field(default_factory=dict)  # ours -> the export's header
    mapped: bool = False  # a `column` line was given: only mapped columns are read
    separator: str = ","
    encoding: str = "utf-8-sig"
    date_format: str | None = None
    timezone: str = "Europe/London"
    skips: list[tuple[str, str]] = field(default_factory=list)  # (header, value)
    decimal_comma: bool = False
    pending: list[Pending] = field(default_factory=list)
    declared: dict[str, str] = field(default_factory=dict)  # a setting -> where it was set


Rule = Callable[[str, str], None]  # (the rest of the line, FILE:LINE)


def parse_rules(path: Path, rules: ReadRules, columns: tuple[str, ...],
                more: dict[str, Rule] | None = None) -> ReadRules:
    """A rules file: `#` comments, blank lines, `column NAME = Header`, `separator X`,
    `encoding NAME`, `date FORMAT`, `skip Header = Value`, and the words of `more`
    (handed the rest of the line and where it is). Anything else, or a setting given
    twice, is `RULESFILE:LINE: why`."""
    words: dict[str, Rule] = {
        "column": lambda rest, where: _column(rules, columns, rest, where),
        "separator": lambda rest, where: _separator(rules, rest, where),
        "encoding": lambda rest, where: _encoding(rules, rest, where),
        "date": lambda rest, where: _date_format(rules, rest, where),
        "skip": lambda rest, where: rules.skips.append(header_value(rest, where, "skip")),
        **(more or {})}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read the rules file ({err})") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        where = f"{path}:{number}"
        if word not in words:
            raise UsageError(f"{where}: unknown rule {word!r} (one of {', '.join(words)})")
        words[word](rest.strip(), where)
    return rules


def once(rules: ReadRules, setting: str, where: str) -> None:
    """A setting is given once: a second line could mean either."""
    if setting in rules.declared:
        raise UsageError(f"{where}: `{setting}` is already set at "
                         f"line {rules.declared[setting].rpartition(':')[2]}")
    rules.declared[setting] = where


def _column(rules: ReadRules, columns: tuple[str, ...], rest: str, where: str) -> None:
    name, eq, header = rest.partition("=")
    name, header = name.strip().lower(), header.strip()
    if not eq or name not in columns or not header:
        raise UsageError(f"{where}: expected `column NAME = Header`, NAME one of "
                         f"{', '.join(columns)}")
    if name in rules.columns:
        raise UsageError(f"{where}: column {name} is already mapped, to "
                         f"{rules.columns[name]!r}")
    for other, taken in rules.columns.items():
        if taken.lower() == header.lower():
            raise UsageError(f"{where}: header {header!r} is already column {other}; "
                             "a header is read as one column")
    rules.columns[name] = header
    rules.mapped = True


def _separator(rules: ReadRules, rest: str, where: str) -> None:
    value = "\t" if rest == "tab" else rest
    if len(value) != 1 or value in "\"\r\n":
        raise UsageError(f"{where}: a separator is one character, or `tab`")
    once(rules, "separator", where)
    rules.separator = value


def _encoding(rules: ReadRules, rest: str, where: str) -> None:
    try:
        info = codecs.lookup(rest)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise UsageError(f"{where}: unknown encoding {rest!r} (e.g. `encoding cp1252`, "
                         "`encoding utf-8`)")
    once(rules, "encoding", where)
    rules.encoding = "utf-8-sig" if info.name == "utf-8" else info.name


def _date_format(rules: ReadRules, rest: str, where: str) -> None:
    probes = (dt.date(2026, 12, 31), dt.date(2027, 1, 2))
    try:
        fits = all(dt.datetime.strptime(d.strftime(rest), rest).date() == d for d in probes)
    except ValueError:
        fits = False
    if not rest or not fits:
        raise UsageError(f"{where}: `date FORMAT` names a day, a month and a year in "
                         "strftime codes, e.g. `date %m/%d/%Y`")
    once(rules, "date", where)
    rules.date_format = rest


def header_value(rest: str, where: str, word: str) -> tuple[str, str]:
    header, eq, value = rest.partition("=")
    if not eq or not header.strip() or not value.strip():
        raise UsageError(f"{where}: expected `{word} Header = Value`")
    return header.strip(), value.strip()


# ---------------------------------------------------------------- the table


@dataclass
class Record:
    line: int  # the physical line the record starts on (the header is line 1)
    cells: dict[str, str]  # our column -> its value, trimmed
    raw: dict[str, str]  # the export's header (lower case) -> its value, trimmed
    values: list[str]  # the record as read


@dataclass
class Table:
    header: list[str]
    shown: dict[str, str]  # our column -> its header as the export writes it
    records: Iterator[Record]
    problems: list[tuple[int, str]]  # lines that are not text in the encoding, not CSV


def missing_column(rules: ReadRules, name: str) -> str:
    """Why our column NAME is not in the file: its mapped header is absent, or the rules
    map no header to it, or (no rules) no header is called NAME."""
    if name in rules.columns:
        return f"no {rules.columns[name]!r} column (the rules' `column {name}`)"
    if rules.mapped:
        return f"no {name} column: the rules map none (add `column {name} = Header`)"
    return f"no {name!r} column"


def decode(path: Path, encoding: str, limit_note: str = "") -> tuple[str, list[tuple[int, str]]]:
    """The file's text, and (line, why) for each line holding bytes that are not text in
    the encoding (such a line reads as U+FFFD where the bytes were)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB"
                             + limit_note)
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"{path}: cannot read it ({err.strerror or err})") from None
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError as err:
        first = err
    shown = "UTF-8" if encoding == "utf-8-sig" else encoding
    advice = "declare the file's encoding with `encoding NAME` in the rules file"
    if "\n".encode(_no_bom(encoding)) != b"\n":  # UTF-16 and the like: the first bad line only
        line = data[:first.start].decode(encoding, "replace").count("\n") + 1
        raise UsageError(f"{path}:{line}: bytes that are not {shown} text; {advice}")
    problems, parts = [], []
    pieces = re.split(rb"(\r\n|\r|\n)", data)
    for number, piece in enumerate(pieces[::2], start=1):
        try:
            text = piece.decode(encoding if number == 1 else _no_bom(encoding))
        except UnicodeDecodeError as err:
            problems.append((number, f"bytes that are not {shown} text at column "
                                     f"{err.start + 1}; {advice}"))
            text = piece.decode(_no_bom(encoding), "replace")
        parts.append(text + (pieces[2 * number - 1].decode() if 2 * number - 1 < len(pieces)
                             else ""))
    return "".join(parts), problems


def _no_bom(encoding: str) -> str:
    return "utf-8" if encoding == "utf-8-sig" else encoding


def read_table(path: Path, rules: ReadRules, columns: tuple[str, ...],
               what: str = "file") -> Table:
    """The file as records of our columns: with a `column` line in the rules only the
    mapped headers are read, else our own names. Headers compare trimmed, any case."""
    text, bad = decode(path, rules.encoding, f", the most a {what} may be")
    if bad and bad[0][0] == 1:
        raise UsageError(f"{path}:1: {bad[0][1]}")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=rules.separator)
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"{path}: empty: a {what} starts with a header row") from None
    except csv.Error as err:
        raise UsageError(f"{path}:1: not CSV ({err})") from None
    names = [h.strip().lower() for h in header]
    wanted = ({n: h for n, h in rules.columns.items() if n in columns} if rules.mapped
              else {n: n for n in columns})
    index: dict[str, int] = {}
    for name, header_name in wanted.items():
        if names.count(header_name.lower()) > 1:
            raise UsageError(f"{path}:1: two columns are headed {header_name!r}; rename "
                             "one, or leave it out of the rules")
        if header_name.lower() in names:
            index[name] = names.index(header_name.lower())
    for header_name, _ in rules.skips + [(p.header, "") for p in rules.pending if p.header]:
        if header_name.lower() not in names:
            raise UsageError(f"{path}:1: no {header_name!r} column, which a `skip` or "
                             "`pending` rule reads")
    shown = {name: header[i].strip() for name, i in index.items()}
    return Table(header, shown, _records(reader, index, names, bad, path), bad)


def _records(reader, index: dict[str, int], names: list[str], bad: list[tuple[int, str]],
             path: Path) -> Iterator[Record]:
    bad_lines = {line for line, _ in bad}
    count = 0
    end = reader.line_num
    while True:
        start = end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            bad.append((reader.line_num, f"not CSV ({err})"))
            return
        end = reader.line_num
        if bad_lines & set(range(start, end + 1)) or not any(v.strip() for v in values):
            continue  # reported by decode; a blank line
        count += 1
        if count > MAX_ROWS:
            raise UsageError(f"{path}: more than {MAX_ROWS:,} rows")
        cells = [v.strip() for v in values] + [""] * (len(names) - len(values))
        yield Record(start, {n: cells[i] for n, i in index.items()},
                     {h: cells[i] for i, h in enumerate(names)}, values)


def skip_rule(rules: ReadRules, record: Record) -> str | None:
    """The `skip` rule that leaves this record out, as written, or None."""
    for header, value in rules.skips:
        if record.raw.get(header.lower(), "").lower() == value.lower():
            return f"skip {header} = {value}"
    return None


# ---------------------------------------------------------------- values


def cell_error(name: str, value: str, column: str, why: str) -> ValueError:
    """`hours '-2' (column 'Hours'): why`, or `date 'x' (column 'Date') is not ...`."""
    joint = " " if why.startswith(("is ", "does ", "happens ", "has ")) else ": "
    return ValueError(f"{name} {value[:40]!r} (column {column!r}){joint}{why}")


def why(err: Exception) -> str:
    return str(err).removeprefix("invalid: ")


def parse_date(text: str, rules: ReadRules, column: str = "date") -> dt.date:
    """`YYYY-MM-DD` always; else the rules' `date FORMAT`, or day/month `DD/MM/YYYY`."""
    fail = lambda reason: cell_error("date", text, column, reason)  # noqa: E731
    if _ISO.match(text):
        return _in_years(text, fail)
    if rules.date_format:
        try:
            on = dt.datetime.strptime(text, rules.date_format).date()
        except ValueError:
            raise fail(f"is not a date written {rules.date_format} (the rules' `date`) "
                       "or YYYY-MM-DD") from None
        return _in_years(on.isoformat(), fail)
    found = _DMY.match(text)
    if not found:
        raise fail(f"is not a date YYYY-MM-DD or {UK_DATE}")
    d, m, y = (int(g) for g in found.groups())
    try:
        on = dt.date(y, m, d)
    except ValueError:
        if m > 12 and d <= 12:
            raise fail(f"is not a day/month date {UK_DATE}; if the export writes month "
                       "first, add `date %m/%d/%Y` to the rules file") from None
        raise fail("is not a date on the calendar") from None
    return _in_years(on.isoformat(), fail)


def _in_years(iso: str, fail: Callable[[str], ValueError]) -> dt.date:
    try:
        return parse_day(iso)
    except ValueError as err:
        text = str(err)  # "'1066-04-01' is outside the years ..."
        raise fail(text[text.find(" is ") + 1:] if " is " in text else text) from None


def check_month(on: dt.date, month: str | None) -> None:
    """`--month M`: a row dated outside M is refused."""
    if month is not None and on.strftime("%Y-%m") != month:
        raise ValueError(f"dated {on.isoformat()}, outside --month {month}")


def month_option(month: str | None) -> str | None:
    if month is None:
        return None
    try:
        return parse_month(month)
    except ValueError as err:
        raise UsageError(f"--month: {err}") from None


def parse_clock(text: str, column: str, name: str) -> int:
    """A wall-clock time `HH:MM` (`H:MM`, `HH:MM:00`) as minutes after midnight."""
    found = _CLOCK.match(text)
    if not found:
        raise cell_error(name, text, column, "is not a time of day HH:MM")
    if found.group(3) not in (None, "00"):
        raise cell_error(name, text, column, "has seconds: times are whole minutes")
    return int(found.group(1)) * 60 + int(found.group(2))


def clock_text(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def wall_time(day: dt.date, minutes: int, zone: ZoneInfo) -> tuple[dt.datetime, str | None]:
    """The instant a wall-clock time names that day, and what is wrong with it: None,
    'does not exist' (clocks went forward past it) or 'happens twice' (clocks went
    back over it; the first is returned)."""
    naive = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))
    first, second = naive.replace(tzinfo=zone), naive.replace(tzinfo=zone, fold=1)
    back = first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        return first, "does not exist"
    if first.utcoffset() != second.utcoffset():
        return first, "happens twice"
    return first, None


def elapsed_minutes(start: dt.datetime, end: dt.datetime) -> int:
    return int((end.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds()) // 60


def parse_amount(text: str, decimal_comma: bool = False, column: str = "amount",
                 name: str = "amount") -> int:
    """Pence from an amount as a bank writes it: `-12.50`, `£1,234.00`, `(12.50)`; with
    `decimal ,`: `-12,50`, `1.234,56`. A separator that could mean two things is refused."""
    fail = lambda reason: cell_error(name, text, column, reason)  # noqa: E731
    body = text.strip()
    negative = body.startswith("(") and body.endswith(")")
    body = body[1:-1].strip() if negative else body
    found = re.fullmatch(r"([-+]?)\s*£?\s*([-+]?)(.*)", body, re.DOTALL)
    if found is None:  # cannot happen: the last group takes anything
        raise fail("is not an amount")
    signs = found.group(1) + found.group(2)
    if len(signs) > 1 or (negative and signs):
        raise fail("has more than one sign")
    negative = negative or signs == "-"
    number = _plain_number(found.group(3), decimal_comma, fail)
    try:
        pence = parse_pence(number, name)
    except LedgerError as err:
        raise fail(why(err).split(f"{number!r} ", 1)[-1]) from None
    return -pence if negative else pence


def _plain_number(text: str, decimal_comma: bool, fail: Callable[[str], ValueError]) -> str:
    if not decimal_comma:
        if "," not in text:
            return text
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d*)?", text):
            return text.replace(",", "")
        raise fail("a comma here is not a thousands separator; if the file uses a "
                   "decimal comma, add `decimal ,` to the rules file")
    grouped = re.fullmatch(rf"(\d{{1,3}}(?:([.{_SPACES}])\d{{3}})(?:\2\d{{3}})*)(,\d*)?",
                           text)
    if grouped:
        whole = re.sub(rf"[.{_SPACES}]", "", grouped.group(1))
        return whole + (grouped.group(3) or "").replace(",", ".")
    if "." in text:
        raise fail("with `decimal ,` a point is a thousands separator, between groups "
                   "of three digits only")
    return text.replace(",", ".", 1) if text.count(",") == 1 else text


__all__ = ["MAX_ROWS", "Pending", "ReadRules", "Record", "Rule", "Table", "check_month",
           "clock_text", "elapsed_minutes", "header_value", "missing_column", "month_option", "once",
           "parse_amount", "parse_clock", "parse_date", "parse_rules", "read_table",
           "skip_rule", "wall_time", "why"]
