"""Reading a provider's timesheet CSV into `isf_delivery` events (docs/month-end.md
#timesheets), under the reading rules of ledger.imports.reading.

Every row is read and checked here (columns, dates, times, minutes, text) and given its
visit key, and the key the release before the reading rules gave it; what only the ledger
can say (is the ISF open, is the row already recorded or changed, is the month closed) is
`ledger.app.timesheet`'s. Each problem is (line, reason), the header being line 1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.core.amounts import parse_minutes
from ledger.core.calendar import parse_day
from ledger.core.journal import MAX_PARTY_ID_CHARS, PARTY_ID
from ledger.core.text import text_problem
from ledger.errors import LedgerError, UsageError
from ledger.imports.reading import (
    MAX_ROWS,
    ReadRules,
    Record,
    Rule,
    Table,
    cell_error,
    check_month,
    clock_text,
    elapsed_minutes,
    missing_column,
    month_option,
    once,
    parse_clock,
    parse_date,
    parse_rules,
    read_table,
    skip_rule,
    wall_time,
    why,
)

COLUMNS = ("holder", "date", "hours", "start", "end", "provider", "worker", "reference",
           "notes")
Rules = ReadRules


@dataclass
class Row:
    line: int
    key: str
    event: dict  # an isf_delivery dated the day worked
    legacy_key: str | None = None  # the key the release before the reading rules gave it
    identical_to: int | None = None  # the line of an earlier row with every cell equal
    start: str | None = None  # HH:MM


@dataclass
class Reading:
    rows: list[Row] = field(default_factory=list)
    problems: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, the skip rule)


def read_rules(path: Path) -> Rules:
    """A timesheet's rules file: `column`, `separator`, `encoding`, `date`, `skip` and
    `timezone` lines."""
    rules = Rules()
    return parse_rules(path, rules, COLUMNS, {"timezone": timezone_rule(rules)})


def read_timesheet(path: Path, provider: str, rules: Rules | None = None,
                   month: str | None = None) -> Reading:
    """Every row as an `isf_delivery` with its keys, every problem as (line, reason), and
    every row a `skip` rule left out."""
    rules = rules or Rules()
    month = month_option(month)
    table = read_table(path, rules, COLUMNS, "timesheet")
    _check_columns(path, table, rules)
    zone = ZoneInfo(rules.timezone)
    old = _LegacyKeys(provider, table.header, rules)
    visits = _Visits(provider)
    reading = Reading()
    for record in table.records:
        legacy_key = old.key(record)
        rule = skip_rule(rules, record)
        if rule:
            reading.skipped.append((record.line, rule))
            continue
        try:
            event, start = _event(record, table.shown, provider, rules, zone, month)
        except (ValueError, LedgerError) as err:
            reading.problems.append((record.line, why(err)))
            continue
        row = Row(record.line, "", event, None if "reference" in event else legacy_key,
                  None, start)
        problem = visits.place(row, record)
        if problem:
            reading.problems.append((record.line, problem))
        else:
            reading.rows.append(row)
    reading.problems = sorted(table.problems + reading.problems)
    return reading


def _check_columns(path: Path, table: Table, rules: Rules) -> None:
    for required in ("holder", "date"):
        if required not in table.shown:
            raise UsageError(f"{path}:1: {missing_column(rules, required)}")
    if "hours" not in table.shown and not {"start", "end"} <= set(table.shown):
        absent = [n for n in ("start", "end") if n not in table.shown]
        nor = " and ".join(missing_column(rules, n).removeprefix("no ") for n in absent)
        raise UsageError(f"{path}:1: {missing_column(rules, 'hours')}, nor {nor}")


class _Visits:
    """Keys for the rows of one file: a visit's key, told apart by occurrence, and the
    rows found identical to an earlier one."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.hours_only: dict[tuple[str, str], int] = {}  # (holder, date) -> rows so far
        self.keys: dict[str, tuple[int, tuple]] = {}  # visit key -> (line, cells)
        self.cells: dict[tuple, int] = {}  # every read cell -> the first line
        self.repeats: dict[str, int] = {}

    def place(self, row: Row, record: Record) -> str | None:
        event = row.event
        if "reference" in event:
            row.key = f"timesheet/{self.provider}/ref/{event['reference']}"
            return None
        cells = tuple(sorted(record.cells.items()))
        row.identical_to = self.cells.setdefault(cells, row.line)
        if row.identical_to == row.line:
            row.identical_to = None
        holder, date = event["holder"], event["date"]
        if row.start is None:
            place = self.hours_only[holder, date] = self.hours_only.get((holder, date), 0) + 1
            which = f"#{place}"
        else:
            which = row.start
        parts = [self.provider, holder, date, which, event.get("worker", "")]
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
        row.key = f"timesheet/{self.provider}/visit/{digest}"
        if row.key in self.keys:
            line, earlier = self.keys[row.key]
            if earlier != cells:
                return (f"the same visit as line {line} (holder, date, start and worker) "
                        "with other content; correct one of them, or give each visit a "
                        "reference")
            self.repeats[row.key] = self.repeats.get(row.key, 1) + 1
            row.key += f"#{self.repeats[row.key]}"
        else:
            self.keys[row.key] = (row.line, cells)
        return None


