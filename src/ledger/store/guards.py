"""The database's own defence of the ledger's invariants, as SQL per dialect.

The same "seal" pattern on both engines (research/ledger_anchors.md section 3):
  1. a journal is inserted as `draft`, then its postings;
  2. `UPDATE journal SET status = 'posted'` fires a trigger that refuses the seal unless
     the postings sum to zero in each unit, then adds them to the running balances and
     refuses any balance pushed below its floor;
  3. other triggers refuse posted journals being inserted directly, postings added to a
     sealed journal, any other UPDATE, any DELETE, and dates inside a locked period.
A draft that is never sealed counts for nothing (balances move only at the seal, and
every read filters on `posted`); `ledger verify` reports one as a break. (A per-journal
deferred check at commit on PostgreSQL cost three quarters of the bulk path's time.)
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
    """Set-based on PostgreSQL: the checks that query run once per statement over its
    transition table (one seal UPDATE for a whole batch of journals), not once per row."""
    columns = ", ".join(_JOURNAL_COLUMNS)
    stmts = [
        """
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted', TG_TABLE_NAME;
END $$""",
        """
CREATE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
        f"""
CREATE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  below_floor boolean;
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  -- As sets (ids are unique): nothing but the status differs, compared by hashing rather
  -- than row by row.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT {columns} FROM old_rows EXCEPT SELECT {columns} FROM sealed) THEN
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
        """
CREATE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
            for fn in ("ledger_append_only", "ledger_journals_inserted",
                       "ledger_journals_sealed",
                       "ledger_postings_inserted")
        ]
    return []
