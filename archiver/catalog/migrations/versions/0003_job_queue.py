"""The job queue: runs enqueued and their captures (both databases), and on PostgreSQL Procrastinate's own
tables, functions and triggers, from the Procrastinate version we pin (pyproject.toml).

A later Procrastinate version's schema changes come as our migrations applying its migration files, so
one `upgrade` keeps both current.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "queued_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("registry", sa.Text, nullable=False),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("completes", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queued_at", UTC_TIME, nullable=False),
        sa.Column("started_at", UTC_TIME),
        sa.Column("finished_at", UTC_TIME),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "queued_pages",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("queued_runs.id"), primary_key=True),
        sa.Column("capture_key", sa.String(80), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("started_at", UTC_TIME),
        sa.Column("finished_at", UTC_TIME),
        sa.Column("error", sa.Text),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and not sa.inspect(bind).has_table("procrastinate_jobs"):
        from procrastinate.schema import SchemaManager

        # Through the driver's own cursor: psycopg then reads no placeholders in the functions' bodies.
        bind.connection.dbapi_connection.cursor().execute(SchemaManager.get_schema())


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
