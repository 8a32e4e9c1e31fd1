"""The Individual Service Fund part of a budget holder's statement
(docs/statements.md#holder-reader): the hours and money side by side, in words without
signs, with the inside fee, the reasons hours expired and the pennies explained."""

from __future__ import annotations

from collections import defaultdict

from ledger.core.amounts import Unit, pence_for_minutes
from ledger.core.calendar import first_day
from ledger.reports.document import (
    Document,
    Section,
    Table,
    end_phrase,
    hours,
    long_date,
    money,
    month_name,
)
from ledger.reports.isf_kinds import OTHER


def isf_section(doc: Document, statement: dict, isf: dict, provider: str, this: str) -> None:
    h, m = isf["hours_minutes"], isf["money_minor"]
    section = Section(heading=f"Your support from {provider}", id=f"isf-{isf['provider']}")
    said, easy = section.sentences, section.easy
    agreed = isf["hours_per_month_minutes"]
    rate = isf["rate_pence_per_hour"]
    inside = [a for a in isf.get("advances", []) if inside_fee_grant(a, rate)]
    if agreed is not None and rate is not None and not inside:
        said.append(f"{provider} holds an Individual Service Fund for you. You agreed "
                    f"{hours(agreed)} of support a month, at {money(rate)} an hour.")
        easy += [f"{provider} holds money for your support.", "This money is called an ISF.",
                 f"You get {hours(agreed)} of support a month.",
                 f"Each hour costs {money(rate)}."]
    elif inside:
        said.append(f"{provider} holds an Individual Service Fund for you.")
        easy += [f"{provider} holds money for your support.", "This money is called an ISF."]
        for advance in inside:
            said.extend(_inside_fee_sentences(advance, provider, agreed, rate))
            easy.extend(_inside_fee_easy(advance))
    had = h["opening"] + h["in"]
    if h["opening"] > 0:
        said.append(f"{hours(h['opening'])} carried over from before. With "
                    f"{hours(h['in'])} for {this.removeprefix('in ')}, you had {hours(had)}.")
    elif h["opening"] < 0:
        said.append(f"You had borrowed {hours(h['opening'])} before, so {hours(h['in'])} "
                    f"for {this.removeprefix('in ')} left you {hours(max(had, 0))}.")
    else:
        said.append(f"You had {hours(had)} {this}.")
    said.append(f"You used {hours(h['delivered'])}.")
    easy += [f"You had {hours(max(had, 0))} {this}.", f"You used {hours(h['delivered'])}."]
    if h["expired"]:
        said.append(_expiry_sentence(isf))
        easy.extend(_expiry_easy(isf) or [f"{hours(h['expired'])} ran out."])
    if isf["carry_over_minutes"]:
        nxt = month_name(isf["next_month"])
        worth = (f", worth {money(isf['carry_over_worth_minor'])}"
                 if isf["carry_over_worth_minor"] else "")
        said.append(f"{hours(isf['carry_over_minutes'])} carry over to {nxt}{worth}.")
        easy.append(f"{hours(isf['carry_over_minutes'])} carry over to {nxt}.")
    if isf["borrowed_minutes"]:
        said.append(f"You used {hours(isf['borrowed_minutes'])} more than you had. They "
                    f"come out of {month_name(isf['next_month'])}'s hours.")
        easy += [f"You used {hours(isf['borrowed_minutes'])} more than you had.",
                 "They come out of next month's hours."]
    earlier = next((e for e in statement.get("isf_earlier_agreements", [])
                    if e["account"] == isf["account"]), None)
    # With an earlier agreement still open, the fund's own money is the current
    # agreement's (docs/rules-trust.md#isf-agreements); the earlier one is said apart.
    own = earlier["own_closing_minor"] if earlier else m["closing"]
    said.extend(_isf_money_sentences(m, own, earlier))
    said.extend(_rounding_sentence(isf, own, bool(inside)))
    easy.extend(_isf_money_easy(m, own, end_phrase(statement['from'], statement['to'])))
    for change in statement.get("isf_changes", []):
        if change["account"] == isf["account"]:
            said.append(_change_sentence(change))
            easy.append(f"Your support changes from {month_name(change['from_month'])}.")
    if isf["closed"]:
        said.append(f"This fund closed on {long_date(isf['closed'])}.")
    section.tables.append(_side_by_side(statement, isf["account"], provider))
    doc.sections.append(section)
    doc.summary.append(f"Support from {provider}: you had {hours(max(had, 0))} and used "
                       f"{hours(h['delivered'])}. {_held_or_short(own)}")
    doc.easy_summary.append(f"You used {hours(h['delivered'])} of support from {provider}.")


