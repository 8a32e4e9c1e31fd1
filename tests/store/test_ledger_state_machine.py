"""The store driven by random journals, reversals, duplicate submissions, period locks and
floors, against a plain-Python reference model (TigerBeetle's "auditor" idea).

After every step: each unit sums to zero, stored balances equal the posted sums and the
model, replays are idempotent, floors and locks hold, and `verify` finds the hash chain
intact. Runs on SQLite always and on PostgreSQL when LEDGER_TEST_POSTGRES_URL is set.
LEDGER_SOAK=N multiplies the number of examples (the benchmarks' long soak uses it).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, Posting, reversal_of, transfer
from ledger.domain.floors import default_floor
from ledger.errors import LedgerError
from ledger.reports.balances import balances
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import first_break
from tests.dbutil import migrated_database

SOAK = int(os.environ.get("LEDGER_SOAK", "1"))
ACCOUNTS = ["council:C1:funding", "council:C1:hours", "holder:H1:dp", "holder:H2:dp",
            "isf:H1:P1", "pool:L1:H1", "external:PA"]
DAY0 = dt.date(2026, 4, 1)

dates = st.integers(0, 60).map(lambda n: DAY0 + dt.timedelta(days=n))
legs = st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS),
                 st.sampled_from(list(Unit)), st.integers(1, 50_000)).filter(
    lambda leg: leg[0] != leg[1])


class Model:
    """What the ledger should contain, computed without a database."""

    def __init__(self) -> None:
        self.balances: dict[tuple[str, Unit], int] = defaultdict(int)
        self.journals: dict[str, Journal] = {}
        self.reversed: set[str] = set()
        self.lock: dt.date | None = None
        self.floors: dict[tuple[str, Unit], int] = {}

    def floor(self, account: str, unit: Unit) -> int | None:
        return self.floors.get((account, unit), default_floor(account, unit))

    def expected_outcome(self, journal: Journal) -> str:
        known = self.journals.get(journal.key)
        if known is not None:
            return "replay" if known.payload_hash() == journal.payload_hash() else \
                "duplicate_conflict"
        if journal.reverses_key and journal.reverses_key in self.reversed:
            return "invalid"
        if self.lock is not None and journal.date <= self.lock:
            return "period_closed"
        # A floor holds on every date (docs/rules-trust.md#floors): each floored balance
        # the journal takes from, at the end of its date and of every later posting date.
        taken = {(p.account, p.unit) for p in journal.postings if p.amount_minor < 0}
        for account, unit in taken:
            floor = self.floor(account, unit)
            if floor is None:
                continue
            moves = [(j.date, p.amount_minor) for j in [*self.journals.values(), journal]
                     for p in j.postings if (p.account, p.unit) == (account, unit)]
            for day in {d for d, _ in moves if d >= journal.date}:
                if sum(n for d, n in moves if d <= day) < floor:
                    return "insufficient_funds"
        return "posted"

    def post(self, journal: Journal) -> None:
        self.journals[journal.key] = journal
        if journal.reverses_key:
            self.reversed.add(journal.reverses_key)
        for p in journal.postings:
            self.balances[(p.account, p.unit)] += p.amount_minor


class LedgerMachine(RuleBasedStateMachine):
    kind = "sqlite"
    posted = Bundle("posted")

    def __init__(self) -> None:
        super().__init__()
        self._folder = tempfile.TemporaryDirectory()
        self._db = migrated_database(self.kind, Path(self._folder.name))
        self.engine = make_engine(self._db.__enter__())
        upgrade(self.engine)
        self.model = Model()
        self.steps = 0

    def teardown(self) -> None:
        self.engine.dispose()
        self._db.__exit__(None, None, None)
        self._folder.cleanup()

    def _submit(self, journal: Journal, floors: dict | None = None) -> str:
        """Submit through the store; return the outcome the database gave."""
        self.steps += 1
        change = Change(EventRecord(f"ev{self.steps}", "test", journal.date, "h"),
                        journals=[journal], floors=floors or {})
        try:
            with self.engine.begin() as conn:
                DbStore(conn).apply(change)
        except LedgerError as err:
            return err.code
        before = self.model.journals.get(journal.key)
        return "replay" if before is not None else "posted"

    def _check(self, journal: Journal) -> str:
        wanted = self.model.expected_outcome(journal)
        got = self._submit(journal)
        assert got == wanted, (journal, wanted, got)
        if got == "posted":
            self.model.post(journal)
        return got

    @rule(target=posted, key=st.integers(0, 40), on=dates, parts=st.lists(legs, min_size=1,
                                                                             max_size=3))
    def post_journal(self, key, on, parts):
        postings: list[Posting] = []
        for source, dest, unit, amount in parts:
            postings += transfer(source, dest, unit, amount)
        journal = Journal(f"j{key}", "test", on, tuple(postings), "e", holder=None)
        outcome = self._check(journal)
        return journal.key if outcome == "posted" else self.model.journals.get(journal.key,
                                                                                journal).key

    @rule(key=posted)
    def resubmit_identical_is_a_replay(self, key):
        journal = self.model.journals.get(key)
        if journal is None:
            return
        assert self._submit(journal) == "replay"

    @rule(key=posted, on=dates)
    def reverse(self, key, on):
        original = self.model.journals.get(key)
        if original is None or original.type == "reversal":
            return
        self._check(reversal_of(original, f"rev-{key}", on, "e", "test"))

    @rule(key=consumes(posted), on=dates)
    def reverse_twice_is_refused(self, key, on):
        original = self.model.journals.get(key)
        if original is None or original.type == "reversal" or key not in self.model.reversed:
            return
        assert self._submit(reversal_of(original, f"rev2-{key}", on, "e", "again")) == "invalid"

    @rule(until=dates)
    def close_period(self, until):
        self.steps += 1
        change = Change(EventRecord(f"ev{self.steps}", "close_period", until, "h"),
                        lock_until=until)
        with self.engine.begin() as conn:
            DbStore(conn).apply(change)
        self.model.lock = max(self.model.lock or until, until)

    @rule(borrow=st.integers(0, 600))
    def set_isf_hours_floor(self, borrow):
        key = ("isf:H1:P1", Unit.HRS)
        # A floor dated DAY0 must hold on every date from DAY0 on (as an ISF's does from
        # the day it opens), or verify rightly reports a date below it.
        moves = sorted((j.date, p.amount_minor) for j in self.model.journals.values()
                       for p in j.postings if (p.account, p.unit) == key)
        if any(sum(n for d, n in moves if d <= day) < -borrow for day, _ in moves):
            return
        self.steps += 1
        change = Change(EventRecord(f"ev{self.steps}", "floor", DAY0, "h"),
                        floors={key: -borrow})
        with self.engine.begin() as conn:
            DbStore(conn).apply(change)
        self.model.floors[key] = -borrow

    @invariant()
    def database_agrees_with_the_model(self):
        with self.engine.connect() as conn:
            stored = {(r.account, r.unit): r.minor for r in balances(conn)}
            problem = first_break(conn)
        assert problem is None, problem
        expected = {k: v for k, v in self.model.balances.items()
                    if any(p.account == k[0] and p.unit == k[1]
                           for j in self.model.journals.values() for p in j.postings)}
        assert stored == expected
        for unit in Unit:
            assert sum(v for (_, u), v in stored.items() if u is unit) == 0
        for (account, unit), value in stored.items():
            floor = self.model.floor(account, unit)
            assert floor is None or value >= floor or self.model.floors.get((account, unit)) \
                is not None


def _run(kind: str, examples: int) -> None:
    machine = type(f"LedgerMachine_{kind}", (LedgerMachine,), {"kind": kind})
    machine.TestCase.settings = settings(
        max_examples=examples * SOAK,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.TestCase("runTest").runTest()


def test_ledger_state_machine_sqlite():
    _run("sqlite", 30)


@pytest.mark.postgres
def test_ledger_state_machine_postgres():
    from tests.dbutil import require_postgres

    require_postgres()
    _run("postgres", 15)
