"""Keys that name their ledger, so one schema can be spread over machines by ledger
(docs/scaling.md#layout).

PostgreSQL:
- Every id becomes `bigint` (one sequence per table serves every ledger; `integer` would
  run out within a national deployment's lifetime), and so does every column that
  refers to one.
- Every primary key, the reversal's unique key and every foreign key between two tables
  of the books include `ledger_id`: `account`, `account_floor`, `journal`, `posting`,
  `period_lock`, `web_login_failure` and `audit_record` are keyed `(ledger_id, id)`,
  `party_record` `(ledger_id, seq)`, `balance` `(ledger_id, account_id, unit)`; a
  posting refers to `(ledger_id, journal_id)` and `(ledger_id, account_id)`. A row can
  therefore only ever refer to a row of its own ledger, and a distributed database
  (Citus) can keep a ledger's rows together and check these keys on one machine.
- The guards' functions find every row they read by its ledger: each statement's rows
  must be of one ledger (every writer writes one ledger at a time; a statement mixing
  two is refused), and each look-up says `ledger_id = <that ledger>`, so on a
  distributed database the guard runs beside the rows it guards. What each guard
  refuses is unchanged (the same checks, the same error codes).
- `ledger_write` takes and keeps `bigint` ids.

Both engines:
- `ledger_name (name, ledger_id)`: each ledger's name, once. It is what a name is
  looked up in: on a distributed database it is a small table copied to every machine,
  where `ledger` itself is spread by id and cannot keep its names unique. Append-only.
- The indexes that find an account's postings, a journal's postings and an account's
  floors lead with `ledger_id`.

SQLite keeps its primary and foreign keys as they were: a SQLite file is never
distributed, its integer ids are already 64-bit, and changing a primary key there means
copying every table of the books (docs/architecture.md#keys).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# (table, constraint, columns) of the foreign keys between tables of the books, as 0009
# had them (PostgreSQL's default names) and as they become.
_OLD_FKS = [
    ("balance", "balance_account_id_fkey", "account_id", "account (id)"),
    ("account_floor", "account_floor_account_id_fkey", "account_id", "account (id)"),
    ("journal", "journal_reverses_id_fkey", "reverses_id", "journal (id)"),
    ("posting", "posting_account_id_fkey", "account_id", "account (id)"),
    ("posting", "posting_journal_id_fkey", "journal_id", "journal (id)"),
]
_NEW_FKS = [
    ("balance", "fk_balance_account", "ledger_id, account_id", "account (ledger_id, id)"),
    ("account_floor", "fk_account_floor_account", "ledger_id, account_id",
     "account (ledger_id, id)"),
    ("journal", "fk_journal_reverses", "ledger_id, reverses_id", "journal (ledger_id, id)"),
    ("posting", "fk_posting_account", "ledger_id, account_id", "account (ledger_id, id)"),
    ("posting", "fk_posting_journal", "ledger_id, journal_id", "journal (ledger_id, id)"),
]
# table -> (id columns widened to bigint, sequence or None for an identity column)
_WIDEN = {
    "account": (["id"], "account_id_seq"),
    "account_floor": (["id", "account_id"], "account_floor_id_seq"),
    "balance": (["account_id"], None),
    "journal": (["id", "reverses_id"], "journal_id_seq"),
    "posting": (["id", "journal_id", "account_id"], "posting_id_seq"),
    "period_lock": (["id"], "period_lock_id_seq"),
    "party_record": (["seq"], "party_record_seq_seq"),
    "web_login_failure": (["id"], "web_login_failure_id_seq"),
    "audit_record": (["id", "user_id"], None),  # identity: its sequence follows
}
# table -> (primary key name, columns before, columns after)
_PKEYS = {
    "account": ("account_pkey", "id", "ledger_id, id"),
    "account_floor": ("account_floor_pkey", "id", "ledger_id, id"),
    "balance": ("balance_pkey", "account_id, unit", "ledger_id, account_id, unit"),
    "journal": ("journal_pkey", "id", "ledger_id, id"),
    "posting": ("posting_pkey", "id", "ledger_id, id"),
    "period_lock": ("period_lock_pkey", "id", "ledger_id, id"),
    "party_record": ("party_record_pkey", "seq", "ledger_id, seq"),
    "web_login_failure": ("web_login_failure_pkey", "id", "ledger_id, id"),
    "audit_record": ("audit_record_pkey", "id", "ledger_id, id"),
}
# index -> (table, columns before, columns after): both engines
_INDEXES = {
    "ix_posting_account": ("posting", "account_id, unit, date",
                           "ledger_id, account_id, unit, date"),
    "ix_posting_journal": ("posting", "journal_id", "ledger_id, journal_id"),
    "ix_account_floor_account": ("account_floor", "account_id, unit",
                                 "ledger_id, account_id, unit"),
}

_LEDGER_NAME = """CREATE TABLE ledger_name (
    name VARCHAR(60) NOT NULL,
    ledger_id INTEGER NOT NULL,
    CONSTRAINT pk_ledger_name PRIMARY KEY (name),
    CONSTRAINT uq_ledger_name_ledger UNIQUE (ledger_id)
)"""

_SQLITE_NAME_GUARDS = [
    """CREATE TRIGGER ledger_name_no_update BEFORE UPDATE ON ledger_name
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger_name rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER ledger_name_no_delete BEFORE DELETE ON ledger_name
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger_name rows cannot be changed or deleted');
END""",
]
_POSTGRESQL_NAME_GUARDS = [
    """CREATE TRIGGER ledger_name_append_only BEFORE UPDATE OR DELETE ON ledger_name
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER ledger_name_no_truncate BEFORE TRUNCATE ON ledger_name
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()""",
]

# On a distributed database a guard fires on the shard (`posting_102029`): the message
# names the table, not the shard.
_APPEND_ONLY = """CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted',
    regexp_replace(TG_TABLE_NAME, '_[0-9]+$', '');
