"""`ledger.app.submit` (docs/architecture.md#submit): the ledger's write lock is taken before
anything is read, so no other writer's change is written over; all or nothing lists every
refusal with its place and posts nothing; per event keeps what came before a refusal; a
dry run writes nothing."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from ledger.app.rebuild import rebuild_break
from ledger.app.submit import Refusal, submit
from ledger.core.amounts import Unit
from ledger.core.items import Declare, Item
from ledger.errors import UsageError
from ledger.store.repo import DbStore
from ledger.store.verify import first_break

PARTIES = [{"kind": "council", "id": "WBC", "name": "Wokingham"},
           {"kind": "provider", "id": "SH", "name": "Support Horizons"},
           {"kind": "holder", "id": "H1", "name": "Ann", "council": "WBC"}]
OPEN = [{"date": "2026-04-01", "type": "isf_open", "holder": "H1", "provider": "SH",
         "hours_per_month": 40, "rate": "20.00", "carry": {"max_borrow_hours": 2}},
        {"date": "2026-04-01", "type": "isf_advance", "holder": "H1", "provider": "SH",
         "month": "2026-04"}]
ISF = "isf:H1:SH"


def _delivery(day: int, hours: str) -> dict:
    return {"date": f"2026-04-{day:02d}", "type": "isf_delivery", "holder": "H1",
            "provider": "SH", "hours": hours}


def _item(n: int, event: dict) -> Item:
    return Item(event, f"row-{n}", "april.csv", n)


@pytest.fixture
def ledger(engine):
    """Ann's ISF with SH: 40 h advanced for April, 2 h it may borrow."""
    with engine.connect() as conn:
        done = submit(DbStore(conn, batch=True),
                      [Declare(PARTIES), *(Item(e, f"open-{n}") for n, e in enumerate(OPEN))])
    assert done.ok and done.written, done.refusals
    return engine


def _minutes(engine) -> tuple[int, int]:
    """The ISF's HRS balance and the minutes its lots hold less what it borrowed."""
    with engine.connect() as conn:
        store = DbStore(conn)
        state = store.get_state("isf", "H1:SH")
        lots = sum(lot["minutes"] for lot in state["lots"]) - state["borrowed_minutes"]
        return store.balance(ISF, Unit.HRS), lots


def _verified(engine) -> None:
    with engine.connect() as conn:
        assert first_break(conn) is None
        assert rebuild_break(conn) is None


