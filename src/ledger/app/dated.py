"""When a relationship held, as spans of days (docs/web.md#roles): a party's records
(which council a person was recorded with, from when), an ISF's agreements (opened to
closed), a pool's life and each member's time in it. Who may read what for which months
(`ledger.app.statements.Scope`) and which reads included a person
(`ledger.app.access_log.search`) are both worked out from these.

A span is (first day, last day), both included; `dt.date.max` for one still running.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import select

from ledger.core.calendar import month_bounds, month_of, next_month
from ledger.store import models as m

Span = tuple[dt.date, dt.date]
EVER: Span = (dt.date.min, dt.date.max)


def _day(value: str | None, missing: dt.date) -> dt.date:
    return dt.date.fromisoformat(value) if value else missing


def overlaps(span: Span, first: dt.date, last: dt.date) -> bool:
    return span[0] <= last and span[1] >= first


def meet(a: Span, b: Span) -> Span | None:
    """The days two spans share, or None."""
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start <= end else None


def covers(spans: Iterable[Span], first: dt.date, last: dt.date) -> bool:
    """Whether every calendar month of the period first..last has a day in one of the
    spans: a reader may read a month in which the relationship held on any day."""
    spans = list(spans)
    if not spans:
        return False
    month = month_of(first)
    while True:
        start, end = month_bounds(month)
        if not any(overlaps(s, max(start, first), min(end, last)) for s in spans):
            return False
        if end >= last:
            return True
        month = next_month(month)


def _spans_of(rows: list[tuple[dt.date | None, dict]]) -> list[tuple[Span, dict]]:
    """Records in the order they apply -> (the days each was in force, the record)."""
    out = []
    for n, (valid_from, data) in enumerate(rows):
        start = valid_from or dt.date.min
        later = next((v for v, _ in rows[n + 1:] if v is not None), None)
        end = later - dt.timedelta(days=1) if later is not None else dt.date.max
        if start <= end:
            out.append(((start, end), data))
    return out


def all_record_spans(store, kind: str, only: str | None = None
                     ) -> dict[str, list[tuple[Span, dict]]]:
    """Every party of a kind (or only one): each of its records with the days it was in
    force, read in one query."""
    r = m.PartyRecord
    query = select(r.id, r.valid_from, r.data).where(r.ledger_id == store.lid, r.kind == kind)
    if only is not None:
        query = query.where(r.id == only)
    rows: dict[str, list[tuple[dt.date | None, dict]]] = {}
    for pid, valid_from, data in store.conn.execute(
            query.order_by(r.id, r.valid_from.is_not(None), r.valid_from, r.seq)):
        rows.setdefault(pid, []).append((valid_from, json.loads(data)))
    return {pid: _spans_of(found) for pid, found in rows.items()}


def record_spans(store, kind: str, ident: str) -> list[tuple[Span, dict]]:
    return all_record_spans(store, kind, only=ident).get(ident, [])


def isf_spans(store, holder: str, provider: str) -> list[Span]:
    """The days the ISF of `holder` with `provider` was open: from each agreement's
    opening to its closing (a reopened ISF has several)."""
    state = store.get_state("isf", f"{holder}:{provider}")
    if state is None:
        return []
    current = (_day(state.get("opened"), dt.date.min), _day(state.get("closed"), dt.date.max))
    if state.get("agreement", 1) == 1:
        return [current]
    # Earlier agreements: their opening and closing events, in the order applied.
    e = m.Event
    spans: list[Span] = []
    opened: dt.date | None = None
    for date, kind, payload in store.conn.execute(
            select(e.date, e.type, e.payload).where(
                e.ledger_id == store.lid, e.type.in_(["isf_open", "isf_close"]),
                e.outcome == "applied").order_by(e.seq)):
        try:
            event = json.loads(payload or "{}")
        except ValueError:
            continue
        if event.get("holder") != holder or event.get("provider") != provider:
            continue
        if kind == "isf_open":
            opened = date
        elif opened is not None:
            spans.append((opened, date))
            opened = None
    earlier = [span for span in spans if span[0] < current[0]]
    if not earlier:
        return [(dt.date.min, current[1])]  # the earlier dates are not known: all of it
    return [*earlier, current]


def pool_span(state: dict) -> Span:
    """The days a pool existed: opened to closed."""
    return (_day(state.get("opened"), dt.date.min), _day(state.get("closed"), dt.date.max))


def member_spans(state: dict, holder: str | None = None) -> list[tuple[str, Span]]:
    """(member, the days they were in the pool, within its life) for each time a member
    (or only `holder`) joined."""
    life = pool_span(state)
    out = []
    for period in state.get("history", []):
        if holder is not None and period["holder"] != holder:
            continue
        span = meet((_day(period.get("joined"), dt.date.min),
                     _day(period.get("left"), dt.date.max)), life)
        if span is not None:
            out.append((period["holder"], span))
    return out


__all__ = ["EVER", "Span", "all_record_spans", "covers", "isf_spans", "meet",
           "member_spans", "overlaps", "pool_span", "record_spans"]