END $$"""

_APPEND_ONLY_0009 = """CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted', TG_TABLE_NAME;
END $$"""

_JOURNALS_INSERTED = """CREATE OR REPLACE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  lid integer;
  locked date;
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status <> 'draft') THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal must be inserted as draft and sealed';
  END IF;
  SELECT min(ledger_id) INTO lid FROM inserted;
  IF lid IS NULL THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM inserted WHERE ledger_id <> lid) THEN
    RAISE EXCEPTION 'ledger:invalid: one statement writes the journals of one ledger';
  END IF;
  SELECT MAX(until) INTO locked FROM period_lock WHERE ledger_id = lid;
  IF EXISTS (SELECT 1 FROM inserted WHERE date <= locked) THEN
    RAISE EXCEPTION 'ledger:period_closed: a journal is dated in a closed period';
  END IF;
  RETURN NULL;
END $$"""

_POSTINGS_INSERTED = """CREATE OR REPLACE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  lid integer;
  jids bigint[];
  aids bigint[];
  pjids bigint[];
  pdates date[];
BEGIN
  -- The new rows are read into arrays here, and no later query joins `inserted` to a
  -- table of the books: on a distributed database Citus cannot plan a query that
  -- mixes a trigger's transition table with a distributed table ("unrecognized RTE
  -- kind: 7"), and every posting write would fail.
  SELECT min(ledger_id), array_agg(DISTINCT journal_id), array_agg(DISTINCT account_id),
         array_agg(journal_id), array_agg(date)
  INTO lid, jids, aids, pjids, pdates FROM inserted;
  IF lid IS NULL THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM inserted WHERE ledger_id <> lid) THEN
    RAISE EXCEPTION 'ledger:invalid: a posting carries its journal''s date and ledger';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(jids) AS p(journal_id)
             LEFT JOIN (SELECT id, status FROM journal
                        WHERE ledger_id = lid AND id = ANY(jids)) j ON j.id = p.journal_id
             WHERE j.status IS DISTINCT FROM 'draft') THEN
    RAISE EXCEPTION 'ledger:append_only: postings can only be added to a draft journal';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(pjids, pdates) AS p(journal_id, date)
             JOIN (SELECT id, date FROM journal
                   WHERE ledger_id = lid AND id = ANY(jids)) j ON j.id = p.journal_id
             WHERE j.date IS DISTINCT FROM p.date)
     OR (SELECT count(*) FROM account WHERE ledger_id = lid AND id = ANY(aids))
        <> cardinality(aids) THEN
    RAISE EXCEPTION 'ledger:invalid: a posting carries its journal''s date and ledger';
  END IF;
  RETURN NULL;
