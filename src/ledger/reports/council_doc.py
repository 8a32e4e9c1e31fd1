"""A council's finance statement as a document (docs/statements-provider-council.md#council):
the figures of `council_statement` in words and captioned tables, named by id."""

from __future__ import annotations

import datetime as dt

from ledger.reports.document import (
    Document,
    Section,
    Table,
    decimal_hours,
    hours,
    long_date,
    money,
    signed_money,
)
from ledger.reports.isf_kinds import OTHER

# ---------------------------------------------------------------- the document


def _surplus_section(surplus: dict, end: str) -> Section:
    """Direct payments above the threshold on the last day: what a review would recover,
    with the working (docs/exports.md#dp-monitoring)."""
    rows = surplus["rows"]
    keep = f"{surplus['weeks']} weeks of support"
    if surplus["contingency_minor"]:
        keep += f" and a contingency of {money(surplus['contingency_minor'])}"
    section = Section(heading="Direct payments above the threshold", id="dp-surplus")
    if not rows:
        section.sentences.append(f"On {end} no direct payment account held more than "
                                 f"{keep}.")
        section.easy.append("No one had more money than they may keep.")
        return section
    total = sum(r["surplus_minor"] for r in rows)
    section.sentences.append(
        f"On {end}, {len(rows)} direct payment account{'s' if len(rows) != 1 else ''} held "
        f"more than {keep}. A review would recover {money(total)} in all.")
    section.easy.append(f"{len(rows)} people had more money than they may keep.")
    section.tables.append(Table(
        caption=f"Direct payments above {keep}, on {end}",
        columns=["Account", "Balance", "Weekly amount", "Weeks held", "May keep", "Surplus"],
        rows=[[r["account"], money(r["balance_minor"]), money(r["weekly_amount_minor"]),
               r["weeks_held"], money(r["allowed_minor"] + r["contingency_minor"]),
               money(r["surplus_minor"])] for r in rows],
        total=["All", "", "", "", "", money(total)]))
    return section


LABELS = {"direct_payments": "Direct payments", "isfs": "Individual Service Funds",
          "pools": "Pool shares", "funds": "Bursary funds",
          "framework": "Framework call-offs", "block": "Block contracts",
          "spot": "Spot purchases", "grant": "Grants", "other": "Other payments"}
HELD_KINDS = ("direct_payments", "isfs", "pools", "funds")


def council_document(data: dict) -> Document:
    """The statement in words, accounts by id: the key numbers; paid, recovered and held
    by kind; then a section for each kind that has anything in it."""
    end, t = long_date(data["to"]), data["totals"]
    funding = data["funding"]["account"]
    doc = Document(kind="council", title=f"Finance statement: {data['name']}",
                   subtitle=f"{long_date(data['from'])} to {end}")
    doc.summary = [
        f"Paid out of {funding}: {money(t['paid_minor'])}. Recovered into it: "
        f"{money(t['recovered_minor'])}.",
        (f"Paid out less recovered: {money(t['net_minor'])}. This is the "
         f"{'fall' if t['net_minor'] >= 0 else 'rise'} in {funding} over the period, and "
         "the payments export's total."),
        f"Held on {end} in people's accounts and the council's funds: "
        f"{_held(t['held_minor'])}."]
    doc.easy_summary = [f"The council paid out {money(t['paid_minor'])}.",
                        f"It got back {money(t['recovered_minor'])}.",
                        f"People's accounts and funds held {_held(t['held_minor'])}."]
    budgets = data["budgets"]
    if budgets:
        paid = money(sum(b["paid_minor"] for b in budgets))
        doc.summary.append(f"Personal budgets: {len(budgets)}, of "
                           f"{money(sum(b['amount_minor'] for b in budgets))} in all; "
                           f"{paid} paid towards them by {end}.")
        doc.easy_summary += [f"Number of personal budgets: {len(budgets)}.",
                             f"{paid} was paid towards them."]
    doc.sections.append(_by_kind(data, end))
    if budgets:
        doc.sections.append(_budget_section(budgets, end))
    what = {"direct_payments": "people's direct payment accounts", "isfs": "ISFs",
            "pools": "pool shares", "funds": "bursary funds"}
    for kind in HELD_KINDS:
        if data[kind]:
            doc.sections.append(_held_section(data, kind, what[kind], end))
    doc.sections.append(_surplus_section(data["dp_surplus"], end))
    if data["contracts"]:
        doc.sections.append(_contract_section(data))
    if data["other"]:
        doc.sections.append(_other_section(data))
    doc.notes = [
        "Accounts are named by their ids, as in the council's exports.",
        "A minus sign in a balance column is an overspent account: it was paid out more "
        "than was paid in, so it subtracts when the column is added up. In the hours, it "
        "is hours borrowed from the next month.",
        "Paid and recovered are the rows of `ledger export payments` for the same period; "
        "held is `ledger balance --as-of` on the last day. How each figure is worked out: "
        "docs/statements-provider-council.md."]
    return doc


