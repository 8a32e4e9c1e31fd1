"""The figures a person's statement says in words (docs/statements.md#holder-reader).

Added to the holder statement's JSON beside its fixed fields, so the words on the page
and the figures a program reads are the same numbers:

- `isf_months`: per Individual Service Fund, the agreed hours a month and rate in force
  at the period's end, the period's hours and money side by side (opening, then the
  kinds of `isf_kinds`, the table every ISF view sorts by, then closing), why hours
  expired, and what carries over and its worth;
- `dp_reviews`: each direct-payment review dated in the period, with its working
  (balance, weeks allowed, contingency, surplus recovered);
- `pool_labels`: how the person appears in each pool's shared statement.
"""

from __future__ import annotations

import datetime as dt

from ledger.core.amounts import Unit, pence_for_minutes
from ledger.core.calendar import month_of, next_month
from ledger.core.journal import Journal
from ledger.reports.isf_kinds import HOURS_NAMES, MONEY_NAMES, counted, kind_of

HOURS_KEYS = ("opening", *HOURS_NAMES, "closing")
MONEY_KEYS = ("opening", *MONEY_NAMES, "closing")


def isf_months(store, statement: dict, journals: list[Journal], end: dt.date
               ) -> list[dict]:
    """One entry per ISF the person has an account with by the period's end."""
    rows = []
    by_account: dict[str, dict] = {}
    for row in statement["accounts"]:
        if row["account"].startswith("isf:"):
            by_account.setdefault(row["account"], {})[row["unit"]] = row
    for account, units in sorted(by_account.items()):
        _, holder, provider = account.split(":")
        state = store.get_state("isf", f"{holder}:{provider}") or {}
        month = month_of(end)
        terms = {}
        if state:
            # The rules package (and its validators) only for a person who has an ISF.
            from ledger.domain.isf_terms import terms_for

            terms = terms_for(state, month)
        hours = dict.fromkeys(HOURS_KEYS, 0)
        money = dict.fromkeys(MONEY_KEYS, 0)
        hours["opening"] = units.get(Unit.HRS.value, {}).get("opening_minor", 0)
        money["opening"] = units.get(Unit.GBP.value, {}).get("opening_minor", 0)
        for line in statement["lines"]:
            if line["account"] != account:
                continue
            amount = line["amount_minor"]
            in_hours = line["unit"] == Unit.HRS.value
            kind = kind_of(line["type"], in_hours, amount)
            (hours if in_hours else money)[kind.name] += counted(kind, amount)
        hours["closing"] = (hours["opening"] + hours["in"] - hours["delivered"]
                            - hours["expired"] + hours["other"])
        money["closing"] = (money["opening"] + money["in"] - money["delivered"]
                            - money["fees"] - money["purchases"] - money["returned"]
                            + money["other"])
        rate = terms.get("rate_pence_per_hour")
        carried = max(hours["closing"], 0)
        rows.append({
            "account": account,
            "provider": provider,
            "hours_per_month_minutes": terms.get("hours_per_month_minutes"),
            "rate_pence_per_hour": rate,
            "expire_after_months": terms.get("expire_after_months"),
            "max_carry_minutes": terms.get("max_minutes"),
            "closed": state.get("closed") if state.get("closed") and
            state["closed"] <= end.isoformat() else None,
            "hours_minutes": hours,
            "money_minor": money,
            "expired_lots": _expired_lots(journals, account, statement),
            "advances": advances(journals, account, statement),
            "carry_over_minutes": carried,
            "carry_over_worth_minor": pence_for_minutes(carried, rate) if rate else 0,
            "borrowed_minutes": max(-hours["closing"], 0),
            "next_month": next_month(month),
        })
    return rows


def advances(journals: list[Journal], account: str, statement: dict) -> list[dict]:
    """Each month advanced to the ISF in the period (and not reversed since): its budget,
    the provider's fee and how it is charged, and the minutes granted. With an inside
    fee the minutes are what the budget less the fee buys (docs/statements.md#inside-fee)."""
    undone = {j.reverses_key for j in journals if j.reverses_key}
    by_month: dict[str, dict] = {}
    for journal in journals:
        if (journal.type not in ("isf_advance", "isf_fee") or journal.key in undone
                or not statement["from"] <= journal.date.isoformat() <= statement["to"]
                or not any(p.account == account for p in journal.postings)):
            continue
        memo = journal.memo
        row = by_month.setdefault(memo["month"], {
            "month": memo["month"], "budget_minor": 0, "fee_minor": 0, "fee_basis": None,
            "fee_kind": None, "fee_value": None, "minutes": 0})
        if journal.type == "isf_advance":
            row["budget_minor"] = memo["budget_pence"]
            row["minutes"] = memo["minutes"]
        else:
            row.update(fee_minor=memo["fee_pence"], fee_basis=memo.get("basis"),
                       fee_kind=memo.get("kind"), fee_value=memo.get("value"))
    return [by_month[month] for month in sorted(by_month)]


def _expired_lots(journals: list[Journal], account: str, statement: dict) -> list[dict]:
    """Each lot of hours that expired in the period: its month, minutes and why (`age`:
    older than the ISF allows; `cap`: more than may be carried over)."""
    lots = []
    for journal in journals:
        if journal.type != "isf_hours_expiry" or not (
                statement["from"] <= journal.date.isoformat() <= statement["to"]):
            continue
        if not any(p.account == account for p in journal.postings):
            continue
        for lot in journal.memo.get("lots", []):
            lots.append({"date": journal.date.isoformat(), "month": lot["month"],
                         "minutes": lot["minutes"], "reason": lot.get("reason", "age")})
    return lots


def dp_reviews(store, holder: str, start: dt.date, end: dt.date) -> list[dict]:
    """Direct-payment reviews dated in the period, with their working: what the account
    held, the weeks of support and contingency the person may keep, and the surplus."""
    reviews = (store.get_state("dp_reviews", holder) or {}).get("reviews", [])
    rows = []
    for review in reviews:
        if not start.isoformat() <= review["date"] <= end.isoformat():
            continue
        rows.append({
            "date": review["date"],
            "council": review["council"],
            "balance_minor": review["balance_pence"],
            "weekly_amount_minor": review["weekly_amount_pence"],
            "max_weeks": str(review["max_weeks"]),
            "allowed_minor": review["allowed_pence"],
            "contingency_minor": review["contingency_pence"],
            "recovered_minor": max(review["surplus_pence"], 0),
        })
    return rows


def pool_labels(store, holder: str, statement: dict, end: dt.date) -> dict[str, str]:
    """How the person appears in the shared statement of each pool they have a share in
    (docs/pools.md): their name only with their consent, else a pseudonym or 'Member N'."""
    labels = {}
    parties = None
    for row in statement["accounts"]:
        parts = row["account"].split(":")
        if parts[0] != "pool" or parts[2] != holder or parts[1] in labels:
            continue
        state = store.get_state("pool", parts[1]) or {}
        if parties is None:
            from ledger.domain.pools import member_labels

            parties = store.parties("holder", as_of=end)
        labels[parts[1]] = member_labels(state, parties, [holder]).get(holder, holder)
    return labels