END $$"""

_JOURNALS_SEALED = """CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  lid integer;
  ids bigint[];
  events varchar[];
  pending varchar[];
  done varchar[];
  debit record;
  lowest bigint;
  closing bigint;
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT id, ledger_id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM old_rows
                EXCEPT SELECT id, ledger_id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM sealed) THEN
    RAISE EXCEPTION 'ledger:append_only: a posted journal cannot be changed';
  END IF;
  SELECT min(ledger_id), array_agg(id), array_agg(DISTINCT event_key)
  INTO lid, ids, events FROM sealed;
  IF lid IS NULL THEN
    RETURN NULL;
  END IF;
  IF EXISTS (SELECT 1 FROM sealed WHERE ledger_id <> lid) THEN
    RAISE EXCEPTION 'ledger:invalid: one statement seals the journals of one ledger';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(ids) AS s(id)
             LEFT JOIN (SELECT p.journal_id, p.unit, SUM(p.amount_minor) AS total
                        FROM posting p WHERE p.ledger_id = lid AND p.journal_id = ANY(ids)
                        GROUP BY p.journal_id, p.unit) t ON t.journal_id = s.id
             WHERE t.unit IS NULL OR t.total <> 0) THEN
    RAISE EXCEPTION 'ledger:unbalanced: a journal does not sum to zero in each unit';
  END IF;
  INSERT INTO balance (ledger_id, account_id, unit, amount_minor)
  SELECT lid, p.account_id, p.unit, SUM(p.amount_minor)
  FROM posting p WHERE p.ledger_id = lid AND p.journal_id = ANY(ids)
  GROUP BY p.account_id, p.unit
  ON CONFLICT (ledger_id, account_id, unit)
  DO UPDATE SET amount_minor = balance.amount_minor + excluded.amount_minor;
  -- Floors (docs/rules-trust.md#floors), for each event whose journals are all sealed
  -- now: every account with a floor that the event takes money or hours from must
  -- stay at or above its newest floor at the end of every day from the event's first
  -- debit on. One account at a time, each look-up by its ledger and account (an index
  -- on one shard), the day-end balances worked back from the stored balance.
  SELECT array_agg(DISTINCT event_key) INTO pending FROM journal
  WHERE ledger_id = lid AND event_key = ANY(events) AND status = 'draft';
  done := ARRAY(SELECT unnest(events) EXCEPT SELECT unnest(COALESCE(pending, '{}')));
  FOR debit IN
    SELECT p.account_id, p.unit, MIN(p.date) AS first_date
    FROM journal j JOIN posting p ON p.ledger_id = j.ledger_id AND p.journal_id = j.id
    WHERE j.ledger_id = lid AND j.event_key = ANY(done) AND p.amount_minor < 0
      AND EXISTS (SELECT 1 FROM account_floor af WHERE af.ledger_id = lid
                  AND af.account_id = p.account_id AND af.unit = p.unit)
    GROUP BY p.account_id, p.unit
  LOOP
    SELECT floor_minor INTO lowest FROM account_floor
    WHERE ledger_id = lid AND account_id = debit.account_id AND unit = debit.unit
    ORDER BY id DESC LIMIT 1;
    SELECT amount_minor INTO closing FROM balance
    WHERE ledger_id = lid AND account_id = debit.account_id AND unit = debit.unit;
    IF EXISTS (
      SELECT 1 FROM (
        SELECT closing - COALESCE(SUM(total) OVER (ORDER BY day DESC ROWS BETWEEN
                                  UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS day_end
        FROM (SELECT q.date AS day, SUM(q.amount_minor) AS total
              FROM posting q JOIN journal qj ON qj.ledger_id = q.ledger_id
                                            AND qj.id = q.journal_id
              WHERE q.ledger_id = lid AND q.account_id = debit.account_id
                AND q.unit = debit.unit AND q.date >= debit.first_date
                AND qj.status = 'posted'
              GROUP BY q.date) per_day) day_ends
      WHERE day_end < lowest) THEN
      RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';
    END IF;
  END LOOP;
  RETURN NULL;
END $$"""

_WRITE_0009_SIGNATURE = (
    "integer, varchar[], varchar[], date[], varchar[], varchar[], integer[], varchar[], "
    "text[], varchar[], varchar[], integer[], integer[], varchar[], bigint[], varchar[], "
    "varchar[], date[], varchar[], varchar[], varchar[], integer[], text[], varchar[], "
    "varchar[], integer[], integer, varchar, varchar")

_WRITE = """CREATE FUNCTION ledger_write(
    p_ledger integer,
    j_key varchar[], j_type varchar[], j_date date[], j_event_key varchar[],
    j_holder varchar[], j_reverses_id bigint[], j_payload_hash varchar[], j_memo text[],
    j_prev_hash varchar[], j_hash varchar[],
    p_journal integer[], p_account bigint[], p_unit varchar[], p_amount bigint[],
    e_key varchar[], e_type varchar[], e_date date[], e_payload_hash varchar[],
    e_outcome varchar[], e_source varchar[], e_seq integer[], e_payload text[],
    e_prev_hash varchar[], e_hash varchar[], e_rules_version integer[],
    h_seq integer, h_event_hash varchar, h_journal_hash varchar)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
BEGIN
  IF cardinality(j_key) > 0 THEN
    WITH made AS (
      INSERT INTO journal (ledger_id, key, type, date, event_key, holder, reverses_id,
                           payload_hash, memo, status, prev_hash, hash)
      SELECT p_ledger, u.k, u.t, u.d, u.ek, u.h, u.r, u.ph, u.m, 'draft', u.pv, u.hs
      FROM unnest(j_key, j_type, j_date, j_event_key, j_holder, j_reverses_id,
                  j_payload_hash, j_memo, j_prev_hash, j_hash)
           WITH ORDINALITY AS u(k, t, d, ek, h, r, ph, m, pv, hs, n)
      ORDER BY u.n  -- ids in chain order, as the writer made the links
      RETURNING id, key)
    SELECT array_agg(made.id ORDER BY o.n) INTO ids
    FROM made JOIN unnest(j_key) WITH ORDINALITY AS o(k, n) ON o.k = made.key;
    INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)
    SELECT p_ledger, ids[x.j], x.a, x.u, x.m, j_date[x.j]
    FROM unnest(p_journal, p_account, p_unit, p_amount) WITH ORDINALITY AS x(j, a, u, m, n)
    ORDER BY x.n;
    UPDATE journal SET status = 'posted' WHERE ledger_id = p_ledger AND id = ANY(ids);
  END IF;
  IF cardinality(e_key) > 0 THEN
    INSERT INTO event (ledger_id, key, type, date, payload_hash, outcome, source, seq,
                       payload, prev_hash, hash, rules_version)
    SELECT p_ledger, u.k, u.t, u.d, u.ph, u.o, u.s, u.q, u.p, u.pv, u.hs, u.rv
    FROM unnest(e_key, e_type, e_date, e_payload_hash, e_outcome, e_source, e_seq,
                e_payload, e_prev_hash, e_hash, e_rules_version)
         WITH ORDINALITY AS u(k, t, d, ph, o, s, q, p, pv, hs, rv, n)
    ORDER BY u.n;
  END IF;
  UPDATE ledger SET event_seq = h_seq, event_hash = h_event_hash,
                    journal_hash = h_journal_hash
  WHERE id = p_ledger;
END
$$"""

_WRITE_SIGNATURE = (
    "integer, varchar[], varchar[], date[], varchar[], varchar[], bigint[], varchar[], "
    "text[], varchar[], varchar[], integer[], bigint[], varchar[], bigint[], varchar[], "
    "varchar[], date[], varchar[], varchar[], varchar[], integer[], text[], varchar[], "
    "varchar[], integer[], integer, varchar, varchar")

# 0009's functions as a database at 0009 holds them, for the downgrade.
_JOURNALS_INSERTED_0009 = """CREATE OR REPLACE FUNCTION ledger_journals_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$"""

_POSTINGS_INSERTED_0009 = """CREATE OR REPLACE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$"""

_JOURNALS_SEALED_0009 = """CREATE OR REPLACE FUNCTION ledger_journals_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The only change ever allowed: draft -> posted, every other column as it was.
  IF EXISTS (SELECT 1 FROM old_rows WHERE status <> 'draft')
     OR EXISTS (SELECT 1 FROM sealed WHERE status <> 'posted')
     OR EXISTS (SELECT id, ledger_id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM old_rows
                EXCEPT SELECT id, ledger_id, key, type, date, event_key, holder, reverses_id, payload_hash, memo, prev_hash, hash, created_at FROM sealed) THEN
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
               AND
    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(p.date) AS first_date
                           FROM journal j JOIN posting p ON p.journal_id = j.id
                           WHERE j.ledger_id = ev.ledger_id AND j.event_key = ev.event_key
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
                  < f.floor_minor)) THEN
    RAISE EXCEPTION 'ledger:insufficient_funds: a balance would go below its floor';
  END IF;
  RETURN NULL;
