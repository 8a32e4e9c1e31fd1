"""Core ledger: accounts, balances, journals, postings, events, period locks, parties,
instrument state, and the triggers that defend the invariants on each engine.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from ledger.store import guards

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("path", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "balance",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), primary_key=True),
        sa.Column("unit", sa.String(3), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("floor_minor", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_balance_unit"),
    )
    op.create_table(
        "period_lock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("holder", sa.String(60), nullable=True),
        sa.Column("reverses_id", sa.Integer(), sa.ForeignKey("journal.id"), nullable=True,
                  unique=True),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("status", sa.String(10), nullable=False, server_default="draft"),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('draft', 'posted')", name="ck_journal_status"),
    )
    op.create_index("ix_journal_date", "journal", ["date"])
    op.create_index("ix_journal_event_key", "journal", ["event_key"])
    op.create_index("ix_journal_holder", "journal", ["holder"])
    op.create_table(
        "posting",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("journal_id", sa.Integer(), sa.ForeignKey("journal.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("unit IN ('GBP', 'HRS')", name="ck_posting_unit"),
        sa.CheckConstraint("amount_minor <> 0", name="ck_posting_nonzero"),
    )
    op.create_index("ix_posting_account", "posting", ["account_id", "unit"])
    op.create_index("ix_posting_journal", "posting", ["journal_id"])
    op.create_table(
        "event",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("source", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "party",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_table(
        "instrument_state",
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("ref", sa.String(300), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
    )
    for statement in guards.install_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for table in ("instrument_state", "party", "event", "posting", "journal", "period_lock",
                  "balance", "account"):
        op.drop_table(table)
    for statement in guards.drop_statements(op.get_bind().dialect.name):
        op.execute(statement)
