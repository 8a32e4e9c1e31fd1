"""The database's own defence of the ledger's invariants, as SQL per dialect.

The same "seal" pattern on both engines (research/ledger_anchors.md section 3):
  1. a journal is inserted as `draft`, then its postings;
  2. `UPDATE journal SET status = 'posted'` fires a trigger that refuses the seal unless
     the postings sum to zero in each unit, then adds them to the running balances and
     refuses any balance pushed below its floor;
  3. other triggers refuse posted journals being inserted directly, postings added to a
     sealed journal, any other UPDATE, any DELETE, and dates inside a locked period.
PostgreSQL also refuses, at commit, a draft that was never sealed.
Error messages start `ledger:CODE:` so the store can map them back to contract codes.
Used by the migrations (which own the schema), never at run time.
"""

from __future__ import annotations

_APPEND_ONLY_TABLES = ("posting", "event", "period_lock")

_JOURNAL_COLUMNS = (
    "id", "key", "type", "date", "event_key", "holder", "reverses_id", "payload_hash",
    "memo", "prev_hash", "hash", "created_at",
)

_UNBALANCED_SQL = """
    NOT EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id)
    OR EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id
               GROUP BY unit HAVING SUM(amount_minor) <> 0)"""

_BELOW_FLOOR_SQL = """
    EXISTS (SELECT 1 FROM balance b
            JOIN (SELECT account_id, unit, SUM(amount_minor) AS delta FROM posting
                  WHERE journal_id = NEW.id GROUP BY account_id, unit) t
              ON t.account_id = b.account_id AND t.unit = b.unit
            WHERE t.delta < 0 AND b.floor_minor IS NOT NULL
              AND b.amount_minor < b.floor_minor)"""

_ADD_TO_BALANCES_SQL = """
    INSERT INTO balance (account_id, unit, amount_minor)
    SELECT account_id, unit, SUM(amount_minor) FROM posting
    WHERE journal_id = NEW.id GROUP BY account_id, unit
    ON CONFLICT (account_id, unit)
    DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor"""


def _sqlite() -> list[str]:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _JOURNAL_COLUMNS)
    stmts = []
    for table in _APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            stmts.append(f"""
CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table}
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: {table} rows cannot be changed or deleted');
END""")
    stmts += [
        """
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: journals cannot be deleted; post a reversal');
END""",
        """
CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must be inserted as draft and sealed')
  WHERE NEW.status <> 'draft';
  SELECT RAISE(ABORT, 'ledger:period_closed: the journal is dated in a closed period')
  WHERE NEW.date <= (SELECT MAX(until) FROM period_lock);
END""",
        f"""
CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal
WHEN NOT (OLD.status = 'draft' AND NEW.status = 'posted') OR {changed}
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a posted journal cannot be changed');
END""",
        f"""
CREATE TRIGGER journal_seal_check BEFORE UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must sum to zero in each unit')
  WHERE {_UNBALANCED_SQL};
END""",
        f"""
CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  {_ADD_TO_BALANCES_SQL};
  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')
  WHERE {_BELOW_FLOOR_SQL};
END""",
        """
CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting
WHEN (SELECT status FROM journal WHERE id = NEW.journal_id) IS NOT 'draft'
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: postings can only be added to a draft journal');
END""",
    ]
    return stmts


def _postgresql() -> list[str]:
    new_cols = ", ".join(f"NEW.{c}" for c in _JOURNAL_COLUMNS)
    old_cols = ", ".join(f"OLD.{c}" for c in _JOURNAL_COLUMNS)
    stmts = [
        """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted', TG_TABLE_NAME;
END $$""",
        """
CREATE FUNCTION ledger_journal_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'draft' THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal must be inserted as draft and sealed';
  END IF;
  IF NEW.date <= (SELECT MAX(until) FROM period_lock) THEN
    RAISE EXCEPTION 'ledger:period_closed: % is in a closed period', NEW.date;
  END IF;
  RETURN NEW;
END $$""",
        f"""
CREATE FUNCTION ledger_journal_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (OLD.status = 'draft' AND NEW.status = 'posted')
     OR ROW({new_cols}) IS DISTINCT FROM ROW({old_cols}) THEN
    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';
  END IF;
  IF {_UNBALANCED_SQL} THEN
    RAISE EXCEPTION 'ledger:unbalanced: journal % does not sum to zero in each unit', NEW.key;
  END IF;
  {_ADD_TO_BALANCES_SQL};
  IF {_BELOW_FLOOR_SQL} THEN
    RAISE EXCEPTION 'ledger:insufficient_funds: journal % takes a balance below its floor',
      NEW.key;
  END IF;
  RETURN NEW;
END $$""",
        """
CREATE FUNCTION ledger_posting_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT status FROM journal WHERE id = NEW.journal_id) IS DISTINCT FROM 'draft' THEN
    RAISE EXCEPTION 'ledger:append_only: postings can only be added to a draft journal';
  END IF;
  RETURN NEW;
END $$""",
        """
CREATE FUNCTION ledger_sealed_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM journal WHERE id = NEW.id AND status = 'draft') THEN
    RAISE EXCEPTION 'ledger:unbalanced: journal % was never sealed', NEW.key;
  END IF;
  RETURN NULL;
END $$""",
        """CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal
FOR EACH ROW EXECUTE FUNCTION ledger_journal_insert()""",
        """CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal
FOR EACH ROW EXECUTE FUNCTION ledger_journal_update()""",
        """CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
        """CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting
FOR EACH ROW EXECUTE FUNCTION ledger_posting_insert()""",
        """CREATE CONSTRAINT TRIGGER journal_sealed_at_commit AFTER INSERT ON journal
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_sealed_at_commit()""",
    ]
    for table in _APPEND_ONLY_TABLES:
        stmts.append(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
    return stmts


def install_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return _sqlite()
    if dialect == "postgresql":
        return _postgresql()
    raise ValueError(f"no guards for the {dialect} dialect")


def drop_statements(dialect: str) -> list[str]:
    """Dropping the tables drops their triggers; PostgreSQL's functions go separately."""
    if dialect == "postgresql":
        return [
            f"DROP FUNCTION IF EXISTS {fn}() CASCADE"
            for fn in ("ledger_append_only", "ledger_journal_insert", "ledger_journal_update",
                       "ledger_posting_insert", "ledger_sealed_at_commit")
        ]
    return []
