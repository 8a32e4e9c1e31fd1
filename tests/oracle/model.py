"""An independent reference model of the ledger's rules, written from the docs alone.

Sources: docs/scenarios.md (event types), docs/rules-dp-isf.md,
docs/rules-contracts-bursaries-budgets.md, docs/pools.md, docs/rules-trust.md,
docs/statements.md. Nothing here is imported from `ledger`; the money helpers are our own.
Where the docs are silent the choice made is listed in tests/oracle/QUESTIONS.md.

The model is deliberately plain: a list of journals (date, postings), the instrument
state the docs describe in dicts, and a check of the floors on every date after each
event. `apply(raw, key)` either records the event or raises `Refused(code)`, leaving
the model as it was. `NotModelled` means the model does not cover that case (the test
then sends the event to neither side): reversing a `reverse`, replaying an id with the
same event, and a few lot edge cases of ISF reversals.

Covered: every event type of docs/scenarios.md except the extras `dp_schedule_end`,
`framework_rates`, `block_close`, `pool_distribute` and `expect`. Not covered: the
statement fields other than `accounts` (lines, budgets, commissioned), party records by
date (only the date order of updates), limits on sizes and text, and YAML reading.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from fractions import Fraction


class Refused(Exception):
    def __init__(self, code: str, why: str = "") -> None:
        super().__init__(f"{code}: {why}")
        self.code = code


class NotModelled(Exception):
    """A case the model leaves out (listed in the report)."""


def refuse(code: str, why: str = "") -> None:
    raise Refused(code, why)


# ------------------------------------------------------------------ tiny integer helpers

def round_half_away(x: Fraction) -> int:
    """Nearest integer, halves away from zero (docs/scenarios.md#numbers)."""
    sign = -1 if x < 0 else 1
    x = abs(x)
    return sign * ((2 * x.numerator + x.denominator) // (2 * x.denominator))


MONEY_RE = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
DEC_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
HMM_RE = re.compile(r"([0-9]+):([0-5][0-9])")


def pence(value: object, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse("invalid", f"money {value!r}")
    text = str(value)
    if not MONEY_RE.fullmatch(text):
        refuse("invalid", f"money {value!r}")
    whole, _, frac = text.partition(".")
    out = int(whole) * 100 + int((frac + "00")[:2])
    if out < 0 or (out == 0 and not allow_zero):
        refuse("invalid", "money must be above zero")
    return out


def decimal(value: object, allow_zero: bool = False) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse("invalid", f"number {value!r}")
    text = str(value)
    if not DEC_RE.fullmatch(text):
        refuse("invalid", f"number {value!r}")
    out = Fraction(text)
    if out == 0 and not allow_zero:
        refuse("invalid", "must be above zero")
    return out


def minutes(value: object, allow_zero: bool = False) -> int:
    if isinstance(value, str) and HMM_RE.fullmatch(value):
        h, m = HMM_RE.fullmatch(value).groups()
        out = Fraction(int(h) * 60 + int(m))
    else:
        out = decimal(value, allow_zero) * 60
    if out.denominator != 1:
        refuse("invalid", "hours must make whole minutes")
    if out == 0 and not allow_zero:
        refuse("invalid", "hours must be above zero")
    return int(out)


def month_index(text: object) -> int:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}", text):
        refuse("invalid", f"month {text!r}")
    y, m = int(text[:4]), int(text[5:])
    if not 1 <= m <= 12:
        refuse("invalid", f"month {text!r}")
    return y * 12 + m - 1


def month_of(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def add_months(day: dt.date, k: int) -> dt.date:
    idx = month_of(day) + k
    y, m = divmod(idx, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(day.day, last))


def split_largest_remainder(amount: int, weights: list[Fraction]) -> list[int]:
    """Parts adding up exactly; spare pennies to the largest remainders, ties to the
    earliest in the list (docs/scenarios.md#numbers, pools.md rule 13)."""
    scale = 1
    for w in weights:
        scale = scale * w.denominator // _gcd(scale, w.denominator)
    ints = [int(w * scale) for w in weights]
    total = sum(ints)
    parts = [amount * w // total for w in ints]
    rems = [amount * w % total for w in ints]
    left = amount - sum(parts)
    for i in sorted(range(len(ints)), key=lambda i: (-rems[i], i))[:left]:
        parts[i] += 1
    return parts


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def external(name: object, prefix_allowed: bool = False) -> str:
    """docs/scenarios.md#parties: a payee or payer is a name without a colon. For direct
    payments and ISFs (docs/rules-dp-isf.md) `payee: external:X` also means external:X;
    pools and bursaries keep the plain rule (QUESTIONS.md)."""
    if not isinstance(name, str) or not name:
        refuse("invalid", "payee")
    if prefix_allowed and name.startswith("external:"):
        name = name[len("external:"):]
    if ":" in name or not name:
        refuse("invalid", "a colon in an external name")
    return f"external:{name}"


def free_id(value: object) -> str:
    if not isinstance(value, str) or not value or ":" in value:
        refuse("invalid", f"id {value!r}")
    return value


# ------------------------------------------------------------------ the model

GBP, HRS = "GBP", "HRS"
ISF_EVENTS = ("isf_advance", "isf_delivery", "isf_purchase", "isf_reconcile", "isf_close")


@dataclass
class J:
    date: dt.date
    event: str
    type: str
    postings: list[tuple[str, str, int]]


@dataclass
class Model:
    parties: dict[str, dict[str, dict]]
    journals: list[J] = field(default_factory=list)
    lock: dt.date | None = None
    events: dict[str, dict] = field(default_factory=dict)  # key -> {type, journals, ...}
    budgets: dict[str, list[dict]] = field(default_factory=dict)
    schedules: dict[str, dict] = field(default_factory=dict)
    paid: set[str] = field(default_factory=set)  # schedule payment keys ever paid
    isfs: dict[tuple[str, str], dict] = field(default_factory=dict)
    isf_floor: dict[tuple[str, str], int] = field(default_factory=dict)
    pools: dict[str, dict] = field(default_factory=dict)
    funds: dict[str, dict] = field(default_factory=dict)
    frameworks: dict[str, dict] = field(default_factory=dict)
    blocks: dict[str, dict] = field(default_factory=dict)

    # ------------------------------------------------------------ balances

    def balance(self, account: str, unit: str, as_of: dt.date | None = None) -> int:
        return sum(x for j in self.journals if as_of is None or j.date <= as_of
                   for a, u, x in j.postings if a == account and u == unit)

    def balances(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for j in self.journals:
            for a, u, x in j.postings:
                out[(a, u)] = out.get((a, u), 0) + x
        return out

    def holder_accounts(self, holder: str, date_from: dt.date, date_to: dt.date) -> list[dict]:
        """docs/statements.md: `accounts` of the holder statement."""
        rows: dict[tuple[str, str], list[int]] = {}
        for j in self.journals:
            if j.date > date_to:
                continue
            for a, u, x in j.postings:
                if not belongs_to(a, holder):
                    continue
                row = rows.setdefault((a, u), [0, 0, 0])
                if j.date < date_from:
                    row[0] += x
                elif x > 0:
                    row[1] += x
                else:
                    row[2] -= x
        return [{"account": a, "unit": u, "opening_minor": o, "in_minor": i, "out_minor": ot,
                 "closing_minor": o + i - ot} for (a, u), (o, i, ot) in sorted(rows.items())]

    def floor(self, account: str, unit: str) -> int | None:
        """docs/rules-trust.md#floors."""
        parts = account.split(":")
        if unit == GBP and (account.endswith(":dp") and parts[0] == "holder"):
            return 0
        if unit == GBP and parts[0] in ("pool", "fund"):
            return 0
        if unit == HRS and parts[0] == "isf":
            return self.isf_floor.get((parts[1], parts[2]))
        return None

    # ------------------------------------------------------------ posting

    def move(self, day: dt.date, jtype: str, frm: str, to: str, unit: str, amount: int,
             extra: list[tuple[str, str, int]] | None = None) -> None:
        if amount == 0:
            return
        assert amount > 0
        self._new.append(J(day, self._key, jtype, [(frm, unit, -amount), (to, unit, amount)]
                           + (extra or [])))

    # ------------------------------------------------------------ entry point

    def apply(self, raw: dict, key: str, parties_first: bool = True,
              lock_first: bool = True) -> None:
        """The docs list an event's faults, not the order they are checked in
        (QUESTIONS.md): `parties_first=False` checks the declared parties after the
        instrument's rules, `lock_first=False` the floors before the closed period. The
        test accepts the code of any of these orders when an event has several faults."""
        saved = copy.deepcopy(self.__dict__)
        try:
            self._apply(raw, key, parties_first, lock_first)
        except (Refused, NotModelled):
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _apply(self, raw: dict, key: str, parties_first: bool, lock_first: bool) -> None:
        if key in self.events:
            if self.events[key]["raw"] == raw:
                raise NotModelled("a replay is skipped")
            refuse("duplicate_conflict", "the id is recorded with another event")
        etype = raw.get("type")
        handler = getattr(self, f"ev_{etype}", None)
        if handler is None:
            refuse("invalid", f"unknown type {etype!r}")
        self._key = key
        self._lock_first = lock_first
        self._new: list[J] = []
        self._date = raw["date"]
        self._raw = raw
        self.shape(raw)
        if parties_first:
            self.parties_named(raw)
            info = handler(raw) or {}
        else:
            try:
                info = handler(raw) or {}
            except KeyError:
                refuse("unknown_party", "an undeclared party")
            self.parties_named(raw)
        if lock_first:
            self.check_lock()
        self.journals.extend(self._new)
        self.check_floors(self._new)
        self.check_lock()
        self.events[key] = {"type": etype, "raw": raw, "journals": self._new,
                            "reversed": False, **info}

    @staticmethod
    def shape(raw: dict) -> None:
        """A mistake in the event itself (`invalid`) is found before anything is looked up:
        amounts, hours, decimals and external names (QUESTIONS.md, order of checks)."""
        for name in ("amount", "total", "cap_per_person", "amount_per_month", "weekly_amount",
                     "rate"):
            if name in raw:
                pence(raw[name])
        if "contingency" in raw:
            pence(raw["contingency"], allow_zero=True)
        for name in ("hours", "hours_per_month", "capacity_hours_per_month"):
            if name in raw:
                minutes(raw[name])
        if "max_weeks" in raw:
            decimal(raw["max_weeks"], allow_zero=True)

    def check_lock(self) -> None:
        """docs/scenarios.md close_period: anything that would post on a locked date."""
        for j in self._new:
            if self.lock is not None and j.date <= self.lock:
                refuse("period_closed", "posts on a locked date")

    def parties_named(self, raw: dict) -> None:
        etype = raw["type"]
        for name in ("holder", "provider", "council"):
            if name in raw and not (etype == "party_update" and name == "council") and not (
                    name == "council" and etype in ISF_EVENTS):
                self.need(name, raw[name])
        for name in ("holders", "members"):
            if isinstance(raw.get(name), list):
                for h in raw[name]:
                    self.need("holder", h)

    def need(self, kind: str, pid: object) -> None:
        if not isinstance(pid, str) or pid not in self.parties[kind]:
            refuse("unknown_party", f"{kind} {pid!r}")

    def check_floors(self, new: list[J]) -> None:
        taken = {(a, u) for j in new for a, u, x in j.postings
                 if x < 0 and self.floor(a, u) is not None}
        for a, u in sorted(taken):
            least = self.floor(a, u)
            first = min(j.date for j in new for b, v, _ in j.postings if (b, v) == (a, u))
            dates = sorted({j.date for j in self.journals if j.date >= first
                            for b, v, _ in j.postings if (b, v) == (a, u)})
            for d in dates:
                if self.balance(a, u, d) < least:
                    refuse("insufficient_funds", f"{a} {u} below its floor on {d}")

    def council_for(self, raw: dict) -> str:
        return raw.get("council") or self.parties["holder"][raw["holder"]]["council"]

    # ------------------------------------------------------------ personal budgets

    def ev_budget(self, raw: dict) -> None:
        h = raw["holder"]
        amount = pence(raw["amount"])
        start, end = raw["from"], raw["to"]
        if end < start:
            refuse("invalid", "to before from")
        funders = raw.get("funders")
        if funders is not None:
            if not funders or sum(pence(v) for v in funders.values()) != amount:
                refuse("invalid", "funders do not add up")
        if "contribution" in raw and pence(raw["contribution"]) > amount:
            refuse("invalid", "contribution above the amount")
        kept = [b for b in self.budgets.get(h, []) if b["from"] != start]
        for b in kept:
            if not (end < b["from"] or b["to"] < start):
                refuse("invalid", "budgets overlap")
        self.budgets[h] = kept + [{"from": start, "to": end}]

    # ------------------------------------------------------------ direct payments

    def ev_dp_payment(self, raw: dict) -> None:
        h = raw["holder"]
        self.move(self._date, "dp_payment", f"council:{self.council_for(raw)}:funding",
                  f"holder:{h}:dp", GBP, pence(raw["amount"]))

    def ev_contribution(self, raw: dict) -> None:
        h = raw["holder"]
        self.move(self._date, "contribution", f"holder:{h}:own", f"holder:{h}:dp", GBP,
                  pence(raw["amount"]))

    def ev_dp_spend(self, raw: dict) -> None:
        h = raw["holder"]
        amount = pence(raw["amount"])
        self.move(self._date, "dp_spend", f"holder:{h}:dp", external(raw["payee"], True), GBP,
                  amount)

    def ev_dp_review(self, raw: dict) -> None:
        h = raw["holder"]
        weekly = pence(raw["weekly_amount"])
        weeks = decimal(raw["max_weeks"], allow_zero=True)
        contingency = pence(raw.get("contingency", 0), allow_zero=True)
        kept = round_half_away(weekly * weeks)
        surplus = self.balance(f"holder:{h}:dp", GBP, self._date) - contingency - kept
        if surplus > 0:
            self.move(self._date, "surplus_recovery", f"holder:{h}:dp",
                      f"council:{self.council_for(raw)}:funding", GBP, surplus)

    def ev_dp_schedule(self, raw: dict) -> None:
        h = raw["holder"]
        amount = pence(raw["amount"])
        every = raw["every"]
        if every not in ("weekly", "four_weekly", "monthly"):
            refuse("invalid", "every")
        timing = raw.get("timing", "advance")
        if timing not in ("advance", "arrears"):
            refuse("invalid", "timing")
        start, end = raw["start"], raw.get("end")
        if end is not None and end < start:
            refuse("invalid", "end before start")
        self.schedules[self._key] = {"holder": h, "amount": amount, "every": every,
                                     "timing": timing, "start": start, "end": end,
                                     "council": self.council_for(raw)}

    @staticmethod
    def period_start(s: dict, k: int) -> dt.date:
        if s["every"] == "weekly":
            return s["start"] + dt.timedelta(weeks=k)
        if s["every"] == "four_weekly":
            return s["start"] + dt.timedelta(weeks=4 * k)
        return add_months(s["start"], k)

    def ev_run_payments(self, raw: dict) -> dict:
        until = raw["until"]
        paid = []
        for sid, s in self.schedules.items():
            k = 0
            while True:
                begin = self.period_start(s, k)
                if s["end"] is not None and begin > s["end"]:
                    break
                due = begin if s["timing"] == "advance" else self.period_start(s, k + 1)
                if due > until:
                    break
                pkey = f"{sid}@{begin.isoformat()}"
                if pkey not in self.paid:
                    # docs/rules-trust.md#closed-periods: a payment due in a closed period
                    # is paid on the first day after the lock.
                    day = due
                    if self.lock is not None and day <= self.lock:
                        day = self.lock + dt.timedelta(days=1)
                    self.move(day, "dp_payment", f"council:{s['council']}:funding",
                              f"holder:{s['holder']}:dp", GBP, s["amount"])
                    paid.append(pkey)
                k += 1
        self.paid.update(paid)
        return {}

    # ------------------------------------------------------------ ISFs

    def isf(self, raw: dict, must_be_open: bool = True) -> dict:
        isf = self.isfs.get((raw["holder"], raw["provider"]))
        if isf is None or (must_be_open and isf["status"] != "open"):
            refuse("invalid", "no open ISF")
        if "council" in raw:
            self.need("council", raw["council"])
        if "council" in raw and raw["council"] != isf["council"]:
            refuse("invalid", "not the ISF's council")
        return isf

    def ev_isf_open(self, raw: dict) -> None:
        h, p = raw["holder"], raw["provider"]
        old = self.isfs.get((h, p))
        if old is not None and old["status"] == "open":
            refuse("invalid", "already open")
        hpm = minutes(raw["hours_per_month"])
        rate = pence(raw["rate"])
        carry = raw.get("carry") or {}
        expire = carry.get("expire_after_months", 0)
        if not isinstance(expire, int) or isinstance(expire, bool) or expire < 0:
            refuse("invalid", "expire_after_months")
        max_hours = carry.get("max_hours")
        max_hours = None if max_hours is None else minutes(max_hours, allow_zero=True)
        borrow = minutes(carry.get("max_borrow_hours", 0), allow_zero=True)
        exact = Fraction(hpm * rate, 60)
        budget = round_half_away(exact)
        fee_spec = raw.get("fee")
        fee, on_top = 0, False
        if fee_spec is not None:
            basis = fee_spec.get("basis", "inside")
            if basis not in ("inside", "on_top"):
                refuse("invalid", "fee basis")
            on_top = basis == "on_top"
            if fee_spec["kind"] == "percent":
                pct = decimal(fee_spec["value"])
                if pct > 100:
                    refuse("invalid", "percent above 100")
                fee = round_half_away(exact * pct / 100)
            elif fee_spec["kind"] == "fixed":
                fee = pence(fee_spec["value"])
            else:
                refuse("invalid", "fee kind")
            if not on_top and fee >= budget:
                refuse("invalid", "inside fee not below the budget")
        underspend = raw.get("underspend", "return")
        if underspend not in ("return", "retain"):
            refuse("invalid", "underspend")
        council = self.council_for(raw)
        self.isfs[(h, p)] = {
            "status": "open", "council": council, "hpm": hpm, "rate": rate,
            "expire": expire, "max_hours": max_hours, "borrow": borrow, "budget": budget,
            "fee": fee, "on_top": on_top, "underspend": underspend,
            "allow_pool": bool(raw.get("allow_pool_contributions", False)),
            "opened": month_of(self._date), "lots": [], "borrowed": 0, "advanced": set(),
            "reconciled": [], "old_left": old["old_left"] if old else 0,
            "agreement": (old["agreement"] + 1) if old else 1,
        }
        self.isf_floor[(h, p)] = -borrow

    def own_money(self, h: str, p: str, as_of: dt.date | None = None) -> int:
        """docs/rules-trust.md#isf-agreements: the balance less what older agreements left."""
        return self.balance(f"isf:{h}:{p}", GBP, as_of) - self.isfs[(h, p)]["old_left"]

    def ev_isf_advance(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        month = month_index(raw["month"])
        if month in isf["advanced"]:
            refuse("invalid", "month already advanced")
        if isf["reconciled"] and month <= isf["reconciled"][-1]:  # QUESTIONS.md
            refuse("invalid", "month already reconciled")
        acct, c = f"isf:{h}:{p}", isf["council"]
        self.move(self._date, "isf_advance", f"council:{c}:hours", acct, HRS, isf["hpm"])
        money_in = isf["budget"] + (isf["fee"] if isf["on_top"] else 0)
        self.move(self._date, "isf_advance", f"council:{c}:funding", acct, GBP, money_in)
        self.move(self._date, "isf_fee", acct, f"provider:{p}:fees", GBP, isf["fee"])
        repay = min(isf["borrowed"], isf["hpm"])
        isf["borrowed"] -= repay
        isf["lots"].append([month, isf["hpm"] - repay])
        isf["lots"].sort(key=lambda lot: lot[0])
        isf["advanced"].add(month)
        return {"isf": (h, p), "agreement": isf["agreement"], "month": month, "hpm": isf["hpm"]}

    def ev_isf_delivery(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        mins = minutes(raw["hours"])
        left = mins
        taken = []
        for lot in isf["lots"]:
            take = min(lot[1], left)
            lot[1] -= take
            left -= take
            if take:
                taken.append((lot[0], take))
        if isf["borrowed"] + left > isf["borrow"]:
            refuse("insufficient_funds", "beyond the borrowing limit")
        isf["borrowed"] += left
        acct = f"isf:{h}:{p}"
        self.move(self._date, "isf_delivery", acct, f"provider:{p}:delivered", HRS, mins)
        money = round_half_away(Fraction(mins * isf["rate"], 60))
        self.move(self._date, "isf_delivery", acct, f"provider:{p}:income", GBP, money)
        return {"isf": (h, p), "agreement": isf["agreement"], "taken": taken,
                "borrowed": left}

    def ev_isf_purchase(self, raw: dict) -> dict:
        isf = self.isf(raw)
        self.move(self._date, "isf_purchase", f"isf:{raw['holder']}:{raw['provider']}",
                  external(raw["payee"], True), GBP, pence(raw["amount"]))
        return {"isf": (raw["holder"], raw["provider"]), "agreement": isf["agreement"]}

    def ev_isf_reconcile(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
        month = month_index(raw["month"])
        done = isf["reconciled"]
        if done:
            if month != done[-1] + 1:
                refuse("invalid", "months are reconciled one by one")
        else:
            # QUESTIONS.md: "before the ISF opened or before its first advance" read as
            # before the earlier of the two (advances may be for months before opening).
            began = min([isf["opened"], *isf["advanced"]])
            if month < began:
                refuse("invalid", "before the ISF began")
            if isf["advanced"] and month > min(isf["advanced"]):
                refuse("invalid", "skips past the first advanced month")
        expired = 0
        per_lot = []
        for lot in isf["lots"]:
            if lot[0] + isf["expire"] <= month and lot[1]:
                expired += lot[1]
                per_lot.append((lot[0], lot[1]))
                lot[1] = 0
        if isf["max_hours"] is not None:
            # Only lots of this month and earlier count; a later month's lot (advanced
            # before this reconciliation) is never touched (changed 2026-11-29).
            counted = sorted((lot for lot in isf["lots"] if lot[0] <= month),
                             key=lambda lot: lot[0])
            bank = sum(lot[1] for lot in counted) - isf["borrowed"]
            excess = bank - isf["max_hours"]
            for lot in counted:
                if excess <= 0:
                    break
                take = min(lot[1], excess)
                lot[1] -= take
                excess -= take
                expired += take
                if take:
                    per_lot.append((lot[0], take))
        acct, c = f"isf:{h}:{p}", isf["council"]
        self.move(self._date, "isf_hours_expiry", acct, f"council:{c}:hours", HRS, expired)
        if isf["underspend"] == "return":
            money = round_half_away(Fraction(expired * isf["rate"], 60))
            money = min(money, max(0, self.own_money(h, p) + self._pending(acct, GBP)))
            self.move(self._date, "isf_underspend_return", acct, f"council:{c}:funding", GBP,
                      money)
        done.append(month)
        return {"isf": (h, p), "agreement": isf["agreement"], "expired": per_lot}

    def _pending(self, account: str, unit: str) -> int:
        return sum(x for j in self._new for a, u, x in j.postings if (a, u) == (account, unit))

    def ev_isf_close(self, raw: dict) -> dict:
        isf = self.isf(raw)
        h, p = raw["holder"], raw["provider"]
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
        info = {"isf": (h, p), "agreement": isf["agreement"], "lots": isf["lots"],
                "borrowed": isf["borrowed"], "old_left": isf["old_left"]}
        isf.update(status="closed", lots=[], borrowed=0,
                   old_left=self.balance(acct, GBP) - max(own, 0))
        return info

    # ------------------------------------------------------------ pools

    def pool(self, raw: dict) -> dict:
        pid = free_id(raw["pool"])
        pool = self.pools.get(pid)
        if pool is None or pool["status"] != "open":
            refuse("invalid", "no open pool")
        if self._date < pool["opened"]:
            refuse("invalid", "before the pool opened")
        return pool

    @staticmethod
    def current(pool: dict) -> list[dict]:
        return [e for e in pool["history"] if e["left"] is None]

    def ev_pool_open(self, raw: dict) -> None:
        pid = free_id(raw["pool"])
        members = raw.get("members", [])
        if pid in self.pools:
            refuse("invalid", "pool id used")
        if len(set(members)) != len(members):
            refuse("invalid", "a member named twice")
        self.pools[pid] = {"opened": self._date, "status": "open",
                           "history": [{"holder": h, "joined": self._date, "left": None}
                                       for h in members]}

    def ev_pool_join(self, raw: dict) -> None:
        pool = self.pool(raw)
        h = raw["holder"]
        if any(e["holder"] == h for e in self.current(pool)):
            refuse("invalid", "already a member")
        pool["history"].append({"holder": h, "joined": self._date, "left": None})

    def ev_pool_leave(self, raw: dict) -> dict:
        pool = self.pool(raw)
        h, pid = raw["holder"], raw["pool"]
        entry = next((e for e in self.current(pool) if e["holder"] == h), None)
        if entry is None:
            refuse("invalid", "not a member")
        if self._date < entry["joined"]:
            refuse("invalid", "a leave dated before the join (QUESTIONS.md)")
        share = self.balance(f"pool:{pid}:{h}", GBP)
        self.move(self._date, "pool_refund", f"pool:{pid}:{h}", f"holder:{h}:dp", GBP,
                  max(share, 0))
        entry["left"] = self._date
        return {"pool": pid, "entry": pool["history"].index(entry)}

    def ev_pool_contribute(self, raw: dict) -> None:
        pool = self.pool(raw)
        h, pid = raw["holder"], raw["pool"]
        amount = pence(raw["amount"])
        entry = next((e for e in self.current(pool) if e["holder"] == h), None)
        if entry is None:
            refuse("invalid", "not a member")
        if self._date < entry["joined"]:
            refuse("invalid", "a contribution dated before the join (QUESTIONS.md)")
        source = f"holder:{h}:dp"
        if "provider" in raw:
            isf = self.isfs.get((h, raw["provider"]))
            if isf is None or isf["status"] != "open" or not isf["allow_pool"]:
                refuse("invalid", "ISF not open to pool contributions")
            # pools.md rule 7/8: the ISF's own money, on the date and every later date.
            acct = f"isf:{h}:{raw['provider']}"
            later = {j.date for j in self.journals if j.date >= self._date
                     for a, u, _ in j.postings if (a, u) == (acct, GBP)}
            for d in sorted(later | {self._date}):
                if self.own_money(h, raw["provider"], d) < amount:
                    refuse("insufficient_funds", f"the ISF does not hold it on {d}")
            source = f"isf:{h}:{raw['provider']}"
        self.move(self._date, "pool_contribution", source, f"pool:{pid}:{h}", GBP, amount)

    def ev_pool_spend(self, raw: dict) -> dict:
        pool = self.pool(raw)
        pid = raw["pool"]
        amount = pence(raw["amount"])
        payee = external(raw["payee"])
        order = [e["holder"] for e in self.current(pool)]
        eligible = [e["holder"] for e in self.current(pool) if e["joined"] <= self._date]
        if "members" in raw:
            named = raw["members"]
            if not named or len(set(named)) != len(named):
                refuse("invalid", "members list")
            if any(h not in eligible for h in named):
                refuse("invalid", "not a member on that date")
            charged = [h for h in order if h in named]
        else:
            charged = eligible
        if not charged:
            refuse("invalid", "nobody to charge")
        method = raw.get("split", "equal")
        weights = raw.get("weights")
        if method == "equal":
            if weights is not None:
                refuse("invalid", "weights with equal")
            ws = [Fraction(1)] * len(charged)
        elif method == "ratio":
            if not isinstance(weights, dict) or set(weights) != set(charged):
                refuse("invalid", "weights must name exactly the members charged")
            ws = [decimal(weights[h]) for h in charged]
        else:
            refuse("invalid", "split")
        parts = split_largest_remainder(amount, ws)
        for h, part in zip(charged, parts, strict=True):
            self.move(self._date, "pool_spend", f"pool:{pid}:{h}", payee, GBP, part)
        return {"pool": pid, "charged": charged}

    def ev_pool_income(self, raw: dict) -> None:
        self.pool(raw)
        self.move(self._date, "pool_income", external(raw["payer"]),
                  f"pool:{raw['pool']}:common", GBP, pence(raw["amount"]))

    def ev_pool_close(self, raw: dict) -> dict:
        pool = self.pool(raw)
        pid = raw["pool"]
        for e in self.current(pool):
            h = e["holder"]
            share = self.balance(f"pool:{pid}:{h}", GBP)
            self.move(self._date, "pool_refund", f"pool:{pid}:{h}", f"holder:{h}:dp", GBP,
                      max(share, 0))
        pool["status"] = "closed"
        return {"pool": pid}

    # ------------------------------------------------------------ bursaries

    def fund(self, raw: dict) -> dict:
        fund = self.funds.get(free_id(raw["fund"]))
        if fund is None or fund["status"] != "open":
            refuse("invalid", "no open fund")
        return fund

    def ev_fund_open(self, raw: dict) -> dict:
        fid = free_id(raw["fund"])
        total, cap = pence(raw["total"]), pence(raw["cap_per_person"])
        if fid in self.funds:
            refuse("invalid", "fund id used")
        self.funds[fid] = {"status": "open", "council": raw["council"], "awarded": {},
                           "ever_awarded": False}
        self.move(self._date, "fund_open", f"council:{raw['council']}:funding", f"fund:{fid}",
                  GBP, total)
        self.funds[fid]["cap"] = cap
        return {"fund": fid}

    def ev_bursary_award(self, raw: dict) -> dict:
        fund = self.fund(raw)
        fid, h = raw["fund"], raw["holder"]
        amount = pence(raw["amount"])
        if fund["awarded"].get(h, 0) + amount > fund["cap"]:
            refuse("over_cap", "past the cap")
        fund["awarded"][h] = fund["awarded"].get(h, 0) + amount
        fund["ever_awarded"] = True
        self.move(self._date, "bursary_award", f"fund:{fid}", f"fund:{fid}:award:{h}", GBP,
                  amount)
        return {"fund": fid, "holder": h, "amount": amount}

    def ev_bursary_spend(self, raw: dict) -> dict:
        self.fund(raw)
        fid, holders = raw["fund"], raw["holders"]
        amount = pence(raw["amount"])
        payee = external(raw["payee"])
        if not holders or len(set(holders)) != len(holders):
            refuse("invalid", "holders")
        parts = split_largest_remainder(amount, [Fraction(1)] * len(holders))
        if min(parts) < 1:
            refuse("invalid", "a part below 1p")
        for h, part in zip(holders, parts, strict=True):
            self.move(self._date, "bursary_spend", f"fund:{fid}:award:{h}", payee, GBP, part)
        return {"fund": fid}

    def ev_fund_close(self, raw: dict) -> dict:
        fund = self.fund(raw)
        fid = raw["fund"]
        back = {}
        for a, u in sorted(self.balances()):
            if u == GBP and a.startswith(f"fund:{fid}:award:"):
                left = self.balance(a, GBP)
                back[a] = left
                self.move(self._date, "fund_close", a, f"fund:{fid}", GBP, max(left, 0))
        total = self.balance(f"fund:{fid}", GBP) + self._pending(f"fund:{fid}", GBP)
        self.move(self._date, "fund_close", f"fund:{fid}", f"council:{fund['council']}:funding",
                  GBP, max(total, 0))
        fund["status"] = "closed"
        return {"fund": fid}

    # ------------------------------------------------------------ contracts and grants

    def ev_grant(self, raw: dict) -> None:
        self.move(self._date, "grant", f"council:{raw['council']}:funding",
                  f"provider:{raw['provider']}:income", GBP, pence(raw["amount"]))

    def ev_spot_purchase(self, raw: dict) -> None:
        self.move(self._date, "spot_purchase", f"council:{raw['council']}:funding",
                  f"provider:{raw['provider']}:income", GBP, pence(raw["amount"]))

    def ev_framework_open(self, raw: dict) -> None:
        fid = free_id(raw["framework"])
        rates: dict[str, dict[dt.date, int]] = {}
        for r in raw["rates"]:
            card = rates.setdefault(r["service"], {})
            if r["from"] in card:
                refuse("invalid", "two rates from the same day")
            card[r["from"]] = pence(r["rate"])
        if fid in self.frameworks:
            refuse("invalid", "framework id used")
        self.frameworks[fid] = {"council": raw["council"], "rates": rates}

    def ev_calloff(self, raw: dict) -> None:
        fw = self.frameworks.get(free_id(raw["framework"]))
        if fw is None:
            refuse("invalid", "no such framework")
        mins = minutes(raw["hours"])
        card = fw["rates"].get(raw["service"])
        if not card:
            refuse("invalid", "service not on the card")
        dates = [d for d in card if d <= self._date]
        if not dates:
            refuse("invalid", "before the first rate")
        money = round_half_away(Fraction(mins * card[max(dates)], 60))
        if money == 0:
            refuse("invalid", "rounds to nothing")
        c, p = fw["council"], raw["provider"]
        self.move(self._date, "calloff", f"council:{c}:funding", f"provider:{p}:income", GBP,
                  money)
        self.move(self._date, "calloff", f"council:{c}:hours", f"provider:{p}:delivered", HRS,
                  mins)

    def ev_block_open(self, raw: dict) -> None:
        cid = free_id(raw["contract"])
        amount = pence(raw["amount_per_month"])
        minutes(raw["capacity_hours_per_month"])
        if cid in self.blocks:
            refuse("invalid", "contract id used")
        self.blocks[cid] = {"council": raw["council"], "provider": raw["provider"],
                            "amount": amount, "opened": month_of(self._date), "paid": set(),
                            "open_date": self._date}

    def block(self, raw: dict) -> dict:
        block = self.blocks.get(free_id(raw["contract"]))
        if block is None:
            refuse("invalid", "no such contract")
        return block

    def ev_block_payment(self, raw: dict) -> dict:
        block = self.block(raw)
        month = month_index(raw["month"])
        if month < block["opened"]:
            refuse("invalid", "before the contract's term")
        if month in block["paid"]:
            refuse("invalid", "month already paid")
        block["paid"].add(month)
        self.move(self._date, "block_payment", f"council:{block['council']}:funding",
                  f"provider:{block['provider']}:income", GBP, block["amount"])
        return {"block": raw["contract"], "month": month}

    def ev_block_usage(self, raw: dict) -> None:
        block = self.block(raw)
        if self._date < block["open_date"]:
            refuse("invalid", "usage dated before the contract opened (QUESTIONS.md)")
        self.move(self._date, "block_usage", f"council:{block['council']}:hours",
                  f"provider:{block['provider']}:delivered", HRS, minutes(raw["hours"]))

    # ------------------------------------------------------------ housekeeping

    def ev_close_period(self, raw: dict) -> None:
        until = raw["until"]
        if until > self._date:
            refuse("invalid", "a period is closed once it has happened")
        self.lock = until if self.lock is None else max(self.lock, until)

    def ev_party_update(self, raw: dict) -> None:
        kinds = [k for k in ("holder", "provider") if k in raw]
        if len(kinds) != 1:
            refuse("invalid", "exactly one of holder or provider")
        kind = kinds[0]
        # A holder's council never changes: `council` is not a field party_update takes.
        allowed = {"holder": {"name", "pseudonym", "show_name", "statement_format"},
                   "provider": {"name"}}[kind]
        fields = {k: v for k, v in raw.items() if k not in ("date", "type", "id", kind)}
        if set(fields) - allowed:
            refuse("invalid", "field not allowed")
        if self.lock is not None and self._date <= self.lock:
            refuse("period_closed", "the statements of a closed period never change")
        record = self.parties[kind][raw[kind]]
        if record.get("_updated") is not None and self._date < record["_updated"]:
            refuse("invalid", "updates of one party go in date order (rules-trust#parties)")
        record.update(fields, _updated=self._date)

    def ev_reverse(self, raw: dict) -> None:
        target = raw.get("event")
        if not isinstance(raw.get("reason"), str) or not raw["reason"]:
            refuse("invalid", "reason")
        done = self.events.get(target)
        if done is None:
            refuse("invalid", "no such event")
        if done["type"] == "reverse":
            raise NotModelled("reversing a reversal")
        if done["reversed"]:
            refuse("invalid", "already reversed")
        if not done["journals"]:
            refuse("invalid", "the event posted nothing")
        hook = getattr(self, f"unpost_{done['type']}", None)
        if hook is None:
            raise NotModelled(f"reversing {done['type']}")
        hook(done)
        for j in done["journals"]:
            self._new.append(J(self._date, self._key, "reversal",
                               [(a, u, -x) for a, u, x in j.postings]))
        done["reversed"] = True

    # Reversal hooks: state changes the docs describe; postings are the exact opposite.
    def _money_only(self, done: dict) -> None:
        pass

    unpost_dp_payment = unpost_contribution = unpost_dp_spend = _money_only
    unpost_dp_review = unpost_run_payments = unpost_grant = _money_only
    unpost_spot_purchase = unpost_calloff = unpost_block_usage = _money_only
    unpost_pool_contribute = unpost_pool_income = _money_only

    def unpost_isf_purchase(self, done: dict) -> None:
        """An earlier agreement's purchase changes what that agreement left, never the
        new agreement's money (docs/rules-dp-isf.md "Agreements stay apart")."""
        isf = self.isfs[done["isf"]]
        if isf["agreement"] != done["agreement"]:
            if isf["status"] != "open":
                refuse("invalid", "the ISF is closed")
            isf["old_left"] += sum(x for j in done["journals"] for a, u, x in j.postings
                                   if (a, u) == (f"isf:{done['isf'][0]}:{done['isf'][1]}",
                                                 GBP)) * -1
            return
        self._isf_of(done)

    def _isf_of(self, done: dict, closing: bool = False) -> dict:
        """docs/rules-dp-isf.md "Agreements stay apart": reversing an earlier agreement's
        delivery, advance, expiry or closure is `invalid`."""
        isf = self.isfs[done["isf"]]
        if isf["agreement"] != done["agreement"]:
            refuse("invalid", "a journal of an earlier agreement")
        if (isf["status"] != "open") != closing:
            refuse("invalid", "only the closure is reversed on a closed ISF")
        return isf

    @staticmethod
    def _lot(isf: dict, month: int) -> list:
        lot = next((lot for lot in isf["lots"] if lot[0] == month), None)
        if lot is None:
            raise NotModelled("the lot is gone")
        return lot

    def unpost_isf_delivery(self, done: dict) -> None:
        """docs/rules-dp-isf.md: minutes back to their lots; borrowed minutes cancelled, or
        to the newest lot if an advance has since repaid them."""
        isf = self._isf_of(done)
        for month, m in done["taken"]:
            self._lot(isf, month)[1] += m
        cancel = min(done["borrowed"], isf["borrowed"])
        isf["borrowed"] -= cancel
        if done["borrowed"] > cancel:
            if not isf["lots"]:
                raise NotModelled("no lot to give repaid minutes to")
            isf["lots"][-1][1] += done["borrowed"] - cancel

    def unpost_isf_advance(self, done: dict) -> None:
        """The month's lot is removed and the month can be advanced again; minutes it had
        given are taken back from the other lots, oldest first, else borrowed."""
        isf = self._isf_of(done)
        month = done["month"]
        if isf["reconciled"] and month <= isf["reconciled"][-1]:
            refuse("invalid", "the month is reconciled")
        lot = self._lot(isf, month)
        given = done["hpm"] - lot[1]
        if given < 0:
            raise NotModelled("the lot holds more than it was advanced with")
        isf["lots"].remove(lot)
        for other in isf["lots"]:
            take = min(other[1], given)
            other[1] -= take
            given -= take
        if isf["borrowed"] + given > isf["borrow"]:
            refuse("insufficient_funds", "beyond the borrowing limit")
        isf["borrowed"] += given
        isf["advanced"].discard(month)

    def unpost_isf_reconcile(self, done: dict) -> None:
        """isf_hours_expiry: the hours go back to their lots; the month stays reconciled."""
        isf = self._isf_of(done)
        for month, m in done["expired"]:
            self._lot(isf, month)[1] += m

    def unpost_isf_close(self, done: dict) -> None:
        """closure_return: the ISF reopens with the bank it had when it closed."""
        isf = self._isf_of(done, closing=True)
        isf.update(status="open", lots=done["lots"], borrowed=done["borrowed"],
                   old_left=done["old_left"])

    def unpost_block_payment(self, done: dict) -> None:
        self.blocks[done["block"]]["paid"].discard(done["month"])

    def unpost_pool_spend(self, done: dict) -> None:
        pool = self.pools[done["pool"]]
        if pool["status"] != "open":
            refuse("invalid", "the pool is closed")
        members = {e["holder"] for e in self.current(pool)}
        if any(h not in members for h in done["charged"]):
            refuse("invalid", "a charged member has left")

    def unpost_pool_leave(self, done: dict) -> None:
        pool = self.pools[done["pool"]]
        entry = pool["history"][done["entry"]]
        if pool["status"] != "open":
            refuse("invalid", "the pool is closed")
        if any(e["holder"] == entry["holder"] for e in self.current(pool)):
            refuse("invalid", "rejoined since")
        entry["left"] = None

    def unpost_pool_close(self, done: dict) -> None:
        self.pools[done["pool"]]["status"] = "open"

    def unpost_bursary_award(self, done: dict) -> None:
        fund = self.funds[done["fund"]]
        if fund["status"] != "open":
            refuse("invalid", "the fund is closed")
        # Both this rule and the floor forbid it; the "other order" lets the floor speak.
        if self._lock_first and self.balance(
                f"fund:{done['fund']}:award:{done['holder']}", GBP) < done["amount"]:
            refuse("invalid", "the award has been spent")
        fund["awarded"][done["holder"]] -= done["amount"]

    def unpost_bursary_spend(self, done: dict) -> None:
        if self.funds[done["fund"]]["status"] != "open":
            refuse("invalid", "the fund is closed")

    def unpost_fund_close(self, done: dict) -> None:
        self.funds[done["fund"]]["status"] = "open"

    def unpost_fund_open(self, done: dict) -> None:
        fund = self.funds[done["fund"]]
        if fund["status"] != "open":
            refuse("invalid", "the fund is closed: its money is back with the council")
        if fund["ever_awarded"]:
            refuse("invalid", "the fund has made awards")
        fund["status"] = "closed"


def belongs_to(path: str, holder: str) -> bool:
    """docs/statements.md: holder:H:*, isf:H:*, pool:*:H, fund:*:award:H."""
    parts = path.split(":")
    if parts[0] in ("holder", "isf") and len(parts) == 3:
        return parts[1] == holder
    if parts[0] == "pool" and len(parts) == 3:
        return parts[2] == holder
    if parts[0] == "fund" and len(parts) == 4 and parts[2] == "award":
        return parts[3] == holder
    return False
