"""Ledgers in one database: every table gains `ledger_id`, each ledger has its own keys,
parties, period lock and hash chain head; postings carry their journal's date; accounts
carry the budget holder they belong to.

- `ledger` holds one row per ledger: its name and the heads of its two hash chains (the
  event records and the journals). A writer locks its ledger's row (`SELECT ... FOR
  UPDATE` on PostgreSQL), so writers in different ledgers never wait on each other.
- Keys are unique per ledger: accounts by (ledger_id, path), journals by (ledger_id, key),
  event records by (ledger_id, key) and (ledger_id, seq), instrument state by
  (ledger_id, kind, ref). Every existing row moves into ledger 1, `main`.
- `posting.date` (always its journal's date, checked on insert) lets the floor check and
  the statements read one account's postings from a date on through an index, so their
  cost no longer grows with the account's history.
- `account.holder`: the budget holder an account belongs to (holder:{H}:*, isf:{H}:*,
  pool:*:{H}, fund:*:award:{H}), so a statement finds a person's accounts by index.
- The guards are scoped by ledger: the period lock, the floor check (now from the cached
  balance back over later-dated postings only) and the draft checks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""


import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

_TABLES = ("account", "balance", "account_floor", "journal", "posting", "event",
           "period_lock", "party_record", "instrument_state")


def _owner(path: str) -> str | None:
    """The budget holder an account belongs to (this revision's own copy of the rule)."""
    parts = path.split(":")
    if len(parts) == 3 and parts[0] in ("holder", "isf"):
        return parts[1]
    if len(parts) == 3 and parts[0] == "pool":
        return parts[2]
    if len(parts) == 4 and parts[0] == "fund" and parts[2] == "award":
        return parts[3]
    return None


def _ledger_fk(suffix: str = "") -> sa.Column:
    return sa.Column("ledger_id", sa.Integer(), sa.ForeignKey(f"ledger{suffix}.id"),
                     nullable=False)


def _new_tables(s: str) -> list[tuple[str, list]]:
    """Every table in this revision's shape; `s` is the suffix the SQLite rebuild gives
    the new tables (and their references to each other) until they are renamed."""
    return [
        ("account", [
            sa.Column("id", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("path", sa.String(200), nullable=False),
            sa.Column("holder", sa.String(60), nullable=True),
            sa.UniqueConstraint("ledger_id", "path", name="uq_account_path"),
        ]),
        ("balance", [
            _ledger_fk(),
            sa.Column("account_id", sa.Integer(), sa.ForeignKey(f"account{s}.id"),
                      primary_key=True),
            sa.Column("unit", sa.String(3), primary_key=True),
            sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0"),
            sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),
        ]),
        ("account_floor", [
            sa.Column("id", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("account_id", sa.Integer(), sa.ForeignKey(f"account{s}.id"),
                      nullable=False),
            sa.Column("unit", sa.String(3), nullable=False),
            sa.Column("floor_minor", sa.BigInteger(), nullable=False),
            sa.Column("event_key", sa.String(300), nullable=False),
            sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_account_floor_unit"),
        ]),
        ("journal", [
            sa.Column("id", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("key", sa.String(300), nullable=False),
            sa.Column("type", sa.String(60), nullable=False),
            sa.Column("date", sa.Date(), nullable=False),
            sa.Column("event_key", sa.String(300), nullable=False),
            sa.Column("holder", sa.String(60), nullable=True),
            sa.Column("reverses_id", sa.Integer(), sa.ForeignKey(f"journal{s}.id"),
                      nullable=True, unique=True),
            sa.Column("payload_hash", sa.String(64), nullable=False),
            sa.Column("memo", sa.Text(), nullable=False, server_default="{}"),
            sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False,
                      server_default=sa.func.now()),
            sa.CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
            sa.UniqueConstraint("ledger_id", "key", name="uq_journal_key"),
        ]),
        ("posting", [
            sa.Column("id", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("journal_id", sa.Integer(), sa.ForeignKey(f"journal{s}.id"),
                      nullable=False),
            sa.Column("account_id", sa.Integer(), sa.ForeignKey(f"account{s}.id"),
                      nullable=False),
            sa.Column("unit", sa.String(3), nullable=False),
            sa.Column("amount_minor", sa.BigInteger(), nullable=False),
            sa.Column("date", sa.Date(), nullable=False),
            sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_posting_unit"),
            sa.CheckConstraint("amount_minor <> 0", name="ck_posting_nonzero"),
        ]),
        ("event", [
            _ledger_fk(),
            sa.Column("key", sa.String(300), nullable=False),
            sa.Column("type", sa.String(60), nullable=False),
            sa.Column("date", sa.Date(), nullable=False),
            sa.Column("payload_hash", sa.String(64), nullable=False),
            sa.Column("outcome", sa.String(40), nullable=False),
            sa.Column("source", sa.String(500), nullable=True),
            sa.Column("created_at", sa.DateTime(), nullable=False,
                      server_default=sa.func.now()),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("payload", sa.Text(), nullable=True),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.PrimaryKeyConstraint("ledger_id", "key", name="pk_event"),
        ]),
        ("period_lock", [
            sa.Column("id", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("until", sa.Date(), nullable=False),
            sa.Column("event_key", sa.String(300), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False,
                      server_default=sa.func.now()),
        ]),
        ("party_record", [
            sa.Column("seq", sa.Integer(), primary_key=True),
            _ledger_fk(),
            sa.Column("kind", sa.String(20), nullable=False),
            sa.Column("id", sa.String(60), nullable=False),
            sa.Column("valid_from", sa.Date(), nullable=True),
            sa.Column("event_key", sa.String(300), nullable=False),
            sa.Column("data", sa.Text(), nullable=False),
        ]),
        ("instrument_state", [
            _ledger_fk(),
            sa.Column("kind", sa.String(40), nullable=False),
            sa.Column("ref", sa.String(300), nullable=False),
            sa.Column("data", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("ledger_id", "kind", "ref", name="pk_instrument_state"),
        ]),
    ]


# Indexes in this revision's shape: every hot lookup starts with the ledger (or with an
# account, which belongs to one ledger).
_INDEXES = [
    ("ix_account_holder", "account", ["ledger_id", "holder"], False),
    ("ix_account_floor_account", "account_floor", ["account_id", "unit"], False),
    ("ix_journal_date", "journal", ["ledger_id", "date"], False),
    ("ix_journal_event_key", "journal", ["ledger_id", "event_key"], False),
    ("ix_journal_holder", "journal", ["ledger_id", "holder"], False),
    ("ix_posting_account", "posting", ["account_id", "unit", "date"], False),
    ("ix_posting_journal", "posting", ["journal_id"], False),
    ("ix_event_seq", "event", ["ledger_id", "seq"], True),
    ("ix_period_lock_ledger", "period_lock", ["ledger_id", "until"], False),
    ("ix_party_record_party", "party_record", ["ledger_id", "kind", "id"], False),
]
_OLD_INDEXES = [
    ("ix_account_floor_account", "account_floor", ["account_id", "unit"], False),
    ("ix_journal_date", "journal", ["date"], False),
    ("ix_journal_event_key", "journal", ["event_key"], False),
    ("ix_journal_holder", "journal", ["holder"], False),
    ("ix_posting_account", "posting", ["account_id", "unit"], False),
    ("ix_posting_journal", "posting", ["journal_id"], False),
    ("ix_event_seq", "event", ["seq"], True),
    ("ix_party_record_party", "party_record", ["kind", "id"], False),
]

# The floor check for one event of one ledger, when the last of its journals is sealed
# (docs/rules-trust.md#floors): a floored balance the event took from is below its newest
# floor at the end of the first day it took from it, or of any later day with postings.
# The balance at the end of day D is the cached balance less the posted postings dated
# after D, so only postings dated from the event's first day on are read (by index).
_BELOW_FLOOR = """
    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(p.date) AS first_date
                           FROM journal j JOIN posting p ON p.journal_id = j.id
                           WHERE j.ledger_id = {ledger} AND j.event_key = {event_key}
                             AND p.amount_minor < 0
                           GROUP BY p.account_id, p.unit) t
            JOIN account_floor f ON f.id = (SELECT MAX(id) FROM account_floor
                                            WHERE account_id = t.account_id
                                              AND unit = t.unit)
            JOIN balance b ON b.account_id = t.account_id AND b.unit = t.unit
            JOIN posting later ON later.account_id = t.account_id AND later.unit = t.unit
                              AND later.date >= t.first_date
            JOIN journal lj ON lj.id = later.journal_id AND lj.status = 'posted'
            WHERE b.amount_minor - (SELECT COALESCE(SUM(q.amount_minor), 0) FROM posting q
                                    JOIN journal qj ON qj.id = q.journal_id
                                    WHERE q.account_id = t.account_id AND q.unit = t.unit
                                      AND q.date > later.date AND qj.status = 'posted')
                  < f.floor_minor)"""

_JOURNAL_COLUMNS = ("id", "ledger_id", "key", "type", "date", "event_key", "holder",
                    "reverses_id", "payload_hash", "memo", "prev_hash", "hash",
                    "created_at")

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: {table} rows cannot be changed or deleted');
END"""
    for table in ("account", "account_floor", "event", "party_record", "period_lock",
                  "posting")
    for verb in ("update", "delete")
] + [
    """CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance
WHEN NEW.account_id IS NOT OLD.account_id OR NEW.unit IS NOT OLD.unit
  OR NEW.ledger_id IS NOT OLD.ledger_id
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a balance belongs to one account and unit');
END""",
    """CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: balance rows cannot be deleted');
END""",
    """CREATE TRIGGER ledger_head_guard BEFORE UPDATE ON ledger
WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.created_at IS NOT OLD.created_at
  OR NEW.event_seq < OLD.event_seq
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a ledger keeps its name and its head only moves on');
END""",
    """CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger rows cannot be deleted');
END""",
    """CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: journals cannot be deleted; post a reversal');
END""",
    """CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must be inserted as draft and sealed')
  WHERE NEW.status <> 'draft';
  SELECT RAISE(ABORT, 'ledger:period_closed: the journal is dated in a closed period')
  WHERE NEW.date <= (SELECT MAX(until) FROM period_lock WHERE ledger_id = NEW.ledger_id);
END""",
    "CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal\nWHEN NOT (OLD.status = "
    "'draft' AND NEW.status = 'posted') OR "
    + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _JOURNAL_COLUMNS)
    + "\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: a posted journal cannot be changed');"
      "\nEND",
    """CREATE TRIGGER journal_seal_check BEFORE UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must sum to zero in each unit')
  WHERE NOT EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id)
    OR EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id
               GROUP BY unit HAVING SUM(amount_minor) <> 0);
END""",
    f"""CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  INSERT INTO balance (ledger_id, account_id, unit, amount_minor)
  SELECT NEW.ledger_id, account_id, unit, SUM(amount_minor) FROM posting
  WHERE journal_id = NEW.id GROUP BY account_id, unit
  ON CONFLICT (account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')
  WHERE NOT EXISTS (SELECT 1 FROM journal WHERE ledger_id = NEW.ledger_id
                    AND event_key = NEW.event_key AND status = 'draft')
    AND {_BELOW_FLOOR.format(ledger="NEW.ledger_id", event_key="NEW.event_key")};
END""",
    """CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting
BEGIN
  SELECT RAISE(ABORT, 'ledger:append_only: postings can only be added to a draft journal')
  WHERE (SELECT status FROM journal WHERE id = NEW.journal_id) IS NOT 'draft';
  SELECT RAISE(ABORT, 'ledger:invalid: a posting carries its journal''s date and ledger')
  WHERE NOT EXISTS (SELECT 1 FROM journal j JOIN account a ON a.id = NEW.account_id
                    WHERE j.id = NEW.journal_id AND j.date = NEW.date
                      AND j.ledger_id = NEW.ledger_id AND a.ledger_id = NEW.ledger_id);
END""",
]

_PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status <> 'draft') THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal must be inserted as draft and sealed';
  END IF;
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT ledger_id FROM inserted) l
             JOIN LATERAL (SELECT MAX(until) AS until FROM period_lock
                           WHERE ledger_id = l.ledger_id) p ON true
             JOIN inserted i ON i.ledger_id = l.ledger_id AND i.date <= p.until) THEN
    RAISE EXCEPTION 'ledger:period_closed: a journal is dated in a closed period';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted p
             LEFT JOIN LATERAL (SELECT status FROM journal WHERE id = p.journal_id) j ON true
             WHERE j.status IS DISTINCT FROM 'draft') THEN
    RAISE EXCEPTION 'ledger:append_only: postings can only be added to a draft journal';
  END IF;
  IF EXISTS (SELECT 1 FROM inserted p
             LEFT JOIN LATERAL (SELECT date, ledger_id FROM journal WHERE id = p.journal_id) j
               ON true
             LEFT JOIN LATERAL (SELECT ledger_id FROM account WHERE id = p.account_id) a
               ON true
             WHERE j.date IS DISTINCT FROM p.date OR j.ledger_id IS DISTINCT FROM p.ledger_id
                OR a.ledger_id IS DISTINCT FROM p.ledger_id) THEN
    RAISE EXCEPTION 'ledger:invalid: a posting carries its journal''s date and ledger';
  END IF;
  RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION ledger_balance_rekeyed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.unit IS DISTINCT FROM OLD.unit
     OR NEW.ledger_id IS DISTINCT FROM OLD.ledger_id THEN
    RAISE EXCEPTION 'ledger:append_only: a balance belongs to one account and unit';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE FUNCTION ledger_head_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id OR NEW.name IS DISTINCT FROM OLD.name
     OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.event_seq < OLD.event_seq THEN
    RAISE EXCEPTION 'ledger:append_only: a ledger keeps its name and its head only moves on';
  END IF;
  RETURN NEW;
END $$""",
    # The floor check runs once per sealing statement, for every event whose last journal
    # it sealed, against the balances after the statement (docs/rules-trust.md#floors).
    f"""CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT {", ".join(_JOURNAL_COLUMNS)} FROM old_rows
                EXCEPT SELECT {", ".join(_JOURNAL_COLUMNS)} FROM sealed) THEN
    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';
  END IF;
  IF EXISTS (SELECT 1 FROM sealed s
             LEFT JOIN LATERAL (SELECT p.unit, SUM(p.amount_minor) AS total FROM posting p
                                WHERE p.journal_id = s.id GROUP BY p.unit) t ON true
             WHERE t.unit IS NULL OR t.total <> 0) THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal does not sum to zero in each unit';
  END IF;
  INSERT INTO balance (ledger_id, account_id, unit, amount_minor)
  SELECT p.ledger_id, p.account_id, p.unit, SUM(p.amount_minor)
  FROM sealed s CROSS JOIN LATERAL (SELECT ledger_id, account_id, unit, amount_minor
                                    FROM posting WHERE journal_id = s.id) p
  GROUP BY p.ledger_id, p.account_id, p.unit
  ON CONFLICT (account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT ledger_id, event_key FROM sealed) ev
             WHERE NOT EXISTS (SELECT 1 FROM journal WHERE ledger_id = ev.ledger_id
                               AND event_key = ev.event_key AND status = 'draft')
               AND {_BELOW_FLOOR.format(ledger="ev.ledger_id", event_key="ev.event_key")}) THEN
    RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';
  END IF;
  RETURN NULL;
END $$""",
]
_PG_LEDGER_TRIGGERS = [
    """CREATE TRIGGER ledger_head_guard BEFORE UPDATE OR DELETE ON ledger
FOR EACH ROW EXECUTE FUNCTION ledger_head_moved()""",
    """CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()""",
]

_COPY = {  # new column list -> what to select from the old table
    "account": ("id, ledger_id, path, holder", "id, 1, path, NULL"),
    "balance": ("ledger_id, account_id, unit, amount_minor",
                "1, account_id, unit, amount_minor"),
    "account_floor": ("id, ledger_id, account_id, unit, floor_minor, event_key",
                      "id, 1, account_id, unit, floor_minor, event_key"),
    "journal": (", ".join(_JOURNAL_COLUMNS) + ", status",
                ", ".join("1" if c == "ledger_id" else c for c in _JOURNAL_COLUMNS)
                + ", status"),
    "posting": ("id, ledger_id, journal_id, account_id, unit, amount_minor, date",
                "id, 1, journal_id, account_id, unit, amount_minor, "
                "(SELECT date FROM journal WHERE journal.id = posting.journal_id)"),
    "event": ("ledger_id, key, type, date, payload_hash, outcome, source, created_at, seq, "
              "payload, prev_hash, hash",
              "1, key, type, date, payload_hash, outcome, source, created_at, seq, "
              "payload, prev_hash, hash"),
    "period_lock": ("id, ledger_id, until, event_key, created_at",
                    "id, 1, until, event_key, created_at"),
    "party_record": ("seq, ledger_id, kind, id, valid_from, event_key, data",
                     "seq, 1, kind, id, valid_from, event_key, data"),
    "instrument_state": ("ledger_id, kind, ref, data", "1, kind, ref, data"),
}
_CHILD_FIRST = ("posting", "balance", "account_floor", "journal", "account", "event",
                "period_lock", "party_record", "instrument_state")


def _heads(conn) -> dict:
    last = conn.execute(sa.text("SELECT seq, hash FROM event ORDER BY seq DESC LIMIT 1")
                        ).first()
    journal = conn.execute(sa.text("SELECT hash FROM journal ORDER BY id DESC LIMIT 1")
                           ).scalar()
    return {"seq": last[0] if last else 0, "hash": last[1] if last else GENESIS,
            "journal": journal or GENESIS}


def _fill_holders(conn) -> None:
    for account_id, path in conn.execute(sa.text("SELECT id, path FROM account")).all():
        holder = _owner(path)
        if holder is not None:
            conn.execute(sa.text("UPDATE account SET holder = :h WHERE id = :i"),
                         {"h": holder, "i": account_id})


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    heads = _heads(conn)
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("event_hash", sa.String(64), nullable=False),
        sa.Column("journal_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("name", name="uq_ledger_name"),
    )
    # The first row of a new table: id 1, on both engines (its sequence moves on).
    conn.execute(sa.text("INSERT INTO ledger (name, event_seq, event_hash, journal_hash) "
                         "VALUES ('main', :seq, :hash, :journal)"), heads)
    assert conn.execute(sa.text("SELECT id FROM ledger")).scalar_one() == 1
    if sqlite:
        _sqlite_rebuild(conn)
    else:
        _postgres_alter(conn)


def _sqlite_rebuild(conn) -> None:
    """SQLite cannot change a key in place: each table is built anew beside the old one
    (its references pointing at the new tables), filled, and the old one dropped, children
    first, so no foreign key ever points at a missing row."""
    for name in [r[0] for r in conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"))]:
        op.execute(f"DROP TRIGGER {name}")
    for name, columns in _new_tables("__new"):
        op.create_table(f"{name}__new", *columns)
        into, select = _COPY[name]
        op.execute(f"INSERT INTO {name}__new ({into}) SELECT {select} FROM {name}")
    for name in _CHILD_FIRST:
        op.execute(f"DROP TABLE {name}")
    for name in _CHILD_FIRST:
        op.execute(f"ALTER TABLE {name}__new RENAME TO {name}")
    _fill_holders(conn)
    for index, table, columns, unique in _INDEXES:
        op.create_index(index, table, columns, unique=unique)
    for statement in _SQLITE_TRIGGERS:
        op.execute(statement)


def _postgres_alter(conn) -> None:
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN ledger_id INTEGER NOT NULL DEFAULT 1 "
                   "REFERENCES ledger (id)")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN ledger_id DROP DEFAULT")
    op.execute("ALTER TABLE account ADD COLUMN holder VARCHAR(60)")
    op.execute("ALTER TABLE account DISABLE TRIGGER account_append_only")
    _fill_holders(conn)
    op.execute("ALTER TABLE account ENABLE TRIGGER account_append_only")
    op.execute("ALTER TABLE posting ADD COLUMN date DATE")
    op.execute("ALTER TABLE posting DISABLE TRIGGER posting_append_only")
    op.execute("UPDATE posting SET date = j.date FROM journal j WHERE j.id = posting.journal_id")
    op.execute("ALTER TABLE posting ENABLE TRIGGER posting_append_only")
    op.execute("ALTER TABLE posting ALTER COLUMN date SET NOT NULL")
    op.execute("ALTER TABLE account DROP CONSTRAINT account_path_key, "
               "ADD CONSTRAINT uq_account_path UNIQUE (ledger_id, path)")
    op.execute("ALTER TABLE journal DROP CONSTRAINT journal_key_key, "
               "ADD CONSTRAINT uq_journal_key UNIQUE (ledger_id, key)")
    op.execute("ALTER TABLE event DROP CONSTRAINT event_pkey, "
               "ADD CONSTRAINT pk_event PRIMARY KEY (ledger_id, key)")
    for column in ("seq", "prev_hash", "hash"):
        op.execute(f"ALTER TABLE event ALTER COLUMN {column} DROP DEFAULT")
    op.execute("ALTER TABLE instrument_state DROP CONSTRAINT instrument_state_pkey, "
               "ADD CONSTRAINT pk_instrument_state PRIMARY KEY (ledger_id, kind, ref)")
    for index, table, _, _ in _OLD_INDEXES:
        op.drop_index(index, table_name=table)
    for index, table, columns, unique in _INDEXES:
        op.create_index(index, table, columns, unique=unique)
    for statement in _PG_FUNCTIONS + _PG_LEDGER_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    """Back to 0002's shape; only a database with one ledger can go back."""
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT COUNT(*) FROM ledger")).scalar_one() > 1:
        raise RuntimeError("this database holds more than one ledger; 0002 knows only one")
    if conn.dialect.name == "sqlite":
        _sqlite_back(conn)
    else:
        _postgres_back()
    op.drop_table("ledger")


def _sqlite_back(conn) -> None:
    for name in [r[0] for r in conn.execute(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"))]:
        op.execute(f"DROP TRIGGER {name}")
    for name in reversed(_CHILD_FIRST):  # parents first: a copied row's references exist
        ddl = _SQLITE_0002_TABLES[name]
        for other in _CHILD_FIRST:
            ddl = ddl.replace(f"REFERENCES {other} (", f"REFERENCES {other}__old (")
        ddl = ddl.replace(f'CREATE TABLE "{name}" (', f"CREATE TABLE {name}__old (", 1)
        ddl = ddl.replace(f"CREATE TABLE {name} (", f"CREATE TABLE {name}__old (", 1)
        op.execute(ddl)
        into, _ = _COPY[name]
        old = [c.strip() for c in into.split(",") if c.strip() not in ("ledger_id", "holder")]
        if name == "posting":
            old.remove("date")
        columns = ", ".join(old)
        op.execute(f"INSERT INTO {name}__old ({columns}) SELECT {columns} FROM {name}")
    for name in _CHILD_FIRST:
        op.execute(f"DROP TABLE {name}")
    for name in _CHILD_FIRST:
        op.execute(f"ALTER TABLE {name}__old RENAME TO {name}")
    for statement in _SQLITE_0002_INDEXES + _SQLITE_0002_TRIGGERS:
        op.execute(statement)


def _postgres_back() -> None:
    op.execute("DROP TRIGGER ledger_head_guard ON ledger")
    op.execute("DROP TRIGGER ledger_no_truncate ON ledger")
    op.execute("DROP FUNCTION ledger_head_moved()")
    for index, table, _, _ in _INDEXES:
        op.drop_index(index, table_name=table)
    for index, table, columns, unique in _OLD_INDEXES:
        op.create_index(index, table, columns, unique=unique)
    op.execute("ALTER TABLE instrument_state DROP CONSTRAINT pk_instrument_state, "
               "ADD CONSTRAINT instrument_state_pkey PRIMARY KEY (kind, ref)")
    op.execute("ALTER TABLE event DROP CONSTRAINT pk_event, "
               "ADD CONSTRAINT event_pkey PRIMARY KEY (key)")
    op.execute("ALTER TABLE event ALTER COLUMN seq SET DEFAULT '0'")
    op.execute("ALTER TABLE event ALTER COLUMN prev_hash SET DEFAULT ''")
    op.execute("ALTER TABLE event ALTER COLUMN hash SET DEFAULT ''")
    op.execute("ALTER TABLE journal DROP CONSTRAINT uq_journal_key, "
               "ADD CONSTRAINT journal_key_key UNIQUE (key)")
    op.execute("ALTER TABLE account DROP CONSTRAINT uq_account_path, "
               "ADD CONSTRAINT account_path_key UNIQUE (path)")
    for statement in _PG_0002_FUNCTIONS:
        op.execute(statement)
    op.execute("ALTER TABLE posting DROP COLUMN date")
    op.execute("ALTER TABLE account DROP COLUMN holder")
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN ledger_id")


# This revision's copy of 0002's shape, for the way back (migrations never import each
# other or live code).
_SQLITE_0002_TABLES = {
    'account': 'CREATE TABLE account (\n\tid INTEGER NOT NULL, \n\tpath VARCHAR(200) NOT NULL, \n\tPRIMARY KEY (id), \n\tUNIQUE (path)\n)',
    'account_floor': "CREATE TABLE account_floor (\n\tid INTEGER NOT NULL, \n\taccount_id INTEGER NOT NULL, \n\tunit VARCHAR(3) NOT NULL, \n\tfloor_minor BIGINT NOT NULL, \n\tevent_key VARCHAR(300) NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT ck_account_floor_unit CHECK (unit IN ('GBP', 'HRS')), \n\tFOREIGN KEY(account_id) REFERENCES account (id)\n)",
    'balance': 'CREATE TABLE "balance" (\n\taccount_id INTEGER NOT NULL, \n\tunit VARCHAR(3) NOT NULL, \n\tamount_minor BIGINT DEFAULT \'0\' NOT NULL, \n\tPRIMARY KEY (account_id, unit), \n\tCONSTRAINT ck_balance_unit CHECK (unit IN (\'GBP\', \'HRS\')), \n\tFOREIGN KEY(account_id) REFERENCES account (id)\n)',
    'event': 'CREATE TABLE event (\n\t"key" VARCHAR(300) NOT NULL, \n\ttype VARCHAR(60) NOT NULL, \n\tdate DATE NOT NULL, \n\tpayload_hash VARCHAR(64) NOT NULL, \n\toutcome VARCHAR(40) NOT NULL, \n\tsource VARCHAR(500), \n\tcreated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, seq INTEGER DEFAULT \'0\' NOT NULL, payload TEXT, prev_hash VARCHAR(64) DEFAULT \'\' NOT NULL, hash VARCHAR(64) DEFAULT \'\' NOT NULL, \n\tPRIMARY KEY ("key")\n)',
    'instrument_state': 'CREATE TABLE instrument_state (\n\tkind VARCHAR(40) NOT NULL, \n\tref VARCHAR(300) NOT NULL, \n\tdata TEXT NOT NULL, \n\tPRIMARY KEY (kind, ref)\n)',
    'journal': 'CREATE TABLE journal (\n\tid INTEGER NOT NULL, \n\t"key" VARCHAR(300) NOT NULL, \n\ttype VARCHAR(60) NOT NULL, \n\tdate DATE NOT NULL, \n\tevent_key VARCHAR(300) NOT NULL, \n\tholder VARCHAR(60), \n\treverses_id INTEGER, \n\tpayload_hash VARCHAR(64) NOT NULL, \n\tmemo TEXT DEFAULT \'{}\' NOT NULL, \n\tstatus VARCHAR(10) DEFAULT \'draft\' NOT NULL, \n\tprev_hash VARCHAR(64) NOT NULL, \n\thash VARCHAR(64) NOT NULL, \n\tcreated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT ck_journal_status CHECK (status IN (\'draft\', \'posted\')), \n\tUNIQUE ("key"), \n\tUNIQUE (reverses_id), \n\tFOREIGN KEY(reverses_id) REFERENCES journal (id)\n)',
    'party_record': 'CREATE TABLE party_record (\n\tseq INTEGER NOT NULL, \n\tkind VARCHAR(20) NOT NULL, \n\tid VARCHAR(60) NOT NULL, \n\tvalid_from DATE, \n\tevent_key VARCHAR(300) NOT NULL, \n\tdata TEXT NOT NULL, \n\tPRIMARY KEY (seq)\n)',
    'period_lock': 'CREATE TABLE period_lock (\n\tid INTEGER NOT NULL, \n\tuntil DATE NOT NULL, \n\tevent_key VARCHAR(300) NOT NULL, \n\tcreated_at DATETIME DEFAULT CURRENT_TIMESTAMP NOT NULL, \n\tPRIMARY KEY (id)\n)',
    'posting': "CREATE TABLE posting (\n\tid INTEGER NOT NULL, \n\tjournal_id INTEGER NOT NULL, \n\taccount_id INTEGER NOT NULL, \n\tunit VARCHAR(3) NOT NULL, \n\tamount_minor BIGINT NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT ck_posting_unit CHECK (unit IN ('GBP', 'HRS')), \n\tCONSTRAINT ck_posting_nonzero CHECK (amount_minor <> 0), \n\tFOREIGN KEY(journal_id) REFERENCES journal (id), \n\tFOREIGN KEY(account_id) REFERENCES account (id)\n)",
}
_SQLITE_0002_INDEXES = [
    'CREATE INDEX ix_account_floor_account ON account_floor (account_id, unit)',
    'CREATE UNIQUE INDEX ix_event_seq ON event (seq)',
    'CREATE INDEX ix_journal_date ON journal (date)',
    'CREATE INDEX ix_journal_event_key ON journal (event_key)',
    'CREATE INDEX ix_journal_holder ON journal (holder)',
    'CREATE INDEX ix_party_record_party ON party_record (kind, id)',
    'CREATE INDEX ix_posting_account ON posting (account_id, unit)',
    'CREATE INDEX ix_posting_journal ON posting (journal_id)',
]
_SQLITE_0002_TRIGGERS = [
    "CREATE TRIGGER account_floor_no_delete BEFORE DELETE ON account_floor\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER account_floor_no_update BEFORE UPDATE ON account_floor\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER account_no_delete BEFORE DELETE ON account\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER account_no_update BEFORE UPDATE ON account\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: balance rows cannot be deleted');\nEND",
    "CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance\nWHEN NEW.account_id IS NOT OLD.account_id OR NEW.unit IS NOT OLD.unit\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: a balance belongs to one account and unit');\nEND",
    "CREATE TRIGGER event_no_delete BEFORE DELETE ON event\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER event_no_update BEFORE UPDATE ON event\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal\nBEGIN\n  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must be inserted as draft and sealed')\n  WHERE NEW.status <> 'draft';\n  SELECT RAISE(ABORT, 'ledger:period_closed: the journal is dated in a closed period')\n  WHERE NEW.date <= (SELECT MAX(until) FROM period_lock);\nEND",
    "CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: journals cannot be deleted; post a reversal');\nEND",
    "CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal\nWHEN OLD.status = 'draft' AND NEW.status = 'posted'\nBEGIN\n  INSERT INTO balance (account_id, unit, amount_minor)\n  SELECT account_id, unit, SUM(amount_minor) FROM posting\n  WHERE journal_id = NEW.id GROUP BY account_id, unit\n  ON CONFLICT (account_id, unit)\n  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;\n  SELECT RAISE(ABORT, 'ledger:insufficient_funds: a balance would go below its floor')\n  WHERE NOT EXISTS (SELECT 1 FROM journal WHERE event_key = NEW.event_key\n                    AND status = 'draft')\n    AND \n    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(j.date) AS first_date\n                           FROM journal j JOIN posting p ON p.journal_id = j.id\n                           WHERE j.event_key = NEW.event_key AND p.amount_minor < 0\n                           GROUP BY p.account_id, p.unit) t\n            JOIN account_floor f ON f.id = (SELECT MAX(id) FROM account_floor\n                                            WHERE account_id = t.account_id\n                                              AND unit = t.unit)\n            JOIN posting later ON later.account_id = t.account_id AND later.unit = t.unit\n            JOIN journal lj ON lj.id = later.journal_id\n            WHERE lj.date >= t.first_date AND lj.status = 'posted'\n              AND (SELECT SUM(q.amount_minor) FROM posting q\n                   JOIN journal qj ON qj.id = q.journal_id\n                   WHERE q.account_id = t.account_id AND q.unit = t.unit\n                     AND qj.status = 'posted' AND qj.date <= lj.date) < f.floor_minor);\nEND",
    "CREATE TRIGGER journal_seal_check BEFORE UPDATE OF status ON journal\nWHEN OLD.status = 'draft' AND NEW.status = 'posted'\nBEGIN\n  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must sum to zero in each unit')\n  WHERE \n    NOT EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id)\n    OR EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id\n               GROUP BY unit HAVING SUM(amount_minor) <> 0);\nEND",
    "CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal\nWHEN NOT (OLD.status = 'draft' AND NEW.status = 'posted') OR NEW.id IS NOT OLD.id OR NEW.key IS NOT OLD.key OR NEW.type IS NOT OLD.type OR NEW.date IS NOT OLD.date OR NEW.event_key IS NOT OLD.event_key OR NEW.holder IS NOT OLD.holder OR NEW.reverses_id IS NOT OLD.reverses_id OR NEW.payload_hash IS NOT OLD.payload_hash OR NEW.memo IS NOT OLD.memo OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash OR NEW.created_at IS NOT OLD.created_at\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: a posted journal cannot be changed');\nEND",
    "CREATE TRIGGER party_record_no_delete BEFORE DELETE ON party_record\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER party_record_no_update BEFORE UPDATE ON party_record\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER period_lock_no_delete BEFORE DELETE ON period_lock\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER period_lock_no_update BEFORE UPDATE ON period_lock\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting\nWHEN (SELECT status FROM journal WHERE id = NEW.journal_id) IS NOT 'draft'\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: postings can only be added to a draft journal');\nEND",
    "CREATE TRIGGER posting_no_delete BEFORE DELETE ON posting\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');\nEND",
    "CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting\nBEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');\nEND",
]
_PG_0002_FUNCTIONS = [
    "CREATE OR REPLACE FUNCTION ledger_balance_rekeyed() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.unit IS DISTINCT FROM OLD.unit THEN\n    RAISE EXCEPTION 'ledger:append_only: a balance belongs to one account and unit';\n  END IF;\n  RETURN NEW;\nEND $$",
    "CREATE OR REPLACE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM inserted WHERE status <> 'draft') THEN\n    RAISE EXCEPTION 'ledger:unbalanced: a journal must be inserted as draft and sealed';\n  END IF;\n  IF EXISTS (SELECT 1 FROM inserted\n             WHERE date <= (SELECT MAX(until) FROM period_lock)) THEN\n    RAISE EXCEPTION 'ledger:period_closed: a journal is dated in a closed period (up to %)',\n      (SELECT MAX(until) FROM period_lock);\n  END IF;\n  RETURN NULL;\nEND $$",
    "CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  -- The only change ever allowed: draft -> posted, every other column as it was.\n  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')\n     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')\n     OR EXISTS (SELECT id, key, type, date, event_key, holder, reverses_id, payload_hash,\n                       memo, prev_hash, hash, created_at FROM old_rows\n                EXCEPT SELECT id, key, type, date, event_key, holder, reverses_id,\n                       payload_hash, memo, prev_hash, hash, created_at FROM sealed) THEN\n    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';\n  END IF;\n  IF EXISTS (SELECT 1 FROM sealed s\n             LEFT JOIN LATERAL (SELECT p.unit, SUM(p.amount_minor) AS total FROM posting p\n                                WHERE p.journal_id = s.id GROUP BY p.unit) t ON true\n             WHERE t.unit IS NULL OR t.total <> 0) THEN\n    RAISE EXCEPTION 'ledger:unbalanced: a journal does not sum to zero in each unit';\n  END IF;\n  INSERT INTO balance (account_id, unit, amount_minor)\n  SELECT p.account_id, p.unit, SUM(p.amount_minor)\n  FROM sealed s CROSS JOIN LATERAL (SELECT account_id, unit, amount_minor FROM posting\n                                    WHERE journal_id = s.id) p\n  GROUP BY p.account_id, p.unit\n  ON CONFLICT (account_id, unit)\n  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;\n  IF EXISTS (SELECT 1 FROM (SELECT DISTINCT event_key FROM sealed) ev\n             WHERE NOT EXISTS (SELECT 1 FROM journal WHERE event_key = ev.event_key\n                               AND status = 'draft')\n               AND \n    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(j.date) AS first_date\n                           FROM journal j JOIN posting p ON p.journal_id = j.id\n                           WHERE j.event_key = ev.event_key AND p.amount_minor < 0\n                           GROUP BY p.account_id, p.unit) t\n            JOIN account_floor f ON f.id = (SELECT MAX(id) FROM account_floor\n                                            WHERE account_id = t.account_id\n                                              AND unit = t.unit)\n            JOIN posting later ON later.account_id = t.account_id AND later.unit = t.unit\n            JOIN journal lj ON lj.id = later.journal_id\n            WHERE lj.date >= t.first_date AND lj.status = 'posted'\n              AND (SELECT SUM(q.amount_minor) FROM posting q\n                   JOIN journal qj ON qj.id = q.journal_id\n                   WHERE q.account_id = t.account_id AND q.unit = t.unit\n                     AND qj.status = 'posted' AND qj.date <= lj.date) < f.floor_minor)) THEN\n    RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';\n  END IF;\n  RETURN NULL;\nEND $$",
    "CREATE OR REPLACE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF EXISTS (SELECT 1 FROM inserted p\n             LEFT JOIN LATERAL (SELECT status FROM journal WHERE id = p.journal_id) j ON true\n             WHERE j.status IS DISTINCT FROM 'draft') THEN\n    RAISE EXCEPTION 'ledger:append_only: postings can only be added to a draft journal';\n  END IF;\n  RETURN NULL;\nEND $$",
]
