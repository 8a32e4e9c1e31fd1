"""Deterministic, seeded benchmark data: a small English county's social-care money.

Three generators, all pure functions of their arguments (same seed, same output):

* `journals(n, seed)`: balanced journals ready for `DbStore.post`, in date order over one
  year. The mix is what a council's payment runs and provider returns look like:
  direct-payment instalments, assessed contributions, DP spending (never more than the DP
  account holds, since it has a floor of zero), and Individual Service Fund advances and
  deliveries, which are two-unit journals (pounds and hours, 4 postings), plus ISF fees.
* `scenario(n, seed)`: a scenario file (the dict `ScenarioFile.model_validate` takes) of
  ISF and DP events that replays without a single rejection: ISFs opened, advanced
  monthly, delivered against and reconciled in order; DP payments, contributions and
  spends within the balance.
* `council_year(people, seed, months=12)`: the same population and month-by-month events,
  for exactly `months` whole months (a council's year for bench/compare.py), never cut.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting

START = dt.date(2026, 4, 1)  # the start of a financial year
DAYS = 365

COUNCIL_NAMES = [
    ("WBC", "Wokingham Borough Council"), ("BCC", "Bramley County Council"),
    ("RDC", "Rushmere District Council"), ("NCC", "Northfield City Council"),
    ("SMBC", "Southvale Metropolitan Borough Council"),
]
PAYEES = ["PA-JONES", "PA-SMITH", "PA-PATEL", "CARE-AGENCY", "DAY-CENTRE", "SWIM-CLUB",
          "TAXI-CO", "RESPITE-HOME", "PAYROLL-BUREAU", "GYM"]
RATES_PENCE = [1850, 1950, 2100, 2275, 2400]  # hourly rates providers charge


@dataclass(frozen=True)
class Holder:
    id: str
    council: str
    dp: bool  # a direct payment; otherwise an ISF with `provider`
    provider: str | None
    rate_pence: int
    monthly_pence: int  # DP instalment, or the ISF month's money
    hours_per_month: int  # ISF only


@dataclass(frozen=True)
class Population:
    councils: list[tuple[str, str]]
    providers: list[str]
    holders: list[Holder]


def population(holders: int, seed: int) -> Population:
    rng = random.Random(f"population:{seed}")
    councils = COUNCIL_NAMES[: max(1, min(len(COUNCIL_NAMES), holders // 40 or 1))]
    providers = [f"P{i:03d}" for i in range(max(2, holders // 25))]
    people = []
    for i in range(holders):
        dp = rng.random() < 0.6  # roughly 3 in 5 people with a budget take it as a DP
        hours = rng.choice([10, 20, 30, 40, 60])
        rate = rng.choice(RATES_PENCE)
        people.append(Holder(
            id=f"H{i:05d}",
            council=rng.choice(councils)[0],
            dp=dp,
            provider=None if dp else rng.choice(providers),
            rate_pence=rate,
            monthly_pence=rng.randrange(40_000, 250_000, 100) if dp else hours * rate,
            hours_per_month=0 if dp else hours,
        ))
    return Population(councils, providers, people)


def _moves(src: str, dst: str, unit: Unit, amount: int) -> list[Posting]:
    return [Posting(src, unit, -amount), Posting(dst, unit, amount)]


def journals(n: int, seed: int = 1, holders: int | None = None) -> list[Journal]:
    """`n` balanced journals (2 or 4 postings each) dated across one year, in order."""
    pop = population(holders or max(50, n // 40), seed)
    rng = random.Random(f"journals:{seed}")
    dp_people = [h for h in pop.holders if h.dp]
    isf_people = [h for h in pop.holders if not h.dp]
    dp_balance: dict[str, int] = defaultdict(int)
    out: list[Journal] = []
    for i in range(n):
        on = START + dt.timedelta(days=i * DAYS // max(n, 1))
        key, event_key = f"bench:{seed}:{i:08d}", f"bench-ev:{seed}:{i:08d}"
        roll = rng.random()
        if roll < 0.60 and dp_people:
            h = rng.choice(dp_people)
            dp = f"holder:{h.id}:dp"
            spend = rng.randrange(2_000, 90_000, 5)
            if roll < 0.30 and dp_balance[h.id] >= spend:
                payee = rng.choice(PAYEES)
                postings = _moves(dp, f"external:{payee}", Unit.GBP, spend)
                kind, memo = "dp_spend", {"payee": payee}
                dp_balance[h.id] -= spend
            elif roll < 0.38:
                amount = rng.randrange(1_000, 20_000, 100)
                postings = _moves(f"holder:{h.id}:own", dp, Unit.GBP, amount)
                kind, memo = "contribution", {"council": h.council}
                dp_balance[h.id] += amount
            else:
                postings = _moves(f"council:{h.council}:funding", dp, Unit.GBP, h.monthly_pence)
                kind, memo = "dp_payment", {"council": h.council}
                dp_balance[h.id] += h.monthly_pence
        else:
            h = rng.choice(isf_people)
            isf = f"isf:{h.id}:{h.provider}"
            if roll < 0.72:
                minutes = h.hours_per_month * 60
                postings = (_moves(f"council:{h.council}:hours", isf, Unit.HRS, minutes)
                            + _moves(f"council:{h.council}:funding", isf, Unit.GBP,
                                     h.monthly_pence))
                kind, memo = "isf_advance", {"minutes": minutes, "budget_pence": h.monthly_pence}
            elif roll < 0.95:
                minutes = rng.randrange(60, 600, 15)
                pence = (minutes * h.rate_pence + 30) // 60
                postings = (_moves(isf, f"provider:{h.provider}:delivered", Unit.HRS, minutes)
                            + _moves(isf, f"provider:{h.provider}:income", Unit.GBP, pence))
                kind, memo = "isf_delivery", {"minutes": minutes, "amount_pence": pence}
            else:
                fee = h.monthly_pence // 20
                postings = _moves(isf, f"provider:{h.provider}:fees", Unit.GBP, fee)
                kind, memo = "isf_fee", {"fee_pence": fee}
        out.append(Journal(key, kind, on, tuple(postings), event_key, holder=h.id, memo=memo))
    return out


def _pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def _openings(pop: Population, rng: random.Random) -> list[dict]:
    """An `isf_open` on the first day for every ISF holder."""
    events = []
    for h in pop.holders:
        if not h.dp:
            events.append({
                "date": START, "type": "isf_open", "holder": h.id, "provider": h.provider,
                "hours_per_month": h.hours_per_month, "rate": _pounds(h.rate_pence),
                "carry": {"expire_after_months": 1, "max_hours": h.hours_per_month // 2},
                **({"fee": {"kind": "percent", "value": "5", "basis": "on_top"}}
                   if rng.random() < 0.3 else {}),
            })
    return events


def _month(pop: Population, rng: random.Random, month: int,
           dp_balance: dict[str, int]) -> list[dict]:
    """Month `month` (0 = the first) of every holder's events, in date order."""
    first = dt.date(START.year + (START.month - 1 + month) // 12,
                    (START.month - 1 + month) % 12 + 1, 1)
    label = f"{first.year:04d}-{first.month:02d}"
    dated: list[tuple[dt.date, int, dict]] = []
    for h in pop.holders:
        days = sorted(rng.sample(range(2, 28), 3))
        if h.dp:
            dated.append((first, len(dated), {"date": first, "type": "dp_payment",
                                              "holder": h.id,
                                              "amount": _pounds(h.monthly_pence)}))
            dp_balance[h.id] += h.monthly_pence
            if rng.random() < 0.4:
                amount = rng.randrange(1_000, 20_000, 100)
                dated.append((first, len(dated), {"date": first, "type": "contribution",
                                                  "holder": h.id, "amount": _pounds(amount)}))
                dp_balance[h.id] += amount
            for day in days[: rng.randint(1, 3)]:
                amount = min(rng.randrange(2_000, 90_000, 5), dp_balance[h.id])
                if amount <= 0:
                    continue
                on = first.replace(day=day)
                dated.append((on, len(dated), {
                    "date": on, "type": "dp_spend", "holder": h.id,
                    "payee": rng.choice(PAYEES), "amount": _pounds(amount),
                    "category": rng.choice(["wages", "agency", "activities"])}))
                dp_balance[h.id] -= amount
        else:
            common = {"holder": h.id, "provider": h.provider}
            dated.append((first, len(dated), {"date": first, "type": "isf_advance",
                                              "month": label, **common}))
            # Deliveries use at most the month's hours, in quarter hours.
            left = h.hours_per_month * 4
            for day in days[: rng.randint(1, 3)]:
                quarters = rng.randint(1, max(1, left // 2))
                if quarters > left:
                    break
                left -= quarters
                on = first.replace(day=day)
                dated.append((on, len(dated), {"date": on, "type": "isf_delivery",
                                               "hours": str(quarters / 4), **common}))
            if rng.random() < 0.15:
                on = first.replace(day=days[-1])
                dated.append((on, len(dated), {
                    "date": on, "type": "isf_purchase", "payee": rng.choice(PAYEES),
                    "amount": _pounds(rng.randrange(500, 5_000, 50)), **common}))
            last = first.replace(day=28)
            dated.append((last, len(dated), {"date": last, "type": "isf_reconcile",
                                             "month": label, **common}))
    return [e for _, _, e in sorted(dated, key=lambda t: (t[0], t[1]))]


def _scenario_file(pop: Population, seed: int, events: list[dict], description: str) -> dict:
    return {
        "format": 1,
        "name": f"bench-{seed}",
        "description": description,
        "parties": {
            "councils": [{"id": c, "name": name} for c, name in pop.councils],
            "providers": [{"id": p, "name": f"Provider {p}"} for p in pop.providers],
            "holders": [{"id": h.id, "name": f"Person {h.id}", "council": h.council}
                        for h in pop.holders],
        },
        "events": events,
    }


def scenario(n: int, seed: int = 1, holders: int | None = None) -> dict:
    """A scenario of about `n` ISF and DP events (exactly `n`, cut at the end) that replays
    without a rejection. Months are appended until there are enough events."""
    pop = population(holders or max(10, n // 50), seed)
    rng = random.Random(f"scenario:{seed}")
    events = _openings(pop, rng)
    dp_balance: dict[str, int] = defaultdict(int)
    month = 0
    while len(events) < n:
        events += _month(pop, rng, month, dp_balance)
        month += 1
    return _scenario_file(pop, seed, events[:n], "generated by bench/generate.py")


def council_year(people: int, seed: int = 1, months: int = 12) -> dict:
    """A council's workload: exactly `months` whole months (12 by default: one financial
    year from START) of every event for `people` budget holders, never cut short. The same
    population and the same month-by-month events as `scenario`, so it replays without a
    rejection too."""
    pop = population(people, seed)
    rng = random.Random(f"scenario:{seed}")
    events = _openings(pop, rng)
    dp_balance: dict[str, int] = defaultdict(int)
    for month in range(months):
        events += _month(pop, rng, month, dp_balance)
    return _scenario_file(pop, seed, events,
                          f"generated by bench/generate.py: {people} people, {months} months")


__all__ = ["Holder", "Population", "council_year", "journals", "population", "scenario"]
