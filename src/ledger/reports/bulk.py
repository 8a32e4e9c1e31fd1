"""The statements of many budget holders read at once: a council's people or a
provider's (docs/statements.md#many). `ledger.app.statements.write_holder_statements`
writes them, one file each, through the same `Statement` as one person's.

The one-at-a-time path (`statements.holder_statement_and_journals`) runs about ten
queries a person. Here the same data is read for a chunk of people at once (their
journals with their postings in two queries, their instrument state in one per kind,
every party once) and each statement is built from it in memory with the same pure
functions (`statement_lines`, `budget_report`, `commissioned_for`, the `holder_figures`
functions), so a chunk costs a few queries whatever its size. tests/reports/
test_bulk_statements.py checks every file against the one-at-a-time path.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from sqlalchemy import select

from ledger.core.amounts import Unit
from ledger.core.journal import Journal
from ledger.errors import UsageError
from ledger.reports.statements import _check_period, belongs_to, build_holder_statement
from ledger.store import models as m
from ledger.store.repo import SEAL_CHUNK, DbStore, account_holder

CHUNK = 500  # people read together: bounded IN lists and bounded memory


# ---------------------------------------------------------------- who


def holders_for(store: DbStore, council: str | None = None, provider: str | None = None,
                *, month_end: dt.date) -> list[str]:
    """The people to write statements for, sorted: a council's (holder parties whose
    record on `month_end` names that council), or a provider's (holders of the
    provider's Individual Service Funds opened by `month_end`)."""
    if (council is None) == (provider is None):
        raise UsageError("give either --council or --provider")
    if council is not None:
        if council not in store.parties("council", as_of=month_end, only=council):
            raise UsageError(f"council {council!r} is not in this ledger")
        return sorted(h for h, party in store.parties("holder", as_of=month_end).items()
                      if party.get("council") == council)
    assert provider is not None
    if provider not in store.parties("provider", as_of=month_end, only=provider):
        raise UsageError(f"provider {provider!r} is not in this ledger")
    found = set()
    for ref in store.state_refs("isf"):
        holder, _, of = ref.partition(":")
        if of != provider:
            continue
        state = store.get_state("isf", ref)
        if state is not None and state["opened"] <= month_end.isoformat():
            found.add(holder)
    return sorted(found)


# ---------------------------------------------------------------- building


def holder_statements(store: DbStore, holders: list[str], start: dt.date, end: dt.date,
                      parties: dict[str, dict] | None = None) -> Iterable[dict]:
    """Each holder's statement dict, as `statements.holder_statement` gives it, a chunk
    of people read at a time. Every holder must be a holder party by `end`."""
    _check_period(start, end)
    if parties is None:
        parties = store.parties("holder", as_of=end)
    councils = store.parties("council", as_of=end)
    providers = store.parties("provider", as_of=end)
    names = {f"{kind}:{pid}": p.get("name", pid)
             for kind, found in (("council", councils), ("provider", providers))
             for pid, p in found.items()}
    for first in range(0, len(holders), CHUNK):
        chunk = holders[first:first + CHUNK]
        yield from _chunk(store, chunk, start, end, parties, providers, names)


class _Loaded:
    """What the `holder_figures` functions and `earlier_agreements`/`isf_changes` read
    from a store (`get_state`, `parties`), served from what a chunk read at once; anything
    not read ahead falls through to the store."""

    def __init__(self, store: DbStore, states: dict[tuple[str, str], dict | None],
                 as_of: dt.date, parties: dict[str, dict[str, dict]]) -> None:
        self.store = store
        self.states = states
        self.as_of = as_of
        self._parties = parties

    def get_state(self, kind: str, ref: str) -> dict | None:
        if (kind, ref) in self.states:
            return self.states[(kind, ref)]
        return self.store.get_state(kind, ref)

    def parties(self, kind: str, as_of: dt.date | None = None,
                only: str | None = None) -> dict[str, dict]:
        if only is None and as_of == self.as_of and kind in self._parties:
            return self._parties[kind]
        return self.store.parties(kind, as_of=as_of, only=only)


