"""The audit chain of sign-ins, roles, sessions and the access log (docs/rules-trust.md, docs/web.md). Filled in by the audit-chain work.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