def _head(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT event_seq, event_hash FROM ledger")).one())


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer
def test_a_write_made_after_the_store_was_opened_is_seen_and_never_overwritten(ledger):
    """A store that has read the ISF before `submit` (as the old month-end commands did)
    must not write back what it read: `submit` locks, then reads again."""
    with ledger.connect() as mine:
        store = DbStore(mine, batch=True)
        assert store.get_state("isf", "H1:SH")["lots"][0]["minutes"] == 40 * 60
        with ledger.connect() as other:  # another writer, between opening and submit
            assert submit(DbStore(other, batch=True), [_item(2, _delivery(3, "10:00"))]).ok
        done = submit(store, [_item(3, _delivery(4, "5:00"))])
    assert done.ok and done.applied == 1
    assert _minutes(ledger) == (25 * 60, 25 * 60)  # both deliveries, in the lots too
    _verified(ledger)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # SQLite: one writer
def test_a_plan_reads_the_ledger_only_once_the_lock_is_held(ledger):
    """While a plan runs, another writer waits for the lock; it then sees the plan's
    write, and the plan never sees half of it."""
    finished: list[float] = []

    def other_writer() -> None:
        with ledger.connect() as conn:
            assert submit(DbStore(conn, batch=True), [_item(9, _delivery(5, "3:00"))]).ok
        finished.append(time.monotonic())

    def plan(store):
        bank = store.get_state("isf", "H1:SH")["lots"][0]["minutes"]
        writer.start()
        time.sleep(0.5)  # the other writer is waiting on the lock all this time
        assert not finished
        planned_at.append(time.monotonic())
        return [_item(2, _delivery(3, f"{bank // 60 - 30}:00"))]  # leaves 30 h

    writer = threading.Thread(target=other_writer)
    planned_at: list[float] = []
    with ledger.connect() as conn:
        done = submit(DbStore(conn, batch=True), plan)
    writer.join(timeout=30)
    assert done.ok and finished and finished[0] > planned_at[0]
    assert _minutes(ledger) == (27 * 60, 27 * 60)  # 40 - 10 - 3
    _verified(ledger)


def test_all_or_nothing_lists_every_refusal_in_its_place_and_posts_nothing(ledger):
    before = _head(ledger)
    items = [_item(2, _delivery(3, "2:00")),
             _item(3, _delivery(4, "50:00")),  # beyond the 2 h it may borrow
             Refusal(Item({}, "", "april.csv", 4), "hours 'x' is not a number"),
             _item(5, {**_delivery(5, "1:00"), "type": "isf_deliver"}),
             _item(6, _delivery(6, "1:00"))]
    with ledger.connect() as conn:
        done = submit(DbStore(conn, batch=True), items)
    assert not done.written
    assert [(r.where(), r.reason.split(":")[0]) for r in done.refusals] == [
        ("april.csv:3", "insufficient_funds"), ("april.csv:4", "hours 'x' is not a number"),
        ("april.csv:5", "invalid")]
    assert _head(ledger) == before
    assert _minutes(ledger) == (40 * 60, 40 * 60)


def test_per_event_stops_at_the_first_refusal_and_keeps_what_came_before(ledger):
    items = [_item(2, _delivery(3, "2:00")), _item(3, _delivery(4, "50:00")),
             _item(4, _delivery(5, "1:00"))]
    with ledger.connect() as conn:
        done = submit(DbStore(conn, batch=True), items, atomic=False)
    assert done.written and done.applied == 1
    assert [r.where() for r in done.refusals] == ["april.csv:3"]
    assert _minutes(ledger) == (38 * 60, 38 * 60)
    _verified(ledger)


@pytest.mark.parametrize("atomic", [True, False])
def test_a_dry_run_checks_every_event_and_writes_nothing(ledger, atomic):
    before = _head(ledger)
    seen: list[tuple[int | None, str]] = []
    items = [_item(2, _delivery(3, "2:00")), _item(3, _delivery(4, "30:00")),
             _item(4, _delivery(5, "9:00"))]  # 41 h of 40: within the 2 h it may borrow
    with ledger.connect() as conn:
        done = submit(DbStore(conn, batch=True), items, atomic=atomic, dry_run=True,
                      progress=lambda item, status: seen.append((item.line, status)))
    assert done.ok and not done.written and done.applied == 3 and done.journals == 3
    assert seen == [(2, "applied"), (3, "applied"), (4, "applied")]
    assert _head(ledger) == before
    assert _minutes(ledger) == (40 * 60, 40 * 60)
    # The same events for real: the dry run said what would happen.
    with ledger.connect() as conn:
        assert submit(DbStore(conn, batch=True), items, atomic=atomic).applied == 3
    assert _minutes(ledger) == (-60, -60)


def test_a_plan_that_raises_posts_nothing_and_the_error_reaches_the_door(ledger):
    before = _head(ledger)

    def plan(store):
        yield _item(2, _delivery(3, "2:00"))
        raise UsageError("provider 'XX' is not in ledger 'main'")

    with ledger.connect() as conn, pytest.raises(UsageError):
        submit(DbStore(conn, batch=True), plan)
    assert _head(ledger) == before


def test_an_event_already_recorded_is_skipped_before_any_check(ledger):
    items = [_item(2, _delivery(3, "2:00"))]
    with ledger.connect() as conn:
        assert submit(DbStore(conn, batch=True), items).applied == 1
    with ledger.connect() as conn:
        again = submit(DbStore(conn, batch=True), items)
    assert (again.applied, again.skipped, again.ok) == (0, 1, True)
    assert _minutes(ledger) == (38 * 60, 38 * 60)
