"""A database error never carries the values of the statement that failed
(docs/web.md#logs): they can be a password's hash, a session's digest or a person's name
and figures, and an error reaches a server's log or a terminal. The statement itself may
be shown; its values are not."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.store.schema import make_engine

SECRET = "Ann Example, 14 Acacia Avenue"


@pytest.mark.parametrize("read_only", [False, True])
def test_a_failed_statements_values_are_not_in_its_error(db_url, read_only):
    writer = make_engine(db_url)
    with writer.begin() as conn:  # make the database, so the read-only engine opens it
        conn.execute(text("CREATE TABLE note (body VARCHAR(10))"))
    writer.dispose()
    engine = make_engine(db_url, read_only=read_only)
    with engine.connect() as conn, pytest.raises(DBAPIError) as raised:
        conn.execute(text("INSERT INTO no_such_table (body) VALUES (:body)"), {"body": SECRET})
    engine.dispose()
    said = str(raised.value)
    assert "no_such_table" in said  # the statement is there, to say what failed
    assert SECRET not in said and "Acacia" not in said
