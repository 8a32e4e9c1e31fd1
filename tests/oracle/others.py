"""Pools, bursaries, contracts and grants in the oracle model: docs/pools.md and
docs/rules-contracts-bursaries-budgets.md (unchanged by the rules of 2026-12-06)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from tests.oracle.core import (
    GBP,
    HRS,
    decimal,
    external,
    free_id,
    minutes,
    month_index,
    month_of,
    pence,
    refuse,
    round_half_away,
    split_largest_remainder,
)


class OtherInstruments:
    """Mixed into `Model` (tests/oracle/model.py), whose state and helpers it uses."""

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

    # ------------------------------------------------------------ their reversals

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
