"""A provider's month-end statement: every ISF it holds, for one month, in one document
(docs/statements-provider-council.md#provider).

The figures are the month's report (`isf_month.report`, docs/month-end.md#the-report),
one row per ISF, with what the provider also needs beside them: the person's name (a
provider may see the names of the people it supports), the terms in force for the month
(`terms_for`) and totals across the ISFs. `provider_statement` gives the data
(JSON-serialisable, pence in keys ending `_minor`, minutes in keys ending `_minutes`);
`provider_document` says it in plain words as a `Document`.
"""

from __future__ import annotations

from fractions import Fraction

from ledger.core.amounts import parse_pence
from ledger.core.calendar import month_bounds
from ledger.domain.isf import terms_for
from ledger.errors import UsageError
from ledger.reports.document import (
    Document,
    Section,
    Table,
    decimal_hours,
    hours,
    long_date,
    money,
    month_name,
    signed_money,
)
from ledger.reports.isf_kinds import OTHER
from ledger.reports.isf_month import ROW_KEYS, provider_isfs, report
from ledger.store.repo import DbStore

FIGURES = tuple(key for key in ROW_KEYS if key not in ("holder", "flag"))
DEFAULT_TOLERANCE = Fraction(10)


def provider_statement(store: DbStore, provider: str, month: str,
                       tolerance_percent: Fraction = DEFAULT_TOLERANCE) -> dict:
    """Every ISF of `provider` opened by the end of `month` (YYYY-MM), as the month's
    report has them, with the person, the terms in force for the month and totals."""
    first, last = month_bounds(month)
    party = store.party("provider", provider, as_of=last)
    if party is None:
        raise UsageError(f"provider {provider!r} is not in this ledger")
    monthly = report(store, provider, month, tolerance_percent)
    states = {s["holder"]: s for s in provider_isfs(store, provider)}
    people = store.parties("holder", as_of=last)
    rows = []
    for row in monthly["isfs"]:
        state = states[row["holder"]]
        terms = terms_for(state, month)
        person = people.get(row["holder"], {})
        rows.append({
            "holder": row["holder"],
            "name": person.get("name") or row["holder"],
            "council": state["council"],
            "opened": state["opened"],
            "closed": state["closed"],
            "hours_per_month_minutes": terms["hours_per_month_minutes"],
            "rate_pence_per_hour": terms["rate_pence_per_hour"],
            "fee": terms["fee"],
            "underspend": terms["underspend"],
            **{key: row[key] for key in FIGURES},
            "flag": row["flag"],
        })
    closing = [r["money_closing_minor"] for r in rows]
    totals = {key: sum(r[key] for r in rows) for key in FIGURES}
    totals.update({
        "isfs": len(rows),
        "over": sum(r["flag"] == "over" for r in rows),
        "under": sum(r["flag"] == "under" for r in rows),
        "overspent": sum(c < 0 for c in closing),
        "borrowed": sum(r["hours_closing_minutes"] < 0 for r in rows),
        "money_held_minor": sum(c for c in closing if c > 0),
        "money_overspent_minor": -sum(c for c in closing if c < 0),
    })
    return {
        "provider": provider,
        "name": party.get("name") or provider,
        "month": month,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "tolerance_percent": monthly["tolerance_percent"],
        "isfs": rows,
        "totals": totals,
    }


# ---------------------------------------------------------------- the document


def provider_document(data: dict) -> Document:
    """The statement in words: the key numbers, one table of every ISF, then each ISF in
    plain sentences; easy-read lines for the summary and each ISF."""
    name, when = data["name"], month_name(data["month"])
    totals, rows = data["totals"], data["isfs"]
    tolerance = _percent(data["tolerance_percent"])
    document = Document(kind="provider", title=f"Month-end statement: {name}",
                        subtitle=when)
    document.summary = _summary(data, tolerance)
    document.easy_summary = _easy_summary(data)
    table = Table(
        caption=f"Hours and money for each person, {when}",
        columns=["Person", "Hours for the month", "Hours delivered", "Hours at the end",
                 "Money paid in", "Support delivered", "Money at the end", "Over or under"],
        numeric=[False, True, True, True, True, True, True, False],
        rows=[[f"{r['name']} ({r['holder']})", *_table_cells(r)] for r in rows],
        total=(["All ISFs", *_table_cells({**totals, "flag": ""})] if rows else None),
    )
    everyone = Section(heading="All Individual Service Funds", tables=[table] if rows else [],
                       id="all")
    if not rows:
        everyone.sentences = [f"{name} held no Individual Service Funds in {when}."]
    document.sections.append(everyone)
    if rows:
        document.sections.append(Section(
            heading="Each person", id="each",
            sentences=["What happened in each person's fund this month."],
            subsections=[_isf_section(r, data, tolerance) for r in rows]))
    document.notes = [
        "This statement names the people the provider supports. Keep it private.",
        f"Over or under: the hours delivered in the month are more or less than the "
        f"hours for the month by more than {tolerance}.",
        f"The figures at the end are the ledger's balances of each fund (isf:person:"
        f"{data['provider']}) at the end of {long_date(data['to'])}. How each figure is "
        f"worked out: docs/statements-provider-council.md.",
        "A minus sign at the end is a fund that used more than it had: in the hours, "
        "hours borrowed from next month; in the money, an overspend. It subtracts when the "
        "column is added up, so the column adds up to the total as printed.",
    ]
    return document


