"""Account properties immutable and hashed in the books (docs/rules-trust.md#accounts).

- `account.event_key`: the key of the record that opened the account (the first record
  whose journals post to it or whose floors name it). That record's hash covers every
  property of the account (its path and its holder), so `verify` catches a changed
  property even with the guards off. Accounts opened before this revision keep NULL: the
  records that opened them were hashed without them and their hashes never change;
  `verify` checks their holder against the rule that gives it (below) instead. Adding a
  nullable column changes no row, so the guards on `account` are not involved.
- A new account's holder must be the one its path names (holder:{H}:*, isf:{H}:*,
  pool:*:{H}, fund:*:award:{H}; any other account has none), so a row made by hand
  ahead of an account's first use cannot hand one person's account to another.
- UPDATE and DELETE of an account, and TRUNCATE on PostgreSQL, were already refused
  (revisions 0002 and 0003: `account_no_update`, `account_no_delete`,
  `account_append_only`, `account_no_truncate`); those guards cover every column, the new
  one included, and stay as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from alembic import op
from sqlalchemy import text

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _sqlite_owner(path: str) -> str:
    """The holder a path names, in SQLite's SQL (this revision's own copy of the rule)."""
    colons = f"(length({path}) - length(replace({path}, ':', '')))"
    first = f"substr({path}, 1, instr({path}, ':') - 1)"
    rest1 = f"substr({path}, instr({path}, ':') + 1)"
    second = f"substr({rest1}, 1, instr({rest1}, ':') - 1)"
    rest2 = f"substr({rest1}, instr({rest1}, ':') + 1)"
    third = f"substr({rest2}, 1, instr({rest2}, ':') - 1)"
    fourth = f"substr({rest2}, instr({rest2}, ':') + 1)"
    return (f"CASE WHEN {colons} = 2 AND {first} IN ('holder', 'isf') THEN {second}"
            f" WHEN {colons} = 2 AND {first} = 'pool' THEN {rest2}"
            f" WHEN {colons} = 3 AND {first} = 'fund' AND {third} = 'award' THEN {fourth}"
            " END")


def _postgres_owner(path: str) -> str:
    """The same rule in PostgreSQL's SQL."""
    colons = f"(length({path}) - length(replace({path}, ':', '')))"
    part = [None] + [f"split_part({path}, ':', {n})" for n in (1, 2, 3, 4)]
    return (f"CASE WHEN {colons} = 2 AND {part[1]} IN ('holder', 'isf') THEN {part[2]}"
            f" WHEN {colons} = 2 AND {part[1]} = 'pool' THEN {part[3]}"
            f" WHEN {colons} = 3 AND {part[1]} = 'fund' AND {part[3]} = 'award'"
            f" THEN {part[4]} END")


_MESSAGE = "ledger:invalid: an account''s holder is the one its path names"

_SQLITE_UP = [
    f"""CREATE TRIGGER account_insert_guard BEFORE INSERT ON account
WHEN NEW.holder IS NOT ({_sqlite_owner("NEW.path")})
BEGIN SELECT RAISE(ABORT, '{_MESSAGE}');
END""",
]
_POSTGRESQL_UP = [
    f"""CREATE FUNCTION ledger_account_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.holder IS DISTINCT FROM ({_postgres_owner("NEW.path")}) THEN
    RAISE EXCEPTION '{_MESSAGE}';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER account_insert_guard BEFORE INSERT ON account
FOR EACH ROW EXECUTE FUNCTION ledger_account_inserted()""",
]


def upgrade() -> None:
    op.execute("ALTER TABLE account ADD COLUMN event_key VARCHAR(300)")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in _SQLITE_UP if sqlite else _POSTGRESQL_UP:
        op.execute(statement)


def downgrade() -> None:
    # An account opened from this revision on is in its record's hash: without its
    # `event_key`, that record would no longer verify. Going back is for a database
    # whose accounts were all opened before it.
    bind = op.get_bind()
    later = bind.execute(text("SELECT count(*) FROM account WHERE event_key IS NOT NULL")
                         ).scalar_one()
    if later:
        raise RuntimeError(f"{later} accounts were opened under revision 0006 and are in "
                           "their records' hashes; downgrading would break them")
    if bind.dialect.name == "sqlite":
        op.execute("DROP TRIGGER account_insert_guard")
    else:
        op.execute("DROP TRIGGER account_insert_guard ON account")
        op.execute("DROP FUNCTION ledger_account_inserted()")
    op.execute("ALTER TABLE account DROP COLUMN event_key")
