"""A provider's statement of one Individual Service Fund it holds for a person
(docs/statements.md#isf): what the provider may read about that person, and nothing else.

Its own kind of statement, not the person's statement with parts hidden: its data is read
from the ISF's own account (`isf:H:P`) and the ISF's state only, so the person's direct
payments, payees, pools, budgets and other providers' ISFs are never read for it. The
figures are those of the person's statement's ISF part (`holder_figures.isf_months`), so
the two always agree; the words are written to the provider about the person.
"""

from __future__ import annotations

import datetime as dt

from ledger.core.amounts import Unit
from ledger.core.calendar import is_whole_month, month_of, month_title
from ledger.core.journal import Journal
from ledger.errors import UsageError
from ledger.reports.document import (
    Document,
    Section,
    end_phrase,
    hours,
    long_date,
    money,
    month_name,
)
from ledger.reports.holder_isf_doc import _expiry_reasons, _side_by_side
from ledger.reports.statement_lines import statement_lines


def isf_statement(store, holder: str, provider: str, start: dt.date, end: dt.date) -> dict:
    """The ISF of `holder` with `provider` over start..end (both included)."""
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    state = store.get_state("isf", f"{holder}:{provider}")
    party = store.party("holder", holder, as_of=end)
    if state is None or party is None:
        raise UsageError(f"isf '{holder}:{provider}' is not in this ledger")
    account = f"isf:{holder}:{provider}"
    journals = [j for j in store.journals_touching([account], end)
                if any(p.account == account for p in j.postings)]
    names = {f"{kind}:{pid}": p.get("name", pid)
             for kind in ("council", "provider")
             for pid, p in store.parties(kind, as_of=end).items()}
    accounts = _movements(journals, account, start, end)
    data: dict = {
        "kind": "isf",
        "holder": holder,
        "provider": provider,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "name": party.get("name"),
        "provider_name": names.get(f"provider:{provider}", provider),
        "council": state.get("council"),
        "opened": state.get("opened"),
        "closed": state.get("closed") if state.get("closed") and
        state["closed"] <= end.isoformat() else None,
        "accounts": accounts,
        "lines": statement_lines(journals, {account}, start, end, names),
    }
    from ledger.reports import holder_figures as figures
    from ledger.reports.statements import earlier_agreements, isf_changes

    data["isf_earlier_agreements"] = earlier_agreements(store, accounts, end)
    data["isf_changes"] = isf_changes(store, accounts, end)
    months = figures.isf_months(store, data, journals, end) if accounts else []
    data["isf"] = months[0] if months else None
    return data


def _movements(journals: list[Journal], account: str, start: dt.date,
               end: dt.date) -> list[dict]:
    """Opening, in, out and closing of the ISF's account per unit, as a person's
    statement gives them."""
    sums: dict[str, list[int]] = {}
    for journal in journals:
        if journal.date > end:
            continue
        for posting in journal.postings:
            if posting.account != account:
                continue
            row = sums.setdefault(posting.unit.value, [0, 0, 0])
            amount = posting.amount_minor
            if journal.date < start:
                row[0] += amount
            elif amount > 0:
                row[1] += amount
            else:
                row[2] -= amount
    return [{"account": account, "unit": Unit(unit).value, "opening_minor": o,
             "in_minor": i, "out_minor": out, "closing_minor": o + i - out}
            for unit, (o, i, out) in sorted(sums.items())]


# ---------------------------------------------------------------- the document


def isf_document(data: dict) -> Document:
    """The statement in words, to the provider about the person: the agreement, the
    hours, the money, and each entry with its hours and money side by side."""
    person = data.get("name") or data["holder"]
    provider = data.get("provider_name") or data["provider"]
    start, last = dt.date.fromisoformat(data["from"]), dt.date.fromisoformat(data["to"])
    whole = is_whole_month(start, last)
    period = month_title(month_of(start)) if whole else \
        f"{long_date(start)} to {long_date(last)}"
    this = "this month" if whole else "in this period"
    doc = Document(kind="isf", title=f"Individual Service Fund for {person}",
                   subtitle=f"Held by {provider}, {period}")
    isf = data.get("isf")
    if isf is None:
        doc.summary.append(f"Nothing moved in the fund {provider} holds for {person} up "
                           "to the end of this period.")
        doc.easy_summary.append(f"Nothing moved in {person}'s fund.")
    else:
        _agreement(doc, data, isf, person, provider)
        _hours(doc, isf, person, this)
        _money(doc, data, isf, person)
    doc.notes = [
        "Money is shown in pounds and pence, hours in hours and minutes.",
        f"This statement is about the Individual Service Fund {provider} holds for "
        f"{person} only. It says nothing of {person}'s other money or support.",
    ]
    return doc


