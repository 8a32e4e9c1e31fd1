"""An independent reference model of the ledger's rules, written from the docs alone.

Sources: docs/scenarios.md (event types), docs/rules-dp-isf.md,
docs/rules-contracts-bursaries-budgets.md, docs/pools.md, docs/rules-trust.md,
docs/statements.md, docs/month-end.md, docs/dp-statements.md, and the rules dated
2026-12-06 (ISFs, month end, timesheets and bank lines) restated in tests/oracle/isf.py
and tests/oracle/month_end.py. Nothing here is imported from `ledger`; the money helpers
are our own (tests/oracle/core.py). Where the docs are silent the choice made is listed in
tests/oracle/QUESTIONS.md.

The model is deliberately plain: a list of journals (date, postings), the instrument
state the docs describe in dicts, and a check of the floors on every date after each
event. `apply(raw, key)` either records the event or raises `Refused(code)`, leaving
the model as it was. `NotModelled` means the model does not cover that case (the test
then sends the event to neither side): reversing a `reverse`, replaying an id with the
same event, and the ISF cases the docs leave open (`unsure`, listed in QUESTIONS.md).

Covered: every event type of docs/scenarios.md except the extras `dp_schedule_end`,
`framework_rates`, `block_close`, `pool_distribute` and `expect`. Not covered: the
statement fields other than `accounts` (lines, budgets, commissioned), party records by
date (only the date order of updates), limits on sizes and text, and YAML reading.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

from tests.oracle.core import (
    GBP,
    HRS,
    J,
    NotModelled,
    Refused,
    add_months,
    belongs_to,
    decimal,
    external,
    minutes,
    pence,
    refuse,
    round_half_away,
)
from tests.oracle.isf import IsfRules
from tests.oracle.others import OtherInstruments

__all__ = ["Model", "NotModelled", "Refused"]

ISF_EVENTS = ("isf_advance", "isf_delivery", "isf_purchase", "isf_reconcile", "isf_close",
              "isf_vary")


@dataclass
class Model(IsfRules, OtherInstruments):
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
    seq: int = 0  # order of recording, for ties on the ISF timelines (tests/oracle/isf.py)
    imported: dict[tuple, dict] = field(default_factory=dict)  # month_end.py: rows, lines
    matched: dict[str, tuple] = field(default_factory=dict)  # payment -> bank line key

    # ------------------------------------------------------------ balances

    def balance(self, account: str, unit: str, as_of: dt.date | None = None) -> int:
        return sum(x for j in self.journals if as_of is None or j.date <= as_of
                   for a, u, x in j.postings if a == account and u == unit)

    def balances(self, as_of: dt.date | None = None) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for j in self.journals:
            if as_of is not None and j.date > as_of:
                continue
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
        except (Refused, NotModelled) as err:
            # A refusal of an event that also meets a case the docs leave open: another
            # code may be as right (the test accepts any refusal then, QUESTIONS.md 28).
            open_question = bool(getattr(self, "_unsure", None))
            self.__dict__.clear()
            self.__dict__.update(saved)
            err.open_question = open_question
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
        self._unsure: list[str] = []
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
        if self._unsure:
            raise NotModelled(self._unsure[0])
        self.events[key] = {"type": etype, "raw": raw, "journals": self._new,
                            "reversed": False, **info}

    def unsure(self, why: str) -> None:
        """A case the docs leave open: if nothing refuses the event, it is not modelled."""
        self._unsure.append(why)

    def _pending(self, account: str, unit: str) -> int:
        return sum(x for j in self._new for a, u, x in j.postings if (a, u) == (account, unit))

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
        done["reversed_by"] = self._key

    # Reversal hooks: state changes the docs describe; postings are the exact opposite.
    def _money_only(self, done: dict) -> None:
        pass

    unpost_dp_payment = unpost_contribution = unpost_dp_spend = _money_only
    unpost_dp_review = unpost_run_payments = unpost_grant = _money_only
    unpost_spot_purchase = unpost_calloff = unpost_block_usage = _money_only
    unpost_pool_contribute = unpost_pool_income = _money_only
