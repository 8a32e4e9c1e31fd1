"""A budget holder's statement as plain English text: short sentences, one account at a
time, money as £1,234.50 and hours as "12.5 hours" (figures identical to the JSON)."""

from __future__ import annotations

import datetime as dt

from ledger.core.amounts import Unit, format_minutes
from ledger.reports.pool_statement import money


def long_date(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    return f"{day.day} {day:%B %Y}"


def hours(minutes: int) -> str:
    text = format_minutes(minutes)
    return f"{text} hour" if text in ("1", "-1") else f"{text} hours"


def account_title(path: str, providers: dict[str, str]) -> str:
    parts = path.split(":")
    match parts:
        case ["holder", _, "dp"]:
            return "Your direct payment account"
        case ["holder", _, "own"]:
            return "Your own money paid in (your contribution)"
        case ["isf", _, provider]:
            return f"Your Individual Service Fund, held by {providers.get(provider, provider)}"
        case ["pool", pool, _]:
            return f"Your share of the pool {pool}"
        case ["fund", fund, "award", _]:
            return f"Your award from the fund {fund}"
    return path


def _amount(minor: int, unit: str) -> str:
    return money(minor) if unit == Unit.GBP.value else hours(minor)


def _change_sentence(change: dict) -> str:
    """A change of an ISF's terms, said plainly (docs/rules-dp-isf.md#isf-vary)."""
    year, month = (int(x) for x in change["from_month"].split("-"))
    parts = []
    if "hours_per_month_minutes" in change:
        parts.append(f"{hours(change['hours_per_month_minutes'])} of support a month")
    if "rate_pence_per_hour" in change:
        parts.append(f"{money(change['rate_pence_per_hour'])} an hour")
    if "max_minutes" in change or "expire_after_months" in change:
        parts.append("new rules for carrying hours over")
    if "fee" in change:
        parts.append("a new provider fee")
    if "underspend" in change:
        parts.append("new rules for money left unspent")
    when = long_date(f"{year:04d}-{month:02d}-01")
    return f"From {when} your support changes: {', '.join(parts)}."


def render_holder_statement_text(statement: dict, providers: dict[str, str]) -> str:
    name = statement.get("name") or statement["holder"]
    lines = [
        f"Statement for {name}",
        f"From {long_date(statement['from'])} to {long_date(statement['to'])}",
        "",
    ]
    if not statement["accounts"] and not statement.get("commissioned"):
        lines.append("Nothing was paid in or out for you up to the end of this period.")
    for row in statement["accounts"]:
        unit = row["unit"]
        what = "Money" if unit == Unit.GBP.value else "Hours of support"
        lines += [
            account_title(row["account"], providers)
            + ("" if unit == Unit.GBP.value else " (hours)"),
            f"  {what} at the start:  {_amount(row['opening_minor'], unit)}",
            f"  {what} in:            {_amount(row['in_minor'], unit)}",
            f"  {what} out:           {_amount(row['out_minor'], unit)}",
            f"  {what} at the end:    {_amount(row['closing_minor'], unit)}",
        ]
        items = [x for x in statement.get("lines", [])
                 if x["account"] == row["account"] and x["unit"] == unit]
        if items:
            lines.append("  What happened:")
        for item in items:
            amount = _amount(abs(item["amount_minor"]), unit)
            sign = "in " if item["amount_minor"] > 0 else "out"
            lines.append(f"    {long_date(item['date']):>17}  {sign} {amount:>14}  "
                         f"{item['description']}")
        earlier = next((e for e in statement.get("isf_earlier_agreements", [])
                        if e["account"] == row["account"]), None)
        if row["account"].startswith("isf:") and unit == Unit.GBP.value:
            own = earlier["own_closing_minor"] if earlier else row["closing_minor"]
            if own < 0:
                lines.append(f"  This fund is overspent by {money(-own)}.")
            if earlier and earlier["outstanding_overspend_minor"] > 0:
                # docs/rules-trust.md#isf-agreements: kept apart, never settled quietly.
                lines.append(
                    f"  An earlier agreement (before {long_date(earlier['agreement_from'])}) "
                    f"is still overspent by {money(earlier['outstanding_overspend_minor'])}. "
                    "It is kept apart: the current agreement's money does not pay it.")
        if row["account"].startswith("isf:") and unit == Unit.HRS.value:
            for change in statement.get("isf_changes", []):
                if change["account"] == row["account"]:
                    lines.append("  " + _change_sentence(change))
        if row["account"].startswith("isf:") and unit == Unit.HRS.value \
                and row["closing_minor"] < 0:
            lines.append(f"  You have used {hours(-row['closing_minor'])} more than you had; "
                         "they come out of next month's hours.")
        lines.append("")
    commissioned = statement.get("commissioned", [])
    if commissioned:
        lines.append("Support the council paid a provider for directly")
        for row in commissioned:
            what = money(row["amount_minor"])
            if row["minutes"]:
                what += f" for {hours(row['minutes'])}"
            provider = providers.get(row["provider"], row["provider"])
            lines.append(f"  {long_date(row['date'])}: {what} to {provider}")
        lines.append("")
    for budget in statement.get("budgets", []):
        lines += [
            f"Your personal budget from {long_date(budget['from'])} "
            f"to {long_date(budget['to'])}",
            f"  Budget:              {money(budget['amount_minor'])}",
            f"  Your contribution:   {money(budget['contribution_minor'])}",
            f"  Paid towards it:     {money(budget['paid_minor'])}",
            f"  Still to come:       {money(budget['remaining_minor'])}",
        ]
        for funder in budget["funders"]:
            lines.append(f"  Paid by {funder['funder']}: {money(funder['paid_minor'])} "
                         f"of {money(funder['budget_minor'])}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
