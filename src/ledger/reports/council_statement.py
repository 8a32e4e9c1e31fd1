"""A council's finance statement for a period (docs/statements-provider-council.md#council).

Every pound that left or came back to `council:{C}:funding` in the period, by what it paid
for, beside what the council's people and funds held at the end; and the personal budgets
of the council's people with what was paid towards them. These rules hold (tests check):

    paid - recovered, all kinds = the fall in council:{C}:funding = the payments export TOTAL
    held, each kind             = the sum of its accounts' balances on the last day

Paid and recovered are the payments export's rows (`payment_rows`); spend per contract is
the contracts export's rows (`contract_rows`); an ISF's figures are sorted by the one
table of ISF movement kinds (`isf_kinds`); balances are `ledger balance --as-of`.
Accounts are named by id.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from fractions import Fraction

from sqlalchemy import case, func, select

from ledger.domain.budgets import budget_report
from ledger.errors import UsageError
from ledger.reports.balances import balances
from ledger.reports.contract_rows import contract_rows
from ledger.reports.council_exports import dp_monitoring_rows, payment_rows
from ledger.reports.isf_kinds import key_of
from ledger.store import models as m
from ledger.store.repo import DbStore, account_holder

KINDS = ("direct_payments", "isfs", "pools", "funds", "framework", "block", "spot", "grant",
         "other")
CONTRACT_KINDS = ("framework", "block", "spot", "grant")
_CONTRACT_TYPES = {"calloff": "framework", "block_payment": "block", "spot_purchase": "spot",
                   "grant": "grant"}
# The ISF row's figures, each the month report's key but for money `in`, which the
# council calls advanced.
_COUNCIL_KEYS = {"money_in_minor": "money_advanced_minor"}
_TYPED = ("hours_allocated_minutes", "hours_delivered_minutes", "hours_expired_minutes",
          "money_delivered_minor", "money_fees_minor", "money_purchases_minor")
CHUNK = 500


def council_statement(store: DbStore, council: str, date_from: dt.date,
                      date_to: dt.date, surplus_weeks: Fraction = Fraction(8),
                      contingency_pence: int = 0) -> dict:
    party = store.party("council", council, as_of=date_to)
    if party is None:
        raise UsageError(f"council {council!r} is not in this ledger")
    if date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    funding = f"council:{council}:funding"
    opening = _balances(store, date_from - dt.timedelta(days=1))
    closing = _balances(store, date_to)
    people = {pid for pid, p in store.parties("holder", as_of=date_to).items()
              if p.get("council") == council}
    flows = _funding_flows(store, council, date_from, date_to)
    moved: dict[tuple[str, str], int] = defaultdict(int)  # (account, direction) -> pence
    for flow in flows:
        moved[(flow["account"], flow["direction"])] += flow["amount_minor"]

    def rows(kind: str, accounts: set[str]) -> list[dict]:
        """Accounts of one kind: those given and any the funding paid or recovered."""
        accounts |= {f["account"] for f in flows if f["kind"] == kind}
        return [{"account": a, "holder": account_holder(a),
                 "opening_minor": opening.get((a, "GBP"), 0),
                 "paid_minor": moved[(a, "payment")], "recovered_minor": moved[(a, "recovery")],
                 "closing_minor": closing.get((a, "GBP"), 0)} for a in sorted(accounts)]

    known = {a for a, _ in [*opening, *closing]}
    funds = _council_funds(store, council)
    held = {
        "direct_payments": rows("direct_payments",
                                {f"holder:{h}:dp" for h in people} & known),
        "isfs": _isf_rows(store, council, date_from, date_to, opening, closing,
                          {f["account"] for f in flows if f["kind"] == "isfs"}),
        "pools": rows("pools", {a for a in known if a.startswith("pool:")
                                and account_holder(a) in people}),
        "funds": rows("funds", {a for a in known if a.split(":")[:1] == ["fund"]
                                and a.split(":")[1] in funds}),
    }
    kinds = []
    for kind in KINDS:
        paid, recovered = (sum(f["amount_minor"] for f in flows
                               if f["kind"] == kind and f["direction"] == way)
                           for way in ("payment", "recovery"))
        key = "money_closing_minor" if kind == "isfs" else "closing_minor"
        kinds.append({"kind": kind, "paid_minor": paid, "recovered_minor": recovered,
                      "net_minor": paid - recovered,
                      "held_minor": sum(r[key] for r in held.get(kind, []))})
    totals = {key: sum(k[key] for k in kinds)
              for key in ("paid_minor", "recovered_minor", "net_minor", "held_minor")}
    before, after = opening.get((funding, "GBP"), 0), closing.get((funding, "GBP"), 0)
    if totals["net_minor"] != before - after:  # never print a total that does not add up
        raise RuntimeError(f"{funding}: paid less recovered is not its fall")
    return {"council": council, "name": party.get("name") or council,
            "from": date_from.isoformat(), "to": date_to.isoformat(),
            "funding": {"account": funding, "opening_minor": before,
                        "closing_minor": after, "fall_minor": before - after},
            "kinds": kinds, "totals": totals,
            "budgets": _budgets(store, council, sorted(people), date_from, date_to),
            **held, "contracts": _contracts(store, council, date_from, date_to),
            "other": [f for f in flows if f["kind"] == "other"],
            # Direct payments holding more than `surplus_weeks` of support (plus the
            # contingency) on the last day: what a review would recover
            # (docs/exports.md#dp-monitoring).
            "dp_surplus": {"weeks": str(surplus_weeks), "contingency_minor": contingency_pence,
                           "rows": [r for r in dp_monitoring_rows(
                               store, council, date_to, surplus_weeks, contingency_pence)
                               if r["surplus_minor"] > 0]}}


def _balances(store: DbStore, on: dt.date) -> dict[tuple[str, str], int]:
    """Every account's balance at the end of `on`, as `ledger balance --as-of` has it."""
    return {(row.account, row.unit.value): row.minor
            for row in balances(store.conn, on, None, store.lid)}


