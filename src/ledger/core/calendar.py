"""Months and periods, written once: every module that reads a month, works out its
first or last day, steps to the next or previous one or names it, asks here.

A month is the text 'YYYY-MM'. Dates and months are read as docs/rules-trust.md#reading
says: ASCII digits, a real calendar date, years 1900 to 2199, so that no arithmetic here
(a month's last day, the month after December 2199's predecessor, a schedule's later
dates) ever leaves the calendar Python can hold. A number is never a date.

No I/O and nothing of the domain: the core, the domain, the store and the reports all
use it.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import functools
import re

MIN_YEAR, MAX_YEAR = 1900, 2199
_DAY = re.compile(r"([0-9]{4})-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "..."


def _in_range(year: int, value: object) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"{shown(value)} is outside the years {MIN_YEAR} to {MAX_YEAR}")


# ---------------------------------------------------------------- reading


def parse_day(value: object) -> dt.date:
    """A date written YYYY-MM-DD (or a `date`), checked against the calendar and the
    ledger's years. Anything else is a ValueError saying what is wrong."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        found = value
    elif isinstance(value, str) and _DAY.fullmatch(value):
        try:
            found = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{shown(value)} is not a date on the calendar") from None
    else:
        raise ValueError(f"{shown(value)} is not a date (YYYY-MM-DD)")
    _in_range(found.year, value)
    return found


def parse_month(value: object) -> str:
    """A month written YYYY-MM (or the month of a `date`), in the ledger's years, as
    'YYYY-MM'. Anything else is a ValueError saying what is wrong."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        _in_range(value.year, value)
        return month_of(value)
    written = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if written is None:
        raise ValueError(f"{shown(value)} is not a month (YYYY-MM)")
    _in_range(int(written.group(1)), value)
    return written.group(0)


# ---------------------------------------------------------------- months


def month_of(day: dt.date) -> str:
    """The month a date falls in: 2026-05-17 -> '2026-05'."""
    return f"{day.year:04d}-{day.month:02d}"


@functools.lru_cache(maxsize=4096)  # the rules ask for the same few months again and again
def month_index(month: str) -> int:
    """Months since year 0, for arithmetic and ordering: '2026-05' -> 2026 * 12 + 4."""
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


def month_from_index(index: int) -> str:
    """The month `month_index` numbers `index`."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def add_month_count(month: str, count: int) -> str:
    """The month `count` months after `month` (before it when `count` is negative)."""
    return month_from_index(month_index(month) + count)


def next_month(month: str) -> str:
    """'2026-12' -> '2027-01'."""
    return add_month_count(month, 1)


def previous_month(month: str) -> str:
    """'2027-01' -> '2026-12'."""
    return add_month_count(month, -1)


def _first(month: str) -> dt.date:
    """The first day of a month already known to be 'YYYY-MM' (arithmetic may step past
    the years a user may write, as a schedule's later dates can)."""
    return dt.date(int(month[:4]), int(month[5:7]), 1)


def _days_in(month: str) -> int:
    return _calendar.monthrange(int(month[:4]), int(month[5:7]))[1]


def first_day(month: str) -> dt.date:
    """The month's first day. The month is read first (a ValueError if it is not one)."""
    return _first(parse_month(month))


def last_day(month: str) -> dt.date:
    """The month's last day (28, 29, 30 or 31), the month read as `first_day` reads it."""
    return _first(parse_month(month)).replace(day=_days_in(month))


def month_bounds(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of 'YYYY-MM', both inside the month."""
    return first_day(month), last_day(month)


def month_title(month: str) -> str:
    """The month as a person reads it: '2026-05' -> 'May 2026'."""
    return f"{_first(month):%B %Y}"


def is_whole_month(start: dt.date, end: dt.date) -> bool:
    """Whether start..end (both included) is exactly one calendar month."""
    return start.day == 1 and month_of(start) == month_of(end) \
        and end.day == _days_in(month_of(end))


# ---------------------------------------------------------------- dates


def add_months(start: dt.date, months: int) -> dt.date:
    """The same day of the month `months` later, clamped to that month's last day: 31
    January + 1 month is 28 (or 29) February. Always count from the same start (a
    schedule's first date), so 31 January + 2 months is 31 March, not 28 March."""
    month = add_month_count(month_of(start), months)
    return _first(month).replace(day=min(start.day, _days_in(month)))


# ---------------------------------------------------------------- quarters


def financial_quarter(day: dt.date) -> str:
    """UK public-sector financial quarters: Q1 is April to June. 2026-05-17 ->
    '2026-27 Q1', 2027-02-01 -> '2026-27 Q4'."""
    year = day.year if day.month >= 4 else day.year - 1
    quarter = (day.month - 4) % 12 // 3 + 1
    return f"{year}-{(year + 1) % 100:02d} Q{quarter}"


def quarter_months(quarter: str) -> list[str]:
    """The three months of a `financial_quarter`, in order: '2026-27 Q4' ->
    ['2027-01', '2027-02', '2027-03']."""
    year, number = int(quarter[:4]), int(quarter[-1])
    first = month_index(f"{year:04d}-04") + 3 * (number - 1)
    return [month_from_index(first + i) for i in range(3)]


__all__ = [
    "MAX_YEAR", "MIN_YEAR", "add_month_count", "add_months", "financial_quarter",
    "first_day", "is_whole_month", "last_day", "month_bounds", "month_from_index",
    "month_index", "month_of", "month_title", "next_month", "parse_day", "parse_month",
    "previous_month", "quarter_months",
]