def _chunk(store: DbStore, chunk: list[str], start: dt.date, end: dt.date,
           parties: dict[str, dict], providers: dict[str, dict],
           names: dict[str, str]) -> Iterable[dict]:
    states = _states(store, "budget", chunk)
    budgets = {h: (states.get(("budget", h)) or {}).get("budgets", []) for h in chunk}
    last = {h: max([end, *(dt.date.fromisoformat(b["to"]) for b in budgets[h])])
            for h in chunk}
    journals = _journals(store, chunk, last)
    accounts = {h: _movements(journals[h], h, start, end) for h in chunk}
    isfs, pools = set(), set()
    for rows in accounts.values():
        for row in rows:
            parts = row["account"].split(":")
            if parts[0] == "isf":
                isfs.add(f"{parts[1]}:{parts[2]}")
            elif parts[0] == "pool":
                pools.add(parts[1])
    states.update(_states(store, "dp_reviews", chunk))
    states.update(_states(store, "isf", sorted(isfs)))
    states.update(_states(store, "pool", sorted(pools)))
    loaded = _Loaded(store, states, end,
                     {"holder": parties, "provider": providers})
    for holder in chunk:
        yield build_holder_statement(loaded, holder, start, end, parties[holder],
                                     budgets[holder], journals[holder], accounts[holder],
                                     providers, names)


# ---------------------------------------------------------------- batched reads


def _states(store: DbStore, kind: str, refs: list[str]) -> dict[tuple[str, str], dict | None]:
    """(kind, ref) -> the stored state (None when there is none), a chunk of refs a
    query: what `store.get_state` gives for each."""
    found: dict[tuple[str, str], dict | None] = {(kind, ref): None for ref in refs}
    for first in range(0, len(refs), SEAL_CHUNK):
        part = refs[first:first + SEAL_CHUNK]
        for ref, data in store.conn.execute(
                select(m.InstrumentState.ref, m.InstrumentState.data).where(
                    m.InstrumentState.ledger_id == store.lid,
                    m.InstrumentState.kind == kind, m.InstrumentState.ref.in_(part))):
            found[(kind, ref)] = json.loads(data)
    return found


def _journals(store: DbStore, chunk: list[str], last: dict[str, dt.date]
              ) -> dict[str, list[Journal]]:
    """Each holder's journals as the one-at-a-time path loads them: posted, touching
    one of their accounts or made for them, dated to `last[holder]`, in posting order."""
    wanted = set(chunk)
    owned = select(m.Posting.journal_id).join(
        m.Account, (m.Account.ledger_id == m.Posting.ledger_id)
        & (m.Account.id == m.Posting.account_id)).where(
        m.Account.ledger_id == store.lid, m.Account.holder.in_(chunk))
    found: dict[str, list[Journal]] = {h: [] for h in chunk}
    made_for = select(m.Journal.id).where(m.Journal.ledger_id == store.lid,
                                          m.Journal.holder.in_(chunk))
    for journal in store.load_journals(  # a UNION, not an OR: two index lookups
            m.Journal.id.in_(owned.union(made_for)), m.Journal.date <= max(last.values())):
        whose = {account_holder(p.account) for p in journal.postings}
        whose.add(journal.holder)
        for holder in wanted.intersection(whose):
            if journal.date <= last[holder]:
                found[holder].append(journal)
    return found


def _movements(journals: list[Journal], holder: str, date_from: dt.date,
               date_to: dt.date) -> list[dict]:
    """`statements.account_movements`, from the holder's journals in memory: every
    journal with a posting to one of their accounts is among them."""
    sums: dict[tuple[str, str], list[int]] = {}
    for journal in journals:
        if journal.date > date_to:
            continue
        before = journal.date < date_from
        for posting in journal.postings:
            if not belongs_to(posting.account, holder):
                continue
            row = sums.setdefault((posting.account, posting.unit.value), [0, 0, 0])
            amount = posting.amount_minor
            if before:
                row[0] += amount
            elif amount > 0:
                row[1] += amount
            else:
                row[2] -= amount
    rows = []
    for (account, unit), (opening, money_in, money_out) in sorted(sums.items()):
        rows.append({
            "account": account, "unit": Unit(unit).value, "opening_minor": opening,
            "in_minor": money_in, "out_minor": money_out,
            "closing_minor": opening + money_in - money_out,
        })
    return rows