def _funding_flows(store: DbStore, council: str, date_from: dt.date,
                   date_to: dt.date) -> list[dict]:
    """The payments export's rows, each given the kind of what it paid for: the kind of
    its one counterparty (a reversal, of the journal it reverses); a journal with several
    counterparties is `other`."""
    found = list(payment_rows(store.conn, store.lid, council, date_from, date_to))
    keys = [key for _, key, kind, _, _, _ in found if kind == "reversal"]
    origin = {}
    for start in range(0, len(keys), CHUNK):
        for journal in store.load_journals(m.Journal.key.in_(keys[start:start + CHUNK])):
            origin[journal.key] = journal.memo.get("reverses_type", "")
    flows = []
    for on, key, kind, direction, others, pence in found:
        account = others[0] if len(others) == 1 else ""
        flows.append({"date": on.isoformat() if isinstance(on, dt.date) else str(on),
                      "journal": key, "type": kind, "direction": direction,
                      "kind": _kind_of(account, origin.get(key, kind)), "account": account,
                      "counterparties": others, "amount_minor": abs(pence)})
    return flows


def _kind_of(account: str, journal_type: str) -> str:
    match account.split(":"):
        case ["holder", _, "dp"]:
            return "direct_payments"
        case ["isf", _, _]:
            return "isfs"
        case ["pool", _, _]:
            return "pools"
        case ["fund", *_]:
            return "funds"
        case ["provider", _, "income"] if journal_type in _CONTRACT_TYPES:
            return _CONTRACT_TYPES[journal_type]
    return "other"


def _council_funds(store: DbStore, council: str) -> set[str]:
    return {ref for ref in store.state_refs("fund")
            if (store.get_state("fund", ref) or {}).get("council") == council}


def _isf_rows(store: DbStore, council: str, date_from: dt.date, date_to: dt.date,
              opening: dict, closing: dict, paid_to: set[str]) -> list[dict]:
    """Per ISF of the council (and any other ISF its funding paid): money and hours at
    the start, moved in the period by the kinds of `isf_kinds` (the month report's
    table: advanced is its `in`), and at the end. `other` is the rest (corrections, pool
    payments, a closing), signed, so that in every row
    opening + advanced - delivered - fees - purchases - returned + other = closing."""
    accounts = set(paid_to)
    for ref, state in store.states("isf").items():  # one query for every ISF
        if state["council"] != council \
                or state["opened"] > date_to.isoformat():
            continue
        # One closed before the period is left out unless it still holds something (an
        # overspend stays with it).
        if (state["closed"] or "9999") >= date_from.isoformat() or any(
                closing.get((f"isf:{ref}", unit), 0) for unit in ("GBP", "HRS")):
            accounts.add(f"isf:{ref}")
    typed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (a, unit, kind, _), total in _typed_movements(store, "isf:", date_from,
                                                          date_to).items():
        key, counted = key_of(kind, unit == "HRS", total)
        typed[a][_COUNCIL_KEYS.get(key, key)] += counted
    rows = []
    for a in sorted(accounts):
        _, holder, provider = a.split(":")
        row = {"account": a, "holder": holder, "provider": provider,
               "money_opening_minor": opening.get((a, "GBP"), 0),
               **{key: typed[a][key] for key in ("money_advanced_minor",
                                                 "money_returned_minor")},
               "money_closing_minor": closing.get((a, "GBP"), 0),
               "hours_opening_minutes": opening.get((a, "HRS"), 0),
               "hours_closing_minutes": closing.get((a, "HRS"), 0),
               **{key: typed[a][key] for key in _TYPED}}
        row["money_other_minor"] = row["money_closing_minor"] - (
            row["money_opening_minor"] + row["money_advanced_minor"]
            - row["money_delivered_minor"] - row["money_fees_minor"]
            - row["money_purchases_minor"] - row["money_returned_minor"])
        row["hours_other_minutes"] = row["hours_closing_minutes"] - (
            row["hours_opening_minutes"] + row["hours_allocated_minutes"]
            - row["hours_delivered_minutes"] - row["hours_expired_minutes"])
        rows.append(row)
    return rows


