-- account_floor_no_delete
CREATE TRIGGER account_floor_no_delete BEFORE DELETE ON account_floor
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');
END

-- account_floor_no_update
CREATE TRIGGER account_floor_no_update BEFORE UPDATE ON account_floor
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account_floor rows cannot be changed or deleted');
END

-- account_insert_guard
CREATE TRIGGER account_insert_guard BEFORE INSERT ON account
WHEN NEW.holder IS NOT (CASE WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 2 AND substr(NEW.path, 1, instr(NEW.path, ':') - 1) IN ('holder', 'isf') THEN substr(substr(NEW.path, instr(NEW.path, ':') + 1), 1, instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') - 1) WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 2 AND substr(NEW.path, 1, instr(NEW.path, ':') - 1) = 'pool' THEN substr(substr(NEW.path, instr(NEW.path, ':') + 1), instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') + 1) WHEN (length(NEW.path) - length(replace(NEW.path, ':', ''))) = 3 AND substr(NEW.path, 1, instr(NEW.path, ':') - 1) = 'fund' AND substr(substr(substr(NEW.path, instr(NEW.path, ':') + 1), instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') + 1), 1, instr(substr(substr(NEW.path, instr(NEW.path, ':') + 1), instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') + 1), ':') - 1) = 'award' THEN substr(substr(substr(NEW.path, instr(NEW.path, ':') + 1), instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') + 1), instr(substr(substr(NEW.path, instr(NEW.path, ':') + 1), instr(substr(NEW.path, instr(NEW.path, ':') + 1), ':') + 1), ':') + 1) END)
BEGIN SELECT RAISE(ABORT, 'ledger:invalid: an account''s holder is the one its path names');
END

-- account_no_delete
CREATE TRIGGER account_no_delete BEFORE DELETE ON account
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');
END

-- account_no_update
CREATE TRIGGER account_no_update BEFORE UPDATE ON account
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: account rows cannot be changed or deleted');
END

-- audit_record_continues
CREATE TRIGGER audit_record_continues BEFORE INSERT ON audit_record
BEGIN
  SELECT RAISE(ABORT, 'ledger:append_only: an audit record must continue its ledger''s chain')
  WHERE NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_record
                                 WHERE ledger_id = NEW.ledger_id), 0) + 1
     OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_record
                                       WHERE ledger_id = NEW.ledger_id
                                       ORDER BY seq DESC LIMIT 1), '0000000000000000000000000000000000000000000000000000000000000000');
  SELECT RAISE(ABORT, 'ledger:invalid: an audit record belongs to a ledger')
  WHERE NOT EXISTS (SELECT 1 FROM ledger WHERE id = NEW.ledger_id);
  SELECT RAISE(ABORT, 'ledger:invalid: a new sign-in''s id is its record''s own')
  WHERE NEW.kind = 'user_added' AND NEW.user_id IS NOT NEW.id;
END

-- audit_record_no_delete
CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: audit_record rows cannot be changed or deleted');
END

-- audit_record_no_update
CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: audit_record rows cannot be changed or deleted');
END

-- balance_no_delete
CREATE TRIGGER balance_no_delete BEFORE DELETE ON balance
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: balance rows cannot be deleted');
END

-- balance_no_rekey
CREATE TRIGGER balance_no_rekey BEFORE UPDATE ON balance
WHEN NEW.account_id IS NOT OLD.account_id OR NEW.unit IS NOT OLD.unit
  OR NEW.ledger_id IS NOT OLD.ledger_id
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a balance belongs to one account and unit');
END

-- event_no_delete
CREATE TRIGGER event_no_delete BEFORE DELETE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END

-- event_no_update
CREATE TRIGGER event_no_update BEFORE UPDATE ON event
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: event rows cannot be changed or deleted');
END

-- journal_insert_guard
CREATE TRIGGER journal_insert_guard BEFORE INSERT ON journal
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must be inserted as draft and sealed')
  WHERE NEW.status <> 'draft';
  SELECT RAISE(ABORT, 'ledger:period_closed: the journal is dated in a closed period')
  WHERE NEW.date <= (SELECT MAX(until) FROM period_lock WHERE ledger_id = NEW.ledger_id);
END