def _event(record: Record, shown: dict[str, str], provider: str, rules: Rules,
           zone: ZoneInfo, month: str | None) -> tuple[dict, str | None]:
    cells = record.cells
    holder = cells["holder"]
    if not PARTY_ID.fullmatch(holder) or len(holder) > MAX_PARTY_ID_CHARS:
        raise cell_error("holder", holder, shown["holder"], "is not a holder id (capital "
                         "letters, digits, - and _)")
    if cells.get("provider") and cells["provider"] != provider:
        raise cell_error("provider", cells["provider"], shown["provider"],
                         f"is not {provider}, the provider this file is imported for")
    on = parse_date(cells["date"], rules, shown["date"])
    check_month(on, month)
    minutes, start = _minutes(cells, shown, on, zone)
    event: dict = {"date": on.isoformat(), "type": "isf_delivery", "holder": holder,
                   "provider": provider, "hours": f"{minutes // 60}:{minutes % 60:02d}"}
    for name in ("worker", "reference", "notes"):
        value = cells.get(name)
        if value:
            problem = text_problem(value)
            if problem:
                raise ValueError(f"{name} (column {shown[name]!r}) {problem}")
            event[name] = value
    return event, start


def _minutes(cells: dict[str, str], shown: dict[str, str], on: dt.date,
             zone: ZoneInfo) -> tuple[int, str | None]:
    """The minutes delivered (the row's hours, else the real time from start to end),
    and the start as HH:MM."""
    clock = {name: parse_clock(cells[name], shown[name], name)
             for name in ("start", "end") if cells.get(name)}
    hours = _hours(cells["hours"], shown["hours"]) if cells.get("hours") else None
    start, end = clock.get("start"), clock.get("end")
    days = {"start": on, "end": on + dt.timedelta(days=1)
            if start is not None and end is not None and end <= start else on}
    instants = {}
    for name, minutes in clock.items():
        instants[name], wrong = wall_time(days[name], minutes, zone)
        if wrong == "does not exist":
            raise cell_error(name, cells[name], shown[name], f"does not exist on "
                             f"{days[name].isoformat()} in {zone.key} (the clocks go "
                             "forward past it); correct the time")
        if wrong and hours is None:
            raise cell_error(name, cells[name], shown[name], f"happens twice on "
                             f"{days[name].isoformat()} in {zone.key} (the clocks go "
                             "back over it); give the visit's hours as well")
    if hours is None:
        if start is None or end is None:
            empty = [shown[n] for n in ("hours", "start", "end") if n in shown
                     and n not in clock]
            raise ValueError("no time given: " + " and ".join(repr(e) for e in empty)
                             + " empty; give the visit's start and end, or its hours")
        if start == end:
            raise ValueError(f"start and end are both {clock_text(start)} (columns "
                             f"{shown['start']!r}, {shown['end']!r}): a 24-hour visit "
                             "is written with hours")
        hours = elapsed_minutes(instants["start"], instants["end"])
    return hours, None if start is None else clock_text(start)


