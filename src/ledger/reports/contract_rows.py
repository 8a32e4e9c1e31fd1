"""What a council spent under each contract, per financial quarter, as typed rows
(docs/exports.md#contracts): built once, then written as the contracts export's CSV
(`council_exports.write_contracts`) and added up by the council's finance statement
(`council_statement`), so the two can never read the same money differently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from ledger.core.amounts import Unit, round_half_away
from ledger.core.calendar import financial_quarter, first_day, quarter_months

# Journal types paid under a contract, and the kind of contract each is.
CONTRACT_KIND = {"calloff": "framework", "block_payment": "block", "block_usage": "block",
                 "spot_purchase": "spot", "grant": "grant"}
# The journal type that pays each kind (whose finance codes a row takes).
PAYING_TYPE = {"framework": "calloff", "block": "block_payment", "spot": "spot_purchase",
               "grant": "grant"}


@dataclass(frozen=True, slots=True)
class ContractRow:
    """One contract in one financial quarter."""

    quarter: str  # `2026-27 Q1`
    kind: str  # framework, block, spot or grant
    contract: str  # its id (a call-off's framework; `{kind}:{provider}` when it has none)
    provider: str
    service: str  # "" when the journal names none
    rate_pence_per_hour: int | None
    spend_minor: int  # paid less recovered
    hours_minutes: int  # hours bought (for a block, hours used)
    contracted_minor: int | None  # a block's monthly payment x its months; else None
    capacity_minutes: int | None  # a block's monthly hours x its months; else None
    utilisation_percent: str | None  # hours used of capacity, 2 places; else None


def contract_rows(store, council: str, start: dt.date, end: dt.date) -> list[ContractRow]:
    """Per contract and financial quarter, what the council spent and the hours it
    bought in the period, against what was contracted, in quarter, kind, contract,
    provider, service and rate order. A reversal counts against the contract of the
    journal it reverses."""
    from ledger.store import models as m

    funding, hours_account = f"council:{council}:funding", f"council:{council}:hours"
    found = store.load_journals(
        m.Journal.date <= end, m.Journal.type.in_([*CONTRACT_KIND, "reversal"]))
    by_key = {j.key: j for j in found}
    groups: dict[tuple, dict] = {}
    for j in found:
        if j.date < start:
            continue
        origin = by_key.get(j.reverses_key) if j.type == "reversal" else j
        if origin is None or origin.type not in CONTRACT_KIND:
            continue
        spend = -sum(p.amount_minor for p in j.postings
                     if p.account == funding and p.unit is Unit.GBP)
        minutes = -sum(p.amount_minor for p in j.postings
                       if p.account == hours_account and p.unit is Unit.HRS)
        if not spend and not minutes:
            continue  # another council's
        provider = next((p.account.split(":")[1] for p in origin.postings
                         if p.account.startswith("provider:")), "")
        memo = origin.memo
        kind = CONTRACT_KIND[origin.type]
        contract = memo.get("contract") or memo.get("framework") or f"{kind}:{provider}"
        key = (financial_quarter(j.date), kind, contract, provider, memo.get("service", ""),
               memo.get("rate_pence_per_hour", ""))
        group = groups.setdefault(key, {"spend": 0, "minutes": 0})
        group["spend"] += spend
        group["minutes"] += minutes
    rows = []
    for (quarter, kind, contract, provider, service, rate), group in sorted(
            groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        contracted = capacity = utilisation = None
        if kind == "block":
            block = store.get_state("block", contract) or {}
            months = _months_open(quarter, block, start, end)
            contracted = block.get("amount_per_month_pence", 0) * months
            capacity = block.get("capacity_minutes_per_month", 0) * months
            if capacity:
                utilisation = two_places(Fraction(group["minutes"] * 100, capacity))
        rows.append(ContractRow(
            quarter=quarter, kind=kind, contract=contract, provider=provider,
            service=service, rate_pence_per_hour=None if rate == "" else rate,
            spend_minor=group["spend"], hours_minutes=group["minutes"],
            contracted_minor=contracted, capacity_minutes=capacity,
            utilisation_percent=utilisation))
    return rows


def _months_open(quarter: str, block: dict, start: dt.date, end: dt.date) -> int:
    """Months of the quarter within the period that the block was open on the 1st of."""
    count = 0
    for month in quarter_months(quarter):
        first = first_day(month)
        if not start.replace(day=1) <= first <= end:
            continue
        opened = block.get("opened", "9999")[:7]
        closed = block.get("closed")
        if opened <= month and (closed is None or closed >= first.isoformat()):
            count += 1
    return count


def two_places(value: Fraction) -> str:
    """A number to 2 decimal places, rounded once, halves away from zero."""
    hundredths = round_half_away(value * 100)
    sign = "-" if hundredths < 0 else ""
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


__all__ = ["CONTRACT_KIND", "PAYING_TYPE", "ContractRow", "contract_rows", "two_places"]
