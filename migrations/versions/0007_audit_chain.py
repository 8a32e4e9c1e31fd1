"""The audit chain of sign-ins, roles, sessions and the access log (docs/rules-trust.md
#audit-chain, docs/web.md).

- `audit_record`: every ledger's sign-ins (made, password set, roles set, removed),
  sessions (started, ended), invitations (made, used) and reads, as records chained
  apart from the books: `seq` 1, 2, ... per ledger, each `hash` covering the hash
  before it and every field of the record. Ids are never reused (SQLite AUTOINCREMENT,
  a PostgreSQL identity). There is no foreign key to `ledger`: on PostgreSQL its check
  would make every append wait for a books writer holding the ledger's row, so the
  insert trigger checks the ledger instead.
- Guards on both engines, like the books': UPDATE and DELETE refused, TRUNCATE refused on
  PostgreSQL, an insert refused unless it continues its ledger's chain (the next `seq`,
  the newest record's hash as `prev_hash`), names a ledger, and (for a new sign-in)
  carries its own id as `user_id`.
- The sign-ins already made (`web_user`, `web_role`, `web_invite`) become records, in
  the order they happened, and those tables are dropped. Failed sign-in attempts and
  the cookie-signing key stay ordinary tables: they grant nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

_CONTINUES = f"""
  SELECT RAISE(ABORT, 'ledger:append_only: an audit record must continue its ledger''s chain')
  WHERE NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_record
                                 WHERE ledger_id = NEW.ledger_id), 0) + 1
     OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_record
                                       WHERE ledger_id = NEW.ledger_id
                                       ORDER BY seq DESC LIMIT 1), '{GENESIS}');
  SELECT RAISE(ABORT, 'ledger:invalid: an audit record belongs to a ledger')
  WHERE NOT EXISTS (SELECT 1 FROM ledger WHERE id = NEW.ledger_id);
  SELECT RAISE(ABORT, 'ledger:invalid: a new sign-in''s id is its record''s own')
  WHERE NEW.kind = 'user_added' AND NEW.user_id IS NOT NEW.id;"""

_SQLITE_GUARDS = [
    """CREATE TRIGGER audit_record_no_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: audit_record rows cannot be changed or deleted');
END""",
    """CREATE TRIGGER audit_record_no_delete BEFORE DELETE ON audit_record
BEGIN SELECT RAISE(ABORT, 'ledger:append_only: audit_record rows cannot be changed or deleted');
END""",
    f"""CREATE TRIGGER audit_record_continues BEFORE INSERT ON audit_record
BEGIN{_CONTINUES}
END""",
]

_POSTGRESQL_GUARDS = [
    f"""CREATE FUNCTION ledger_audit_continues() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq integer;
  last_hash text;
BEGIN
  SELECT seq, hash INTO last_seq, last_hash FROM audit_record
  WHERE ledger_id = NEW.ledger_id ORDER BY seq DESC LIMIT 1;
  IF NEW.seq IS DISTINCT FROM COALESCE(last_seq, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, '{GENESIS}') THEN
    RAISE EXCEPTION 'ledger:append_only: an audit record must continue its ledger''s chain';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM ledger WHERE id = NEW.ledger_id) THEN
    RAISE EXCEPTION 'ledger:invalid: an audit record belongs to a ledger';
  END IF;
  IF NEW.kind = 'user_added' AND NEW.user_id IS DISTINCT FROM NEW.id THEN
    RAISE EXCEPTION 'ledger:invalid: a new sign-in''s id is its record''s own';
  END IF;
  RETURN NEW;
END $$""",
    """CREATE TRIGGER audit_record_continues BEFORE INSERT ON audit_record
FOR EACH ROW EXECUTE FUNCTION ledger_audit_continues()""",
    """CREATE TRIGGER audit_record_append_only BEFORE UPDATE OR DELETE ON audit_record