def timezone_rule(rules: ReadRules) -> Rule:
    """`timezone NAME`: the zone a timesheet's clock times are written in."""
    def rule(rest: str, where: str) -> None:
        try:
            ZoneInfo(rest)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"{where}: unknown time zone {rest!r} (e.g. "
                             "`timezone Europe/London`)") from None
        once(rules, "timezone", where)
        rules.timezone = rest
    return rule


def _hours(text: str, column: str) -> int:
    try:
        minutes = parse_minutes(text)
    except (ValueError, LedgerError) as err:
        raise cell_error("hours", text, column, why(err).removeprefix("hours: ")) from None
    if minutes < 0:
        raise cell_error("hours", text, column, f"{text} is negative: hours are at least "
                         "0:01")
    if minutes == 0:
        raise cell_error("hours", text, column, "no time delivered; a cancelled visit is "
                         "left out with `skip COLUMN = VALUE` in the rules")
    return minutes


class _LegacyKeys:
    """The keys the release before the reading rules (2026-12-06) gave rows without a
    reference, computed as it computed them: the columns it read (a rules file's and any
    of our names), DD/MM/YYYY dates, the minutes of `hours` or the naive end - start, and
    the occurrence of the fingerprint among the rows it accepted."""

    _DMY = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
    _HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

    def __init__(self, provider: str, header: list[str], rules: Rules) -> None:
        names = [h.strip().lower() for h in header]
        wanted = {n: rules.columns.get(n, n).strip().lower() for n in COLUMNS}
        self.index = {n: names.index(h) for n, h in wanted.items() if h in names}
        self.provider = provider
        self.seen: dict[str, int] = {}

    def key(self, record: Record) -> str | None:
        values = record.values
        cells = {n: values[i].strip() if i < len(values) else ""
                 for n, i in self.index.items()}
        try:
            parts = self._parts(cells)
        except (ValueError, LedgerError, KeyError):
            return None  # that release refused the row
        fingerprint = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        self.seen[fingerprint] = self.seen.get(fingerprint, 0) + 1
        return f"timesheet/{self.provider}/{fingerprint[:32]}#{self.seen[fingerprint]}"

    def _parts(self, cells: dict[str, str]) -> list:
        holder = cells["holder"]
        if not PARTY_ID.match(holder) or (cells.get("provider") and
                                          cells["provider"] != self.provider):
            raise ValueError(holder)
        found = self._DMY.match(cells["date"])
        on = parse_day(f"{found.group(3)}-{found.group(2)}-{found.group(1)}" if found
                       else cells["date"])
        if cells.get("hours"):
            minutes = parse_minutes(cells["hours"])
        else:
            start, end = self._clock(cells.get("start", "")), self._clock(cells.get("end", ""))
            minutes = end - start if end > start else end + 24 * 60 - start
        if minutes <= 0:
            raise ValueError(minutes)
        for name in ("worker", "reference", "notes"):
            if cells.get(name) and text_problem(cells[name]):
                raise ValueError(name)
        return [self.provider, holder, on.isoformat(), f"{minutes // 60}:{minutes % 60:02d}",
                cells.get("start", ""), cells.get("end", ""), cells.get("worker", "")]

    def _clock(self, text: str) -> int:
        found = self._HH_MM.match(text)
        if not found:
            raise ValueError(text)
        return int(found.group(1)) * 60 + int(found.group(2))


__all__ = ["COLUMNS", "MAX_ROWS", "Reading", "Row", "Rules", "read_rules",
           "read_timesheet"]
