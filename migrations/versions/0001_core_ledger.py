"""Core ledger: accounts, balances, journals, postings, events, period locks, parties,
instrument state, and the triggers that defend the invariants on each engine.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

# The triggers exactly as this revision installs them. A migration never imports live
# code: what a database holds is what its migrations made (docs/architecture.md).

_SQLITE_GUARDS = [
    """CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER posting_no_delete BEFORE DELETE ON posting
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER event_no_update BEFORE UPDATE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER event_no_delete BEFORE DELETE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER period_lock_no_update BEFORE UPDATE ON period_lock
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER period_lock_no_delete BEFORE DELETE ON period_lock
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: journals cannot be deleted; post a reversal');
END""",
    """CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must be inserted as draft and sealed')
  WHERE NEW.status <> 'draft';
  SELECT RAISE(ABORT, 'ledger:period_closed: the journal is dated in a closed period')
  WHERE NEW.date <= (SELECT MAX(until) FROM period_lock);
END""",
    """CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal
WHEN NOT (OLD.status = 'draft' AND NEW.status = 'posted') OR NEW.id IS NOT OLD.id OR NEW.key IS NOT OLD.key OR NEW.type IS NOT OLD.type OR NEW.date IS NOT OLD.date OR NEW.event_key IS NOT OLD.event_key OR NEW.holder IS NOT OLD.holder OR NEW.reverses_id IS NOT OLD.reverses_id OR NEW.payload_hash IS NOT OLD.payload_hash OR NEW.memo IS NOT OLD.memo OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a posted journal cannot be changed');
END""",
    """CREATE TRIGGER journal_seal_check BEFORE UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must sum to zero in each unit')
  WHERE 
    NOT EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id)
    OR EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id
               GROUP BY unit HAVING SUM(amount_minor) <> 0);
END""",
    """CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  
    INSERT INTO balance (account_id, unit, amount_minor)
    SELECT account_id, unit, SUM(amount_minor) FROM posting
    WHERE journal_id = NEW.id GROUP BY account_id, unit
    ON CONFLICT (account_id, unit)
    DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')
  WHERE 
    EXISTS (SELECT 1 FROM balance b
            JOIN (SELECT account_id, unit, SUM(amount_minor) AS delta FROM posting
                  WHERE journal_id = NEW.id GROUP BY account_id, unit) t
              ON t.account_id = b.account_id AND t.unit = b.unit
            WHERE t.delta < 0 AND b.floor_minor IS NOT NULL
              AND b.amount_minor < b.floor_minor);
END""",
    """CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting
WHEN (SELECT status FROM journal WHERE id = NEW.journal_id) IS NOT 'draft'
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: postings can only be added to a draft journal');
END""",
]
_POSTGRESQL_GUARDS = [
    """CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted', TG_TABLE_NAME;
END $$""",
    """CREATE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status <> 'draft') THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal must be inserted as draft and sealed';
  END IF;
  IF EXISTS (SELECT 1 FROM inserted
             WHERE date <= (SELECT MAX(until) FROM period_lock)) THEN
    RAISE EXCEPTION 'ledger:period_closed: a journal is dated in a closed period (up to %)',
      (SELECT MAX(until) FROM period_lock);
  END IF;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  below_floor boolean;
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  -- As sets (ids are unique): nothing but the status differs, compared by hashing rather
  -- than row by row.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM old_rows EXCEPT SELECT id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM sealed) THEN
    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';
  END IF;
  -- LATERAL drives every lookup from the batch through the posting index, whatever the
  -- planner's statistics say (a fresh table has none).
  IF EXISTS (SELECT 1 FROM sealed s
             LEFT JOIN LATERAL (SELECT p.unit, SUM(p.amount_minor) AS total FROM posting p
                                WHERE p.journal_id = s.id GROUP BY p.unit) t ON true
             WHERE t.unit IS NULL OR t.total <> 0) THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal does not sum to zero in each unit';
  END IF;
  WITH delta AS (
    SELECT p.account_id, p.unit, SUM(p.amount_minor) AS amount
    FROM sealed s CROSS JOIN LATERAL (SELECT account_id, unit, amount_minor FROM posting
                                      WHERE journal_id = s.id) p
    GROUP BY p.account_id, p.unit
  ), moved AS (
    INSERT INTO balance (account_id, unit, amount_minor)
    SELECT account_id, unit, amount FROM delta
    ON CONFLICT (account_id, unit)
    DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor
    RETURNING account_id, unit, amount_minor, floor_minor
  )
  SELECT EXISTS (SELECT 1 FROM moved m JOIN delta d
                   ON d.account_id = m.account_id AND d.unit = m.unit
                 WHERE d.amount < 0 AND m.floor_minor IS NOT NULL
                   AND m.amount_minor < m.floor_minor) INTO below_floor;
  IF below_floor THEN
    RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted p
             LEFT JOIN LATERAL (SELECT status FROM journal WHERE id = p.journal_id) j ON true
             WHERE j.status IS DISTINCT FROM 'draft') THEN
    RAISE EXCEPTION 'ledger:append_only: postings can only be added to a draft journal';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE TRIGGER journal_insert_guard AFTER INSERT ON journal
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION ledger_journals_inserted()""",
    """CREATE TRIGGER journal_seal AFTER UPDATE ON journal
REFERENCING OLD TABLE AS old_rows NEW TABLE AS sealed
FOR EACH STATEMENT EXECUTE FUNCTION ledger_journals_sealed()""",
    """CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER posting_insert_guard AFTER INSERT ON posting
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_inserted()""",
    """CREATE TRIGGER posting_append_only BEFORE UPDATE OR DELETE ON posting
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER period_lock_append_only BEFORE UPDATE OR DELETE ON period_lock
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
]
_POSTGRESQL_DROP = [
    "DROP FUNCTION IF EXISTS ledger_append_only() CASCADE",
    "DROP FUNCTION IF EXISTS ledger_journals_inserted() CASCADE",
    "DROP FUNCTION IF EXISTS ledger_journals_sealed() CASCADE",
    "DROP FUNCTION IF EXISTS ledger_postings_inserted() CASCADE",
]


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "balance",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), primary_key=True),
        sa.Column("unit", sa.String(3), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("floor_minor", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),
    )
    op.create_table(
        "period_lock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("holder", sa.String(60), nullable=True),
        sa.Column("reverses_id", sa.Integer(), sa.ForeignKey("journal.id"), nullable=True,
                  unique=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
    )
    op.create_index("ix_journal_date", "journal", ["date"])
    op.create_index("ix_journal_event_key", "journal", ["event_key"])
    op.create_index("ix_journal_holder", "journal", ["holder"])
    op.create_table(
        "posting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("journal_id", sa.Integer(), sa.ForeignKey("journal.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_posting_unit"),
        sa.CheckConstraint("amount_minor <> 0", name="ck_posting_nonzero"),
    )
    op.create_index("ix_posting_account", "posting", ["account_id", "unit"])
    op.create_index("ix_posting_journal", "posting", ["journal_id"])
    op.create_table(
        "event",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "party",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "instrument_state",
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("ref", sa.String(300), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_GUARDS if dialect == "sqlite" else _POSTGRESQL_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("instrument_state", "party", "event", "posting", "journal", "period_lock",
                  "balance", "account"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRESQL_DROP:
            op.execute(statement)
