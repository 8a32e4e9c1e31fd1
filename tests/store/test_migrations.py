"""Alembic owns the schema: it must build from nothing, tear down, build again, and match
the SQLAlchemy mappings exactly, on both engines."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ledger.store.schema import alembic_config, make_engine

TABLES = {"account", "balance", "journal", "posting", "event", "period_lock", "party",
          "instrument_state"}


def _run(engine, fn, *args) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, *args)


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_round_trip(db_url):
    engine = make_engine(db_url)
    _run(engine, command.upgrade, "head")
    assert _tables(engine) == TABLES
    _run(engine, command.downgrade, "base")
    assert _tables(engine) == set()
    _run(engine, command.upgrade, "head")
    assert _tables(engine) == TABLES
    engine.dispose()


def test_models_match_migrations_no_drift(db_url):
    """`alembic check` raises when autogenerate would produce any operation."""
    engine = make_engine(db_url)
    _run(engine, command.upgrade, "head")
    _run(engine, command.check)
    engine.dispose()
