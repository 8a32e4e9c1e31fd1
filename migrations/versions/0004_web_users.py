"""Sign-ins for the web view (docs/web.md): users, their roles, invitations, failed
sign-in attempts (for the rate limit) and the key that signs session cookies. Each
belongs to one ledger: a sign-in reads one set of books.

These tables hold no money and are not part of the hash chains; they change (an
invitation is used, a failed attempt expires), so they carry no append-only guards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_table(
        "web_login_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_web_login_failure_key", "web_login_failure", ["ledger_id", "key", "at"])
    op.create_table(
        "web_secret",
        sa.Column("ledger_id", sa.Integer(), sa.ForeignKey("ledger.id"), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_secret")
    op.drop_index("ix_web_login_failure_key", table_name="web_login_failure")
    op.drop_table("web_login_failure")
    op.drop_table("web_invite")
    op.drop_table("web_role")
    op.drop_table("web_user")
