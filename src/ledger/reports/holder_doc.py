"""A budget holder's statement, written for the person (docs/statements.md#holder-reader).

Built from the statement's JSON only (`holder_statement`), so every figure said in words
is a figure a program can read. No accounting signs: money owed, held or short is said in
words. Each section has its easy-read lines too: at most 15 words, one idea a line, key
numbers first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from ledger.core.amounts import Unit
from ledger.core.calendar import first_day, is_whole_month, month_of, month_title
from ledger.reports.document import (
    Document,
    Section,
    Table,
    hours,
    long_date,
    money,
    month_name,
)
from ledger.reports.isf_kinds import OTHER


def _period(statement: dict) -> tuple[str, bool]:
    """('May 2026', True) for a whole calendar month, else ('1 May to 9 June 2026', False)."""
    start = dt.date.fromisoformat(statement["from"])
    end = dt.date.fromisoformat(statement["to"])
    if is_whole_month(start, end):
        return month_title(month_of(start)), True
    return f"{long_date(start)} to {long_date(end)}", False


def holder_document(statement: dict) -> Document:
    name = statement.get("name") or statement["holder"]
    period, whole_month = _period(statement)
    doc = Document(kind="holder", title=f"Statement for {name}", subtitle=period)
    this = "this month" if whole_month else "in this period"
    providers = statement.get("provider_names", {})
    for isf in statement.get("isf_months", []):
        _isf_section(doc, statement, isf, providers.get(isf["provider"], isf["provider"]),
                     this)
    accounts = {(a["account"], a["unit"]): a for a in statement["accounts"]}
    for (account, _unit), row in accounts.items():
        parts = account.split(":")
        if parts[0] == "holder" and parts[2] == "dp":
            _dp_section(doc, statement, row)
        elif parts[0] == "holder" and parts[2] == "own":
            _own_section(doc, row)
        elif parts[0] == "pool":
            _pool_section(doc, statement, row, parts[1])
        elif parts[0] == "fund":
            _award_section(doc, statement, row, parts[1])
    _commissioned_section(doc, statement, providers)
    for budget in statement.get("budgets", []):
        _budget_section(doc, statement, budget)
    if not doc.sections:
        doc.summary.append("Nothing was paid in or out for you up to the end of this period.")
        doc.easy_summary.append("Nothing was paid in or out for you.")
    doc.notes = [
        "Money is shown in pounds and pence, hours in hours and minutes.",
        "If something here looks wrong, ask the organisation that sent it to you. "
        "You can ask for this statement in easy read or large print.",
    ]
    return doc


# ---------------------------------------------------------------- ISF


def _isf_section(doc: Document, statement: dict, isf: dict, provider: str, this: str) -> None:
    h, m = isf["hours_minutes"], isf["money_minor"]
    section = Section(heading=f"Your support from {provider}", id=f"isf-{isf['provider']}")
    said, easy = section.sentences, section.easy
    agreed = isf["hours_per_month_minutes"]
    rate = isf["rate_pence_per_hour"]
    if agreed is not None and rate is not None:
        said.append(f"{provider} holds an Individual Service Fund for you. You agreed "
                    f"{hours(agreed)} of support a month, at {money(rate)} an hour.")
        easy += [f"{provider} holds money for your support.",
                 f"You get {hours(agreed)} of support a month.",
                 f"Each hour costs {money(rate)}."]
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
        easy.append(f"{hours(h['expired'])} ran out. You cannot use them now.")
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
    easy.extend(_isf_money_easy(m, own))
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


def _held_or_short(closing: int) -> str:
    if closing >= 0:
        return f"The fund holds {money(closing)}."
    return f"The fund is {money(closing)} short."


def _expiry_sentence(isf: dict) -> str:
    by_reason: dict[str, int] = defaultdict(int)
    for lot in isf["expired_lots"]:
        by_reason[lot["reason"]] += lot["minutes"]
    reasons = []
    if by_reason.get("age"):
        months = isf.get("expire_after_months")
        limit = (f"more than {months} month{'s' if months != 1 else ''} old"
                 if months else "too old to carry over")
        reasons.append(f"{hours(by_reason['age'])} because they were {limit}")
    if by_reason.get("cap"):
        cap = isf.get("max_carry_minutes")
        limit = f"at most {hours(cap)}" if cap is not None else "only so many hours"
        reasons.append(f"{hours(by_reason['cap'])} because you can carry over {limit}")
    total = hours(isf["hours_minutes"]["expired"])
    if not reasons:
        return f"{total} expired and went back to the council."
    return f"{total} expired and went back to the council: " + " and ".join(reasons) + "."


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


def _isf_money_easy(m: dict, own: int) -> list[str]:
    easy = []
    if m["in"]:
        easy.append(f"{money(m['in'])} was paid in.")
    easy.append(f"Your support cost {money(m['delivered'])}.")
    if m["fees"]:
        easy.append(f"The fee was {money(m['fees'])}.")
    if own >= 0:
        easy.append(f"There is {money(own)} left.")
    else:
        easy.append(f"The fund is {money(own)} short.")
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


# ---------------------------------------------------------------- other accounts


def _lines_table(statement: dict, account: str, caption: str) -> Table:
    body = []
    for line in statement["lines"]:
        if line["account"] == account and line["unit"] == Unit.GBP.value:
            amount = line["amount_minor"]
            body.append([long_date(line["date"]), line["description"],
                         money(amount) if amount > 0 else "",
                         money(amount) if amount < 0 else ""])
    return Table(caption=caption, columns=["Date", "What happened", "Money in", "Money out"],
                 rows=body, numeric=[False, False, True, True])


def _dp_section(doc: Document, statement: dict, row: dict) -> None:
    section = Section(heading="Your direct payment account", id="dp")
    said, easy = section.sentences, section.easy
    said += [f"You had {money(row['opening_minor'])} at the start.",
             f"{money(row['in_minor'])} was paid in.",
             f"{money(row['out_minor'])} was paid out.",
             f"You have {money(row['closing_minor'])} at the end."]
    easy += [f"You have {money(row['closing_minor'])} now.",
             f"{money(row['in_minor'])} was paid in.",
             f"{money(row['out_minor'])} was paid out."]
    for review in statement.get("dp_reviews", []):
        said.append(_review_sentence(review))
        if review["recovered_minor"]:
            easy += [f"The council checked your account on {long_date(review['date'])}.",
                     "You had more than you needed to keep.",
                     f"{money(review['recovered_minor'])} went back to the council."]
        else:
            easy.append(f"The council checked your account on {long_date(review['date'])}. "
                        "Nothing was taken back.")
    section.tables.append(_lines_table(statement, row["account"],
                                       "Money in and out of your direct payment account"))
    doc.sections.append(section)
    doc.summary.append(f"Your direct payment account has {money(row['closing_minor'])}.")
    doc.easy_summary.append(f"Your direct payment account has {money(row['closing_minor'])}.")


def _review_sentence(review: dict) -> str:
    head = (f"On {long_date(review['date'])} the council reviewed your account. It held "
            f"{money(review['balance_minor'])}. You may keep {review['max_weeks']} weeks of "
            f"support ({money(review['allowed_minor'])}, at "
            f"{money(review['weekly_amount_minor'])} a week)")
    if review["contingency_minor"]:
        head += f" and a contingency of {money(review['contingency_minor'])}"
    if review["recovered_minor"]:
        return head + f". So {money(review['recovered_minor'])} went back to the council."
    return head + ". That is not more than you may keep, so nothing was taken back."


def _own_section(doc: Document, row: dict) -> None:
    section = Section(heading="Your own money (your contribution)", id="own")
    paid_now, back = row["out_minor"], row["in_minor"]
    section.sentences.append(f"You paid {money(paid_now)} of your own money in this period.")
    section.easy.append(f"You paid {money(paid_now)} of your own money.")
    if back:
        section.sentences.append(f"{money(back)} was paid back to you.")
        section.easy.append(f"{money(back)} was paid back to you.")
    if row["closing_minor"] < 0:
        section.sentences.append(f"In all, you have paid in {money(row['closing_minor'])}.")
    doc.sections.append(section)


def _pool_section(doc: Document, statement: dict, row: dict, pool: str) -> None:
    label = statement.get("pool_labels", {}).get(pool)
    section = Section(heading=f"Your share of the pool {pool}", id=f"pool-{pool}")
    if label:
        section.sentences.append(f"In the group's shared statement you appear as {label}.")
        section.easy.append(f"In the group's statement you are called {label}.")
    section.sentences += [f"Your share held {money(row['opening_minor'])} at the start.",
                          f"{money(row['in_minor'])} went in and {money(row['out_minor'])} "
                          "was spent or paid back.",
                          f"Your share holds {money(row['closing_minor'])} at the end."]
    section.easy.append(f"Your share of the pool is {money(row['closing_minor'])}.")
    section.tables.append(_lines_table(statement, row["account"],
                                       f"Your share of the pool {pool}, day by day"))
    doc.sections.append(section)


def _award_section(doc: Document, statement: dict, row: dict, fund: str) -> None:
    section = Section(heading=f"Your award from the fund {fund}", id=f"award-{fund}")
    section.sentences += [f"{money(row['in_minor'])} was awarded to you in this period.",
                          f"{money(row['out_minor'])} was spent.",
                          f"{money(row['closing_minor'])} is left to spend."]
    section.easy.append(f"You have {money(row['closing_minor'])} left from your award.")
    section.tables.append(_lines_table(statement, row["account"], f"Your award from {fund}"))
    doc.sections.append(section)


def _commissioned_section(doc: Document, statement: dict, providers: dict) -> None:
    rows = statement.get("commissioned") or []
    if not rows:
        return
    section = Section(heading="Support the council paid for directly", id="commissioned")
    section.sentences.append("The council paid these providers for your support. The "
                             "money did not go through your accounts.")
    body = []
    for row in rows:
        name = providers.get(row["provider"], row["provider"])
        body.append([long_date(row["date"]), name,
                     hours(row["minutes"]) if row["minutes"] else "",
                     money(row["amount_minor"])])
    section.tables.append(Table(caption="Support the council paid for directly",
                                columns=["Date", "Provider", "Hours", "Money"], rows=body,
                                numeric=[False, False, True, True]))
    total = sum(row["amount_minor"] for row in rows)
    section.easy.append(f"The council also paid {money(total)} for your support.")
    doc.sections.append(section)


def _budget_section(doc: Document, statement: dict, budget: dict) -> None:
    end = long_date(statement["to"])
    section = Section(heading=f"Your personal budget, {long_date(budget['from'])} to "
                              f"{long_date(budget['to'])}", id=f"budget-{budget['from']}")
    said = section.sentences
    said.append(f"Your personal budget is {money(budget['amount_minor'])}.")
    said.append(f"By {end}, {money(budget['paid_minor'])} has been paid towards it.")
    if budget["remaining_minor"] >= 0:
        said.append(f"{money(budget['remaining_minor'])} is still to come.")
    else:
        said.append(f"That is {money(budget['remaining_minor'])} more than the budget.")
    if budget["contribution_minor"]:
        said.append(f"Your own contribution is {money(budget['contribution_minor'])}. You "
                    f"have paid {money(budget['contribution_paid_minor'])} of it.")
    section.easy += [f"Your budget is {money(budget['amount_minor'])}.",
                     f"{money(budget['paid_minor'])} has been paid so far."]
    body = [[f.get("name", f["funder"]), money(f["budget_minor"]), money(f["paid_minor"]),
             money(f["remaining_minor"])] for f in budget["funders"]]
    if body:
        said.append("Who pays for it: " + "; ".join(
            f"{f.get('name', f['funder'])} pays {money(f['budget_minor'])}"
            for f in budget["funders"]) + ".")
        section.tables.append(Table(caption="Who pays for your personal budget",
                                    columns=["Paid by", "Their part", "Paid so far",
                                             "Still to come"], rows=body))
    doc.sections.append(section)
    doc.summary.append(f"Your personal budget is {money(budget['amount_minor'])}; "
                       f"{money(budget['paid_minor'])} has been paid towards it by {end}.")
