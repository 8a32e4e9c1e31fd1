"""A budget holder's statement, written for the person (docs/statements.md#holder-reader).

Built from the statement's JSON only (`holder_statement`), so every figure said in words
is a figure a program can read. No accounting signs: money owed, held or short is said in
words. Each section has its easy-read lines too: at most 15 words, one idea a line, key
numbers first.
"""

from __future__ import annotations

import datetime as dt

from ledger.core.amounts import Unit
from ledger.core.calendar import is_whole_month, month_of, month_title
from ledger.reports.document import (
    Document,
    Section,
    Table,
    end_phrase,
    hours,
    long_date,
    money,
)
from ledger.reports.holder_isf_doc import isf_section


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
        isf_section(doc, statement, isf, providers.get(isf["provider"], isf["provider"]),
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
    if row["opening_minor"]:
        easy.append(f"You had {money(row['opening_minor'])} at the start.")
    easy += [f"{money(row['in_minor'])} was paid in.",
             f"{money(row['out_minor'])} was paid out.",
             f"You have {money(row['closing_minor'])} "
             f"{end_phrase(statement['from'], statement['to'])}."]
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
    section.easy.append(f"Your share of the pool is {money(row['closing_minor'])} "
                        f"{end_phrase(statement['from'], statement['to'])}.")
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