-- journal_no_delete
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: journals cannot be deleted; post a reversal');
END

-- journal_seal_balances
CREATE TRIGGER journal_seal_balances AFTER UPDATE OF status ON journal
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
    AND 
    EXISTS (SELECT 1 FROM (SELECT p.account_id, p.unit, MIN(p.date) AS first_date
                           FROM journal j JOIN posting p ON p.journal_id = j.id
                           WHERE j.ledger_id = NEW.ledger_id AND j.event_key = NEW.event_key
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
                  < f.floor_minor);
END

-- journal_seal_check
CREATE TRIGGER journal_seal_check BEFORE UPDATE OF status ON journal
WHEN OLD.status = 'draft' AND NEW.status = 'posted'
BEGIN
  SELECT RAISE(ABORT, 'ledger:unbalanced: a journal must sum to zero in each unit')
  WHERE NOT EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id)
    OR EXISTS (SELECT 1 FROM posting WHERE journal_id = NEW.id
               GROUP BY unit HAVING SUM(amount_minor) <> 0);
END

-- journal_update_guard
CREATE TRIGGER journal_update_guard BEFORE UPDATE ON journal
WHEN NOT (OLD.status = 'draft' AND NEW.status = 'posted') OR NEW.id IS NOT OLD.id OR NEW.ledger_id IS NOT OLD.ledger_id OR NEW.key IS NOT OLD.key OR NEW.type IS NOT OLD.type OR NEW.date IS NOT OLD.date OR NEW.event_key IS NOT OLD.event_key OR NEW.holder IS NOT OLD.holder OR NEW.reverses_id IS NOT OLD.reverses_id OR NEW.payload_hash IS NOT OLD.payload_hash OR NEW.memo IS NOT OLD.memo OR NEW.prev_hash IS NOT OLD.prev_hash OR NEW.hash IS NOT OLD.hash OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a posted journal cannot be changed');
END

-- ledger_head_guard
CREATE TRIGGER ledger_head_guard BEFORE UPDATE ON ledger
WHEN NEW.id IS NOT OLD.id OR NEW.name IS NOT OLD.name OR NEW.created_at IS NOT OLD.created_at
  OR NEW.event_seq < OLD.event_seq
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: a ledger keeps its name and its head only moves on');
END

-- ledger_name_no_delete
CREATE TRIGGER ledger_name_no_delete BEFORE DELETE ON ledger_name
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger_name rows cannot be changed or deleted');
END

-- ledger_name_no_update
CREATE TRIGGER ledger_name_no_update BEFORE UPDATE ON ledger_name
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger_name rows cannot be changed or deleted');
END

-- ledger_no_delete
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: ledger rows cannot be deleted');
END

-- party_record_no_delete
CREATE TRIGGER party_record_no_delete BEFORE DELETE ON party_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');
END

-- party_record_no_update
CREATE TRIGGER party_record_no_update BEFORE UPDATE ON party_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: party_record rows cannot be changed or deleted');
END

-- period_lock_no_delete
CREATE TRIGGER period_lock_no_delete BEFORE DELETE ON period_lock
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');
END

-- period_lock_no_update
CREATE TRIGGER period_lock_no_update BEFORE UPDATE ON period_lock
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: period_lock rows cannot be changed or deleted');
END

-- posting_insert_guard
CREATE TRIGGER posting_insert_guard BEFORE INSERT ON posting
BEGIN
  SELECT RAISE(ABORT, 'ledger:append_only: postings can only be added to a draft journal')
  WHERE (SELECT status FROM journal WHERE id = NEW.journal_id) IS NOT 'draft';
  SELECT RAISE(ABORT, 'ledger:invalid: a posting carries its journal''s date and ledger')
  WHERE NOT EXISTS (SELECT 1 FROM journal j JOIN account a ON a.id = NEW.account_id
                    WHERE j.id = NEW.journal_id AND j.date = NEW.date
                      AND j.ledger_id = NEW.ledger_id AND a.ledger_id = NEW.ledger_id);
END

-- posting_no_delete
CREATE TRIGGER posting_no_delete BEFORE DELETE ON posting
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');
END

-- posting_no_update
CREATE TRIGGER posting_no_update BEFORE UPDATE ON posting
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: posting rows cannot be changed or deleted');
END

