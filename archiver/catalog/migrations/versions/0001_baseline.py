"""The catalog as it was before migrations: runs, their pages, bundles, registrations, posts, the audit
trail, the web page's users and sessions.

Catalogs made before Alembic (by `create_all`) have some or all of these tables already: each is made only
when it is missing, so such a catalog is upgraded from nothing like a new one.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UTC_TIME = sa.DateTime(timezone=True)


def _tables() -> list[tuple[str, list]]:
    return [
        ("runs", [
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("organisation", sa.Text, nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("requested_by", sa.Text, nullable=False),
            sa.Column("started_at", UTC_TIME, nullable=False),
            sa.Column("finished_at", UTC_TIME, nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
        ]),
        ("run_pages", [
            sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), primary_key=True),
            sa.Column("page_id", sa.String(80), primary_key=True),
            sa.Column("platform", sa.String(16), nullable=False),
            sa.Column("url", sa.Text, nullable=False),
            sa.Column("final_url", sa.Text),
            sa.Column("status", sa.String(8), nullable=False),
            sa.Column("error", sa.Text),
            sa.Column("capture_start", UTC_TIME),
            sa.Column("capture_end", UTC_TIME),
            sa.Column("pixels_sha256", sa.String(64)),
        ]),
        ("bundles", [
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id"), nullable=False),
            sa.Column("store", sa.String(16), nullable=False),
            sa.Column("location", sa.Text, nullable=False),
            sa.Column("pdf_name", sa.Text, nullable=False),
            sa.Column("pdf_sha256", sa.String(64), nullable=False),
            sa.Column("manifest_sha256", sa.String(64), nullable=False),
            sa.Column("pdfa", sa.String(4), nullable=False),
            sa.Column("pdf_pages", sa.Integer, nullable=False),
            sa.Column("created_at", UTC_TIME, nullable=False),
        ]),
        ("registrations", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("bundle_id", sa.String(64), sa.ForeignKey("bundles.id"), nullable=False),
            sa.Column("dnr", sa.Text, nullable=False),
            sa.Column("registered_by", sa.Text, nullable=False),
            sa.Column("registered_at", UTC_TIME, nullable=False),
        ]),
        ("posts", [
            sa.Column("bundle_id", sa.String(64), sa.ForeignKey("bundles.id"), primary_key=True),
            sa.Column("class", sa.String(16), nullable=False),
            sa.Column("page_id", sa.String(80), nullable=False),
            sa.Column("url", sa.Text, nullable=False),
            sa.Column("permalink", sa.Text),
            sa.Column("author", sa.Text),
            sa.Column("shown_time", sa.Text),
            sa.Column("dnr_hint", sa.Text),
            sa.Column("done_at", UTC_TIME),
            sa.Column("done_by", sa.Text),
            sa.Column("released_at", UTC_TIME),
            sa.Column("released_by", sa.Text),
        ]),
        ("audit", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", UTC_TIME, nullable=False),
            sa.Column("actor", sa.Text, nullable=False),
            sa.Column("action", sa.String(40), nullable=False),
            sa.Column("bundle_id", sa.String(64)),
            sa.Column("detail", sa.Text),
        ]),
        ("users", [
            sa.Column("name", sa.String(80), primary_key=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("password_hash", sa.Text, nullable=False),
            sa.Column("created_at", UTC_TIME, nullable=False),
            sa.Column("disabled_at", UTC_TIME),
        ]),
        ("web_sessions", [
            sa.Column("token_sha256", sa.String(64), primary_key=True),
            sa.Column("user_name", sa.String(80), sa.ForeignKey("users.name"), nullable=False),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", UTC_TIME, nullable=False),
            sa.Column("expires_at", UTC_TIME, nullable=False),
        ]),
    ]


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    for name, columns in _tables():
        if name not in have:
            op.create_table(name, *columns)


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