def inside_fee_grant(advance: dict, rate: int | None) -> bool:
    """An advance whose hours are what its budget less an inside fee buys at the rate
    (docs/statements.md#inside-fee). A month advanced under the earlier rules, which
    granted the agreed hours whatever the fee, is not one."""
    if advance["fee_basis"] != "inside" or not advance["fee_minor"] or not rate:
        return False
    left = advance["budget_minor"] - advance["fee_minor"]
    return advance["minutes"] == left * 60 // rate


def _inside_fee_sentences(advance: dict, provider: str, agreed: int | None,
                          rate: int) -> list[str]:
    left = advance["budget_minor"] - advance["fee_minor"]
    budget = f"Your budget for {month_name(advance['month'])} was {money(advance['budget_minor'])}"
    if agreed is not None and advance["budget_minor"] == pence_for_minutes(agreed, rate):
        budget += f" ({hours(agreed)} at {money(rate)} an hour)"
    percent = f" of {advance['fee_value']}%" if advance["fee_kind"] == "percent" else ""
    return [budget + ".",
            f"{provider}'s fee{percent}, {money(advance['fee_minor'])}, comes out of it.",
            f"The {money(left)} left buys {hours(advance['minutes'])} of support at "
            f"{money(rate)} an hour."]


def _inside_fee_easy(advance: dict) -> list[str]:
    left = advance["budget_minor"] - advance["fee_minor"]
    return [f"Your budget was {money(advance['budget_minor'])}.",
            f"The fee was {money(advance['fee_minor'])}.",
            f"{money(left)} is left for your support.",
            f"That buys {hours(advance['minutes'])}."]


def _held_or_short(closing: int) -> str:
    if closing >= 0:
        return f"The fund holds {money(closing)}."
    return f"The fund is {money(closing)} short."


NOTHING_CARRIES = "this ISF carries nothing over to the next month"


def _expiry_reasons(isf: dict) -> dict[str, int]:
    """Minutes expired by what the statement says was the reason. The reconciliation's
    memo says `age` (older than the ISF keeps hours) or `cap` (more than it may carry);
    an ISF that keeps hours for no months, or may carry no hours, carries nothing over,
    so its hours are never said to be too old."""
    months, cap = isf.get("expire_after_months"), isf.get("max_carry_minutes")
    by_reason: dict[str, int] = defaultdict(int)
    for lot in isf["expired_lots"]:
        if lot["reason"] == "age" and months:
            why = f"they were more than {months} month{'s' if months != 1 else ''} old"
        elif lot["reason"] == "cap" and cap:
            why = f"they were more than the {hours(cap)} this ISF may carry over"
        else:
            why = NOTHING_CARRIES
        by_reason[why] += lot["minutes"]
    return by_reason


def _expiry_sentence(isf: dict) -> str:
    reasons = [f"{hours(minutes)} because {why}" for why, minutes in _expiry_reasons(isf).items()]
    total = hours(isf["hours_minutes"]["expired"])
    if not reasons:
        return f"{total} expired and went back to the council."
    return f"{total} expired and went back to the council: " + " and ".join(reasons) + "."


def _expiry_easy(isf: dict) -> list[str]:
    easy = []
    cap = isf.get("max_carry_minutes")
    for why, minutes in _expiry_reasons(isf).items():
        easy.append(f"{hours(minutes)} ran out.")
        if why == NOTHING_CARRIES:
            easy.append("This fund does not keep hours for next month.")
        elif why.endswith("old"):
            easy.append("They were too old to use.")
        else:
            easy.append(f"You can keep at most {hours(cap or 0)} for next month.")
    return easy