END $$"""

_WRITE_0009 = """CREATE FUNCTION ledger_write(p_ledger integer, j_key character varying[], j_type character varying[], j_date date[], j_event_key character varying[], j_holder character varying[], j_reverses_id integer[], j_payload_hash character varying[], j_memo text[], j_prev_hash character varying[], j_hash character varying[], p_journal integer[], p_account integer[], p_unit character varying[], p_amount bigint[], e_key character varying[], e_type character varying[], e_date date[], e_payload_hash character varying[], e_outcome character varying[], e_source character varying[], e_seq integer[], e_payload text[], e_prev_hash character varying[], e_hash character varying[], e_rules_version integer[], h_seq integer, h_event_hash character varying, h_journal_hash character varying)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ids integer[];
BEGIN
  IF cardinality(j_key) > 0 THEN
    WITH made AS (
      INSERT INTO journal (ledger_id, key, type, date, event_key, holder, reverses_id,
                           payload_hash, memo, status, prev_hash, hash)
      SELECT p_ledger, u.k, u.t, u.d, u.ek, u.h, u.r, u.ph, u.m, 'draft', u.pv, u.hs
      FROM unnest(j_key, j_type, j_date, j_event_key, j_holder, j_reverses_id,
                  j_payload_hash, j_memo, j_prev_hash, j_hash)
           WITH ORDINALITY AS u(k, t, d, ek, h, r, ph, m, pv, hs, n)
      ORDER BY u.n  -- ids in chain order, as the writer made the links
      RETURNING id, key)
    SELECT array_agg(made.id ORDER BY o.n) INTO ids
    FROM made JOIN unnest(j_key) WITH ORDINALITY AS o(k, n) ON o.k = made.key;
    INSERT INTO posting (ledger_id, journal_id, account_id, unit, amount_minor, date)
    SELECT p_ledger, ids[x.j], x.a, x.u, x.m, j_date[x.j]
    FROM unnest(p_journal, p_account, p_unit, p_amount) WITH ORDINALITY AS x(j, a, u, m, n)
    ORDER BY x.n;
    UPDATE journal SET status = 'posted' WHERE id = ANY(ids);
  END IF;
  IF cardinality(e_key) > 0 THEN
    INSERT INTO event (ledger_id, key, type, date, payload_hash, outcome, source, seq,
                       payload, prev_hash, hash, rules_version)
    SELECT p_ledger, u.k, u.t, u.d, u.ph, u.o, u.s, u.q, u.p, u.pv, u.hs, u.rv
    FROM unnest(e_key, e_type, e_date, e_payload_hash, e_outcome, e_source, e_seq,
                e_payload, e_prev_hash, e_hash, e_rules_version)
         WITH ORDINALITY AS u(k, t, d, ph, o, s, q, p, pv, hs, rv, n)
    ORDER BY u.n;
  END IF;
  UPDATE ledger SET event_seq = h_seq, event_hash = h_event_hash,
                    journal_hash = h_journal_hash
  WHERE id = p_ledger;