def _by_kind(data: dict, end: str) -> Section:
    def cells(k: dict, held: bool) -> list[str]:
        return [money(k["paid_minor"]), money(k["recovered_minor"]), _net(k["net_minor"]),
                signed_money(k["held_minor"]) if held else "Spent when paid"]
    rows = [[LABELS[k["kind"]], *cells(k, k["kind"] in HELD_KINDS)] for k in data["kinds"]
            if k["kind"] != "other" or k["paid_minor"] or k["recovered_minor"]]
    table = Table(caption="Paid, recovered and held, by kind",
                  columns=["Kind", "Paid", "Recovered", "Paid less recovered",
                           f"Held on {end}"], rows=rows,
                  total=["All kinds", *cells(data["totals"], True)])
    funding = data["funding"]
    before = long_date(dt.date.fromisoformat(data["from"]) - dt.timedelta(days=1))
    said = [f"By the end of {before}, {funding['account']} "
            f"{_stood(funding['opening_minor'])}; by the end of {end}, it "
            f"{_stood(funding['closing_minor'])}.",
            "Paid is money out of the council's funding; recovered is money back into it. "
            "Contracts and grants are spent when paid, so nothing of them is held."]
    return Section(heading="Paid, recovered and held", sentences=said, tables=[table],
                   id="by-kind")


def _held_section(data: dict, kind: str, what: str, end: str) -> Section:
    k = next(k for k in data["kinds"] if k["kind"] == kind)
    rows = data[kind]
    held = k["held_minor"]
    state = (f"were overspent by {money(held)}" if held < 0 else f"held {money(held)}")
    if k["paid_minor"] or k["recovered_minor"]:
        said = [f"The council paid {money(k['paid_minor'])} into {what} and recovered "
                f"{money(k['recovered_minor'])} from them."]
        easy = [f"The council paid {money(k['paid_minor'])} into {what}.",
                f"It got back {money(k['recovered_minor'])}."]
    else:
        said = [f"The council paid nothing into {what} directly, and recovered nothing."]
        easy = [f"The council paid nothing into {what} directly."]
    said[0] += f" On {end} they {state}."
    easy.append(f"At the end they {state}.")
    if kind == "isfs":
        return Section(heading="Individual Service Funds (ISFs)", id="isfs", easy=easy,
                       sentences=said + _isf_sentences(rows), tables=_isf_tables(rows, end))
    keys = ("opening_minor", "paid_minor", "recovered_minor", "closing_minor")
    total = {key: sum(r[key] for r in rows) for key in keys}
    table = Table(caption=f"{LABELS[kind]}: each account",
                  columns=["Account", "Balance at the start", "Paid", "Recovered",
                           f"Balance on {end}"],
                  rows=[[r["account"], *_balance_cells(r, keys)] for r in rows],
                  total=["All", *_balance_cells(total, keys)])
    said += {"direct_payments": ["The rest of each account's change is the person's own: "
                                 "contributions, spending and pool payments."],
             "pools": ["People pay into pools from their direct payments or ISFs. A pool's "
                       "common money is no one person's and is not shown."],
             "funds": ["A fund's awards are shown under it (fund:F:award:person)."]}[kind]
    return Section(heading=LABELS[kind], sentences=said, tables=[table], easy=easy,
                   id=kind.replace("_", "-"))


def _isf_tables(rows: list[dict], end: str) -> list[Table]:
    keys = ("money_opening_minor", "money_advanced_minor", "money_delivered_minor",
            "money_fees_minor", "money_purchases_minor", "money_returned_minor")
    hour_keys = ("hours_opening_minutes", "hours_allocated_minutes",
                 "hours_delivered_minutes", "hours_expired_minutes")
    total = {k: sum(r[k] for r in rows) for k in (*keys, *hour_keys, "money_closing_minor",
                                                  "hours_closing_minutes")}

    def money_cells(r: dict) -> list[str]:
        return [signed_money(r[keys[0]]), *(money(r[k]) for k in keys[1:]),
                signed_money(r["money_closing_minor"])]

    def hour_cells(r: dict) -> list[str]:
        # Signed like the money's balances: -2 is 2 hours borrowed from the next month.
        return [*(decimal_hours(r[k]) for k in (*hour_keys, "hours_closing_minutes"))]

    return [Table(caption="Money in each ISF",
                  columns=["Account", "Balance at the start", "Advanced", "Delivered",
                           "Fees", "Purchases", "Returned", f"Balance on {end}"],
                  rows=[[r["account"], *money_cells(r)] for r in rows],
                  total=["All ISFs", *money_cells(total)]),
            Table(caption="Hours in each ISF (decimal hours)",
                  columns=["Account", "At the start", "Allocated", "Delivered", "Expired",
                           f"On {end}"],
                  rows=[[r["account"], *hour_cells(r)] for r in rows],
                  total=["All ISFs", *hour_cells(total)])]


