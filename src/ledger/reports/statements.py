"""Statements for a budget holder and for a pooling group (read-only).

The holder statement's JSON has fixed fields (docs/statements.md): every account
(docs/scenarios.md, "Accounts you will see") that belongs to H, with opening, in, out
and closing in minor units; we add the holder's name, their personal budgets beside what
was paid towards them (`budgets`), and nothing that changes those fields.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.errors import UsageError
from ledger.reports.pool_statement import pool_statement
from ledger.reports.statement_lines import statement_lines
from ledger.store import models as m
from ledger.store.repo import DbStore


def belongs_to(path: str, holder: str) -> bool:
    """docs/statements.md: holder:{H}:*, isf:{H}:*, pool:*:{H}, fund:*:award:{H}."""
    parts = path.split(":")
    match parts:
        case ["holder", h, _] | ["isf", h, _]:
            return h == holder
        case ["pool", _, h]:
            return h == holder
        case ["fund", _, "award", h]:
            return h == holder
    return False


def _candidates(store: DbStore, holder: str):
    """The holder's accounts, found through the (ledger, holder) index."""
    return (m.Account.ledger_id == store.lid) & (m.Account.holder == holder)


def account_movements(store: DbStore, holder: str, date_from: dt.date,
                      date_to: dt.date) -> list[dict]:
    amount = m.Posting.amount_minor
    in_range = m.Journal.date >= date_from
    query = (
        select(
            m.Account.path,
            m.Posting.unit,
            func.sum(case((m.Journal.date < date_from, amount), else_=0)),
            func.sum(case((in_range & (amount > 0), amount), else_=0)),
            func.sum(case((in_range & (amount < 0), -amount), else_=0)),
        )
        .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
              & (m.Posting.account_id == m.Account.id))
        .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
              & (m.Journal.id == m.Posting.journal_id))
        .where(m.Journal.status == "posted", m.Journal.date <= date_to,
               _candidates(store, holder))
        .group_by(m.Account.path, m.Posting.unit)
    )
    rows = []
    for path, unit, opening, money_in, money_out in store.conn.execute(query):
        if not belongs_to(path, holder):
            continue
        opening, money_in, money_out = int(opening), int(money_in), int(money_out)
        rows.append({
            "account": path, "unit": Unit(unit).value, "opening_minor": opening,
            "in_minor": money_in, "out_minor": money_out,
            "closing_minor": opening + money_in - money_out,
        })
    return sorted(rows, key=lambda r: (r["account"], r["unit"]))


def commissioned_for(journals: list[Journal], holder: str, date_from: dt.date,
                     date_to: dt.date) -> list[dict]:
    """Support the council bought directly for this person (call-offs, spot purchases) in
    the period: it never passes through their accounts, so it is listed on its own.
    `journals` is what the statement already loaded (it includes every journal for H)."""
    rows = []
    for journal in journals:
        if journal.holder != holder or not (date_from <= journal.date <= date_to):
            continue
        if journal.type not in ("calloff", "spot_purchase") and not (
                journal.type == "reversal"
                and journal.memo.get("reverses_type") in ("calloff", "spot_purchase")):
            continue
        paid = {p.account: p.amount_minor for p in journal.postings if p.unit is Unit.GBP}
        minutes = {p.account: p.amount_minor for p in journal.postings if p.unit is Unit.HRS}
        provider = next((a.split(":")[1] for a in paid if a.startswith("provider:")), None)
        rows.append({
            "date": journal.date.isoformat(),
            "type": journal.type,
            "provider": provider,
            "amount_minor": paid.get(f"provider:{provider}:income", 0),
            "minutes": minutes.get(f"provider:{provider}:delivered", 0),
        })
    return rows


