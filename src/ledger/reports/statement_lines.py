"""Itemised lines for a holder's statement: each posting to one of the person's accounts
in the period, with who the money or hours came from or went to, in plain words."""

from __future__ import annotations

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.reports.document import long_date

# What a journal type means, said to the person whose account it touches.
DESCRIPTIONS = {
    "dp_payment": "Direct payment from {other}",
    "contribution": "Your contribution paid in",
    "dp_spend": "Paid to {other}",
    "surplus_recovery": "Surplus returned to {other} after a review",
    "isf_advance": "Monthly payment from {other}",
    "isf_fee": "Management fee to {other}",
    "isf_delivery": "Support delivered by {other}",
    "isf_purchase": "Bought from {other}",
    "isf_hours_expiry": "Unused hours given back to {other}",
    "isf_underspend_return": "Money for unused hours returned to {other}",
    "closure_return": "Fund closed: returned to {other}",
    "pool_contribution": "Put into the pool",
    "pool_spend": "Your part of a shared cost: {other}",
    "pool_refund": "Your pool share paid back",
    "pool_distribution": "Your part of the pool's common money",
    "bursary_award": "Bursary awarded",
    "bursary_spend": "Bursary spent: {other}",
    "fund_close_return": "Unspent award returned to the fund",
}


# Where the words differ for hours.
HOURS_DESCRIPTIONS = {
    "isf_advance": "Hours for the month from {other}",
    "isf_hours_expiry": "Unused hours given back to {other}",
}


def other_party(path: str, names: dict[str, str]) -> str:
    parts = path.split(":")
    match parts:
        case ["council", council, _]:
            return names.get(f"council:{council}", council)
        case ["provider", provider, _]:
            return names.get(f"provider:{provider}", provider)
        case ["external", *rest]:
            return ":".join(rest)
        case ["holder", _, "dp"]:
            return "your direct payment account"
        case ["pool", pool, _]:
            return f"pool {pool}"
        case ["fund", fund, *_]:
            return f"fund {fund}"
    return path


def describe(journal: Journal, account: str, unit: Unit, names: dict[str, str]) -> str:
    others = [p.account for p in journal.postings if p.account != account and p.unit is unit]
    other = other_party(others[0], names) if others else ""
    if journal.type == "reversal":
        reason = journal.memo.get("reason")
        return "Correction of an earlier entry" + (f" ({reason})" if reason else "")
    template = (HOURS_DESCRIPTIONS.get(journal.type) if unit is Unit.HRS else None) or \
        DESCRIPTIONS.get(journal.type, journal.type.replace("_", " ").capitalize())
    if journal.type == "pool_spend":
        # The other postings are the other members' parts: say who was paid and, when
        # the purchase says it, what for (docs/statements.md#holder-reader).
        payee = next((p.account for p in journal.postings
                      if p.account.startswith("external:")), None)
        other = other_party(payee, names) if payee else other
    text = template.format(other=other)
    if journal.type == "pool_spend" and journal.memo.get("description"):
        text += f", for {journal.memo['description']}"
    notes = journal.memo.get("notes") if journal.type == "isf_delivery" else None
    if notes:
        text += f" ({notes})"  # from the provider's timesheet
    due = journal.memo.get("due") if journal.type == "dp_payment" else None
    if due:
        # Due in a closed period, paid on the first day after it
        # (docs/rules-trust.md#closed-periods).
        text += f", paid late: it was due on {long_date(due)}"
    return text


def statement_lines(journals: list[Journal], owned: set[str], date_from, date_to,
                    names: dict[str, str]) -> list[dict]:
    """One line per posting to an account in `owned`, dated in the period, in the order
    they were posted within each date."""
    lines = []
    for journal in sorted(journals, key=lambda j: j.date):
        if not (date_from <= journal.date <= date_to):
            continue
        for posting in journal.postings:
            if posting.account not in owned:
                continue
            line = {
                "date": journal.date.isoformat(),
                "journal": journal.key,
                "account": posting.account,
                "unit": posting.unit.value,
                "type": journal.type,
                "description": describe(journal, posting.account, posting.unit, names),
                "amount_minor": posting.amount_minor,
            }
            if journal.type == "dp_payment" and journal.memo.get("due"):
                line["due"] = journal.memo["due"]  # paid late, after a closed period
            lines.append(line)
    return lines
