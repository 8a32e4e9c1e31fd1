"""One short story per ISF rule dated 2026-12-06 (contract sections 3 and 5.3, restated in
tests/oracle/isf.py and month_end.py), as steps for the oracle harness
(tests/oracle/test_oracle_month_end.py): the model decides each outcome, the ledger must
give the same through its command line."""

from __future__ import annotations

import datetime as dt


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ev(key: str, date: str, etype: str, holder: str = "H1", provider: str = "P1",
       **fields) -> dict:
    raw = {"date": _d(date), "type": etype, "id": key, **fields}
    if etype.startswith("isf_"):
        raw.update(holder=holder, provider=provider)
    elif etype in ("dp_payment", "dp_spend"):
        raw["holder"] = holder
    return {"kind": "event", "raw": raw}


def cmd(kind: str, month: str, provider: str = "P1") -> dict:
    return {"kind": kind, "provider": provider, "month": month}


def sheet(*rows: dict, late: bool = False, provider: str = "P1") -> dict:
    return {"kind": "timesheet", "provider": provider, "uk": False, "late": late,
            "rows": [{**row, "date": _d(row["date"])} for row in rows]}


def bank(*lines: tuple, holder: str = "H1") -> dict:
    return {"kind": "bank", "holder": holder, "balance": None, "thousands": False,
            "lines": [{"date": _d(d), "amount": a, "description": text}
                      for d, a, text in lines]}


def balances(as_of: str) -> dict:
    return {"kind": "balances", "as_of": _d(as_of)}


TEN = {"hours_per_month": "10", "rate": "20.00", "carry": {"expire_after_months": 0}}


def _order(reconcile_first: bool) -> list[dict]:
    """April's reconciliation before, or after, May's advance and support."""
    april = [cmd("advance", "2026-04"),
             ev("d1", "2026-04-10", "isf_delivery", hours="4")]
    may = [cmd("advance", "2026-05"), ev("d2", "2026-05-03", "isf_delivery", hours="3"),
           sheet({"holder": "H1", "date": "2026-05-04", "hours": "1:30"})]
    close = [cmd("reconcile", "2026-04")]
    return ([ev("o", "2026-04-01", "isf_open", **TEN)] + april
            + (close + may if reconcile_first else may + close)
            + [cmd("reconcile", "2026-05"), balances("2026-04-30")])


