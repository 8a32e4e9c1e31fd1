"""Reading a provider's timesheet CSV into `isf_delivery` events (docs/month-end.md
#timesheets).

Every row is read and checked here (columns, dates, times, minutes, text); what only the
ledger can say (is the ISF open on that date, would the bank go past its borrowing limit,
is the month closed) is said by the `isf_delivery` rule when `ledger.app.timesheet` submits
the rows. Each problem is one `FILE:LINE: reason`, LINE counting the header as line 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ledger.core.amounts import parse_minutes
from ledger.core.journal import PARTY_ID
from ledger.core.text import text_problem
from ledger.domain.base import day
from ledger.errors import LedgerError, UsageError

COLUMNS = ("holder", "date", "hours", "start", "end", "provider", "worker", "reference",
           "notes")
MAX_FILE_BYTES = 64 * 1024 * 1024  # a provider's month for thousands of people
MAX_ROWS = 1_000_000
_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DMY = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


@dataclass
class Rules:
    """How an export's columns map to ours (`--rules FILE`): `column NAME = Header`."""

    columns: dict[str, str] = field(default_factory=dict)  # ours -> the export's header
    separator: str = ","


@dataclass
class Row:
    line: int
    key: str
    event: dict


def parse_rules(path: Path, rules: Rules, columns: tuple[str, ...],
                more: dict[str, Callable[[str, str], None]] | None = None) -> Rules:
    """A rules file: `#` comments, blank lines, `column NAME = Header in the export`,
    `separator ;` (or `tab`), and the words of `more`, each handed the rest of its line
    and where it is. Anything else is one line of error with its line."""
    more = more or {}
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
        if word == "column":
            name, eq, header = rest.partition("=")
            name, header = name.strip().lower(), header.strip()
            if not eq or name not in columns or not header:
                raise UsageError(f"{where}: expected `column NAME = Header`, NAME one of "
                                 f"{', '.join(columns)}")
            rules.columns[name] = header
        elif word == "separator":
            value = "\t" if rest.strip() == "tab" else rest.strip()
            if len(value) != 1:
                raise UsageError(f"{where}: a separator is one character, or `tab`")
            rules.separator = value
        elif word in more:
            more[word](rest, where)
        else:
            raise UsageError(f"{where}: unknown rule {word!r} "
                             f"({', '.join(['column', 'separator', *more])})")
    return rules


def read_rules(path: Path) -> Rules:
    """A timesheet's rules file: `column` and `separator` lines."""
    return parse_rules(path, Rules(), COLUMNS)


