"""Months and periods, written once (ledger.core.calendar): reading 'YYYY-MM' in the
ledger's years, first and last days (leap years), stepping across a year's end, and a
schedule's months clamped to the month's end."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core import calendar as cal

D = dt.date


@pytest.mark.parametrize(("month", "first", "last"), [
    ("2026-01", D(2026, 1, 1), D(2026, 1, 31)),
    ("2026-02", D(2026, 2, 1), D(2026, 2, 28)),
    ("2028-02", D(2028, 2, 1), D(2028, 2, 29)),  # leap year
    ("2000-02", D(2000, 2, 1), D(2000, 2, 29)),  # divisible by 400: leap
    ("1900-02", D(1900, 2, 1), D(1900, 2, 28)),  # divisible by 100 only: not leap
    ("2026-04", D(2026, 4, 1), D(2026, 4, 30)),
    ("2026-12", D(2026, 12, 1), D(2026, 12, 31)),
    ("2199-12", D(2199, 12, 1), D(2199, 12, 31)),  # the ledger's last month
])
def test_a_months_first_and_last_day(month, first, last):
    assert cal.month_bounds(month) == (first, last)
    assert cal.first_day(month) == first and cal.last_day(month) == last


@pytest.mark.parametrize("written", [
    "2026-13", "2026-00", "2026-1", "26-01", "2026-01-01", "2026/01", " 2026-01", "",
    "1899-12", "2200-01", "２０２６-01", 202601, None, dt.datetime(2026, 1, 1)])
def test_anything_but_a_month_in_the_ledgers_years_is_refused(written):
    with pytest.raises(ValueError):
        cal.parse_month(written)
    if isinstance(written, str):
        with pytest.raises(ValueError):
            cal.month_bounds(written)


def test_a_month_read_from_text_or_a_date():
    assert cal.parse_month("2026-05") == "2026-05"
    assert cal.parse_month(D(2026, 5, 17)) == "2026-05"
    with pytest.raises(ValueError, match="outside the years 1900 to 2199"):
        cal.parse_month("2200-01")


def test_a_day_read_from_text_is_a_real_date_in_the_ledgers_years():
    assert cal.parse_day("2028-02-29") == D(2028, 2, 29)
    for bad, why in [("2026-02-29", "not a date on the calendar"),
                     ("2026-2-01", "not a date"), ("1899-12-31", "outside the years"),
                     (20260101, "not a date")]:
        with pytest.raises(ValueError, match=why):
            cal.parse_day(bad)


@pytest.mark.parametrize(("month", "following"), [
    ("2026-12", "2027-01"), ("2026-01", "2026-02"), ("1999-12", "2000-01")])
def test_next_and_previous_month_cross_the_years_end(month, following):
    assert cal.next_month(month) == following
    assert cal.previous_month(following) == month
    assert cal.month_index(following) == cal.month_index(month) + 1
    assert cal.month_from_index(cal.month_index(month)) == month


def test_the_month_of_a_date_and_its_name():
    assert cal.month_of(D(2026, 12, 31)) == "2026-12"
    assert cal.month_title("2026-05") == "May 2026"
    assert cal.month_index("2026-05") < cal.month_index("2026-10") < cal.month_index("2027-01")


@pytest.mark.parametrize(("start", "months", "expected"), [
    (D(2026, 1, 31), 1, D(2026, 2, 28)),  # clamped to February's last day
    (D(2028, 1, 31), 1, D(2028, 2, 29)),  # a leap year's
    (D(2026, 1, 31), 2, D(2026, 3, 31)),  # counted from the start: back to the 31st
    (D(2026, 1, 31), 3, D(2026, 4, 30)),
    (D(2026, 11, 30), 3, D(2027, 2, 28)),  # across the year's end
    (D(2026, 12, 15), 1, D(2027, 1, 15)),
    (D(2026, 3, 31), -1, D(2026, 2, 28)),
    (D(2026, 5, 1), 0, D(2026, 5, 1)),
])
def test_adding_months_keeps_the_day_clamped_to_the_months_end(start, months, expected):
    assert cal.add_months(start, months) == expected


def test_a_whole_month_is_its_first_to_its_last_day():
    assert cal.is_whole_month(D(2028, 2, 1), D(2028, 2, 29))
    assert not cal.is_whole_month(D(2026, 2, 1), D(2026, 2, 27))
    assert not cal.is_whole_month(D(2026, 2, 2), D(2026, 2, 28))
    assert not cal.is_whole_month(D(2026, 1, 1), D(2026, 2, 28))


@pytest.mark.parametrize(("day", "quarter", "months"), [
    (D(2026, 4, 1), "2026-27 Q1", ["2026-04", "2026-05", "2026-06"]),
    (D(2026, 12, 31), "2026-27 Q3", ["2026-10", "2026-11", "2026-12"]),
    (D(2027, 3, 31), "2026-27 Q4", ["2027-01", "2027-02", "2027-03"]),
    (D(1999, 5, 1), "1999-00 Q1", ["1999-04", "1999-05", "1999-06"]),
])
def test_financial_quarters_run_april_to_march(day, quarter, months):
    assert cal.financial_quarter(day) == quarter
    assert cal.quarter_months(quarter) == months
    assert cal.month_of(day) in months


@given(st.dates(min_value=D(1900, 1, 1), max_value=D(2199, 11, 30)))
def test_every_date_is_inside_its_month_and_the_next_month_follows_the_last_day(day):
    month = cal.month_of(day)
    first, last = cal.month_bounds(month)
    assert first <= day <= last and first.day == 1
    assert last + dt.timedelta(days=1) == cal.first_day(cal.next_month(month))
    assert cal.add_months(day, 1) <= cal.last_day(cal.next_month(month))
