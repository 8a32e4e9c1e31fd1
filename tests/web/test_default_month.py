"""A statement page asked for without a month opens on the latest month with something in
it for that statement, never on an empty month (issue 20; docs/web.md#pages).

The shared ledger (tests/web/conftest.py): Wokingham's pilot runs April to June 2026;
everything of the second scenario (Rosa's ISF, the pools, Richmond's people) is in May
2026. Today is long after both, unless a test sets the clock."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest

from ledger.app import access

MONTH_SHOWN = re.compile(r'<input type="month" id="month" name="month" value="([^"]*)"')

# (user, page, the month its data ends in, from the scenarios)
LATEST = [("rosa", "/statements/holder/R1", "2026-05"),
          ("ann", "/statements/holder/H1", "2026-06"),
          ("wes", "/statements/pool/MIXED", "2026-05"),
          ("sh", "/provider/SH/month-end", "2026-06"),
          ("bw", "/statements/provider/BW", "2026-05"),
          ("ric", "/council/RIC", "2026-05"),
          ("wbc", "/statements/council/WBC", "2026-06")]


def shown_month(response) -> str:
    assert response.status_code == 200, response.text
    found = MONTH_SHOWN.search(response.text)
    assert found, "the page has no month picker"
    return found.group(1)


@pytest.mark.parametrize(("user", "path", "month"), LATEST)
def test_a_page_without_a_month_opens_on_the_latest_month_with_data(site, user, path, month):
    client = site.as_user(user)
    opened = client.get(path)
    assert shown_month(opened) == month
    assert opened.text == client.get(f"{path}?month={month}").text


def at(day: dt.date):
    return mock.patch.object(access, "now", lambda: dt.datetime.combine(day, dt.time(12)))


def test_a_month_that_has_ended_comes_before_the_month_in_progress(site):
    client = site.as_user("ann")  # April ended with her visits; May is under way
    with at(dt.date(2026, 5, 20)):
        assert shown_month(client.get("/statements/holder/H1")) == "2026-04"


def test_the_month_in_progress_when_no_month_that_has_ended_has_anything(site):
    client = site.as_user("rosa")  # her ISF opened on 1 May
    with at(dt.date(2026, 5, 20)):
        assert shown_month(client.get("/statements/holder/R1")) == "2026-05"


def test_last_month_when_nothing_is_there_yet(site):
    client = site.as_user("rosa")
    with at(dt.date(2026, 4, 10)):
        assert shown_month(client.get("/statements/holder/R1")) == "2026-03"


def test_a_month_asked_for_is_the_month_shown(site):
    client = site.as_user("ann")
    assert shown_month(client.get("/statements/holder/H1?month=2026-04")) == "2026-04"
