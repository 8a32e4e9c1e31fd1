"""Alembic environment. `ledger` passes its own connection in `config.attributes`;
the alembic command line (developers) uses the URL from alembic.ini or -x url=..."""

from alembic import context
from sqlalchemy import create_engine

from ledger.store.models import Base

config = context.config
target_metadata = Base.metadata


def _include(sqlite: bool):
    def include(_object, name, type_, _reflected, _compare_to) -> bool:
        # SQLite keeps the keys it had before revision 0010 (docs/architecture.md#keys):
        # the mappings give the keys that name their ledger, which PostgreSQL has
        # (SQLite's `UNIQUE (reverses_id)` is the stricter form of the reversal's key).
        return not (sqlite and (type_ == "foreign_key_constraint"
                                or name == "uq_journal_reverses"))
    return include


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        include_object=_include(sqlite),
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