def _check_period(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")


def holder_statement(store: DbStore, holder: str, date_from: dt.date,
                     date_to: dt.date) -> dict:
    return holder_statement_and_journals(store, holder, date_from, date_to)[0]


def holder_statement_and_journals(store: DbStore, holder: str, date_from: dt.date,
                                  date_to: dt.date) -> tuple[dict, list[Journal]]:
    """The statement, and the journals it was made from (the person's, to the later of
    the period's end and their budgets' ends)."""
    # Every party as its record stood on the statement's last day: a name, pseudonym or
    # consent given later never reaches an earlier statement (docs/rules-trust.md#parties).
    party = store.party("holder", holder, as_of=date_to)
    if party is None:
        raise UsageError(f"holder {holder!r} is not in this ledger")
    _check_period(date_from, date_to)
    budgets = (store.get_state("budget", holder) or {}).get("budgets", [])
    owned = select(m.Posting.journal_id).join(
        m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
        & (m.Account.id == m.Posting.account_id)).where(_candidates(store, holder))
    last = max([date_to, *(dt.date.fromisoformat(b["to"]) for b in budgets)])
    # Two index lookups joined by UNION: an OR across them makes SQLite scan every journal.
    made_for = select(m.Journal.id).where(m.Journal.ledger_id == store.lid,
                                          m.Journal.holder == holder)
    journals = store.load_journals(m.Journal.id.in_(owned.union(made_for)),
                                   m.Journal.date <= last)
    accounts = account_movements(store, holder, date_from, date_to)
    providers = store.parties("provider", as_of=date_to)
    names = {f"{kind}:{pid}": p.get("name", pid) for kind, found in
             (("council", store.parties("council", as_of=date_to)), ("provider", providers))
             for pid, p in found.items()}
    result = build_holder_statement(store, holder, date_from, date_to, party, budgets,
                                    journals, accounts, providers, names)
    return result, journals


def build_holder_statement(store, holder: str, date_from: dt.date, date_to: dt.date,
                           party: dict, budgets: list[dict], journals: list[Journal],
                           accounts: list[dict], providers: dict[str, dict],
                           names: dict[str, str]) -> dict:
    """The statement from what was read for it: the one place its fields are put
    together, for one person (`holder_statement`) and for many at once
    (ledger.reports.bulk). `store` needs only `get_state` and `parties`."""
    # What was paid towards a budget by the statement's last day, never after it.
    report = []
    if budgets:  # the rules package (and its validators) only for a person with budgets
        from ledger.domain.budgets import budget_report

        report = budget_report(budgets, [j for j in journals if j.date <= date_to], holder)
    lines = statement_lines(journals, {a["account"] for a in accounts}, date_from, date_to,
                            names)
    for budget in report:
        for funder in budget["funders"]:
            funder["name"] = names.get(f"council:{funder['funder']}", funder["funder"])
    result = {
        "holder": holder,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "name": party.get("name"),
        "council": party.get("council"),
        "statement_format": party.get("statement_format", "standard"),
        "accounts": accounts,
        "lines": lines,
        "budgets": report,
        "commissioned": commissioned_for(journals, holder, date_from, date_to),
        "isf_earlier_agreements": earlier_agreements(store, accounts, date_to),
        "isf_changes": isf_changes(store, accounts, date_to),
    }
    from ledger.reports import holder_figures as figures

    result["isf_months"] = figures.isf_months(store, result, journals, date_to)
    result["dp_reviews"] = figures.dp_reviews(store, holder, date_from, date_to)
    result["pool_labels"] = figures.pool_labels(store, holder, result, date_to)
    result["provider_names"] = {pid: p.get("name", pid) for pid, p in providers.items()
                                if any(r["provider"] == pid for r in
                                       [*result["isf_months"], *result["commissioned"]])}
    return result


def earlier_agreements(store: DbStore, accounts: list[dict], date_to: dt.date) -> list[dict]:
    """For each of the person's ISFs reopened by the statement's last day, what its
    earlier agreements still owe, kept apart from the current agreement's money
    (docs/rules-trust.md#isf-agreements): `own_closing_minor` is the current agreement's
    own money at the end of the period."""
    rows = []
    for row in accounts:
        if not row["account"].startswith("isf:") or row["unit"] != Unit.GBP.value:
            continue
        _, holder, provider = row["account"].split(":")
        state = store.get_state("isf", f"{holder}:{provider}") or {}
        earlier = state.get("earlier_money_pence", 0)
        if state.get("agreement", 1) == 1 or state["opened"] > date_to.isoformat():
            continue
        rows.append({
            "account": row["account"],
            "agreement_from": state["opened"],
            "outstanding_overspend_minor": max(-earlier, 0),
            "own_closing_minor": row["closing_minor"] - earlier,
        })
    return rows


def isf_changes(store: DbStore, accounts: list[dict], date_to: dt.date) -> list[dict]:
    """Each change of terms (`isf_vary`) of the person's ISFs made by the statement's last
    day, with the month it starts and the terms it sets (docs/rules-dp-isf.md#isf-vary)."""
    rows = []
    for row in accounts:
        if not row["account"].startswith("isf:") or row["unit"] != Unit.HRS.value:
            continue
        _, holder, provider = row["account"].split(":")
        state = store.get_state("isf", f"{holder}:{provider}") or {}
        for variation in state.get("variations", []):
            if variation["date"] > date_to.isoformat():
                continue
            terms = variation["terms"]
            change: dict = {"account": row["account"], "from_month": variation["from"],
                            "agreed_on": variation["date"]}
            if "hours_per_month_minutes" in terms:
                change["hours_per_month_minutes"] = terms["hours_per_month_minutes"]
            if "rate_pence_per_hour" in terms:
                change["rate_pence_per_hour"] = terms["rate_pence_per_hour"]
            for name in ("expire_after_months", "max_minutes", "max_borrow_minutes", "fee",
                         "underspend"):
                if name in terms:
                    change[name] = terms[name]
            rows.append(change)
    return rows


def pool_statement_from_store(store: DbStore, pool: str, date_from: dt.date,
                              date_to: dt.date) -> dict:
    state = store.get_state("pool", pool)
    if state is None:
        raise UsageError(f"pool {pool!r} is not in this ledger")
    _check_period(date_from, date_to)
    journals = store.journals_touching([f"pool:{pool}:"], date_to)
    return pool_statement(state, journals, store.parties("holder", as_of=date_to), pool,
                          date_from, date_to)