STORIES = {
    "inside_fee_grants_the_minutes_its_money_buys": [
        # £195.00 less a 10% fee is £175.50, which buys 9 hours at £19.50.
        ev("o", "2026-04-01", "isf_open", hours_per_month="10", rate="19.50",
           fee={"kind": "percent", "value": "10", "basis": "inside"}),
        cmd("advance", "2026-04"),
        ev("d1", "2026-04-20", "isf_delivery", hours="9"),
        ev("d2", "2026-04-21", "isf_delivery", hours="0:01"),  # no borrowing: refused
        cmd("reconcile", "2026-04"),
    ],
    "first_month_pro_rata_is_advanced_from_the_opening_day": [
        ev("o1", "2026-04-16", "isf_open", hours_per_month="30", rate="20.00",
           first_month="pro_rata"),
        ev("o3", "2026-04-16", "isf_open", holder="H3", hours_per_month="30", rate="20.00"),
        cmd("advance", "2026-04"),
        balances("2026-04-15"),
        balances("2026-04-16"),
        cmd("advance", "2026-05"),
    ],
    "lots_in_date_order_reconcile_first": _order(True),
    "lots_in_date_order_next_month_first": _order(False),
    "support_after_an_open_month_never_uses_the_hours_its_end_expires": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        cmd("advance", "2026-04"),
        ev("d1", "2026-04-10", "isf_delivery", hours="2"),
        cmd("advance", "2026-05"),
        ev("d2", "2026-05-03", "isf_delivery", hours="12"),  # April's 8 hours will expire
        ev("d3", "2026-05-03", "isf_delivery", hours="9"),
        cmd("reconcile", "2026-04"),
        ev("d4", "2026-05-04", "isf_delivery", hours="1:01"),  # one minute too many
        cmd("reconcile", "2026-05"),
    ],
    "return_is_limited_to_the_money_of_months_up_to_m": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        cmd("advance", "2026-04"),
        ev("p", "2026-04-05", "isf_purchase", payee="SHOP", amount="200.00"),
        ev("may", "2026-04-30", "isf_advance", month="2026-05"),
        cmd("reconcile", "2026-04"),  # 10 hours expire, but April holds no money
        balances("2026-04-30"),
    ],
    "reconcile_needs_an_advance": [
        ev("o1", "2026-04-01", "isf_open", **TEN),
        ev("o3", "2026-04-01", "isf_open", holder="H3", **TEN),
        ev("r", "2026-04-30", "isf_reconcile", month="2026-04"),
        ev("a3", "2026-04-01", "isf_advance", holder="H3", month="2026-04"),
        cmd("reconcile", "2026-04"),  # H3 only; H1 is left alone
        cmd("advance", "2026-04"),  # so H1 can still be advanced
        cmd("reconcile", "2026-04"),
    ],
    "a_reversed_advance_can_be_advanced_again": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        cmd("advance", "2026-04"),
        ev("r1", "2026-04-02", "reverse", event="isf-month-end/P1/H1/2026-04/advance",
           reason="posted twice"),
        cmd("advance", "2026-04"),
        ev("r3", "2026-04-02", "reverse", event="isf-month-end/P1/H1/2026-04/advance/2",
           reason="again"),
        cmd("advance", "2026-04"),  # under .../advance/3
        ev("m1", "2026-04-03", "isf_advance", month="2026-05"),
        ev("r2", "2026-04-04", "reverse", event="m1", reason="too early"),
        ev("m2", "2026-04-05", "isf_advance", month="2026-05"),
        cmd("reconcile", "2026-04"),
    ],
    "delivery_dates_are_checked_the_same_way": [
        ev("o", "2026-04-10", "isf_open", hours_per_month="10", rate="20.00"),
        ev("d0", "2026-04-05", "isf_delivery", hours="1"),  # before it opened
        cmd("advance", "2026-04"),
        ev("d1", "2026-04-12", "isf_delivery", hours="2"),
        cmd("reconcile", "2026-04"),
        ev("d2", "2026-04-20", "isf_delivery", hours="1"),  # April is reconciled
        ev("p1", "2026-04-21", "isf_purchase", payee="SHOP", amount="5.00"),
        ev("v", "2026-04-25", "isf_vary", **{"from": "2026-05"}, rate="25.00"),
        cmd("advance", "2026-05"),
        ev("d3", "2026-05-02", "isf_delivery", hours="1", worked_on=_d("2026-04-20")),
        ev("d4", "2026-05-03", "isf_delivery", hours="1"),
        ev("d5", "2026-05-04", "isf_delivery", hours="1", worked_on=_d("2026-04-01")),
        ev("d6", "2026-05-04", "isf_delivery", hours="1", worked_on=_d("2026-05-05")),
        sheet({"holder": "H1", "date": "2026-04-08", "hours": "1"}),
    ],
    "reversals_and_reconciliations_keep_to_their_dates": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        cmd("advance", "2026-04"),
        ev("d1", "2026-04-10", "isf_delivery", hours="2"),
        ev("r0", "2026-04-05", "reverse", event="d1", reason="dated before it"),
        ev("rec", "2026-05-03", "isf_reconcile", month="2026-04"),  # dated 30 April
        balances("2026-04-30"),
        ev("r1", "2026-04-20", "reverse", event="d1", reason="in a reconciled month"),
        cmd("advance", "2026-05"),
        ev("r2", "2026-05-04", "reverse", event="d1", reason="in the open month"),
        ev("r3", "2026-05-05", "reverse", event="rec", reason="expired by mistake"),
        cmd("reconcile", "2026-05"),
        balances("2026-05-04"),
    ],
    "timesheet_files_are_all_or_nothing": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        cmd("advance", "2026-04"),
        sheet({"holder": "H1", "date": "2026-04-02", "hours": "2"},
              {"holder": "HX", "date": "2026-04-03", "hours": "1"}),
        sheet({"holder": "H1", "date": "2026-04-02", "hours": "2"},
              {"holder": "H1", "date": "2026-04-03", "start": "09:00", "end": "10:30"}),
        sheet({"holder": "H1", "date": "2026-04-02", "hours": "2"},
              {"holder": "H1", "date": "2026-04-03", "start": "09:00", "end": "10:30"}),
        sheet({"holder": "H1", "date": "2026-04-02", "hours": "2:30"}),  # changed
        sheet({"holder": "H1", "date": "2026-04-05", "hours": "1"},
              {"holder": "H1", "date": "2026-04-05", "hours": "1"}),  # a likely duplicate
        sheet({"holder": "H1", "date": "2026-04-04", "start": "10:00", "end": "10:00"}),
        cmd("reconcile", "2026-04"),
        sheet({"holder": "H1", "date": "2026-04-20", "hours": "1"}),  # April is reconciled
        cmd("advance", "2026-05"),
        sheet({"holder": "H1", "date": "2026-04-20", "hours": "1"}, late=True),
        sheet({"holder": "H1", "date": "2026-04-20", "hours": "1"}, late=True),
    ],
    "timesheet_times_are_london_wall_clock": [
        ev("o", "2026-03-01", "isf_open", hours_per_month="20", rate="20.00"),
        cmd("advance", "2026-03"),
        sheet({"holder": "H1", "date": "2026-03-28", "start": "22:00", "end": "06:30"}),
        sheet({"holder": "H1", "date": "2026-03-29", "start": "01:30", "end": "03:00"}),
    ],
    "bank_lines_are_spends_or_recorded_payments": [
        ev("pay", "2026-04-01", "dp_payment", amount="1000.00"),
        bank(("2026-04-03", 100_000, "COUNCIL DP"), ("2026-04-04", -5_000, "PA WAGES")),
        bank(("2026-04-03", 100_000, "COUNCIL DP"), ("2026-04-04", -5_000, "PA WAGES")),
        bank(("2026-04-05", 99_900, "COUNCIL DP")),  # matches nothing recorded
        bank(("2026-04-06", -2_000, "CAFE NERO")),  # no payee rule
        bank(("2026-04-06", -500_000, "SHOP 12")),  # more than the account holds
        bank(("2026-04-07", -1_000, "SHOP 12"), ("2026-04-07", -1_000, "SHOP 13")),
    ],
    "isf_vary_changes_later_months": [
        ev("o", "2026-04-01", "isf_open", **TEN),
        ev("v1", "2026-04-02", "isf_vary", **{"from": "2026-05"}, hours_per_month="20",
           rate="25.00"),
        cmd("advance", "2026-04"),
        cmd("advance", "2026-05"),
        ev("v2", "2026-05-02", "isf_vary", **{"from": "2026-05"}, rate="30.00"),
        ev("d1", "2026-04-20", "isf_delivery", hours="3"),
        ev("d2", "2026-05-20", "isf_delivery", hours="3"),
        cmd("reconcile", "2026-04"),
        cmd("reconcile", "2026-05"),
    ],
}
