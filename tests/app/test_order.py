"""One month, recorded in every order its month end allows, gives one answer
(docs/rules-dp-isf.md): a provider may advance next month, and record next month's
support, before or after it reconciles this month, and may record this month's late
support after next month's advance. Hour lots are worked out in date order and the
underspend returned counts only the money of months up to the one reconciled, so the hours
expired, the money returned and the balances at each month's end are the same in every
order.

The scenario files give every event an explicit id, so the same events carry the same keys
whatever their place in the file. Each order is replayed into its own ledger."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

from click.testing import CliRunner

from ledger.cli import cli

HEAD = """\
format: 1
name: order
parties:
  councils: [{id: WBC, name: Wokingham}]
  providers: [{id: SH, name: Support Horizons}]
  holders:
    - {id: H1, name: Ann, council: WBC}
    - {id: H2, name: Bob, council: WBC}
    - {id: H3, name: Cat, council: WBC}
events:
"""
HOLDERS = ("H1", "H2", "H3")

# H1 may carry 10 h for one month; H2 may borrow 5 h; H3's 10% fee is inside its budget.
OPEN = [
    "{id: open-H1, date: 2026-04-01, type: isf_open, holder: H1, provider: SH, "
    "hours_per_month: 40, rate: '19.50', carry: {expire_after_months: 1, max_hours: 10}}",
    "{id: open-H2, date: 2026-04-01, type: isf_open, holder: H2, provider: SH, "
    "hours_per_month: 30, rate: '21.00', carry: {max_borrow_hours: 5}}",
    "{id: open-H3, date: 2026-04-01, type: isf_open, holder: H3, provider: SH, "
    "hours_per_month: 20, rate: '20.00', fee: {kind: percent, value: '10', basis: inside}}",
]


def _each(tag: str, date: str, line: str, hours: dict[str, str] | None = None) -> list[str]:
    """One event per holder: `line` holds {h} for the holder and {x} for its hours."""
    return [f"{{id: {tag}-{h}, date: {date}, " + line.format(h=h, x=(hours or {}).get(h))
            + "}" for h in HOLDERS]


def _delivery(tag: str, date: str, hours: dict[str, str]) -> list[str]:
    return _each(tag, date, "type: isf_delivery, holder: {h}, provider: SH, hours: '{x}'",
                 hours)


def _month_end(kind: str, month: str, date: str) -> list[str]:
    return _each(f"{kind}-{month}", date,
                 f"type: isf_{kind}, holder: {{h}}, provider: SH, month: {month}")


FIRST = [
    *OPEN,
    *_month_end("advance", "2026-04", "2026-04-01"),
    *_delivery("apr-early", "2026-04-10", {"H1": "12", "H2": "25", "H3": "10"}),
    # H1 buys from another provider: April holds £90.00 less than its hours are worth.
    "{id: apr-gym, date: 2026-04-12, type: isf_purchase, holder: H1, provider: SH, "
    "payee: GYM, amount: '300.00'}",
    "{id: apr-gym3, date: 2026-04-12, type: isf_purchase, holder: H3, provider: SH, "
    "payee: GYM, amount: '0.01'}",
]
# The parts whose place may change, each kept whole, and the orders the month end allows:
# April's late support before April's reconcile, May's advance before May's support.
PARTS = {
    "apr-late": _delivery("apr-late", "2026-04-28", {"H1": "8", "H2": "8", "H3": "5"}),
    "reconcile-apr": _month_end("reconcile", "2026-04", "2026-04-30"),
    "advance-may": _month_end("advance", "2026-05", "2026-05-01"),
    "may-1": _delivery("may-1", "2026-05-10", {"H1": "15", "H2": "20", "H3": "12"}),
    "may-2": _delivery("may-2", "2026-05-20", {"H1": "5", "H2": "5", "H3": "4"}),
}
BEFORE = [("apr-late", "reconcile-apr"), ("advance-may", "may-1"), ("may-1", "may-2")]
LAST = _month_end("reconcile", "2026-05", "2026-05-31")


def _orders() -> list[tuple[str, ...]]:
    return [order for order in itertools.permutations(PARTS)
            if all(order.index(a) < order.index(b) for a, b in BEFORE)]


def _invoke(db: str, ledger: str, *args: str):
    return CliRunner().invoke(cli, [*args, "--db", db, "--ledger", ledger],
                              env={"LEDGER_DATABASE_URL": None, "LEDGER_NAME": None})


def _ok(db: str, ledger: str, *args: str) -> str:
    done = _invoke(db, ledger, *args)
    assert done.exit_code == 0, (ledger, args, done.output)
    return done.output


def _journals(db: str, ledger: str) -> list:
    """Every journal as date, type, key and postings, in date then key order (the order of
    recording is what differs between the runs)."""
    out = json.loads(_ok(db, ledger, "print", "--format", "json"))
    return sorted((j["date"], j["type"], j["journal"],
                   sorted((p["account"], p["unit"], p["minor_units"]) for p in j["postings"]))
                  for j in out)


def _answer(db: str, ledger: str) -> dict:
    reports = {m: json.loads(_ok(db, ledger, "isf", "reconcile", "--provider", "SH",
                                 "--month", m, "--format", "json"))
               for m in ("2026-04", "2026-05")}
    balances = {d: _ok(db, ledger, "balance", "--format", "csv", "--as-of", d)
                for d in ("2026-04-30", "2026-05-31")}
    return {"reports": reports, "balances": balances, "journals": _journals(db, ledger)}


def _figures(report: dict) -> dict[str, tuple[int, int]]:
    return {r["holder"]: (r["hours_expired_minutes"], r["money_returned_minor"])
            for r in report["isfs"]}


def test_every_order_of_the_month_end_gives_one_answer(db_url, tmp_path: Path):
    orders = _orders()
    assert len(orders) == 10
    answers = {}
    for n, order in enumerate(orders):
        lines = [*FIRST, *(e for part in order for e in PARTS[part]), *LAST]
        path = tmp_path / f"order{n}.yaml"
        path.write_text(HEAD + "".join(f"  - {line}\n" for line in lines), encoding="utf-8")
        ledger = f"order{n}"
        _ok(db_url, ledger, "scenario", "run", str(path))
        assert _invoke(db_url, ledger, "verify").exit_code == 0
        answers[order] = _answer(db_url, ledger)
    first = answers[orders[0]]
    for order, answer in answers.items():
        for month in ("2026-04", "2026-05"):
            assert _figures(answer["reports"][month]) == _figures(first["reports"][month]), (
                f"{month}: hours expired and money returned differ:\n"
                f"  {' < '.join(orders[0])}\n  {' < '.join(order)}")
        for key in ("reports", "balances", "journals"):
            assert answer[key] == first[key], (
                f"{key} differ:\n  {' < '.join(orders[0])}\n  {' < '.join(order)}")
    # The figures worked by hand (minutes expired, pence returned):
    # April. H1: 40 h, 20 delivered, 20 left, 10 carried: 10 h expire, worth £195.00, but
    # April holds only £90.00 (£780.00 - £390.00 of support - £300.00 at the gym), so
    # £90.00 goes back. H2 borrowed 3 h (33 h of 30): nothing expires or goes back (its
    # April is £63.00 overspent). H3: the fee inside its £400.00 leaves £360.00, which buys
    # 18 h; 15 delivered, 3 expire at the month's end, worth £60.00; April holds £59.99.
    assert _figures(first["reports"]["2026-04"]) == {
        "H1": (600, 9000), "H2": (0, 0), "H3": (180, 5999)}
    # May. H1: April's 10 carried hours are used first, then 10 of May's 40: 30 left,
    # 20 expire (£390.00). H2: May's 30 h repay the 3 borrowed; 25 of 27 delivered, 2
    # expire (£42.00). H3: 18 h, 16 delivered, 2 expire (£40.00).
    assert _figures(first["reports"]["2026-05"]) == {
        "H1": (1200, 39000), "H2": (120, 4200), "H3": (120, 4000)}
    rows = {(r["account"], r["unit"]): int(r["minor_units"])
            for r in csv.DictReader(io.StringIO(first["balances"]["2026-05-31"]))}
    assert [rows[(f"isf:{h}:SH", "HRS")] for h in HOLDERS] == [600, 0, 0]
    assert [rows[(f"isf:{h}:SH", "GBP")] for h in HOLDERS] == [0, 0, 0]
