"""Retry runs name the run they complete (`run --retry-failed`); culled bundles keep when and by whom.

Catalogs made before Alembic may have these columns already (added then by hand-written ALTER TABLE):
each is added only when it is missing.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = [
    ("runs", sa.Column("completes", sa.String(64))),
    ("bundles", sa.Column("deleted_at", sa.DateTime(timezone=True))),
    ("bundles", sa.Column("deleted_by", sa.Text)),
]


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, column in COLUMNS:
        if column.name not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, column)


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
