"""Rules versions: each event record keeps the version of the rules it was recorded
under (docs/rules-trust.md#rules-versions), so `verify` replays it under the rules that
made it.

- `event.rules_version`: every record already in the database was made before versions
  were stored, under version 1, and gets 1; the program writes the version it records
  under on every new record. Adding a column with a default changes no row, so the
  append-only guards on `event` are not involved and no record's hash changes (the
  chain covers the version only from version 2 on).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE event ADD COLUMN rules_version INTEGER NOT NULL DEFAULT 1")


def downgrade() -> None:
    # A record of version 2 or later would no longer verify without its version: going
    # back is for a database whose records are all version 1.
    bind = op.get_bind()
    later = bind.execute(sa.text("SELECT count(*) FROM event WHERE rules_version <> 1")
                         ).scalar_one()
    if later:
        raise RuntimeError(f"{later} records were made under rules after version 1; "
                           "downgrading would break their hashes")
    op.execute("ALTER TABLE event DROP COLUMN rules_version")