def open_csv(path: Path, separator: str, limit_note: str = ""):
    """A CSV reader over the whole file (UTF-8, with or without a byte order mark), at
    most MAX_FILE_BYTES; an unreadable file is one line of error."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB"
                             + limit_note)
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read it ({err.strerror or err})") from None
    return csv.reader(io.StringIO(text, newline=""), delimiter=separator)


def positions(header: list[str], rules: Rules, columns: tuple[str, ...]) -> dict[str, int]:
    """Our column -> its index. Header names are compared case-insensitively, trimmed."""
    names = [h.strip().lower() for h in header]
    wanted = {name: rules.columns.get(name, name).strip().lower() for name in columns}
    return {name: names.index(header_name) for name, header_name in wanted.items()
            if header_name in names}


def _date(text: str) -> dt.date:
    found = _DMY.match(text)
    if found:
        text = f"{found.group(3)}-{found.group(2)}-{found.group(1)}"
    return day(text)


def _clock(text: str) -> int:
    found = _HH_MM.match(text)
    if not found:
        raise ValueError(f"{text[:20]!r} is not a time of day HH:MM")
    return int(found.group(1)) * 60 + int(found.group(2))


def read_timesheet(path: Path, provider: str, rules: Rules | None = None
                   ) -> tuple[list[Row], list[tuple[int, str]]]:
    """Every row as an `isf_delivery` with its key, and every problem found as (line,
    reason)."""
    rules = rules or Rules()
    reader = open_csv(path, rules.separator, ", the most a timesheet may be")
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError(f"{path}: empty: a timesheet starts with a header row") from None
    except csv.Error as err:
        raise UsageError(f"{path}:1: not CSV ({err})") from None
    position = _columns(path, header, rules)
    rows: list[Row] = []
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if len(rows) + len(problems) >= MAX_ROWS:
                raise UsageError(f"{path}: more than {MAX_ROWS:,} rows")
            if not any(v.strip() for v in values):
                continue  # a blank line
            try:
                cells = {name: values[i].strip() if i < len(values) else ""
                         for name, i in position.items()}
                event = _event(cells, provider)
            except (ValueError, LedgerError) as err:
                problems.append((line, _why(err)))
                continue
            fingerprint = _fingerprint(provider, cells, event)
            seen[fingerprint] = seen.get(fingerprint, 0) + 1
            key = (f"timesheet/{provider}/ref/{cells['reference']}" if cells.get("reference")
                   else f"timesheet/{provider}/{fingerprint[:32]}#{seen[fingerprint]}")
            rows.append(Row(line, key, event))
    except csv.Error as err:
        problems.append((reader.line_num, f"not CSV ({err})"))
    return rows, problems


def _why(err: Exception) -> str:
    return str(err).removeprefix("invalid: ")


def _columns(path: Path, header: list[str], rules: Rules) -> dict[str, int]:
    """Our column -> its index, the required ones checked."""
    position = positions(header, rules, COLUMNS)
    shown = lambda name: rules.columns.get(name, name)  # noqa: E731
    for required in ("holder", "date"):
        if required not in position:
            raise UsageError(f"{path}:1: no {shown(required)!r} column")
    if "hours" not in position and not {"start", "end"} <= set(position):
        raise UsageError(f"{path}:1: no {shown('hours')!r} column, nor "
                         f"{shown('start')!r} and {shown('end')!r}")
    return position


def _event(cells: dict[str, str], provider: str) -> dict:
    holder = cells["holder"]
    if not PARTY_ID.match(holder):
        raise ValueError(f"holder {holder[:40]!r} is not a holder id")
    if cells.get("provider") and cells["provider"] != provider:
        raise ValueError(f"provider {cells['provider'][:40]!r} is not {provider}")
    try:
        on = _date(cells["date"])
    except ValueError:
        raise ValueError(f"date {cells['date'][:40]!r} is not YYYY-MM-DD or DD/MM/YYYY "
                         "(a real date)") from None
    if cells.get("hours"):
        try:
            minutes = parse_minutes(cells["hours"])
        except (ValueError, LedgerError) as err:
            raise ValueError(f"hours {cells['hours'][:40]!r}: {_why(err)}") from None
    else:
        start, end = _clock(cells.get("start", "")), _clock(cells.get("end", ""))
        minutes = end - start if end > start else end + 24 * 60 - start  # ends next day
    if minutes <= 0:
        raise ValueError("no time delivered (0 minutes)")
    event: dict = {"date": on.isoformat(), "type": "isf_delivery", "holder": holder,
                   "provider": provider, "hours": f"{minutes // 60}:{minutes % 60:02d}"}
    for name in ("worker", "reference", "notes"):
        value = cells.get(name)
        if value:
            problem = text_problem(value)
            if problem:
                raise ValueError(f"{name} {problem}")
            event[name] = value
    return event


def _fingerprint(provider: str, cells: dict[str, str], event: dict) -> str:
    """Provider, holder, date, minutes, start, end and worker: the same visit in an
    overlapping or re-ordered export has the same fingerprint."""
    parts = [provider, event["holder"], event["date"], event["hours"],
             cells.get("start", ""), cells.get("end", ""), cells.get("worker", "")]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


__all__ = ["COLUMNS", "Row", "Rules", "read_rules", "read_timesheet"]
