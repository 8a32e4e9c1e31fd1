"""The tests' databases at the newest schema are copies of a template (tests/dbutil.py,
`migrate`) instead of each running the migrations. A copy must be exactly what the
migrations make of an empty database, or every test on one would test something else."""

from __future__ import annotations

from sqlalchemy import inspect, text

from ledger.store.schema import SCHEMA_HEAD, current_revision, make_engine, upgrade
from tests.dbutil import empty_database, migrate
from tests.store.test_migrations import _installed


def _described(url: str) -> dict:
    """Everything a database holds: its tables' columns, keys, indexes and constraints,
    its triggers (and PostgreSQL functions), every row, and where each sequence stands."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            tables = sorted(found.get_table_names())
            shape = {t: (found.get_columns(t), found.get_pk_constraint(t),
                         found.get_foreign_keys(t), found.get_indexes(t),
                         found.get_unique_constraints(t), found.get_check_constraints(t))
                     for t in tables}
            # Every column but when ledger `main` was made (on SQLite the copy keeps the
            # template's moment, earlier in the same run).
            rows = {t: sorted(map(tuple, conn.execute(text("SELECT {} FROM \"{}\"".format(
                ", ".join(f'"{c["name"]}"' for c in found.get_columns(t)
                          if (t, c["name"]) != ("ledger", "created_at")), t)))), key=repr)
                    for t in tables}
            if engine.dialect.name == "sqlite":
                extra = [conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
                         conn.exec_driver_sql("PRAGMA user_version").scalar(),
                         sorted(conn.exec_driver_sql(
                             "SELECT type, name, tbl_name, sql FROM sqlite_master"))]
            else:
                extra = sorted(conn.execute(text(
                    "SELECT sequencename, last_value, start_value, increment_by "
                    "FROM pg_sequences WHERE schemaname = current_schema()")))
        return {"shape": repr(shape), "rows": rows, "guards": _installed(engine),
                "extra": repr(extra)}
    finally:
        engine.dispose()


def test_a_copied_database_is_what_the_migrations_make(db_url, tmp_path):
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    with empty_database(kind, tmp_path) as migrated:
        engine = make_engine(migrated)
        upgrade(engine)
        engine.dispose()
        migrate(db_url)
        assert current_revision(make_engine(db_url)) == SCHEMA_HEAD
        copied, made = _described(db_url), _described(migrated)
    assert made["rows"]["ledger"], "the migrations make ledger `main`"
    assert copied == made


def test_the_copy_can_differ(db_url, tmp_path):
    """The comparison above can fail: a migrated database with one trigger dropped is
    described differently from a copy."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    with empty_database(kind, tmp_path) as migrated:
        engine = make_engine(migrated)
        upgrade(engine)
        with engine.begin() as conn:
            if kind == "sqlite":
                conn.execute(text("DROP TRIGGER posting_no_update"))
            else:
                conn.execute(text("DROP TRIGGER posting_append_only ON posting"))
        engine.dispose()
        migrate(db_url)
        assert _described(db_url) != _described(migrated)
