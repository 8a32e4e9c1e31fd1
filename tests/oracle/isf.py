"""Individual Service Funds in the oracle model, from docs/scenarios.md (isf_*),
docs/rules-dp-isf.md and the ISF rules dated 2026-12-06 in the contract's sections 3 and
5.3 (restated below where the project's docs do not have them yet):

- an inside fee grants the minutes that the month's money less the fee buys (rounded down);
- `first_month: pro_rata` advances an ISF opened after a month's first day for the days it
  is open (hours rounded down to the minute, money rounded once);
- a delivery dated before the ISF opened is `invalid`; a delivery or purchase dated in a
  month already reconciled is `period_closed`; late support is recorded with `worked_on`
  and valued at the rate in force on that day;
- hour lots are worked out in date order (ties in the order recorded), whatever order the
  events were recorded in;
- a reconciliation returns at most the money of months up to M: the agreement's own money
  at M's last day less what advances for later months dated on or before it brought in;
- reconciling a month never advanced (or whose advance was reversed) is `invalid`, and the
  order rule counts only advanced months; a reversed advance can be advanced again.

How the lots are kept. Every event that moves an ISF's hours is an entry on the ISF's
timeline at its place in date order: an advance, a delivery and a reversal at
(date, 0, seq), a reconciliation of month M at (M's last day, 1, seq), after everything
dated that day. After each new entry the timeline is replayed. If the replay would change
what an earlier reconciliation expired, or push an earlier delivery past its borrowing
limit, the docs do not say what happens and the event is not modelled (QUESTIONS.md).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from fractions import Fraction

from tests.oracle.core import (
    GBP,
    HRS,
    J,
    decimal,
    external,
    minutes,
    month_first,
    month_index,
    month_last,
    month_of,
    pence,
    refuse,
    round_half_away,
)
from tests.oracle.lots import replay

TERM_FIELDS = ("hours_per_month", "rate", "carry", "fee", "underspend")


def parse_carry(carry: object) -> dict:
    carry = {} if carry is None else carry
    if not isinstance(carry, dict):
        refuse("invalid", "carry")
    expire = carry.get("expire_after_months", 0)
    if not isinstance(expire, int) or isinstance(expire, bool) or expire < 0:
        refuse("invalid", "expire_after_months")
    max_hours = carry.get("max_hours")
    max_hours = None if max_hours is None else minutes(max_hours, allow_zero=True)
    borrow = minutes(carry.get("max_borrow_hours", 0), allow_zero=True)
    return {"expire": expire, "max_hours": max_hours, "borrow": borrow}


def parse_fee(spec: object) -> dict | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        refuse("invalid", "fee")
    basis = spec.get("basis", "inside")
    if basis not in ("inside", "on_top"):
        refuse("invalid", "fee basis")
    if spec.get("kind") == "percent":
        value = decimal(spec.get("value"))
        if value > 100:
            refuse("invalid", "percent above 100")
    elif spec.get("kind") == "fixed":
        value = pence(spec.get("value"))
    else:
        refuse("invalid", "fee kind")
    return {"kind": spec["kind"], "value": value, "on_top": basis == "on_top"}


def fee_amount(fee: dict | None, exact: Fraction, share: Fraction = Fraction(1)) -> int:
    """A percent is of the exact month's money, rounded once (docs/rules-dp-isf.md); in a
    pro-rata first month a fixed fee takes the same share, rounded once (#first-month)."""
    if fee is None:
        return 0
    if fee["kind"] == "percent":
        return round_half_away(exact * fee["value"] / 100)
    return round_half_away(fee["value"] * share)


def check_inside_fee(terms: dict) -> None:
    exact = Fraction(terms["hpm"] * terms["rate"], 60)
    fee = terms["fee"]
    if fee is not None and not fee["on_top"] and fee_amount(fee, exact) >= round_half_away(exact):
        refuse("invalid", "an inside fee must be less than the month's budget")


class IsfRules:
    """Mixed into `Model` (tests/oracle/model.py), whose state and helpers it uses."""

    # ------------------------------------------------------------ the ISF and its terms

    def isf(self, raw: dict) -> dict:
        isf = self.isfs.get((raw["holder"], raw["provider"]))
        if isf is None or isf["status"] != "open":
            refuse("invalid", "no open ISF")
        if "council" in raw:
            self.need("council", raw["council"])
            if raw["council"] != isf["council"]:
                refuse("invalid", "not the ISF's council")
        return isf

    @staticmethod
    def terms(isf: dict, month: int) -> dict:
        """docs/rules-dp-isf.md#isf-vary: changes apply in month order, two from the same
        month in the order made; a month uses the terms in force for it."""
        out = dict(isf["base"])
        for frm, _, change in sorted(isf["changes"], key=lambda c: (c[0], c[1])):
            if frm <= month:
                out.update(change)
        return out

    @staticmethod
    def closed_month(isf: dict, month: int) -> bool:
        """A month up to the latest reconciled one is closed (QUESTIONS.md)."""
        return bool(isf["reconciled"]) and month <= isf["reconciled"][-1]

    def own_money(self, h: str, p: str, as_of: dt.date | None = None) -> int:
        """docs/rules-trust.md#isf-agreements: the balance less what older agreements left."""
        return self.balance(f"isf:{h}:{p}", GBP, as_of) - self.isfs[(h, p)]["old_left"]

    def _floor_for(self, isf: dict, key: tuple[str, str]) -> None:
        """docs/rules-dp-isf.md#isf-vary: one floor, the most borrowing any terms allow."""
        self.isf_floor[key] = -max([isf["base"]["borrow"]] + [
            c[2]["borrow"] for c in isf["changes"] if "borrow" in c[2]])

    # ------------------------------------------------------------ the timeline of hours

    def _place(self, isf: dict, kind: str, day: dt.date, phase: int = 0, **data) -> dict:
        self.seq += 1
        entry = {"kind": kind, "pos": (day, phase, self.seq), "seq": self.seq, **data}
        isf["timeline"].append(entry)
        lots, borrowed, results = replay(isf["timeline"], self.unsure)
        for e in isf["timeline"]:
            now = results.get(e["seq"], {})
            if e is not entry and e["kind"] == "reconcile" and now.get("expired") != e[
                    "result"]["expired"]:
                self.unsure("it would change what an earlier reconciliation expired")
            if e is not entry and now.get("over") and not e["result"].get("over"):
                self.unsure("it would push an earlier delivery past its borrowing limit")
            e["result"] = now
        isf["lots"], isf["borrowed"] = lots, borrowed
        return entry

    # ------------------------------------------------------------ events

    def ev_isf_open(self, raw: dict) -> None:
        h, p = raw["holder"], raw["provider"]
        old = self.isfs.get((h, p))
        if old is not None and old["status"] == "open":
            refuse("invalid", "already open")
        base = {"hpm": minutes(raw["hours_per_month"]), "rate": pence(raw["rate"]),
                **parse_carry(raw.get("carry")), "fee": parse_fee(raw.get("fee")),
                "underspend": raw.get("underspend", "return")}
        check_inside_fee(base)
        if base["underspend"] not in ("return", "retain"):
            refuse("invalid", "underspend")
        first_month = raw.get("first_month", "full")
        if first_month not in ("full", "pro_rata"):
            refuse("invalid", "first_month")
        self.isfs[(h, p)] = {
            "status": "open", "council": self.council_for(raw), "base": base, "changes": [],
            "first_month": first_month, "open_date": self._date,
            "allow_pool": bool(raw.get("allow_pool_contributions", False)),
            "timeline": [], "lots": [], "borrowed": 0, "advanced": {}, "reconciled": [],
            "old_left": old["old_left"] if old else 0,
            "agreement": (old["agreement"] + 1) if old else 1,
        }
        self._floor_for(self.isfs[(h, p)], (h, p))

    def ev_isf_vary(self, raw: dict) -> None:
        isf = self.isf(raw)
        frm = month_index(raw.get("from"))
        given = [k for k in raw if k not in ("date", "type", "id", "holder", "provider",
                                            "council", "from")]
        if not given or set(given) - set(TERM_FIELDS):
            refuse("invalid", "isf_vary changes one or more of the terms, nothing else")
        change: dict = {}
        if "hours_per_month" in raw:
            change["hpm"] = minutes(raw["hours_per_month"])
        if "rate" in raw:
            change["rate"] = pence(raw["rate"])
        if "carry" in raw:
            change.update(parse_carry(raw["carry"]))
        if "fee" in raw:
            change["fee"] = parse_fee(raw["fee"])
        if "underspend" in raw:
            if raw["underspend"] not in ("return", "retain"):
                refuse("invalid", "underspend")
            change["underspend"] = raw["underspend"]
        if any(m >= frm for m in isf["advanced"]):
            refuse("invalid", "that month or a later one is already advanced")
        first = month_first(frm)
        for e in isf["timeline"]:
            if e["kind"] == "delivery" and not e.get("reversed"):
                by_date, by_value = e["pos"][0] >= first, e["valued"] >= first
                if by_date and by_value:
                    refuse("invalid", "support from that month is already valued")
                if by_date != by_value:
                    self.unsure("support dated in the month but worked on before it")
        isf["changes"].append((frm, self.seq + 1, change))
        self.seq += 1
        for m in sorted({frm, *(c[0] for c in isf["changes"] if c[0] > frm)}):
            check_inside_fee(self.terms(isf, m))
        self._floor_for(isf, (raw["holder"], raw["provider"]))

    def month_amounts(self, isf: dict, terms: dict, month: int) -> tuple[int, int, int]:
        """The lot, the money in and the fee of an advance (isf_advance, isf_open
        first_month): pro rata for the days open in an opening month not begun on the 1st."""
        exact = Fraction(terms["hpm"] * terms["rate"], 60)
        hours, share = terms["hpm"], Fraction(1)
        opened, fee = isf["open_date"], terms["fee"]
        if (month == month_of(opened) and opened.day > 1
                and isf["first_month"] == "pro_rata"):
            days = calendar.monthrange(opened.year, opened.month)[1]
            share = Fraction(days - opened.day + 1, days)
            exact, hours = exact * share, math.floor(terms["hpm"] * share)
        money = round_half_away(exact)
        charge = fee_amount(fee, exact, share)
        if fee is not None and not fee["on_top"]:
            return (money - charge) * 60 // terms["rate"], money, charge
        return hours, money + charge, charge

    def ev_isf_advance(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        month = month_index(raw["month"])
        if month in isf["advanced"]:
            refuse("invalid", "month already advanced")
        if self.closed_month(isf, month):  # QUESTIONS.md
            refuse("invalid", "month already reconciled")
        lot, money_in, fee = self.month_amounts(isf, self.terms(isf, month), month)
        acct, c = f"isf:{h}:{p}", isf["council"]
        day, opened = self._date, isf["open_date"]
        if month == month_of(opened) and opened.day > 1:
            day = opened  # isf_open: "that first advance is dated the opening day"
        self.move(day, "isf_advance", f"council:{c}:hours", acct, HRS, lot)
        self.move(day, "isf_advance", f"council:{c}:funding", acct, GBP, money_in)
        self.move(day, "isf_fee", acct, f"provider:{p}:fees", GBP, fee)
        entry = self._place(isf, "advance", day, month=month, lot=lot)
        isf["advanced"][month] = self._key
        return {"isf": (h, p), "agreement": isf["agreement"], "month": month,
                "seq": entry["seq"], "lot": lot}

    def ev_isf_delivery(self, raw: dict) -> dict:
        h, p = raw["holder"], raw["provider"]
        mins = minutes(raw["hours"])
        day = self._date
        worked = raw.get("worked_on", day)
        if not isinstance(worked, dt.date) or worked > day:
            refuse("invalid", "worked_on is a date on or before the delivery's date")
        isf = self.isf(raw)
        if day < isf["open_date"] or worked < isf["open_date"]:
            refuse("invalid", "support dated before the ISF opened")
        if self.closed_month(isf, month_of(day)):
            refuse("period_closed", "the month is reconciled for this ISF")
        limit = self.terms(isf, month_of(day))["borrow"]
        entry = self._place(isf, "delivery", day, minutes=mins, limit=limit, valued=worked)
        if entry["result"].get("over") or self._over_once_reconciled(isf, entry):
            refuse("insufficient_funds", "beyond the borrowing limit")
        rate = self.terms(isf, month_of(worked))["rate"]
        acct = f"isf:{h}:{p}"
        self.move(day, "isf_delivery", acct, f"provider:{p}:delivered", HRS, mins)
        self.move(day, "isf_delivery", acct, f"provider:{p}:income", GBP,
                  round_half_away(Fraction(mins * rate, 60)))
        return {"isf": (h, p), "agreement": isf["agreement"], "seq": entry["seq"]}

    def _over_once_reconciled(self, isf: dict, entry: dict) -> bool:
        """docs/rules-dp-isf.md#month-end: support dated after an advanced month not yet
        reconciled is checked against the bank as that month's reconciliation, made now,
        would leave it (months reconciled in order, each under its own terms), on its date
        and every later one: no support from it on may then be past the borrowing limit
        because of it."""
        pending = sorted(m for m in isf["advanced"] if m not in isf["reconciled"]
                         and month_last(m) < entry["pos"][0])
        if not pending:
            return False
        ends = [{"kind": "reconcile", "pos": (month_last(m), 1, self.seq + 1 + n),
                 "seq": self.seq + 1 + n, "month": m, "terms": self.terms(isf, m)}
                for n, m in enumerate(pending)]
        without = [e for e in isf["timeline"] if e is not entry]
        _, _, before = replay(without + ends, lambda why: None)
        _, _, after = replay(isf["timeline"] + ends, lambda why: None)
        return any(after[e["seq"]].get("over") and not before.get(e["seq"], {}).get("over")
                   for e in isf["timeline"] if e["kind"] == "delivery"
                   and e["pos"] >= entry["pos"])

    def ev_isf_purchase(self, raw: dict) -> dict:
        payee = external(raw["payee"], True)
        isf = self.isf(raw)
        if self.closed_month(isf, month_of(self._date)):
            refuse("period_closed", "the month is reconciled for this ISF")
        self.move(self._date, "isf_purchase", f"isf:{raw['holder']}:{raw['provider']}",
                  payee, GBP, pence(raw["amount"]))
        return {"isf": (raw["holder"], raw["provider"]), "agreement": isf["agreement"]}

    def ev_isf_reconcile(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        month = month_index(raw["month"])
        done = isf["reconciled"]
        if month in done:
            refuse("invalid", "once per ISF per month")
        if month not in isf["advanced"]:
            refuse("invalid", "the month was never advanced (or its advance was reversed)")
        if (done and month < done[-1]) or any(m < month and m not in done
                                              for m in isf["advanced"]):
            refuse("invalid", "advanced months are reconciled in order")
        terms = self.terms(isf, month)
        entry = self._place(isf, "reconcile", month_last(month), 1, month=month, terms=terms)
        expired = sum(m for _, m in entry["result"].get("expired", []))
        acct, c, last = f"isf:{h}:{p}", isf["council"], month_last(month)
        # Worked out as at M's last day, and dated it (docs/rules-dp-isf.md#month-end).
        self.move(last, "isf_hours_expiry", acct, f"council:{c}:hours", HRS, expired)
        if terms["underspend"] == "return":
            money = round_half_away(Fraction(expired * terms["rate"], 60))
            money = min(money, max(0, self.month_money(isf, h, p, month)))
            self.move(last, "isf_underspend_return", acct, f"council:{c}:funding", GBP, money)
        done.append(month)
        done.sort()
        return {"isf": (h, p), "agreement": isf["agreement"], "seq": entry["seq"],
                "month": month}

    def month_money(self, isf: dict, h: str, p: str, month: int) -> int:
        """The money of months up to M: own money at M's last day, less what advances for
        later months dated on or before that day brought in, net of their fees (their
        reversals dated by then count too, QUESTIONS.md)."""
        last, acct = month_last(month), f"isf:{h}:{p}"
        keys = set()
        for key, done in self.events.items():
            if (done["type"] == "isf_advance" and done.get("isf") == (h, p)
                    and done["agreement"] == isf["agreement"] and done["month"] > month):
                keys.update({key, done.get("reversed_by")})
        brought = sum(x for j in self.journals if j.event in keys and j.date <= last
                      for a, u, x in j.postings if (a, u) == (acct, GBP))
        return self.own_money(h, p, last) - brought

    def ev_isf_close(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        if any(e["pos"][0] > self._date for e in isf["timeline"]):
            self.unsure("a closure dated before the ISF's latest movement of hours")
        acct, c = f"isf:{h}:{p}", isf["council"]
        bank = sum(lot[1] for lot in isf["lots"]) - isf["borrowed"]
        own = self.own_money(h, p)
        postings = []
        if bank:
            postings += [(acct, HRS, -bank), (f"council:{c}:hours", HRS, bank)]
        if own > 0:
            postings += [(acct, GBP, -own), (f"council:{c}:funding", GBP, own)]
        if postings:
            self._new.append(J(self._date, self._key, "closure_return", postings))
        info = {"isf": (h, p), "agreement": isf["agreement"], "old_left": isf["old_left"]}
        isf.update(status="closed", old_left=self.balance(acct, GBP) - max(own, 0))
        return info

    # ------------------------------------------------------------ reversals

    def unpost_isf_purchase(self, done: dict) -> None:
        """An earlier agreement's purchase changes what that agreement left, never the
        new agreement's money (docs/rules-dp-isf.md "Agreements stay apart")."""
        isf = self.isfs[done["isf"]]
        if isf["agreement"] != done["agreement"]:
            if isf["status"] != "open":
                refuse("invalid", "the ISF is closed")
            acct = f"isf:{done['isf'][0]}:{done['isf'][1]}"
            isf["old_left"] -= sum(x for j in done["journals"] for a, u, x in j.postings
                                   if (a, u) == (acct, GBP))
            return
        self._not_in_closed_month(self._isf_of(done))

    def _isf_of(self, done: dict, closing: bool = False, dated: bool = False) -> dict:
        """docs/rules-dp-isf.md "Agreements stay apart": reversing an earlier agreement's
        delivery, advance, expiry or closure is `invalid`; #reversals: a reversal of an
        advance, a delivery or an expiry dated before the journal it reverses, too."""
        isf = self.isfs[done["isf"]]
        if isf["agreement"] != done["agreement"]:
            refuse("invalid", "a journal of an earlier agreement")
        if (isf["status"] != "open") != closing:
            refuse("invalid", "only the closure is reversed on a closed ISF")
        if dated and self._date < done["journals"][0].date:
            refuse("invalid", "a reversal dated before the journal it reverses")
        return isf

    def _not_in_closed_month(self, isf: dict) -> None:
        """#support-dates: the reversal of an ISF journal dated in a reconciled month."""
        if self.closed_month(isf, month_of(self._date)):
            refuse("period_closed", "the reversal is dated in a reconciled month")

    def _limit_now(self, isf: dict) -> int:
        return self.terms(isf, month_of(self._date))["borrow"]

    def unpost_isf_delivery(self, done: dict) -> None:
        """docs/rules-dp-isf.md: minutes back to their lots; borrowed minutes cancelled, or
        to the newest lot if an advance has since repaid them."""
        isf = self._isf_of(done, dated=True)
        self._not_in_closed_month(isf)
        self._place(isf, "undeliver", self._date, target=done["seq"])
        next(e for e in isf["timeline"] if e["seq"] == done["seq"])["reversed"] = True

    def unpost_isf_advance(self, done: dict) -> None:
        """The advance's own lot is removed and the month can be advanced again; minutes
        it had given are taken back from the other lots, oldest first, else borrowed."""
        isf = self._isf_of(done, dated=True)
        month = done["month"]
        if self.closed_month(isf, month):
            refuse("invalid", "the month is reconciled")
        self._not_in_closed_month(isf)
        entry = self._place(isf, "unadvance", self._date, target=done["seq"], lot=done["lot"],
                            limit=self._limit_now(isf))
        if entry["result"].get("over"):
            refuse("insufficient_funds", "beyond the borrowing limit")
        isf["advanced"].pop(month, None)

    def unpost_isf_reconcile(self, done: dict) -> None:
        """isf_hours_expiry: the hours go back to their lots; the month stays reconciled."""
        isf = self._isf_of(done, dated=True)
        self._not_in_closed_month(isf)
        self._place(isf, "unreconcile", self._date, target=done["seq"])

    def unpost_isf_close(self, done: dict) -> None:
        """closure_return: the ISF reopens with the bank it had when it closed."""
        isf = self._isf_of(done, closing=True)
        if self.closed_month(isf, month_of(self._date)):
            self.unsure("reversing a closure dated in a reconciled month")
        isf.update(status="open", old_left=done["old_left"])
