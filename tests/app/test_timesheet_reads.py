"""A timesheet import reads what its rows need for every holder at once
(docs/month-end.md#timesheets): the statements it sends do not grow with the number of
people in the file, and what it posts is what the rows say, each delivery checked against
the balance it would have read one row at a time (a row beyond the month's hours is
refused, all or nothing)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event

from ledger.app.submit import submit
from ledger.app.timesheet import post_rows
from ledger.core.amounts import Unit
from ledger.core.items import Declare, Item
from ledger.imports.timesheet import read_timesheet
from ledger.store.repo import DbStore
from ledger.store.verify import first_break


def _setup(engine, holders: int) -> None:
    names = [f"H{n}" for n in range(holders)]
    parties = [{"kind": "council", "id": "WBC", "name": "Wokingham"},
               {"kind": "provider", "id": "SH", "name": "Support Horizons"},
               *({"kind": "holder", "id": h, "name": h, "council": "WBC"} for h in names)]
    opens = [Item({"date": "2026-04-01", "type": "isf_open", "holder": h, "provider": "SH",
                   "hours_per_month": 10, "rate": "20.00"}, f"open/{h}") for h in names]
    advances = [Item({"date": "2026-04-01", "type": "isf_advance", "holder": h,
                      "provider": "SH", "month": "2026-04"}, f"advance/{h}") for h in names]
    with engine.connect() as conn:
        done = submit(DbStore(conn, batch=True), [Declare(parties), *opens, *advances])
    assert done.ok, done.refusals


def _import(engine, tmp_path: Path, rows: list[str]) -> tuple[object, int]:
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("holder,date,hours,worker\n" + "".join(f"{r}\n" for r in rows))
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.connect() as conn:
            done = post_rows(DbStore(conn, ledger="main", batch=True), sheet, "SH",
                             read_timesheet(sheet, "SH"))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return done, len(statements)


def _rows(holders: int) -> list[str]:
    return [f"H{n},2026-04-{day:02d},2:00,W{day}" for n in range(holders) for day in (3, 9)]


def test_the_reads_do_not_grow_with_the_people_in_the_file(engine, tmp_path):
    _setup(engine, 40)
    few, few_statements = _import(engine, tmp_path, _rows(4))
    assert few.outcome.ok and few.outcome.applied == 8
    many, many_statements = _import(engine, tmp_path, [r.replace("W", "X") for r in
                                                      _rows(40)])
    assert many.outcome.ok and many.outcome.applied == 80
    # One row at a time, each new person cost about eight reads; read at once, ten times
    # the people cost the same few statements.
    assert many_statements <= few_statements + 2, (few_statements, many_statements)
    with engine.connect() as conn:
        store = DbStore(conn)
        assert store.balance("isf:H0:SH", Unit.HRS) == 10 * 60 - 2 * 120 - 2 * 120
        assert store.balance("isf:H39:SH", Unit.HRS) == 10 * 60 - 2 * 120
        assert first_break(conn) is None


def test_a_row_beyond_what_was_read_at_once_is_still_refused(engine, tmp_path):
    """The balances read for every holder up front are the ones each row is checked
    against, with the rows accepted before it: the fourth 3-hour visit of a 10-hour month
    is refused and nothing of the file is posted."""
    _setup(engine, 3)
    rows = [f"H1,2026-04-{day:02d},3:00,W{day}" for day in (2, 5, 8, 11)] + \
        ["H2,2026-04-02,1:00,W1"]
    done, _ = _import(engine, tmp_path, rows)
    assert not done.outcome.ok
    assert [line for line, _ in done.problems] == [5]
    assert done.problems[0][1].startswith("insufficient_funds: isf:H1:SH has 1 hours on "
                                          "2026-04-11; delivering 3 would leave -2")
    with engine.connect() as conn:
        assert DbStore(conn).balance("isf:H1:SH", Unit.HRS) == 10 * 60
        assert DbStore(conn).balance("isf:H2:SH", Unit.HRS) == 10 * 60