FOR EACH ROW EXECUTE FUNCTION ledger_append_only()""",
    """CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()""",
]


def record_hash(prev_hash, seq, at, kind, user_id, key, body) -> str:
    """This revision's own copy of an audit record's hash (docs/rules-trust.md
    #audit-chain)."""
    return hashlib.sha256(json.dumps(
        [prev_hash, seq, at.isoformat(sep=" ", timespec="microseconds"), kind, user_id, key,
         body], separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _time(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.fromisoformat(str(value))


_USERS = sa.table("web_user", sa.column("id", sa.Integer), sa.column("ledger_id", sa.Integer),
                  sa.column("username", sa.String), sa.column("password_hash", sa.String),
                  sa.column("created_at", sa.DateTime))
_ROLES = sa.table("web_role", sa.column("user_id", sa.Integer), sa.column("role", sa.String))
_INVITES = sa.table("web_invite", sa.column("id", sa.Integer),
                    sa.column("ledger_id", sa.Integer), sa.column("token_sha256", sa.String),
                    sa.column("roles", sa.Text), sa.column("created_by", sa.Integer),
                    sa.column("created_at", sa.DateTime), sa.column("expires_at", sa.DateTime),
                    sa.column("used_at", sa.DateTime))


def _next_id(conn, dialect: str) -> int:
    if dialect == "postgresql":
        return conn.execute(sa.text(
            "SELECT nextval(pg_get_serial_sequence('audit_record', 'id'))")).scalar_one()
    seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'audit_record'")
                       ).scalar()
    return (seq or 0) + 1


def _carry_sign_ins(conn, dialect: str) -> None:
    """Every sign-in, its roles and every invitation become records of their ledger's
    chain, in the order they happened (a sign-in before an invitation it made)."""
    roles: dict[int, list[str]] = {}
    for uid, role in conn.execute(sa.select(_ROLES.c.user_id, _ROLES.c.role)):
        roles.setdefault(uid, []).append(role)
    happenings: dict[int, list] = {}
    for row in conn.execute(sa.select(_USERS).order_by(_USERS.c.id)):
        happenings.setdefault(row.ledger_id, []).append(
            (_time(row.created_at), 0, row.id, "user", row))
    for row in conn.execute(sa.select(_INVITES).order_by(_INVITES.c.id)):
        happenings.setdefault(row.ledger_id, []).append(
            (_time(row.created_at), 1, row.id, "invite", row))
        if row.used_at is not None:
            happenings[row.ledger_id].append((_time(row.used_at), 2, row.id, "used", row))
    for lid, items in sorted(happenings.items()):
        seq, prev, new_id = 0, GENESIS, {}
        for at, _, _, what, row in sorted(items, key=lambda item: item[:3]):
            seq += 1
            values = {"ledger_id": lid, "seq": seq, "at": at, "prev_hash": prev}
            if what == "user":
                uid = new_id[row.id] = _next_id(conn, dialect)
                values.update(id=uid, kind="user_added", user_id=uid, key=row.username,
                              body=_canonical({"username": row.username,
                                               "password_hash": row.password_hash,
                                               "roles": sorted(set(roles.get(row.id, []))),
                                               "via": "migration"}))
            elif what == "invite":
                values.update(kind="invite_created", user_id=new_id.get(row.created_by),
                              key=row.token_sha256,
                              body=_canonical({"roles": json.loads(row.roles),
                                               "expires": _time(row.expires_at).isoformat(
                                                   sep=" ", timespec="microseconds")}))
            else:
                values.update(kind="invite_used", user_id=None, key=row.token_sha256,
                              body=_canonical({}))
            values["hash"] = prev = record_hash(prev, seq, at, values["kind"],
                                                values["user_id"], values["key"],
                                                values["body"])
            columns = ", ".join(values)
            conn.execute(sa.text(f"INSERT INTO audit_record ({columns}) VALUES "
                                 f"({', '.join(':' + c for c in values)})"), values)


def upgrade() -> None:
    conn = op.get_bind()
    dialect = conn.dialect.name
    op.create_table(
        "audit_record",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("ledger_id", "seq", name="uq_audit_record_seq"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_record_key", "audit_record", ["ledger_id", "key"])
    op.create_index("ix_audit_record_user", "audit_record", ["ledger_id", "user_id", "kind"])
    _carry_sign_ins(conn, dialect)
    op.drop_table("web_invite")
    op.drop_table("web_role")
    op.drop_table("web_user")
    for statement in _SQLITE_GUARDS if dialect == "sqlite" else _POSTGRESQL_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    """Back to 0006: the sign-ins not removed, with their newest password and roles, and
    the invitations, return to their tables (sessions, reads and removed sign-ins are
    not kept there)."""
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_record_append_only ON audit_record")
        op.execute("DROP TRIGGER audit_record_no_truncate ON audit_record")
        op.execute("DROP FUNCTION ledger_audit_continues() CASCADE")
    else:
        for name in ("audit_record_no_update", "audit_record_no_delete",
                     "audit_record_continues"):
            op.execute(f"DROP TRIGGER {name}")
    op.create_table(
        "web_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), nullable=False),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("ledger_id", "username", name="uq_web_user_name"),
    )
    op.create_table(
        "web_role",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("web_user.id"), primary_key=True),
        sa.Column("role", sa.String(120), primary_key=True),
    )
    op.create_table(
        "web_invite",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("web_user.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_sha256", name="uq_web_invite_token"),
    )
    users: dict[int, dict] = {}
    invites: dict[tuple[int, str], dict] = {}
    for lid, at, kind, uid, key, body in conn.execute(sa.text(
            "SELECT ledger_id, at, kind, user_id, key, body FROM audit_record "
            "ORDER BY ledger_id, seq")):
        body = json.loads(body)
        if kind == "user_added":
            users[uid] = {"id": uid, "ledger_id": lid, "username": body["username"],
                          "password_hash": body["password_hash"], "created_at": _time(at),
                          "roles": body["roles"]}
        elif kind == "password_set" and uid in users:
            users[uid]["password_hash"] = body["password_hash"]
        elif kind == "roles_set" and uid in users:
            users[uid]["roles"] = body["roles"]
        elif kind == "user_removed":
            users.pop(uid, None)
        elif kind == "invite_created":
            invites[(lid, key)] = {"ledger_id": lid, "token_sha256": key,
                                   "roles": json.dumps(body["roles"]), "created_by": uid,
                                   "created_at": _time(at),
                                   "expires_at": _time(body["expires"]), "used_at": None}
        elif kind == "invite_used" and (lid, key) in invites:
            invites[(lid, key)]["used_at"] = _time(at)
    for user in users.values():
        conn.execute(sa.insert(_USERS).values(
            {k: v for k, v in user.items() if k != "roles"}))
        for role in user["roles"]:
            conn.execute(sa.insert(_ROLES).values(user_id=user["id"], role=role))
    for invite in invites.values():
        if invite["created_by"] not in users:
            invite["created_by"] = None
        conn.execute(sa.insert(_INVITES).values(invite))
    if conn.dialect.name == "postgresql":  # new sign-ins after going back get new ids
        op.execute("SELECT setval(pg_get_serial_sequence('web_user', 'id'), "
                   "(SELECT COALESCE(MAX(id), 0) + 1 FROM audit_record), false)")
    op.drop_index("ix_audit_record_user", table_name="audit_record")
    op.drop_index("ix_audit_record_key", table_name="audit_record")
    op.drop_table("audit_record")