def _summary(data: dict, tolerance: str) -> list[str]:
    name, totals = data["name"], data["totals"]
    when = month_name(data["month"])
    count = totals["isfs"]
    if not count:
        return [f"No Individual Service Funds in {when}."]
    lines = [f"{_count(count, 'Individual Service Fund')} in {when}."]
    lines.append(
        f"{name} delivered {hours(totals['hours_delivered_minutes'])} of support, worth "
        f"{money(totals['money_delivered_minor'])}. The hours for the month came to "
        f"{hours(totals['hours_allocated_minutes'])}.")
    net = totals["money_closing_minor"]
    held = (f"At the end of {when} the funds held {money(net)} between them."
            if net >= 0 else
            f"At the end of {when} the funds were overspent by {money(net)} between them.")
    if totals["overspent"]:
        held += (f" {_count(totals['overspent'], 'fund was', 'funds were')} overspent by "
                 f"{money(totals['money_overspent_minor'])}; the others held "
                 f"{money(totals['money_held_minor'])}.")
    lines.append(held)
    over, under = totals["over"], totals["under"]
    if over or under:
        parts = [f"more than {tolerance} {way} the month's hours for {_people(n, True)}"
                 for way, n in (("over", over), ("under", under)) if n]
        lines.append(f"Hours delivered were {', and '.join(parts)}.")
    else:
        lines.append(f"For everyone, hours delivered were within {tolerance} of the "
                     "month's hours.")
    if totals["borrowed"]:
        lines.append(f"{_people(totals['borrowed'])} borrowed hours from next month.")
    return lines


def _easy_summary(data: dict) -> list[str]:
    totals = data["totals"]
    when = month_name(data["month"])
    if not totals["isfs"]:
        return [f"There were no funds in {when}."]
    lines = [f"This is about {_people(totals['isfs'], lower=True)} in {when}."]
    given = totals["hours_delivered_minutes"]
    lines += [f"{_cap(hours(given))} of support {_were(given)} given.",
              (f"The funds have {money(totals['money_closing_minor'])} left in all."
               if totals["money_closing_minor"] >= 0 else
               f"The funds are overspent by {money(totals['money_closing_minor'])} in all.")]
    if totals["overspent"]:
        lines.append(f"{_count(totals['overspent'], 'fund')} spent more than it had."
                     if totals["overspent"] == 1 else
                     f"{totals['overspent']} funds spent more than they had.")
    if totals["over"]:
        lines.append(f"{_people(totals['over'])} had more support than planned.")
    if totals["under"]:
        lines.append(f"{_people(totals['under'])} had less support than planned.")
    return lines


def _table_cells(row: dict) -> list[str]:
    end_hours = row["hours_closing_minutes"]
    end_money = row["money_closing_minor"]
    return [
        decimal_hours(row["hours_allocated_minutes"]),
        decimal_hours(row["hours_delivered_minutes"]),
        decimal_hours(end_hours),  # signed: -2 is 2 hours borrowed (a note says so)
        money(row["money_in_minor"]),
        money(row["money_delivered_minor"]),
        signed_money(end_money),  # -£42.00 is overspent
        {"over": "Over", "under": "Under"}.get(row["flag"], ""),
    ]


