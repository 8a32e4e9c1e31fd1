"""The write path in one round trip on PostgreSQL (docs/architecture.md#batches).

`ledger_write(...)` writes what the writer has already checked, chained and hashed in
Python: the journals (as drafts), their postings, the seal (draft -> posted), the event
records and the ledger's new head, in that order, in one call instead of five statements
and five round trips. It is plain SQL run by the caller (SECURITY INVOKER): every trigger
fires on every row exactly as it does for the statements it replaces (the draft-only
insert, the closed-period guard, the posting guards, the zero-sum and floor checks at the
seal, the append-only guards, the head that only moves on), so the database checks every
journal as before. A refusal raises the trigger's own `ledger:CODE: why` error; the caller's
savepoint rolls the call back whole.

Arrays are parallel columns: `j_*` one entry per journal in posting order; `p_journal`
the 1-based position in `j_*` of each posting's journal; `e_*` one entry per record.
SQLite has no server-side functions; its writer sends the same statements itself.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SIGNATURE = (
    "integer, varchar[], varchar[], date[], varchar[], varchar[], integer[], varchar[], "
    "text[], varchar[], varchar[], integer[], integer[], varchar[], bigint[], varchar[], "
    "varchar[], date[], varchar[], varchar[], varchar[], integer[], text[], varchar[], "
    "varchar[], integer[], integer, varchar, varchar")

_UP = """
CREATE FUNCTION ledger_write(
    p_ledger integer,
    j_key varchar[], j_type varchar[], j_date date[], j_event_key varchar[],
    j_holder varchar[], j_reverses_id integer[], j_payload_hash varchar[], j_memo text[],
    j_prev_hash varchar[], j_hash varchar[],
    p_journal integer[], p_account integer[], p_unit varchar[], p_amount bigint[],
    e_key varchar[], e_type varchar[], e_date date[], e_payload_hash varchar[],
    e_outcome varchar[], e_source varchar[], e_seq integer[], e_payload text[],
    e_prev_hash varchar[], e_hash varchar[], e_rules_version integer[],
    h_seq integer, h_event_hash varchar, h_journal_hash varchar)
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
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION ledger_write({_SIGNATURE})")