def _agreement(doc: Document, data: dict, isf: dict, person: str, provider: str) -> None:
    section = Section(heading="The agreement", id="agreement")
    said, easy = section.sentences, section.easy
    said.append(f"{provider} holds an Individual Service Fund (ISF) for {person}, "
                f"opened on {long_date(data['opened'])}.")
    easy += [f"{provider} holds money for {person}'s support.",
             "This money is called an ISF."]
    agreed, rate = isf["hours_per_month_minutes"], isf["rate_pence_per_hour"]
    if agreed is not None and rate is not None:
        said.append(f"The agreement is {hours(agreed)} of support a month, at "
                    f"{money(rate)} an hour.")
        easy += [f"{person} gets {hours(agreed)} of support a month.",
                 f"Each hour costs {money(rate)}."]
    for advance in isf.get("advances", []):
        if advance["fee_minor"]:
            said.append(f"For {month_name(advance['month'])} the budget was "
                        f"{money(advance['budget_minor'])}, with a fee of "
                        f"{money(advance['fee_minor'])}, for {hours(advance['minutes'])} "
                        "of support.")
    for change in data.get("isf_changes", []):
        said.append(f"The terms change from {month_name(change['from_month'])} "
                    f"(agreed on {long_date(change['agreed_on'])}).")
    if data.get("closed"):
        said.append(f"The fund closed on {long_date(data['closed'])}.")
        easy.append(f"The fund closed on {long_date(data['closed'])}.")
    doc.sections.append(section)


def _hours(doc: Document, isf: dict, person: str, this: str) -> None:
    h = isf["hours_minutes"]
    had = h["opening"] + h["in"]
    section = Section(heading="Hours", id="hours")
    said, easy = section.sentences, section.easy
    if h["opening"] > 0:
        said.append(f"{hours(h['opening'])} carried over from before; with {hours(h['in'])} "
                    f"for {this.removeprefix('in ')}, {person} had {hours(had)}.")
    elif h["opening"] < 0:
        said.append(f"{person} had borrowed {hours(h['opening'])} before, so "
                    f"{hours(h['in'])} for {this.removeprefix('in ')} left "
                    f"{hours(max(had, 0))}.")
    else:
        said.append(f"{person} had {hours(had)} {this}.")
    said.append(f"{hours(h['delivered'])} of support was delivered.")
    easy += [f"{person} had {hours(max(had, 0))} {this}.",
             f"{hours(h['delivered'])} of support was used."]
    if h["expired"]:
        reasons = [f"{hours(minutes)} because {why}"
                   for why, minutes in _expiry_reasons(isf).items()]
        said.append(f"{hours(h['expired'])} expired and went back to the council"
                    + (": " + " and ".join(reasons) if reasons else "") + ".")
        easy.append(f"{hours(h['expired'])} ran out.")
    if isf["carry_over_minutes"]:
        nxt = month_name(isf["next_month"])
        said.append(f"{hours(isf['carry_over_minutes'])} carry over to {nxt}, worth "
                    f"{money(isf['carry_over_worth_minor'])} at the rate.")
        easy.append(f"{hours(isf['carry_over_minutes'])} carry over to {nxt}.")
    if isf["borrowed_minutes"]:
        said.append(f"{hours(isf['borrowed_minutes'])} more than {person} had were used; "
                    f"they come out of {month_name(isf['next_month'])}'s hours.")
        easy.append(f"{hours(isf['borrowed_minutes'])} were borrowed from next month.")
    doc.sections.append(section)
    doc.summary.append(f"{person} had {hours(max(had, 0))} and used "
                       f"{hours(h['delivered'])} of support.")
    doc.easy_summary.append(f"{person} used {hours(h['delivered'])} of support.")


def _money(doc: Document, data: dict, isf: dict, person: str) -> None:
    m = isf["money_minor"]
    earlier = next((e for e in data.get("isf_earlier_agreements", [])
                    if e["account"] == isf["account"]), None)
    own = earlier["own_closing_minor"] if earlier else m["closing"]
    section = Section(heading="Money", id="money")
    said, easy = section.sentences, section.easy
    if m["opening"]:
        said.append(f"The fund {'held' if m['opening'] > 0 else 'was short by'} "
                    f"{money(m['opening'])} at the start.")
        easy.append(f"The fund {'had' if m['opening'] > 0 else 'was short by'} "
                    f"{money(m['opening'])} at the start.")
    parts = [("in", "was paid in", "was paid in"),
             ("delivered", "paid for support delivered", "paid for support"),
             ("fees", "was the provider's fee", "was the fee"),
             ("purchases", "paid for other things bought", "paid for other things"),
             ("returned", "went back to the council", "went back to the council")]
    for key, words, short in parts:
        if m[key] or key == "delivered":
            said.append(f"{money(m[key])} {words}.")
            easy.append(f"{money(m[key])} {short}.")
    if m["other"]:
        said.append(f"Corrections {'added' if m['other'] > 0 else 'took away'} "
                    f"{money(m['other'])}.")
        easy.append(f"Corrections {'added' if m['other'] > 0 else 'took away'} "
                    f"{money(m['other'])}.")
    at_end = end_phrase(data["from"], data["to"])
    if earlier and earlier["outstanding_overspend_minor"] > 0:
        said.append(f"An earlier agreement (before {long_date(earlier['agreement_from'])}) "
                    f"is still {money(earlier['outstanding_overspend_minor'])} short; it is "
                    "kept apart.")
    if own >= 0:
        said.append(f"The fund holds {money(own)} at the end.")
        easy.append(f"There is {money(own)} left {at_end}.")
        doc.summary.append(f"The fund holds {money(own)} at the end.")
    else:
        said.append(f"The fund is {money(own)} short at the end.")
        easy.append(f"The fund is {money(own)} short {at_end}.")
        doc.summary.append(f"The fund is {money(own)} short at the end.")
    section.tables.append(_side_by_side(data, isf["account"],
                                        data.get("provider_name") or data["provider"]))
    doc.sections.append(section)


__all__ = ["isf_document", "isf_statement"]
