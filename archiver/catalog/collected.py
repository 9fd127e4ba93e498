"""What `archiver collect` keeps: every item the platforms' APIs ever returned, each version exactly as
received, when it was first and last seen and first missed; attachments; each collection's outcome.

A mixin of `archiver.catalog.Catalog`. Nothing here deletes: an item that is no longer returned is marked
removed (`removed_at`, the first collection that missed it) and keeps every version it had.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from archiver.catalog.tables import collected_files, collected_items, collections, item_versions


@dataclass(frozen=True)
class Seen:
    """One item as a collection got it."""

    kind: str  # post | comment | reply
    item_id: str
    raw: str  # its JSON text exactly as received
    sha256: str  # of `raw`
    content_sha256: str  # of what a person reads in it (text, media, hidden or not): a change is an edit
    parent_id: str | None = None
    post_id: str | None = None
    created_at: datetime | None = None


class CollectedQueries:
    """Needs the Catalog's `engine`, `org`, `_mine` and `_write`."""

    def start_collection(self, page_id: str, platform: str, at: datetime) -> int:
        with self._write() as conn:
            return conn.execute(insert(collections).values(org=self.org, page_id=page_id, platform=platform,
                                                           started_at=at, status="running")).inserted_primary_key[0]

    def finish_collection(self, collection_id: int, at: datetime, counts: dict, failure: str | None = None,
                          error: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(update(collections).where(collections.c.id == collection_id).values(
                finished_at=at, status="failed" if failure else "ok", failure=failure, error=error,
                counts=json.dumps(counts)))

    def last_collection(self, page_id: str, ok_only: bool = True) -> dict | None:
        query = select(collections).where(collections.c.page_id == page_id, self._mine(collections))
        if ok_only:
            query = query.where(collections.c.status == "ok")
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(collections.c.id.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    def record_seen(self, page_id: str, platform: str, seen: Seen, at: datetime) -> str:
        """The item as seen now: "new", "changed" (its content changed: a new version kept), "back" (seen
        again after it was missed) or "same" (counts may differ; the version kept is the first with this
        content)."""
        with self._write() as conn:
            row = conn.execute(select(collected_items).where(
                collected_items.c.platform == platform, collected_items.c.item_id == seen.item_id,
                self._mine(collected_items))).first()
            if row is None:
                item = conn.execute(insert(collected_items).values(
                    org=self.org, page_id=page_id, platform=platform, item_id=seen.item_id, kind=seen.kind,
                    parent_id=seen.parent_id, post_id=seen.post_id, created_at=seen.created_at,
                    first_seen_at=at, last_seen_at=at, sha256=seen.sha256, content_sha256=seen.content_sha256,
                    versions=1)).inserted_primary_key[0]
                conn.execute(insert(item_versions).values(item=item, seen_at=at, sha256=seen.sha256, raw=seen.raw))
                return "new"
            outcome = "back" if row.removed_at is not None else "same"
            values = {"last_seen_at": at, "removed_at": None}
            if row.content_sha256 != seen.content_sha256:
                conn.execute(insert(item_versions).values(item=row.id, seen_at=at, sha256=seen.sha256, raw=seen.raw))
                values.update(sha256=seen.sha256, content_sha256=seen.content_sha256, versions=row.versions + 1)
                outcome = "changed"
            conn.execute(update(collected_items).where(collected_items.c.id == row.id).values(**values))
            return outcome

    def mark_missing(self, page_id: str, platform: str, *, kinds: tuple[str, ...], seen_ids: set[str],
                     at: datetime, parent_id: str | None = None, created_since: datetime | None = None) -> list[str]:
        """Items of `kinds` that a complete listing no longer returned, marked removed at `at`: those under
        `parent_id` (a post's comments), or those created since `created_since` (a page's posts in the
        window read again). Returns their ids; items already marked keep their first-missed time."""
        where = [collected_items.c.page_id == page_id, collected_items.c.platform == platform,
                 collected_items.c.kind.in_(kinds), collected_items.c.removed_at.is_(None),
                 self._mine(collected_items)]
        if parent_id is not None:
            where.append(collected_items.c.post_id == parent_id)
        if created_since is not None:
            where.append(collected_items.c.created_at >= created_since)
        with self._write() as conn:
            rows = conn.execute(select(collected_items.c.id, collected_items.c.item_id).where(*where)).all()
            gone = [r for r in rows if r.item_id not in seen_ids]
            if gone:
                conn.execute(update(collected_items).where(collected_items.c.id.in_([r.id for r in gone]))
                             .values(removed_at=at))
        return [r.item_id for r in gone]

    def collected(self, page_id: str | None = None) -> list[dict]:
        """Every item (newest version's raw JSON as `raw`), oldest first."""
        newest = (select(item_versions.c.item, func.max(item_versions.c.id).label("version"))
                  .group_by(item_versions.c.item).subquery())
        query = (select(collected_items, item_versions.c.raw)
                 .join(newest, newest.c.item == collected_items.c.id)
                 .join(item_versions, item_versions.c.id == newest.c.version)
                 .where(self._mine(collected_items)).order_by(collected_items.c.id))
        if page_id is not None:
            query = query.where(collected_items.c.page_id == page_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def item_history(self, platform: str, item_id: str) -> list[dict]:
        """Every version of one item, oldest first."""
        query = (select(item_versions).join(collected_items, collected_items.c.id == item_versions.c.item)
                 .where(collected_items.c.platform == platform, collected_items.c.item_id == item_id,
                        self._mine(collected_items)).order_by(item_versions.c.id))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def collected_file(self, source_key: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(collected_files).where(collected_files.c.source_key == source_key,
                                                             self._mine(collected_files))).first()
        return dict(row._mapping) if row else None

    def add_collected_file(self, **values) -> None:
        with self._write() as conn:
            conn.execute(insert(collected_files).values(org=self.org, **values))

    def collected_files(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(collected_files).where(
                self._mine(collected_files)).order_by(collected_files.c.id))]
