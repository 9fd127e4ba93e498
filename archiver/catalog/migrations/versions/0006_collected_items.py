"""What `archiver collect` gathers through the platforms' APIs: every post, comment and reply ever returned,
each version of it exactly as received (its raw JSON and SHA-256), when it was first and last seen and when
it was first missed (removed); the attachments, each downloaded once; and each collection's outcome.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(80), index=True),
        sa.Column("page_id", sa.String(80), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),  # running | ok | failed
        sa.Column("failure", sa.String(32)),  # token | rate_limited | api | network
        sa.Column("error", sa.Text),
        sa.Column("counts", sa.Text),  # JSON: seen, new, changed, removed, attachments, requests
    )
    op.create_table(
        "collected_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(80), index=True),
        sa.Column("page_id", sa.String(80), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # post | comment | reply
        sa.Column("parent_id", sa.String(200)),  # the post a comment is on, the comment a reply answers
        sa.Column("post_id", sa.String(200)),  # the post (video, media) at the top of its thread
        sa.Column("created_at", sa.DateTime(timezone=True)),  # as the API gives it
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),  # first collection that no longer got it
        sa.Column("sha256", sa.String(64), nullable=False),  # of the newest version's raw JSON
        sa.Column("content_sha256", sa.String(64), nullable=False),  # of what a person reads in it (a new
        # version is kept when this changes: an edit, not a like count)
        sa.Column("versions", sa.Integer, nullable=False),
        sa.UniqueConstraint("org", "platform", "item_id", name="uq_collected_items_org_platform_item"),
    )
    op.create_index("ix_collected_items_post", "collected_items", ["org", "page_id", "post_id"])
    op.create_table(
        "item_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item", sa.Integer, sa.ForeignKey("collected_items.id"), nullable=False, index=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),  # the item's JSON text exactly as the API sent it
    )
    op.create_table(
        "collected_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org", sa.String(80), index=True),
        sa.Column("source_key", sa.Text, nullable=False),  # the attachment's id at the platform, else its URL
        sa.Column("item_id", sa.String(200), nullable=False),  # the item it was first attached to
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("media_type", sa.Text),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),  # under the store's collected/ folder
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org", "source_key", name="uq_collected_files_org_source"),
    )


def downgrade() -> None:
    raise NotImplementedError("the catalog is the archive's record: it is never migrated down")