def _isf_money_sentences(m: dict, own: int, earlier: dict | None) -> list[str]:
    said = []
    if m["opening"] > 0:
        said.append(f"The fund held {money(m['opening'])} at the start.")
    elif m["opening"] < 0:
        said.append(f"The fund was {money(m['opening'])} short at the start.")
    if m["in"]:
        said.append(f"{money(m['in'])} was paid into the fund.")
    said.append(f"Your support cost {money(m['delivered'])}.")
    if m["fees"]:
        said.append(f"The provider's fee for managing the fund was {money(m['fees'])}.")
    if m["purchases"]:
        said.append(f"{money(m['purchases'])} paid for other things you chose.")
    if m["returned"]:
        said.append(f"{money(m['returned'])} went back to the council.")
    if m["other"]:
        said.append(f"{OTHER.label[:1].upper()}{OTHER.label[1:]} "
                    f"{'added' if m['other'] > 0 else 'took away'} {money(m['other'])}.")
    if own >= 0:
        said.append(f"The fund holds {money(own)} at the end.")
    else:
        said.append(f"The fund is {money(own)} short at the end: your support cost "
                    "more than the money paid in so far.")
    if earlier and earlier["outstanding_overspend_minor"] > 0:
        # docs/rules-trust.md#isf-agreements: kept apart, never settled quietly.
        said.append(f"An earlier agreement (before {long_date(earlier['agreement_from'])}) "
                    f"is still {money(earlier['outstanding_overspend_minor'])} short. It is "
                    "kept apart: the current agreement's money does not pay it.")
    return said


def _rounding_sentence(isf: dict, own: int, inside_fee: bool) -> list[str]:
    """Where what the hours left are worth (valued once at the rate) and what the fund
    holds (each visit valued and rounded on its own) differ by pennies, say why
    (docs/statements.md#rounding)."""
    worth = isf["carry_over_worth_minor"]
    diff = abs(worth - own)
    if not isf["carry_over_minutes"] or own < 0 or not 0 < diff < 100:
        return []
    why = "each visit is valued and rounded to the penny on its own"
    if inside_fee:
        why += ", and the money left after the fee buys whole minutes only"
    return [f"The {diff}p difference between what the hours left are worth and what the "
            f"fund holds is rounding: {why}."]


def _isf_money_easy(m: dict, own: int, at_end: str) -> list[str]:
    """The money as a sum a reader can check: the start, each thing in or out, the end
    (docs/statements.md#easy-read-sums)."""
    easy = []
    if m["opening"] > 0:
        easy.append(f"You had {money(m['opening'])} at the start.")
    elif m["opening"] < 0:
        easy.append(f"The fund was {money(m['opening'])} short at the start.")
    if m["in"]:
        easy.append(f"{money(m['in'])} was paid in.")
    easy.append(f"Your support cost {money(m['delivered'])}.")
    if m["fees"]:
        easy.append(f"The fee was {money(m['fees'])}.")
    if m["purchases"]:
        easy.append(f"Other things you chose cost {money(m['purchases'])}.")
    if m["returned"]:
        easy.append(f"{money(m['returned'])} went back to the council.")
    if m["other"]:
        easy.append(f"Corrections {'added' if m['other'] > 0 else 'took away'} "
                    f"{money(m['other'])}.")
    if own != m["closing"]:
        # docs/rules-trust.md#isf-agreements: an earlier agreement's overspend is apart.
        easy.append(f"{money(own - m['closing'])} short from an earlier agreement is kept "
                    "apart.")
    if own >= 0:
        easy.append(f"There is {money(own)} left {at_end}.")
    else:
        easy.append(f"The fund is {money(own)} short {at_end}.")
    return easy


def _change_sentence(change: dict) -> str:
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
    when = long_date(first_day(change["from_month"]))
    return f"From {when} your support changes: {', '.join(parts)}."


def _side_by_side(statement: dict, account: str, provider: str) -> Table:
    """Hours and money of each entry on one row: one journal, one row."""
    rows: dict[str, list] = {}
    for line in statement["lines"]:
        if line["account"] != account:
            continue
        row = rows.setdefault(line.get("journal") or f"{line['date']}{len(rows)}",
                              [line["date"], line["description"], 0, 0, 0, 0])
        col = 2 if line["unit"] == Unit.HRS.value else 4
        if line["amount_minor"] > 0:
            row[col] += line["amount_minor"]
        else:
            row[col + 1] -= line["amount_minor"]
    body = []
    for date, what, h_in, h_out, m_in, m_out in rows.values():
        body.append([long_date(date), what,
                     hours(h_in) if h_in else "", hours(h_out) if h_out else "",
                     money(m_in) if m_in else "", money(m_out) if m_out else ""])
    return Table(caption=f"Hours and money, day by day, in the fund {provider} holds",
                 columns=["Date", "What happened", "Hours in", "Hours used", "Money in",
                          "Money out"],
                 rows=body, numeric=[False, False, True, True, True, True])
