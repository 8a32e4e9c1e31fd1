"""A change the database refuses rolls back to its savepoint; what the store had learned
inside it (new account ids, floors, the chain's last hash) must not outlive it."""

from __future__ import annotations

import datetime as dt

import pytest

import ledger.domain  # noqa: F401 (the floor rule the store applies: every entry point imports it)
from ledger.core.amounts import Unit
from ledger.core.change import Change, EventRecord
from ledger.core.journal import Journal, transfer
from ledger.errors import LedgerError
from ledger.store.repo import DbStore
from ledger.store.verify import first_break

pytestmark = pytest.mark.citus

D = dt.date(2026, 4, 1)


def _change(key: str, source: str, dest: str, pence: int) -> Change:
    journal = Journal(key, "test", D, tuple(transfer(source, dest, Unit.GBP, pence)), key)
    return Change(EventRecord(key, "test", D, "h"), journals=[journal])


def test_refused_change_leaves_store_usable_for_the_next_event(engine):
    with engine.begin() as conn:
        store = DbStore(conn)
        # Only the database sees this one: a brand-new DP account taken below zero.
        with pytest.raises(LedgerError) as refused:
            store.apply(_change("bad", "holder:HX:dp", "external:SHOP", 500))
        assert refused.value.code == "insufficient_funds"
        # The same accounts again, now properly funded, in the same transaction.
        store.apply(_change("pay", "council:C1:funding", "holder:HX:dp", 700))
        store.apply(_change("spend", "holder:HX:dp", "external:SHOP", 500))
        assert store.balance("holder:HX:dp", Unit.GBP) == 200
        assert store.event_hash("bad") is None
    with engine.connect() as conn:
        assert first_break(conn) is None
