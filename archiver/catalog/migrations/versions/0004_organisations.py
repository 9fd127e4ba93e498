"""Several organisations in one catalog: runs, bundles, the audit trail, users and queued runs carry the
organisation (the register's `organisation_id`) they belong to.

Rows made before have none; the first organisation that opens the catalog takes them (`Catalog`), which is
right for every catalog an earlier version made: those served one organisation.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SCOPED = ("runs", "bundles", "audit", "users", "queued_runs")


def upgrade() -> None:
    for table in SCOPED:
        op.add_column(table, sa.Column("org", sa.String(80)))
        op.create_index(f"ix_{table}_org", table, ["org"])


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
