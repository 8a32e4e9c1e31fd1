-- account_append_only
CREATE TRIGGER account_append_only BEFORE DELETE OR UPDATE ON account FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- account_floor_append_only
CREATE TRIGGER account_floor_append_only BEFORE DELETE OR UPDATE ON account_floor FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- account_floor_no_truncate
CREATE TRIGGER account_floor_no_truncate BEFORE TRUNCATE ON account_floor FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- account_insert_guard
CREATE TRIGGER account_insert_guard BEFORE INSERT ON account FOR EACH ROW EXECUTE FUNCTION ledger_account_inserted()

-- account_no_truncate
CREATE TRIGGER account_no_truncate BEFORE TRUNCATE ON account FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- audit_record_append_only
CREATE TRIGGER audit_record_append_only BEFORE DELETE OR UPDATE ON audit_record FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- audit_record_continues
CREATE TRIGGER audit_record_continues BEFORE INSERT ON audit_record FOR EACH ROW EXECUTE FUNCTION ledger_audit_continues()

-- audit_record_no_truncate
CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- balance_no_delete
CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- balance_no_rekey
CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance FOR EACH ROW EXECUTE FUNCTION ledger_balance_rekeyed()

-- balance_no_truncate
CREATE TRIGGER balance_no_truncate BEFORE TRUNCATE ON balance FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- event_append_only
CREATE TRIGGER event_append_only BEFORE DELETE OR UPDATE ON event FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- event_no_truncate
CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- function ledger_account_inserted
BEGIN
  IF NEW.holder IS DISTINCT FROM (CASE WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 2 AND split_part(NEW.path, ':', 1) IN ('holder', 'isf') THEN split_part(NEW.path, ':', 2) WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 2 AND split_part(NEW.path, ':', 1) = 'pool' THEN split_part(NEW.path, ':', 3) WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 3 AND split_part(NEW.path, ':', 1) = 'fund' AND split_part(NEW.path, ':', 3) = 'award' THEN split_part(NEW.path, ':', 4) END) THEN
    RAISE EXCEPTION 'ledger:invalid: an account''s holder is the one its path names';
  END IF;
  RETURN NEW;
END

-- function ledger_append_only
BEGIN
  RAISE EXCEPTION 'ledger:append_only: % rows cannot be changed or deleted',
    regexp_replace(TG_TABLE_NAME, '_[0-9]+$', '');
END

-- function ledger_audit_continues
DECLARE
  last_seq integer;
  last_hash text;
BEGIN
  SELECT seq, hash INTO last_seq, last_hash FROM audit_record
  WHERE ledger_id = NEW.ledger_id ORDER BY seq DESC LIMIT 1;
  IF NEW.seq IS DISTINCT FROM COALESCE(last_seq, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, '0000000000000000000000000000000000000000000000000000000000000000') THEN
    RAISE EXCEPTION 'ledger:append_only: an audit record must continue its ledger''s chain';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM ledger WHERE id = NEW.ledger_id) THEN
    RAISE EXCEPTION 'ledger:invalid: an audit record belongs to a ledger';
  END IF;
  IF NEW.kind = 'user_added' AND NEW.user_id IS DISTINCT FROM NEW.id THEN
    RAISE EXCEPTION 'ledger:invalid: a new sign-in''s id is its record''s own';
  END IF;
  RETURN NEW;
END

-- function ledger_balance_rekeyed
BEGIN
  IF NEW.account_id IS DISTINCT FROM OLD.account_id OR NEW.unit IS DISTINCT FROM OLD.unit
     OR NEW.ledger_id IS DISTINCT FROM OLD.ledger_id THEN
    RAISE EXCEPTION 'ledger:append_only: a balance belongs to one account and unit';
  END IF;
  RETURN NEW;
END

-- function ledger_head_moved
BEGIN
  IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id OR NEW.name IS DISTINCT FROM OLD.name
     OR NEW.created_at IS DISTINCT FROM OLD.created_at OR NEW.event_seq < OLD.event_seq THEN
    RAISE EXCEPTION 'ledger:append_only: a ledger keeps its name and its head only moves on';
  END IF;
  RETURN NEW;
END

-- function ledger_journals_inserted
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
END

-- function ledger_journals_sealed
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
END

-- function ledger_postings_inserted
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
END

-- function ledger_write
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

-- instrument_state_no_truncate
CREATE TRIGGER instrument_state_no_truncate BEFORE TRUNCATE ON instrument_state FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- journal_insert_guard
CREATE TRIGGER journal_insert_guard AFTER INSERT ON journal REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_journals_inserted()

-- journal_no_delete
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- journal_no_truncate
CREATE TRIGGER journal_no_truncate BEFORE TRUNCATE ON journal FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- journal_seal
CREATE TRIGGER journal_seal AFTER UPDATE ON journal REFERENCING OLD TABLE AS old_rows NEW TABLE AS sealed FOR EACH STATEMENT EXECUTE FUNCTION ledger_journals_sealed()

-- ledger_head_guard
CREATE TRIGGER ledger_head_guard BEFORE DELETE OR UPDATE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_head_moved()

-- ledger_name_append_only
CREATE TRIGGER ledger_name_append_only BEFORE DELETE OR UPDATE ON ledger_name FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- ledger_name_no_truncate
CREATE TRIGGER ledger_name_no_truncate BEFORE TRUNCATE ON ledger_name FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- ledger_no_truncate
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- party_record_append_only
CREATE TRIGGER party_record_append_only BEFORE DELETE OR UPDATE ON party_record FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- party_record_no_truncate
CREATE TRIGGER party_record_no_truncate BEFORE TRUNCATE ON party_record FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- period_lock_append_only
CREATE TRIGGER period_lock_append_only BEFORE DELETE OR UPDATE ON period_lock FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- period_lock_no_truncate
CREATE TRIGGER period_lock_no_truncate BEFORE TRUNCATE ON period_lock FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

-- posting_append_only
CREATE TRIGGER posting_append_only BEFORE DELETE OR UPDATE ON posting FOR EACH ROW EXECUTE FUNCTION ledger_append_only()

-- posting_insert_guard
CREATE TRIGGER posting_insert_guard AFTER INSERT ON posting REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_inserted()

-- posting_no_truncate
CREATE TRIGGER posting_no_truncate BEFORE TRUNCATE ON posting FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()

