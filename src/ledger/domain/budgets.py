"""Personal budgets (Care Act 2014 s.26; `budget` in docs/scenarios.md) and what has been
paid towards them.

The `budget` event posts nothing: it records the budget for a period, who funds it and the
person's assessed contribution, in state kind "budget" ref = holder as
`{"budgets": [budget, ...]}` (sorted by `from`). `budget_report` then sets each budget
beside what was paid towards it, read from the journals, in every deployment.

Budget shape (JSON-able; lists, not maps, wherever order matters, because a JSON column
may reorder keys and the split's ties go to the funder listed first):
    {"from": "2026-04-01", "to": "2027-03-31", "amount_minor": 1200000,
     "contribution_minor": 120000,
     "funders": [{"funder": "WBC", "amount_minor": 1000000}, ...],
     "recorded_by": event key}
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from ledger.core.amounts import Unit, format_pence, largest_remainder
from ledger.core.journal import Journal
from ledger.domain.base import Ctx, Event, PartyId, Pence, handles
from ledger.domain.dp import dp_account
from ledger.errors import LedgerError

MAX_FUNDERS = 20  # council, NHS (CHC, FNC), ILF, top-ups: a handful, never hundreds
MAX_BUDGETS_PER_HOLDER = 500  # forty years of monthly budgets

FunderName = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                              pattern=r"^\S(.*\S)?$")]


class Budget(Event):
    type: Literal["budget"]
    holder: PartyId
    amount: Pence
    from_: dt.date = Field(alias="from")
    to: dt.date
    funders: Annotated[dict[FunderName, Pence], Field(min_length=1,
                                                      max_length=MAX_FUNDERS)] | None = None
    contribution: Pence | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Budget:
        if self.to < self.from_:
            raise ValueError(f"to ({self.to}) is before from ({self.from_})")
        if self.funders is not None and sum(self.funders.values()) != self.amount:
            raise ValueError(f"funders add up to {format_pence(sum(self.funders.values()))}, "
                             f"not the amount {format_pence(self.amount)}")
        if self.contribution is not None and self.contribution > self.amount:
            raise ValueError("the contribution is more than the budget")
        return self


def _overlaps(a: dict, b: dict) -> bool:
    return a["from"] <= b["to"] and b["from"] <= a["to"]


@handles(Budget)
def budget(ctx: Ctx, event: Budget) -> None:
    """Record a budget. One with the same `from` as an earlier one replaces it (a
    reassessment or correction of that period); any other overlap is refused, so that every
    payment counts towards at most one budget."""
    council = ctx.council_of(event.holder)  # also `unknown_party` for an undeclared holder
    funders = event.funders or {council: event.amount}
    new = {
        "from": event.from_.isoformat(),
        "to": event.to.isoformat(),
        "amount_minor": event.amount,
        "contribution_minor": event.contribution or 0,
        "funders": [{"funder": name, "amount_minor": pence} for name, pence in funders.items()],
        "recorded_by": ctx.event_key,
    }
    state = ctx.state("budget", event.holder) or {"budgets": []}
    kept = [b for b in state["budgets"] if b["from"] != new["from"]]
    clash = next((b for b in kept if _overlaps(b, new)), None)
    if clash is not None:
        raise LedgerError("invalid", f"{event.holder} already has a budget from {clash['from']} "
                                     f"to {clash['to']}; budgets may not overlap")
    if len(kept) >= MAX_BUDGETS_PER_HOLDER:
        raise LedgerError("invalid", f"{event.holder} has {len(kept)} budgets, the most kept")
    state["budgets"] = sorted([*kept, new], key=lambda b: b["from"])
    ctx.put_state("budget", event.holder, state)


# ---------------------------------------------------------------- what was paid towards it

COMMISSIONED_TYPES = frozenset({"calloff", "spot_purchase"})


def _gbp(journal: Journal, wanted) -> int:
    return sum(p.amount_minor for p in journal.postings
               if p.unit is Unit.GBP and wanted(p.account))


def _is_funding(account: str) -> bool:
    parts = account.split(":")
    return len(parts) == 3 and parts[0] == "council" and parts[2] == "funding"


def _touches(journal: Journal, wanted) -> bool:
    return any(p.unit is Unit.GBP and wanted(p.account) for p in journal.postings)


def _from_sources(journal: Journal, holder: str, deployed) -> int:
    """Money moved from the budget's sources (any council's funding, the person's own
    money) into accounts `deployed` picks: what those sources posted, with the sign turned.
    A return the other way (a surplus recovery, an underspend return) counts negative."""
    if not _touches(journal, deployed):
        return 0
    own = f"holder:{holder}:own"
    return -_gbp(journal, lambda a: _is_funding(a) or a == own)


def _commissioned(journal: Journal, holder: str) -> int:
    """Council-commissioned support for this person: a call-off or spot purchase naming
    them (or a reversal of one), council -> provider."""
    kind = journal.memo.get("reverses_type") if journal.type == "reversal" else journal.type
    if journal.holder != holder or kind not in COMMISSIONED_TYPES:
        return 0
    return -_gbp(journal, _is_funding)


def deployment_flows(journal: Journal, holder: str) -> dict[str, int]:
    """How one journal changes what is paid towards `holder`'s budget, per deployment, in
    pence. The pool figure is money moved from the DP account into the person's pool
    shares, so the DP figure is shown net of it: money is counted once, where it now is."""
    dp = dp_account(holder)
    into_pool = 0
    if _touches(journal, lambda a: a.startswith("pool:") and a.endswith(f":{holder}")):
        into_pool = -_gbp(journal, lambda a: a == dp)
    return {
        "dp_minor": _from_sources(journal, holder, lambda a: a == dp) - into_pool,
        "isf_minor": _from_sources(journal, holder, lambda a: a.startswith(f"isf:{holder}:")),
        "pool_minor": into_pool,
        "commissioned_minor": _commissioned(journal, holder),
        "contribution_paid_minor": -_gbp(journal, lambda a: a == f"holder:{holder}:own"),
    }


def _attribute(paid_minor: int, funders: list[dict]) -> list[dict]:
    """Payments attributed to funders in proportion to what each funds (largest
    remainder: exact total, ties to the first listed)."""
    parts = largest_remainder(paid_minor, [f["amount_minor"] for f in funders])
    return [{"funder": f["funder"], "budget_minor": f["amount_minor"], "paid_minor": part,
             "remaining_minor": f["amount_minor"] - part}
            for f, part in zip(funders, parts, strict=True)]


def budget_report(budgets: list[dict], journals: list[Journal], holder: str) -> list[dict]:
    """For each budget, what was paid towards it by journals dated from..to inclusive.

    One dict per budget, in the order given; every figure integer pence:
        holder, from, to          as recorded
        amount_minor              the personal budget
        contribution_minor        the person's assessed share of it
        contribution_paid_minor   what the person paid in from their own money
        deployments               {"dp_minor", "isf_minor", "pool_minor",
                                   "commissioned_minor"}: net paid into each, adding up
                                   to paid_minor (see deployment_flows)
        paid_minor                everything paid towards the budget, net of recoveries
        remaining_minor           amount_minor - paid_minor (negative: paid beyond it)
        funders                   [{"funder", "budget_minor", "paid_minor",
                                   "remaining_minor"}] in the order recorded; paid_minor
                                  is the total attributed in proportion to each funder's
                                  part, and the parts add up to the total exactly
    The council pays gross: the person's contribution counts as paid towards the budget
    and is attributed like any other payment (funders fund the whole amount).
    Bursaries are a separate fund and are not counted.
    """
    return [_report_one(b, journals, holder) for b in budgets]


def _report_one(budget_: dict, journals: list[Journal], holder: str) -> dict:
    start = dt.date.fromisoformat(budget_["from"])
    end = dt.date.fromisoformat(budget_["to"])
    totals = dict.fromkeys(("dp_minor", "isf_minor", "pool_minor", "commissioned_minor",
                            "contribution_paid_minor"), 0)
    for journal in journals:
        if start <= journal.date <= end:
            for name, pence in deployment_flows(journal, holder).items():
                totals[name] += pence
    contribution_paid = totals.pop("contribution_paid_minor")
    paid = sum(totals.values())
    return {
        "holder": holder,
        "from": budget_["from"],
        "to": budget_["to"],
        "amount_minor": budget_["amount_minor"],
        "contribution_minor": budget_["contribution_minor"],
        "contribution_paid_minor": contribution_paid,
        "deployments": totals,
        "paid_minor": paid,
        "remaining_minor": budget_["amount_minor"] - paid,
        "funders": _attribute(paid, budget_["funders"]),
    }
