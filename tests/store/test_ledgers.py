"""Ledgers in one database (docs/architecture.md#ledgers): each has its own accounts, keys,
parties, period lock and hash chain, and a writer in one never waits on a writer in
another."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import text

from ledger.app.rebuild import rebuild_break
from ledger.core.amounts import Unit
from ledger.core.journal import Journal, Posting
from ledger.store.repo import DbStore
from ledger.store.schema import make_engine, upgrade
from ledger.store.verify import ChainHead, first_break
from tests.dbutil import empty_database, require_citus, require_postgres

pytestmark = pytest.mark.citus


def _journal(key: str, pence: int, on: dt.date = dt.date(2026, 4, 1)) -> Journal:
    return Journal(key, "transfer", on, (Posting("council:C1:funding", Unit.GBP, -pence),
                                         Posting("holder:H1:dp", Unit.GBP, pence)))


def test_the_same_keys_in_two_ledgers_are_two_separate_sets_of_books(engine):
    with engine.connect() as conn:
        assert DbStore(conn, "council-a").post([_journal("pay-1", 10_000)]) == 1
        assert DbStore(conn, "council-b").post([_journal("pay-1", 25_000)]) == 1
        # A replay in its own ledger is skipped; a different payload is a conflict there.
        assert DbStore(conn, "council-a").post([_journal("pay-1", 10_000)]) == 0
        conn.commit()
    with engine.connect() as conn:
        a, b = DbStore(conn, "council-a"), DbStore(conn, "council-b")
        assert a.balance("holder:H1:dp", Unit.GBP) == 10_000
        assert b.balance("holder:H1:dp", Unit.GBP) == 25_000
        assert DbStore(conn, "main").balance("holder:H1:dp", Unit.GBP) == 0
        for name in ("council-a", "council-b"):
            head = ChainHead()
            assert first_break(conn, head, name) is None
            assert rebuild_break(conn, name) is None
            assert head.journals == 1
        heads = [conn.execute(text("SELECT event_hash FROM ledger WHERE name = :n"),
                              {"n": n}).scalar_one() for n in ("council-a", "council-b")]
        assert heads[0] != heads[1]


def test_a_period_lock_in_one_ledger_does_not_close_another(engine):
    from ledger.core.change import Change, EventRecord

    with engine.connect() as conn:
        a = DbStore(conn, "council-a")
        a.apply(Change(EventRecord("close-march", "close_period", dt.date(2026, 4, 30), "x"),
                       lock_until=dt.date(2026, 4, 30)))
        assert a.locked_until() == dt.date(2026, 4, 30)
        b = DbStore(conn, "council-b")
        assert b.locked_until() is None
        assert b.post([_journal("pay-april", 500)]) == 1  # April is open in council-b
        conn.commit()


def test_verify_names_the_ledger_whose_head_row_was_rewound(engine):
    with engine.connect() as conn:
        DbStore(conn, "council-a").post([_journal("pay-1", 100)])
        DbStore(conn, "council-a").post([_journal("pay-2", 100)])
        conn.commit()
    with engine.connect() as conn:
        # Rewinding the head would let the next writer fork the chain: verify says so.
        conn.execute(text("UPDATE ledger SET event_hash = :h WHERE name = 'council-a'"),
                     {"h": "0" * 64})
        assert "head row" in (first_break(conn, ChainHead(), "council-a") or "")
        assert first_break(conn, ChainHead(), "main") is None


def _require(kind: str) -> None:
    require_citus() if kind == "citus" else require_postgres()


def _lock_timeout(conn, timeout: str) -> None:
    """A lock timeout for the rest of `conn`'s transaction. On Citus the lock is waited
    for on the worker, so the setting goes there too (Citus passes SET LOCAL on when asked
    to); on one PostgreSQL the same SET LOCAL is simply the server's."""
    if conn.dialect.name == "postgresql" and conn.execute(text(
            "SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar():
        conn.execute(text("SET citus.propagate_set_commands = 'local'"))
    conn.execute(text(f"SET LOCAL lock_timeout = '{timeout}'"))


@pytest.mark.parametrize("kind", ["postgres", "citus"])
def test_a_transaction_held_open_in_one_ledger_never_delays_a_commit_in_another(
        kind, tmp_path):
    _require(kind)
    with empty_database(kind, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        with engine.connect() as setup:
            for name in ("council-a", "council-b"):
                DbStore(setup, name).post([_journal(f"{name}-opening", 1_000)])
            setup.commit()
        with engine.connect() as held:
            DbStore(held, "council-a").post([_journal("a-held", 50)])  # row lock held
            with engine.connect() as other:
                # No wait at all, whatever the machine's load: `held` keeps its locks
                # until after this block, so a writer that queued behind any of them
                # could never commit here; it would give up with a lock timeout (which
                # counts only time spent waiting for a lock, never for a busy CPU).
                _lock_timeout(other, "3s")
                DbStore(other, "council-b").post([_journal("b-while-a-is-open", 70)])
                other.commit()
            # The check can fail: a second writer in the held ledger does wait, and with
            # a lock timeout it gives up rather than forking the chain.
            with engine.connect() as same:
                _lock_timeout(same, "300ms")
                with pytest.raises(Exception, match="lock timeout"):
                    DbStore(same, "council-a").post([_journal("a-second-writer", 10)])
                same.rollback()
            held.commit()
        with engine.connect() as conn:
            for name in ("council-a", "council-b"):
                assert first_break(conn, ChainHead(), name) is None
        engine.dispose()


def _two_per_worker(engine) -> list[str]:
    """Ledgers made one by one until two sit on each worker (a ledger's worker follows
    from its id, which the database hands out): their names, two per worker."""
    from ledger.store.citus import placements

    for n in range(64):
        with engine.connect() as conn:
            DbStore(conn, f"c{n}").lock_for_write()
            conn.commit()
            by_node: dict[str, list[str]] = {}
            for name, _, node in placements(conn):
                if name.startswith("c"):
                    by_node.setdefault(node, []).append(name)
        if len(by_node) == 2 and all(len(v) >= 2 for v in by_node.values()):
            return [name for names in by_node.values() for name in names[:2]]
    raise AssertionError(f"64 ledgers never put two on each worker: {by_node}")


@pytest.mark.parametrize("kind", ["postgres", "citus"])
def test_writers_in_four_ledgers_at_once_all_land_and_each_chain_verifies(kind, tmp_path):
    _require(kind)
    with empty_database(kind, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        errors: list[BaseException] = []

        def write(name: str) -> None:
            try:
                for n in range(20):
                    with engine.connect() as conn:
                        DbStore(conn, name).post([_journal(f"{name}-{n}", 100 + n)])
                        conn.commit()
            except BaseException as err:  # reported below
                errors.append(err)

        names = [f"l{n}" for n in range(4)]
        if kind == "citus":  # two ledgers on each worker: made first, where the ids fell
            names = _two_per_worker(engine)
        threads = [threading.Thread(target=write, args=(name,)) for name in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with engine.connect() as conn:
            for name in names:
                head = ChainHead()
                assert first_break(conn, head, name) is None
                assert head.journals == 20
            if kind == "citus":  # the four writers were on both workers
                from ledger.store.citus import placements

                nodes = {node for name, _, node in placements(conn) if name in names}
                assert len(nodes) == 2, placements(conn)
        engine.dispose()


@pytest.mark.parametrize("kind", ["postgres", "citus"])
def test_a_first_writer_that_rolls_back_leaves_the_new_ledger_to_the_one_waiting(
        kind, tmp_path):
    """Two first writers of one new ledger: the second waits on the first's claim of the
    name. If the first then rolls back, nothing of its ledger may remain, and the second
    must make the ledger itself and land, with a chain of its own journal only."""
    _require(kind)
    with empty_database(kind, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        landed: list[int] = []
        errors: list[BaseException] = []
        with engine.connect() as first:
            DbStore(first, "new-council").post([_journal("first", 111)])  # name claimed

            def second() -> None:
                try:
                    with engine.connect() as conn:
                        landed.append(DbStore(conn, "new-council").post(
                            [_journal("second", 222)]))
                        conn.commit()
                except BaseException as err:  # reported below
                    errors.append(err)

            waiting = threading.Thread(target=second)
            waiting.start()
            waiting.join(timeout=2)
            assert waiting.is_alive(), "the second writer did not wait for the first"
            first.rollback()
        waiting.join(timeout=60)
        assert not waiting.is_alive() and errors == [] and landed == [1]
        with engine.connect() as conn:
            store = DbStore(conn, "new-council")
            assert store.balance("holder:H1:dp", Unit.GBP) == 222
            head = ChainHead()
            assert first_break(conn, head, "new-council") is None
            assert head.journals == 1
            assert rebuild_break(conn, "new-council") is None
            names = conn.execute(text("SELECT count(*) FROM ledger_name WHERE name = :n"),
                                 {"n": "new-council"}).scalar_one()
            rows = conn.execute(text("SELECT count(*) FROM ledger WHERE name = :n"),
                                {"n": "new-council"}).scalar_one()
            assert (names, rows) == (1, 1)
        engine.dispose()
