"""Trust: a hash chain over every record, party records and floors that are never edited,
floors checked once per event, and guards without gaps (TRUNCATE, account properties).

- `event` becomes the hash chain: `seq` orders it; `hash` covers the record, every field
  of each journal it posted and each party record it wrote; `payload` keeps the event as
  written so `verify` can replay it (docs/rules-trust.md#verify).
- `party` is replaced by the append-only `party_record` (a declaration, then dated
  `party_update`s); each legacy party becomes a declaration record in the chain.
- `balance.floor_minor`, which anyone could set to NULL, is replaced by the append-only
  `account_floor`.
- The floor check moves from the seal of each journal to the insert of the event record,
  so SQLite and PostgreSQL both check each event's net effect (docs/rules-trust.md#floors).
- Accounts, balances' keys, floors and party records cannot be changed or deleted, and no
  table can be truncated on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = ("account", "balance", "account_floor", "journal", "posting", "event",
           "period_lock", "party_record", "instrument_state")

# The floor check, once per event, when the last of its journals is sealed (so the net
# effect of the whole event counts, on both engines): a floored balance that the event's
# journals took from is below its newest floor at the end of the first day the event
# takes from it, or of any later day with postings (docs/rules-trust.md#floors). A
# journal left as a draft to dodge it counts for nothing, and `verify` reports it.
_BELOW_FLOOR = """
    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(j.date) AS first_date
                           FROM journal j JOIN posting p ON p.journal_id = j.id
                           WHERE j.event_key = {event_key} AND p.amount_minor < 0
                           GROUP BY p.account_id, p.unit) t
            JOIN account_floor f ON f.id = (SELECT MAX(id) FROM account_floor
                                            WHERE account_id = t.account_id
                                              AND unit = t.unit)
            JOIN posting later ON later.account_id = t.account_id AND later.unit = t.unit
            JOIN journal lj ON lj.id = later.journal_id
            WHERE lj.date >= t.first_date AND lj.status = 'posted'
              AND (SELECT SUM(q.amount_minor) FROM posting q
                   JOIN journal qj ON qj.id = q.journal_id
                   WHERE q.account_id = t.account_id AND q.unit = t.unit
                     AND qj.status = 'posted' AND qj.date <= lj.date) < f.floor_minor)"""

_SQLITE_UP = [
    # The seal no longer checks floors (that moves to the event record, below).
    "DROP TRIGGER journal_seal_balances",
    f"""CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  INSERT INTO balance (account_id, unit, amount_minor)
  SELECT account_id, unit, SUM(amount_minor) FROM posting
  WHERE journal_id = NEW.id GROUP BY account_id, unit
  ON CONFLICT (account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')
  WHERE NOT EXISTS (SELECT 1 FROM journal WHERE event_key = NEW.event_key
                    AND status = 'draft')
    AND {_BELOW_FLOOR.format(event_key="NEW.event_key")};
END""",
    """CREATE TRIGGER account_no_update BEFORE UPDATE ON account
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER account_no_delete BEFORE DELETE ON account
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance
WHEN NEW.account_id IS NOT OLD.account_id OR NEW.unit IS NOT OLD.unit
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a balance belongs to one account and unit');
END""",
    """CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: balance rows cannot be deleted');
END""",
    """CREATE TRIGGER account_floor_no_update BEFORE UPDATE ON account_floor
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER account_floor_no_delete BEFORE DELETE ON account_floor
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER party_record_no_update BEFORE UPDATE ON party_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER party_record_no_delete BEFORE DELETE ON party_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');
END""",
]

_POSTGRESQL_UP = [
    f"""CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT id, key, type, date, event_key, holder, reverses_id, payload_hash,
                       memo, prev_hash, hash, created_at FROM old_rows
                EXCEPT SELECT id, key, type, date, event_key, holder, reverses_id,
                       payload_hash, memo, prev_hash, hash, created_at FROM sealed) THEN
    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';
  END IF;
  IF EXISTS (SELECT 1 FROM sealed s
             LEFT JOIN LATERAL (SELECT p.unit, SUM(p.amount_minor) AS total FROM posting p
                                WHERE p.journal_id = s.id GROUP BY p.unit) t ON true
             WHERE t.unit IS NULL OR t.total <> 0) THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal does not sum to zero in each unit';
  END IF;
  INSERT INTO balance (account_id, unit, amount_minor)
  SELECT p.account_id, p.unit, SUM(p.amount_minor)
  FROM sealed s CROSS JOIN LATERAL (SELECT account_id, unit, amount_minor FROM posting
                                    WHERE journal_id = s.id) p
  GROUP BY p.account_id, p.unit
  ON CONFLICT (account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT event_key FROM sealed) ev
             WHERE NOT EXISTS (SELECT 1 FROM journal WHERE event_key = ev.event_key
                               AND status = 'draft')
               AND {_BELOW_FLOOR.format(event_key="ev.event_key")}) THEN
    RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE FUNCTION ledger_balance_rekeyed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.unit IS DISTINCT FROM OLD.unit THEN
    RAISE EXCEPTION 'ledger:append_only: a balance belongs to one account and unit';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance
