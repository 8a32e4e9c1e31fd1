"""The statements of `DbStore` (store/repo.py), as plain SQL built once: no statement is
constructed per event or per row. The reads (store/reads.py, store/prefetch.py) and the
write path (store/writer.py) run them."""

from __future__ import annotations

from sqlalchemy import Date, Text, bindparam, column, text

JOURNAL_ARRAYS = {  # column -> PostgreSQL type, for the unnest insert
    "ledger_id": "integer", "key": "varchar", "type": "varchar", "date": "date",
    "event_key": "varchar", "holder": "varchar", "reverses_id": "bigint",
    "payload_hash": "varchar", "memo": "text", "status": "varchar", "prev_hash": "varchar",
    "hash": "varchar",
}
SEAL_CHUNK = 500  # ids per sealing UPDATE or IN list: bounded statements on both engines
# The hot reads, as plain SQL built once (no statement construction per event). Every
# statement names its ledger for every table it reads, and joins on `ledger_id` as well
# as on the id: on a database spread over machines by ledger (docs/scaling.md#routing)
# that is what keeps it on the one machine holding the ledger; on one server it only
# narrows the index scan.
SQL_BALANCE = text(
    "SELECT b.amount_minor FROM balance b"
    " JOIN account a ON a.ledger_id = b.ledger_id AND a.id = b.account_id"
    " WHERE a.ledger_id = :lid AND b.ledger_id = :lid AND a.path = :path AND b.unit = :unit")
SQL_MOVES_FROM = text(
    "SELECT p.date, SUM(p.amount_minor) FROM posting p"
    " JOIN account a ON a.ledger_id = p.ledger_id AND a.id = p.account_id"
    " JOIN journal j ON j.ledger_id = p.ledger_id AND j.id = p.journal_id"
    " WHERE p.ledger_id = :lid AND a.ledger_id = :lid AND j.ledger_id = :lid"
    " AND a.path = :path AND p.unit = :unit AND p.date >= :day"
    " AND j.status = 'posted' GROUP BY p.date ORDER BY p.date"
).bindparams(bindparam("day", type_=Date()))
SQL_FLOOR = text(
    "SELECT f.floor_minor FROM account_floor f"
    " JOIN account a ON a.ledger_id = f.ledger_id AND a.id = f.account_id"
    " WHERE a.ledger_id = :lid AND f.ledger_id = :lid AND a.path = :path AND f.unit = :unit"
    " ORDER BY f.id DESC LIMIT 1")
SQL_PARTY = text(
    "SELECT valid_from, data FROM party_record"
    " WHERE ledger_id = :lid AND kind = :kind AND id = :id"
    " ORDER BY valid_from IS NOT NULL, valid_from, seq"
).columns(column("valid_from", Date()), column("data", Text()))
SQL_STATE = text("SELECT data FROM instrument_state"
                  " WHERE ledger_id = :lid AND kind = :kind AND ref = :ref")
SQL_PARTIES = text(
    "SELECT id, valid_from, data FROM party_record"
    " WHERE ledger_id = :lid AND kind = :kind AND id IN :ids"
    " ORDER BY valid_from IS NOT NULL, valid_from, seq"
).bindparams(bindparam("ids", expanding=True)).columns(
    column("id", Text()), column("valid_from", Date()), column("data", Text()))
SQL_STATES = text(
    "SELECT ref, data FROM instrument_state WHERE ledger_id = :lid AND kind = :kind"
    " AND ref IN :refs").bindparams(bindparam("refs", expanding=True))
