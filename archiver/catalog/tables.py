"""The catalog's tables, as the newest migration (archiver/catalog/migrations) leaves them.

The queries use these; the schema itself is made and changed only by the migrations, so a change here
needs a migration too (tests/test_catalog.py compares the two)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator):
    """A point in time, stored in UTC and read back UTC-aware on both databases.

    SQLite keeps no time zone: SQLAlchemy writes an aware time's own wall clock and drops the offset, so a
    time given in +02:00 would come back two hours off. Converting to UTC first, and labelling what comes
    back as UTC, gives the same instant on SQLite and PostgreSQL. A time without a zone is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return _as_utc(value)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return _as_utc(value)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def owned_by(table: Table, org: str | None):
    """The clause that keeps `table`'s rows to organisation `org`'s; every row when `org` is None."""
    return table.c.org == org if org is not None else true()


metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("organisation", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # complete | partial | failed
    Column("completes", String(64)),  # a retry run (`run --retry-failed`): the run whose failures it redoes
    Column("org", String(80), index=True),  # the organisation it belongs to (migration 0004)
)
run_pages = Table(
    "run_pages", metadata,
    Column("run_id", String(64), ForeignKey("runs.id"), primary_key=True),
    Column("page_id", String(80), primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("final_url", Text),
    Column("status", String(8), nullable=False),
    Column("error", Text),
    Column("capture_start", UtcDateTime()),
    Column("capture_end", UtcDateTime()),
    Column("pixels_sha256", String(64)),
)
bundles = Table(
    "bundles", metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
    Column("store", String(16), nullable=False),
    Column("location", Text, nullable=False),
    Column("pdf_name", Text, nullable=False),
    Column("pdf_sha256", String(64), nullable=False),
    Column("manifest_sha256", String(64), nullable=False),
    Column("pdfa", String(4), nullable=False),
    Column("pdf_pages", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime()),  # culled under the records plan (`retention --apply`)
    Column("deleted_by", Text),
    Column("org", String(80), index=True),  # the organisation it belongs to (migration 0004)
)
registrations = Table(
    "registrations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bundle_id", String(64), ForeignKey("bundles.id"), nullable=False),
    Column("dnr", Text, nullable=False),
    Column("registered_by", Text, nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    # The document in its case (migration 0005; empty for registrations made before)
    Column("case_title", Text),
    Column("classification", Text),
    Column("document_no", Integer),  # handlingens löpnummer in the case
    Column("document_title", Text),
    Column("secrecy", Text),  # "none" or "OSL:<chapter>:<section>"
)
cases = Table(
    "cases", metadata,  # a case (ärende) bundles are registered in, opened by its first registration
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(80), index=True),
    Column("dnr", Text, nullable=False),
    Column("title", Text),  # ärendemening
    Column("classification", Text),  # the code in the organisation's klassificeringsstruktur
    Column("collective_year", Integer),  # the year whose collective case this is (collective_case: yearly)
    Column("opened_by", Text, nullable=False),
    Column("opened_at", UtcDateTime(), nullable=False),
    UniqueConstraint("org", "dnr", name="uq_cases_org_dnr"),
)


posts = Table(
    "posts", metadata,  # a single post or thread (`archiver post`), classified by the records plan
    Column("bundle_id", String(64), ForeignKey("bundles.id"), primary_key=True),
    Column("class", String(16), nullable=False),  # decision | action | evidence
    Column("page_id", String(80), nullable=False),  # the registered account it belongs to
    Column("url", Text, nullable=False),
    Column("permalink", Text),
    Column("author", Text),
    Column("shown_time", Text),
    Column("dnr_hint", Text),  # --dnr given when captured (the registration itself is in registrations)
    Column("done_at", UtcDateTime()),  # action: the action is done, so it may be culled
    Column("done_by", Text),
    Column("released_at", UtcDateTime()),  # evidence: released (e.g. after the police report)
    Column("released_by", Text),
)
audit = Table(
    "audit", metadata,  # every action a person or the tool took on the archive, never updated or deleted
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(40), nullable=False),
    Column("bundle_id", String(64)),  # no foreign key: the trail outlives a culled bundle
    Column("detail", Text),  # JSON
    Column("org", String(80), index=True),  # the organisation it belongs to (migration 0004)
)
users = Table(
    "users", metadata,  # accounts of the web page (`archiver users add`)
    Column("name", String(80), primary_key=True),
    Column("role", String(16), nullable=False),  # communicator | registrar | admin
    Column("password_hash", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled_at", UtcDateTime()),
    Column("org", String(80), index=True),  # the organisation it belongs to (migration 0004)
)
web_sessions = Table(
    "web_sessions", metadata,  # server-side sessions: logout and expiry end them for real
    Column("token_sha256", String(64), primary_key=True),
    Column("user_name", String(80), ForeignKey("users.name"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
queued_runs = Table(
    "queued_runs", metadata,  # a run enqueued on the job queue (`run --queue`, the scheduler): one per bundle
    Column("id", String(64), primary_key=True),  # the bundle's id, chosen when enqueued
    Column("registry", Text, nullable=False),  # the register it was enqueued from: the organisation
    Column("organisation", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("completes", String(64)),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("queued_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("error", Text),
    Column("org", String(80), index=True),  # the organisation it belongs to (migration 0004)
)
queued_pages = Table(
    "queued_pages", metadata,  # one capture of a queued run: one job
    Column("run_id", String(64), ForeignKey("queued_runs.id"), primary_key=True),
    Column("capture_key", String(80), primary_key=True),  # "id" or "id.mobile"
    Column("position", Integer, nullable=False),  # its place in the register: the bundle's order
    Column("status", String(16), nullable=False),  # queued | running | ok | failed
    Column("attempts", Integer, nullable=False),  # jobs that started it (a retry after a crash is one more)
    Column("worker", Text),  # host:pid of the worker that last started it
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    Column("error", Text),
)


collections = Table(
    "collections", metadata,  # one `archiver collect` of one page (migration 0006)
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(80), index=True),
    Column("page_id", String(80), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("failure", String(32)),  # token | rate_limited | api | network
    Column("error", Text),
    Column("counts", Text),  # JSON: seen, new, changed, removed, attachments, requests
)
collected_items = Table(
    "collected_items", metadata,  # every post, comment and reply the API ever returned
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(80), index=True),
    Column("page_id", String(80), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # post | comment | reply
    Column("parent_id", String(200)),
    Column("post_id", String(200)),
    Column("created_at", UtcDateTime()),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("removed_at", UtcDateTime()),  # the first collection that no longer got it
    Column("sha256", String(64), nullable=False),  # of the newest version's raw JSON
    Column("content_sha256", String(64), nullable=False),  # of what a person reads in it: text, media, hidden
    Column("versions", Integer, nullable=False),
    UniqueConstraint("org", "platform", "item_id", name="uq_collected_items_org_platform_item"),
    Index("ix_collected_items_post", "org", "page_id", "post_id"),
)
item_versions = Table(
    "item_versions", metadata,  # each version of an item, exactly as received
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item", Integer, ForeignKey("collected_items.id"), nullable=False, index=True),
    Column("seen_at", UtcDateTime(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("raw", Text, nullable=False),
)
collected_files = Table(
    "collected_files", metadata,  # attachments, each downloaded once
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org", String(80), index=True),
    Column("source_key", Text, nullable=False),
    Column("item_id", String(200), nullable=False),
    Column("url", Text, nullable=False),
    Column("media_type", Text),
    Column("bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("fetched_at", UtcDateTime(), nullable=False),
    UniqueConstraint("org", "source_key", name="uq_collected_files_org_source"),
)