def _isf_sentences(rows: list[dict]) -> list[str]:
    said = [f"Support delivered: {hours(sum(r['hours_delivered_minutes'] for r in rows))}, "
            f"worth {money(sum(r['money_delivered_minor'] for r in rows))}."]
    for r in rows:
        moved = [f"{amount} {'in' if n > 0 else 'out'}" for n, amount in (
            (r["money_other_minor"], money(r["money_other_minor"])),
            (r["hours_other_minutes"], hours(r["hours_other_minutes"]))) if n]
        if moved:
            said.append(f"{r['account']}: {OTHER.label} moved {' and '.join(moved)}.")
    return said


def _contract_section(data: dict) -> Section:
    table = Table(caption="Spend by contract",
                  columns=["Contract", "Kind", "Provider", "Paid less recovered",
                           "Hours bought"],
                  numeric=[False, False, False, True, True],
                  rows=[[c["contract"], LABELS[c["kind"]], c["provider"],
                         _net(c["spend_minor"]), decimal_hours(c["hours_minutes"])]
                        for c in data["contracts"]])
    spent = _net(sum(c["spend_minor"] for c in data["contracts"]))
    return Section(heading="Contracts and grants", id="contracts", tables=[table],
                   sentences=[f"Paid to providers under contracts and grants, less "
                              f"recoveries: {spent}. Block hours are hours used."],
                   easy=[f"Contracts and grants cost {spent}."])


def _other_section(data: dict) -> Section:
    table = Table(caption="Payments of no one kind",
                  columns=["Journal", "Date", "Type", "Direction", "Amount",
                           "Counterparties"],
                  numeric=[False, False, False, False, True, False],
                  rows=[[f["journal"], f["date"], f["type"], f["direction"],
                         money(f["amount_minor"]), " ".join(f["counterparties"])]
                        for f in data["other"]])
    return Section(heading="Other payments", id="other", tables=[table], sentences=[
        "Journals that paid or recovered money for more than one account, or for an "
        "account of none of the kinds above."])


def _budget_section(budgets: list[dict], end: str) -> Section:
    keys = ("amount_minor", "council_part_minor", "contribution_minor", "paid_minor")

    def cells(b: dict) -> list[str]:
        left = b["remaining_minor"]
        return [*(money(b[k]) for k in keys), f"{money(left)} over" if left < 0 else money(left)]
    total = {k: sum(b[k] for b in budgets) for k in (*keys, "remaining_minor")}
    table = Table(caption="Personal budgets of the council's people",
                  columns=["Person", "From", "To", "Budget", "Council's part",
                           "Person's contribution", f"Paid by {end}", "Still to pay"],
                  numeric=[False, False, False, True, True, True, True, True],
                  rows=[[b["holder"], b["from"], b["to"], *cells(b)] for b in budgets],
                  total=["All", "", "", *cells(total)])
    return Section(heading="Personal budgets", id="budgets", tables=[table], sentences=[
        "Paid towards a budget is everything paid for the person from its start to its "
        f"end or {end}, whichever is first, net of recoveries: direct payments, ISF "
        "advances, pool money, call-offs and spot purchases for them, and their own "
        "contribution. Every funder's money counts."],
        easy=[f"Number of budgets: {len(budgets)}.",
              f"{money(total['paid_minor'])} was paid towards them."])


def _stood(balance: int) -> str:
    return (f"had paid out {money(balance)} net" if balance < 0 else
            f"held {money(balance)}" if balance else "stood at £0.00")


def _balance_cells(row: dict, keys: tuple[str, ...]) -> list[str]:
    """Opening and closing balances signed (an overspend is -£42.00), the movements
    between them as sizes: opening + paid - recovered = closing, as printed."""
    return [signed_money(row[keys[0]]), *(money(row[k]) for k in keys[1:-1]),
            signed_money(row[keys[-1]])]


def _held(pence: int) -> str:
    return f"{money(pence)} overspent" if pence < 0 else money(pence)


def _net(pence: int) -> str:
    return f"{money(pence)} recovered" if pence < 0 else money(pence)


__all__ = ["council_document"]