SQL_HOLDER_BALANCES = text(
    "SELECT a.path, a.holder, b.unit, b.amount_minor FROM account a"
    " JOIN balance b ON b.ledger_id = a.ledger_id AND b.account_id = a.id"
    " WHERE a.ledger_id = :lid AND b.ledger_id = :lid AND a.holder IN :holders"
).bindparams(bindparam("holders", expanding=True))
SQL_HOLDER_FLOORS = text(
    "SELECT a.path, f.unit, f.floor_minor FROM account a"
    " JOIN account_floor f ON f.ledger_id = a.ledger_id AND f.account_id = a.id"
    " WHERE a.ledger_id = :lid AND f.ledger_id = :lid AND a.holder IN :holders ORDER BY f.id"
).bindparams(bindparam("holders", expanding=True))
SQL_HOLDER_MOVES = text(
    "SELECT a.path, p.unit, p.date, SUM(p.amount_minor) FROM account a"
    " JOIN posting p ON p.ledger_id = a.ledger_id AND p.account_id = a.id"
    " JOIN journal j ON j.ledger_id = p.ledger_id AND j.id = p.journal_id"
    " WHERE a.ledger_id = :lid AND p.ledger_id = :lid AND j.ledger_id = :lid"
    " AND a.holder IN :holders AND p.date >= :day"
    " AND j.status = 'posted' GROUP BY a.path, p.unit, p.date"
).bindparams(bindparam("holders", expanding=True), bindparam("day", type_=Date()))
# The write path's statements (docs/architecture.md#batches), built once.
SQL_ACCOUNTS = text(
    "SELECT a.path, a.id, b.unit FROM account a"
    " LEFT JOIN balance b ON b.ledger_id = :lid AND b.ledger_id = a.ledger_id"
    " AND b.account_id = a.id"
    " WHERE a.ledger_id = :lid AND a.path IN :paths"
).bindparams(bindparam("paths", expanding=True))
SQL_ACCOUNT_IDS = text(
    "SELECT path, id FROM account WHERE ledger_id = :lid AND path IN :paths"
).bindparams(bindparam("paths", expanding=True))
SQL_KNOWN_JOURNALS = text(
    "SELECT key, payload_hash FROM journal WHERE ledger_id = :lid AND key IN :keys"
).bindparams(bindparam("keys", expanding=True))
# A ledger's name is looked up in `ledger_name` (one row per ledger, never changed); its
# row in `ledger` is then found, and locked, by id (docs/scaling.md#layout).
SQL_LEDGER_ID = text("SELECT ledger_id FROM ledger_name WHERE name = :n")
SQL_LEDGER_NAMES = text("SELECT name FROM ledger_name ORDER BY name")
SQL_LOCK = "SELECT event_seq, event_hash, journal_hash FROM ledger WHERE id = :lid"
SQL_LOCK_SQLITE, SQL_LOCK_PG = text(SQL_LOCK), text(SQL_LOCK + " FOR UPDATE")
SQL_NEXT_LEDGER_PG = text("SELECT nextval(pg_get_serial_sequence('ledger', 'id'))")
SQL_NEXT_LEDGER_SQLITE = text("SELECT COALESCE(MAX(id), 0) + 1 FROM ledger")
SQL_NAME_LEDGER = text("INSERT INTO ledger_name (name, ledger_id) VALUES (:n, :lid)"
                        " ON CONFLICT (name) DO NOTHING")
SQL_NEW_LEDGER = text("INSERT INTO ledger (id, name, event_seq, event_hash, journal_hash)"
                       " VALUES (:lid, :n, 0, :g, :g)")
SQL_HEAD = text("UPDATE ledger SET event_seq = :seq, event_hash = :head,"
                 " journal_hash = :journal WHERE id = :lid")
SQL_SEAL_SQLITE = ("UPDATE journal SET status = 'posted'"
                    " WHERE ledger_id = ? AND id BETWEEN ? AND ?")
# SQLite only: journal ids are the file's row ids, shared by every ledger in it.
SQL_MAX_JOURNAL = "SELECT COALESCE(MAX(id), 0) FROM journal"
SQL_JOURNAL_SQLITE = (f"INSERT INTO journal (id, {', '.join(JOURNAL_ARRAYS)}) VALUES "
                       f"({', '.join('?' * (len(JOURNAL_ARRAYS) + 1))})")
SQL_JOURNAL_SQLITE_ONE = (f"INSERT INTO journal ({', '.join(JOURNAL_ARRAYS)}) VALUES "
                           f"({', '.join('?' * len(JOURNAL_ARRAYS))})")
SQL_POSTING_SQLITE = ("INSERT INTO posting (ledger_id, journal_id, account_id, unit, "
                       "amount_minor, date) VALUES (?, ?, ?, ?, ?, ?)")
EVENT_COLUMNS = ("ledger_id", "key", "type", "date", "payload_hash", "outcome", "source",
                  "seq", "payload", "prev_hash", "hash", "rules_version")
SQL_EVENT_SQLITE = (f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(EVENT_COLUMNS))})")
JOURNAL_FN_COLUMNS = ("key", "type", "date", "event_key", "holder", "reverses_id",
                       "payload_hash", "memo", "prev_hash", "hash")
SQL_WRITE_PG = text(
    "SELECT ledger_write(CAST(:lid AS integer), "
    + ", ".join(f"CAST(:j_{c} AS {JOURNAL_ARRAYS[c]}[])" for c in JOURNAL_FN_COLUMNS)
    + ", CAST(:p_journal AS integer[]), CAST(:p_account AS bigint[]),"
    " CAST(:p_unit AS varchar[]), CAST(:p_amount AS bigint[]), "
    + ", ".join(f"CAST(:e_{c} AS {t}[])" for c, t in (
        ("key", "varchar"), ("type", "varchar"), ("date", "date"),
        ("payload_hash", "varchar"), ("outcome", "varchar"), ("source", "varchar"),
        ("seq", "integer"), ("payload", "text"), ("prev_hash", "varchar"),
        ("hash", "varchar"), ("rules_version", "integer")))
    + ", CAST(:seq AS integer), CAST(:head AS varchar), CAST(:journal AS varchar))")
SQL_JOURNAL_HASH = text("SELECT payload_hash FROM journal WHERE ledger_id = :lid AND key = :key")