def _isf_section(row: dict, data: dict, tolerance: str) -> Section:
    who, provider = row["name"], data["name"]
    when = month_name(data["month"])
    said = [_terms(row)]
    if row["closed"] is not None and row["closed"] <= data["to"]:
        said.append(f"This fund closed on {long_date(row['closed'])}.")
    allocated, opening = row["hours_allocated_minutes"], row["hours_opening_minutes"]
    said.append(f"{who} had {hours(allocated)} for {when}." if allocated
                else f"{who} had no new hours for {when}.")
    if opening > 0:
        said.append(f"{_cap(hours(opening))} {_were(opening)} carried over from earlier "
                    "months.")
    elif opening < 0:
        said.append(f"{_cap(hours(opening))} had been borrowed from this month's hours "
                    "before it began.")
    delivered = row["hours_delivered_minutes"]
    said.append(f"{provider} delivered {hours(delivered)}, worth "
                f"{money(row['money_delivered_minor'])}." if delivered
                else f"{provider} delivered no support this month.")
    if row["hours_expired_minutes"]:
        said.append(f"{_cap(hours(row['hours_expired_minutes']))} expired at the end of "
                    "the month.")
        if row["money_returned_minor"]:
            said.append(f"{money(row['money_returned_minor'])} for them went back to the "
                        "council.")
        elif row["underspend"] == "retain":
            said.append("The money for them stays in the fund.")
    if row["hours_other_minutes"]:
        said.append(_other(row["hours_other_minutes"], hours(row["hours_other_minutes"])))
    closing = row["hours_closing_minutes"]
    said.append(f"{_cap(hours(closing))} {_were(closing)} borrowed from next month."
                if closing < 0 else
                f"{_cap(hours(closing))} {_were(closing, 'is', 'are')} left at the end of "
                "the month." if closing else "No hours are left at the end of the month.")
    if row["money_in_minor"]:
        said.append(f"The council paid {money(row['money_in_minor'])} into the fund.")
    if row["money_fees_minor"]:
        said.append(f"{provider} took a fee of {money(row['money_fees_minor'])}.")
    if row["money_purchases_minor"]:
        said.append(f"The fund paid {money(row['money_purchases_minor'])} to others for "
                    "things the person bought.")
    if row["money_other_minor"]:
        said.append(_other(row["money_other_minor"], money(row["money_other_minor"])))
    end = row["money_closing_minor"]
    said.append(f"The fund is overspent by {money(end)} at the end of {when}." if end < 0
                else f"The fund holds {money(end)} at the end of {when}.")
    if row["flag"]:
        said.append(f"The hours delivered were more than {tolerance} "
                    f"{'over' if row['flag'] == 'over' else 'under'} the hours for the "
                    "month.")
    return Section(heading=f"{who} ({row['holder']})", sentences=said,
                   easy=_easy_isf(row), id=f"isf-{row['holder']}")


def _easy_isf(row: dict) -> list[str]:
    """Short lines with no names in them (the heading names the person), so no line
    grows past the easy-read limit whatever the names are."""
    lines = [f"They had {hours(row['hours_allocated_minutes'])} for this month.",
             f"They got {hours(row['hours_delivered_minutes'])} of support."]
    closing = row["hours_closing_minutes"]
    if closing < 0:
        lines.append(f"{_cap(hours(closing))} {_were(closing)} borrowed from next month.")
    elif closing:
        lines.append(f"{_cap(hours(closing))} {_were(closing, 'is', 'are')} left over.")
    end = row["money_closing_minor"]
    lines.append(f"The fund is overspent by {money(end)}." if end < 0
                 else f"The fund has {money(end)} left.")
    if row["flag"] == "over":
        lines.append("They had more support than planned.")
    elif row["flag"] == "under":
        lines.append("They had less support than planned.")
    return lines


def _terms(row: dict) -> str:
    said = (f"The agreement is {hours(row['hours_per_month_minutes'])} a month at "
            f"{money(row['rate_pence_per_hour'])} an hour")
    fee = row["fee"]
    if fee:
        amount = (f"{fee['value']}% of the month's budget" if fee["kind"] == "percent"
                  else f"{money(parse_pence(fee['value']))} a month")
        said += (f", with a fee of {amount}"
                 + (" paid by the council on top" if fee["basis"] == "on_top"
                    else " taken from the fund"))
    return said + "."


def _other(amount: int, said: str) -> str:
    verb = "added" if amount > 0 else "took away"
    return f"{_cap(OTHER.label)} {verb} {said}."


def _percent(text: str) -> str:
    value = Fraction(text)
    shown = str(value.numerator) if value.denominator == 1 else f"{float(value):g}"
    return f"{shown}%"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _people(n: int, lower: bool = False) -> str:
    if n == 0:
        return "no one" if lower else "No one"
    return _count(n, "person", "people")


def _were(minutes: int, one: str = "was", many: str = "were") -> str:
    """The verb for an amount of time: "1 hour was", "90 minutes were"."""
    return one if abs(minutes) in (1, 60) else many


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


__all__ = ["provider_document", "provider_statement"]