FOR EACH ROW EXECUTE FUNCTION ledger_balance_rekeyed()""",
    """CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
] + [
    f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"""
    for table in ("account", "account_floor", "party_record")
] + [
    f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"""
    for table in _TABLES
]

_POSTGRESQL_SEAL_0001 = """CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$"""

_POSTGRESQL_DOWN = [
    "DROP FUNCTION IF EXISTS ledger_balance_rekeyed() CASCADE",
]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(prev_hash: str, seq: int, key: str, type_: str, date_iso: str,
                payload_hash: str, payload: str | None, outcome: str, source: str | None,
                journals: list[list[str]], parties: list[list]) -> str:
    """This revision's own copy of the record hash (docs/rules-trust.md#verify)."""
    return _sha(json.dumps(
        [prev_hash, seq, key, type_, date_iso, payload_hash, payload, outcome, source,
         _sha(json.dumps(journals, ensure_ascii=False)),
         _sha(json.dumps(parties, ensure_ascii=False))],
        separators=(",", ":"), ensure_ascii=False))


def _chain_legacy_rows(conn, dialect: str) -> None:
    """Give the records an existing database already holds their place in the chain:
    each legacy party becomes a declaration record, journals posted without a record get
    one, then every record is hashed in order."""
    parties = conn.execute(sa.text("SELECT kind, id, data FROM party ORDER BY kind, id")).all()
    for kind, party_id, data in parties:
        record = json.loads(data)
        payload = _canonical(record)
        key = f"party/{kind}/{party_id}"
        conn.execute(sa.text(
            "INSERT INTO party_record (kind, id, valid_from, event_key, data) "
            "VALUES (:kind, :id, NULL, :key, :data)"),
            {"kind": kind, "id": party_id, "key": key, "data": payload})
        conn.execute(sa.text(
            "INSERT INTO event (key, type, date, payload_hash, outcome, source, payload) "
            "VALUES (:key, 'party', :date, :hash, 'applied', NULL, :payload)"),
            {"key": key, "date": "1900-01-01", "hash": _sha(payload), "payload": payload})
    conn.execute(sa.text(
        "INSERT INTO event (key, type, date, payload_hash, outcome, source) "
        "SELECT j.event_key, 'journals', MIN(j.date), '', 'applied', NULL FROM journal j "
        "WHERE NOT EXISTS (SELECT 1 FROM event e WHERE e.key = j.event_key) "
        "GROUP BY j.event_key"))
    order = conn.execute(sa.text(
        "SELECT e.key, e.type, e.date, e.payload_hash, e.payload, e.outcome, e.source "
        "FROM event e LEFT JOIN (SELECT event_key, MIN(id) AS first_id FROM journal "
        "GROUP BY event_key) j ON j.event_key = e.key "
        "ORDER BY CASE WHEN e.type = 'party' THEN 0 ELSE 1 END, e.created_at, "
        "j.first_id, e.key")).all()
    memos: dict[str, list[list[str]]] = {}
    for event_key, link, memo in conn.execute(sa.text(
            "SELECT event_key, hash, memo FROM journal ORDER BY id")):
        memos.setdefault(event_key, []).append([link, memo])
    records: dict[str, list[list]] = {}
    for kind, party_id, valid_from, event_key, data in conn.execute(sa.text(
            "SELECT kind, id, valid_from, event_key, data FROM party_record ORDER BY seq")):
        records.setdefault(event_key, []).append([kind, party_id, valid_from, data])
    prev = "0" * 64
    for seq, (key, type_, date, payload_hash, payload, outcome, source) in enumerate(order, 1):
        this = record_hash(prev, seq, key, type_, str(date), payload_hash, payload, outcome,
                           source, memos.get(key, []), records.get(key, []))
        conn.execute(sa.text("UPDATE event SET seq = :seq, prev_hash = :prev, hash = :hash "
                             "WHERE key = :key"),
                     {"seq": seq, "prev": prev, "hash": this, "key": key})
        prev = this


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.create_table(
        "account_floor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("floor_minor", sa.BigInteger(), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_account_floor_unit"),
    )
    op.create_index("ix_account_floor_account", "account_floor", ["account_id", "unit"])
    op.execute("INSERT INTO account_floor (account_id, unit, floor_minor, event_key) "
               "SELECT account_id, unit, floor_minor, 'migration/0002' FROM balance "
               "WHERE floor_minor IS NOT NULL ORDER BY account_id, unit")
    op.create_table(
        "party_record",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("id", sa.String(60), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_index("ix_party_record_party", "party_record", ["kind", "id"])
    # The event table gains its chain columns; its append-only guard is lifted only
    # while the legacy rows are given their place in the chain.
    if dialect == "sqlite":
        op.execute("DROP TRIGGER event_no_update")
        op.execute("DROP TRIGGER journal_seal_balances")
    else:
        op.execute("DROP TRIGGER event_append_only ON event")
        # The old seal function reads balance.floor_minor, which is about to go.
        op.execute(_POSTGRESQL_UP[0])
    op.add_column("event", sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("event", sa.Column("payload", sa.Text(), nullable=True))
    op.add_column("event", sa.Column("prev_hash", sa.String(64), nullable=False,
                                     server_default=""))
    op.add_column("event", sa.Column("hash", sa.String(64), nullable=False, server_default=""))
    _chain_legacy_rows(conn, dialect)
    op.create_index("ix_event_seq", "event", ["seq"], unique=True)
    op.drop_table("party")
    with op.batch_alter_table("balance") as batch:
        batch.drop_column("floor_minor")
    if dialect == "sqlite":
        op.execute("""CREATE TRIGGER event_no_update BEFORE UPDATE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END""")
        for statement in _SQLITE_UP[1:]:
            op.execute(statement)
    else:
        op.execute("""CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
        for statement in _POSTGRESQL_UP[1:]:
            op.execute(statement)


def downgrade() -> None:
    """Back to 0001's shape (the chain columns and records are dropped; a floor returns
    to its balance row)."""
    conn = op.get_bind()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        for statement in _POSTGRESQL_DOWN:
            op.execute(statement)
        for table in ("account", "account_floor", "party_record"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP TRIGGER IF EXISTS balance_no_delete ON balance")
        op.execute("DROP TRIGGER event_append_only ON event")
    else:
        for trigger in ("account_no_update", "account_no_delete",
                        "balance_no_rekey", "balance_no_delete", "account_floor_no_update",
                        "account_floor_no_delete", "party_record_no_update",
                        "party_record_no_delete", "event_no_update", "event_no_delete",
                        "journal_seal_balances"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.add_column("balance", sa.Column("floor_minor", sa.BigInteger(), nullable=True))
    op.execute("UPDATE balance SET floor_minor = (SELECT f.floor_minor FROM account_floor f "
               "WHERE f.id = (SELECT MAX(id) FROM account_floor g WHERE "
               "g.account_id = balance.account_id AND g.unit = balance.unit))")
    op.create_table(
        "party",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    latest = {}
    for kind, party_id, data in conn.execute(sa.text(
            "SELECT kind, id, data FROM party_record ORDER BY seq")):
        latest[(kind, party_id)] = data
    for (kind, party_id), data in sorted(latest.items()):
        conn.execute(sa.text("INSERT INTO party (kind, id, name, data) "
                             "VALUES (:k, :i, :n, :d)"),
                     {"k": kind, "i": party_id, "n": json.loads(data).get("name", ""),
                      "d": data})
    op.execute("DELETE FROM event WHERE type IN ('party', 'journals')")
    op.drop_index("ix_event_seq", table_name="event")
    with op.batch_alter_table("event") as batch:
        for column in ("hash", "prev_hash", "payload", "seq"):
            batch.drop_column(column)
    op.drop_table("party_record")
    op.drop_table("account_floor")
    if dialect == "sqlite":
        op.execute("""CREATE TRIGGER event_no_update BEFORE UPDATE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END""")
        op.execute("""CREATE TRIGGER event_no_delete BEFORE DELETE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END""")
        op.execute("""CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  INSERT INTO balance (account_id, unit, amount_minor)
  SELECT account_id, unit, SUM(amount_minor) FROM posting
  WHERE journal_id = NEW.id GROUP BY account_id, unit
  ON CONFLICT (account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')
  WHERE EXISTS (SELECT 1 FROM balance b
            JOIN (SELECT account_id, unit, SUM(amount_minor) AS delta FROM posting
                  WHERE journal_id = NEW.id GROUP BY account_id, unit) t
              ON t.account_id = b.account_id AND t.unit = b.unit
            WHERE t.delta < 0 AND b.floor_minor IS NOT NULL
              AND b.amount_minor < b.floor_minor);
END""")
    else:
        op.execute(_POSTGRESQL_SEAL_0001)
        op.execute("""CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON event
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""")
