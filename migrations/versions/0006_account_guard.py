"""Account properties immutable and hashed in the books (docs/rules-trust.md). Filled in by the account-guard work.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