END
$$"""


def _indexes(after: bool) -> None:
    for name, (table, before, now) in _INDEXES.items():
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON {table} ({now if after else before})")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute(_LEDGER_NAME)
    op.execute("INSERT INTO ledger_name (name, ledger_id) SELECT name, id FROM ledger")
    _indexes(after=True)
    if sqlite:
        for statement in _SQLITE_NAME_GUARDS:
            op.execute(statement)
        return
    for table, name, _, _ in _OLD_FKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("ALTER TABLE journal DROP CONSTRAINT journal_reverses_id_key")
    for table, (columns, sequence) in _WIDEN.items():
        op.execute(f"ALTER TABLE {table} "
                   + ", ".join(f"ALTER COLUMN {c} TYPE bigint" for c in columns))
        if sequence:
            op.execute(f"ALTER SEQUENCE {sequence} AS bigint")
    for table, (name, _, now) in _PKEYS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
                   f"ADD CONSTRAINT {name} PRIMARY KEY ({now})")
    op.execute("ALTER TABLE journal ADD CONSTRAINT uq_journal_reverses "
               "UNIQUE (ledger_id, reverses_id)")
    for table, name, columns, target in _NEW_FKS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                   f"FOREIGN KEY ({columns}) REFERENCES {target}")
    for statement in (_APPEND_ONLY, _JOURNALS_INSERTED, _POSTINGS_INSERTED,
                      _JOURNALS_SEALED, *_POSTGRESQL_NAME_GUARDS):
        op.execute(statement)
    op.execute(f"DROP FUNCTION ledger_write({_WRITE_0009_SIGNATURE})")
    op.execute(_WRITE)


def downgrade() -> None:
    # Only for a database whose ids all fit in an integer again (any made before 0010).
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.execute(f"DROP FUNCTION ledger_write({_WRITE_SIGNATURE})")
        for statement in (_WRITE_0009, _JOURNALS_INSERTED_0009, _POSTINGS_INSERTED_0009,
                          _JOURNALS_SEALED_0009, _APPEND_ONLY_0009):
            op.execute(statement)
        for statement in ("DROP TRIGGER ledger_name_append_only ON ledger_name",
                          "DROP TRIGGER ledger_name_no_truncate ON ledger_name"):
            op.execute(statement)
        for table, name, _, _ in _NEW_FKS:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        op.execute("ALTER TABLE journal DROP CONSTRAINT uq_journal_reverses")
        for table, (name, before, _) in _PKEYS.items():
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}, "
                       f"ADD CONSTRAINT {name} PRIMARY KEY ({before})")
        for table, (columns, sequence) in _WIDEN.items():
            if sequence:
                op.execute(f"ALTER SEQUENCE {sequence} AS integer")
            op.execute(f"ALTER TABLE {table} "
                       + ", ".join(f"ALTER COLUMN {c} TYPE integer" for c in columns))
        op.execute("ALTER TABLE journal ADD CONSTRAINT journal_reverses_id_key "
                   "UNIQUE (reverses_id)")
        for table, name, column, target in _OLD_FKS:
            op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} "
                       f"FOREIGN KEY ({column}) REFERENCES {target}")
    _indexes(after=False)
    op.execute("DROP TABLE ledger_name")