def _typed_movements(store: DbStore, prefix: str, date_from: dt.date, date_to: dt.date
                     ) -> dict[tuple[str, str, str, int], int]:
    """(account, unit, journal type, sign) -> the sum of those postings in the period."""
    sign = case((m.Posting.amount_minor > 0, 1), else_=-1)  # one object: PostgreSQL
    query = (select(m.Account.path, m.Posting.unit, m.Journal.type, sign,
                    func.sum(m.Posting.amount_minor))
             .join(m.Posting, (m.Posting.ledger_id == m.Account.ledger_id)
                   & (m.Posting.account_id == m.Account.id))
             .join(m.Journal, (m.Journal.ledger_id == m.Posting.ledger_id)
                   & (m.Journal.id == m.Posting.journal_id))
             .where(m.Account.ledger_id == store.lid, m.Journal.status == "posted",
                    m.Account.path.startswith(prefix, autoescape=True),
                    m.Posting.date >= date_from, m.Posting.date <= date_to)
             .group_by(m.Account.path, m.Posting.unit, m.Journal.type, sign))
    return {(path, unit, kind, int(s)): int(total)
            for path, unit, kind, s, total in store.conn.execute(query)}


def _budgets(store: DbStore, council: str, people: list[str], date_from: dt.date,
             date_to: dt.date) -> list[dict]:
    """Each personal budget of the council's people that overlaps the period, with what
    was paid towards it by the period's last day (`budget_report`, counting journals
    dated from the budget's start to its end or `date_to`, whichever is first)."""
    budgets = store.states("budget")  # one query for every person's budgets
    wanted = {h: found for h in people if (found := [
        b for b in (budgets.get(h) or {}).get("budgets", [])
        if b["from"] <= date_to.isoformat() and b["to"] >= date_from.isoformat()])}
    holders, rows = sorted(wanted), []
    for start in range(0, len(holders), CHUNK):
        chunk = set(holders[start:start + CHUNK])
        owned = select(m.Posting.journal_id).join(
            m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
            & (m.Account.id == m.Posting.account_id)).where(
            m.Account.ledger_id == store.lid, m.Account.holder.in_(chunk))
        journals: dict[str | None, list] = defaultdict(list)
        made_for = select(m.Journal.id).where(m.Journal.ledger_id == store.lid,
                                              m.Journal.holder.in_(chunk))
        for journal in store.load_journals(  # a UNION, not an OR: two index lookups
                m.Journal.id.in_(owned.union(made_for)), m.Journal.date <= date_to):
            for who in {journal.holder, *(account_holder(p.account) for p in journal.postings)}:
                journals[who].append(journal)
        for holder in sorted(chunk):
            rows += [{"holder": holder, "from": b["from"], "to": b["to"],
                      "amount_minor": b["amount_minor"],
                      "council_part_minor": sum(f["budget_minor"] for f in b["funders"]
                                                if f["funder"] == council),
                      "contribution_minor": b["contribution_minor"],
                      "paid_minor": b["paid_minor"], "remaining_minor": b["remaining_minor"]}
                     for b in budget_report(wanted[holder], journals[holder], holder)]
    return rows


def _contracts(store: DbStore, council: str, date_from: dt.date, date_to: dt.date
               ) -> list[dict]:
    """The contracts export's rows (`contract_rows`, docs/exports.md#contracts), quarters
    added up: per contract, the money spent (paid less recovered) and the hours bought."""
    found: dict[tuple[str, str, str], dict] = {}
    for row in contract_rows(store, council, date_from, date_to):
        key = (row.kind, row.contract, row.provider)
        entry = found.setdefault(key, {"kind": key[0], "contract": key[1], "provider": key[2],
                                       "spend_minor": 0, "hours_minutes": 0})
        entry["spend_minor"] += row.spend_minor
        entry["hours_minutes"] += row.hours_minutes
    return [found[key] for key in sorted(found)]


__all__ = ["CONTRACT_KINDS", "KINDS", "council_statement"]
