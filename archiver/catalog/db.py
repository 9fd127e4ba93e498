"""Catalog tables and queries, through SQLAlchemy Core so PostgreSQL can replace SQLite unchanged."""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from archiver.catalog.cases import CaseQueries
from archiver.catalog.collected import CollectedQueries
from archiver.catalog.engine import make_engine, translated, writing
from archiver.catalog.migrate import upgrade
from archiver.catalog.tables import (
    audit,
    bundles,
    cases,
    collected_files,
    collected_items,
    collections,
    owned_by,
    posts,
    queued_runs,
    registrations,
    run_pages,
    runs,
    users,
)
from archiver.errors import BadInputError, CatalogError, NotFoundError

log = logging.getLogger(__name__)


def catalog_url_for(store_root: Path) -> str:
    """The embedded default: a SQLite file beside the bundles it describes."""
    return f"sqlite:///{Path(store_root).resolve() / 'catalog.sqlite'}"


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


class Catalog(CaseQueries, CollectedQueries):
    """One organisation's view of the catalog (`org`, the register's organisation_id): every query sees only
    its rows and every row it writes is its own, so organisations can share one database. `org=None` sees
    every row (the tests, and tools that serve no organisation)."""

    def __init__(self, url: str, org: str | None = None):
        self.engine, self.where, self.busy_timeout_s = make_engine(url)
        self.org = org
        with translated(self.where, self.busy_timeout_s):
            upgrade(self.engine)
            if org is not None:
                self._claim_unowned()

    def _mine(self, table):
        """The clause that keeps `table`'s rows to this organisation's."""
        return owned_by(table, self.org)

    def _claim_unowned(self) -> None:
        """Rows written before organisations were recorded (migration 0004) are this organisation's: such a
        catalog served one. A read first, so an opened catalog with none takes no write lock."""
        owned = (runs, bundles, audit, users, queued_runs, cases, collections, collected_items, collected_files)
        with self.engine.connect() as conn:  # one query on every open, not one a table
            if not conn.execute(select(or_(*(exists().where(t.c.org.is_(None)) for t in owned)))).scalar():
                return
        with self._write() as conn:
            for table in owned:
                conn.execute(update(table).where(table.c.org.is_(None)).values(org=self.org))
        log.info("catalog: rows without an organisation are now %s's", self.org)

    def _write(self):
        """One transaction; a locked or full database is a CatalogError naming the catalog."""
        return writing(self.engine, self.where, self.busy_timeout_s)

    def record_bundle(self, manifest: dict, kind: str, store: str, location: str,
                      manifest_sha256: str) -> bool:
        """Record a stored bundle's run, pages and files in one transaction; False, changing nothing, when
        it is recorded already (a bundle assembly retried after a crash, or run twice at once)."""
        try:
            return self._record_bundle(manifest, kind, store, location, manifest_sha256)
        except IntegrityError:
            # Another process recorded it between our check and our insert. On PostgreSQL the failed
            # transaction is rolled back whole before anything else is asked (an aborted transaction
            # refuses every later statement); the check below runs on a new one.
            if self._already_recorded(manifest["bundle_id"], manifest_sha256):
                return False
            raise

    def _already_recorded(self, bundle_id: str, manifest_sha256: str, conn=None) -> bool:
        with (nullcontext(conn) if conn is not None else self.engine.connect()) as c:
            known = c.execute(select(bundles.c.manifest_sha256).where(bundles.c.id == bundle_id)).first()
        if known is None:
            return False
        if known.manifest_sha256 != manifest_sha256:
            raise CatalogError(f"the catalog {self.where} already has a different bundle {bundle_id} "
                               f"(manifest SHA-256 {known.manifest_sha256}, this one {manifest_sha256})")
        return True

    def _record_bundle(self, manifest: dict, kind: str, store: str, location: str, manifest_sha256: str) -> bool:
        pages = manifest["pages"]
        ok = sum(p["status"] == "ok" for p in pages)
        status = "complete" if ok == len(pages) else "failed" if ok == 0 else "partial"
        with self._write() as conn:
            if self._already_recorded(manifest["bundle_id"], manifest_sha256, conn):
                return False
            conn.execute(insert(runs).values(
                id=manifest["bundle_id"], org=self.org, organisation=manifest["organisation"], reason=manifest["reason"],
                kind=kind, requested_by=manifest["requested_by"], started_at=_parse(manifest["run_start"]),
                finished_at=_parse(manifest["run_end"]), status=status, completes=manifest.get("completes")))
            conn.execute(insert(run_pages), [{
                "run_id": manifest["bundle_id"], "page_id": p.get("key", p["id"]), "platform": p["platform"], "url": p["requested_url"],
                "final_url": p["final_url"], "status": p["status"], "error": p["error"],
                "capture_start": _parse(p["capture_start"]), "capture_end": _parse(p["capture_end"]),
                "pixels_sha256": p["pixels_sha256"]} for p in pages])
            conn.execute(insert(bundles).values(
                id=manifest["bundle_id"], run_id=manifest["bundle_id"], org=self.org, store=store, location=location,
                pdf_name=manifest["pdf"]["file"], pdf_sha256=manifest["pdf"]["sha256"],
                manifest_sha256=manifest_sha256, pdfa=manifest["pdf"]["pdfa"],
                pdf_pages=manifest["pdf"]["pages"], created_at=_parse(manifest["run_end"])))
            if manifest.get("post"):
                post = manifest["post"]
                conn.execute(insert(posts).values(
                    bundle_id=manifest["bundle_id"], **{"class": post["class"]}, page_id=pages[0]["id"],
                    url=post.get("url") or pages[0]["requested_url"], permalink=post.get("permalink"),
                    author=post.get("author"), shown_time=post.get("shown_time"),
                    dnr_hint=post.get("dnr_at_capture")))
        return True

    def list_bundles(self, include_deleted: bool = False) -> list[dict]:
        """Every bundle, oldest first, with its pages, registrations and, for a single post, `post`."""
        return self._bundles(include_deleted=include_deleted)

    def _bundles(self, include_deleted: bool, bundle_id: str | None = None) -> list[dict]:
        query = (select(bundles, runs.c.reason, runs.c.kind, runs.c.requested_by, runs.c.status,
                        runs.c.started_at, runs.c.completes)
                 .join(runs, runs.c.id == bundles.c.run_id).where(self._mine(bundles)).order_by(bundles.c.created_at))
        posts_query = select(posts)
        if not include_deleted:
            query = query.where(bundles.c.deleted_at.is_(None))
        if bundle_id is not None:  # one bundle (every web request for a bundle): its rows only
            query = query.where(bundles.c.id == bundle_id)
            posts_query = posts_query.where(posts.c.bundle_id == bundle_id)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            post_rows = {r.bundle_id: dict(r._mapping) for r in conn.execute(posts_query)}
            for row in rows:
                row["post"] = post_rows.get(row["id"])
                row["pages"] = [dict(p._mapping) for p in conn.execute(
                    select(run_pages).where(run_pages.c.run_id == row["run_id"]))]
                row["registrations"] = self._registrations(conn, row["id"])
        return rows

    def bundle_ids(self) -> set[str]:
        """Every bundle id the catalog knows, culled ones included."""
        with self.engine.connect() as conn:
            return set(conn.scalars(select(bundles.c.id).where(self._mine(bundles))))

    def get_bundle(self, bundle_id: str, include_deleted: bool = False) -> dict:
        """One bundle; a culled one is NotFound (saying when and by whom) unless `include_deleted`."""
        for row in self._bundles(include_deleted=True, bundle_id=bundle_id):
            if row["deleted_at"] is not None and not include_deleted:
                raise NotFoundError(f"bundle {bundle_id} was deleted under the records plan on "
                                    f"{row['deleted_at']:%Y-%m-%d %H:%M} UTC by {row['deleted_by']}")
            return row
        raise NotFoundError(f"no bundle {bundle_id!r} in the catalog")

    def find_bundle(self, bundle_id: str) -> dict | None:
        try:
            return self.get_bundle(bundle_id)
        except NotFoundError:
            return None

    def mark_post(self, bundle_id: str, state: str, by: str, at: datetime) -> dict:
        """A post's records-plan event: `done` (an action post's action is done) or `released` (evidence
        is no longer needed); each may be recorded once, and goes into the audit trail."""
        column, wanted = {"done": ("done", "action"), "released": ("released", "evidence")}[state]
        row = self.get_bundle(bundle_id)
        post = row["post"]
        if post is None:
            raise BadInputError(f"bundle {bundle_id} is not a single post's bundle (it is a {row['kind']} run)")
        if post["class"] != wanted:
            raise BadInputError(f"bundle {bundle_id} is a {post['class']} post; only {wanted} posts are marked "
                                f"{state}")
        if post[f"{column}_at"] is not None:
            raise BadInputError(f"bundle {bundle_id} was already marked {state} on "
                                f"{post[f'{column}_at']:%Y-%m-%d} by {post[f'{column}_by']}")
        with self._write() as conn:
            conn.execute(update(posts).where(posts.c.bundle_id == bundle_id)
                         .values({f"{column}_at": at, f"{column}_by": by}))
            conn.execute(insert(audit).values(at=at, org=self.org, actor=by, action=f"post.{state}",
                                              bundle_id=bundle_id))
        return {"bundle_id": bundle_id, "state": state, "by": by, "at": at}

    def begin_delete(self, bundle_id: str, by: str, at: datetime, why: str) -> int | None:
        """Culling's first step: in one transaction the bundle leaves the catalog's lists (its rows stay, with
        when and by whom) and the trail records `bundle.deleting`, whose id is returned. The store's copy is
        removed after this, so a crash between leaves nothing listed that is gone. None, changing nothing,
        when the bundle was registered or culled meanwhile."""
        with self._write() as conn:
            marked = conn.execute(update(bundles).where(
                bundles.c.id == bundle_id, self._mine(bundles), bundles.c.deleted_at.is_(None),
                ~exists().where(registrations.c.bundle_id == bundle_id)).values(deleted_at=at, deleted_by=by))
            if marked.rowcount != 1:
                return None
            return _append(conn, self.org, by, "bundle.deleting", bundle_id, {"why": why}, at)

    def finish_delete(self, bundle_id: str, by: str, why: str, detail: dict | None = None) -> None:
        """Culling's last step: the store's copy is gone (`bundle.deleted` in the trail)."""
        self.audit(by, "bundle.deleted", bundle_id, {"why": why, **(detail or {})})

    def undo_delete(self, bundle_id: str, by: str, error: str) -> None:
        """The store refused to delete: the bundle is listed again as before, and the trail says why."""
        with self._write() as conn:
            conn.execute(update(bundles).where(bundles.c.id == bundle_id, self._mine(bundles))
                         .values(deleted_at=None, deleted_by=None))
            _append(conn, self.org, by, "bundle.delete_failed", bundle_id, {"error": error})

    def audit(self, actor: str, action: str, bundle_id: str | None = None, detail: dict | None = None,
              at: datetime | None = None) -> int:
        """Append one entry to the audit trail; its id."""
        with self._write() as conn:
            return _append(conn, self.org, actor, action, bundle_id, detail, at)

    def open_intents(self, action: str, closers: tuple[str, ...]) -> list[dict]:
        """Trail entries of `action` that announce a change made in two places (`bundle.registering`,
        `bundle.deleting`) and that no later entry for the same bundle in `closers` ends: what a crash left
        half-done. Oldest first."""
        later = audit.alias("later")
        query = (select(audit).where(audit.c.action == action, self._mine(audit), ~exists().where(
            later.c.bundle_id == audit.c.bundle_id, later.c.id > audit.c.id, later.c.action.in_(closers)))
            .order_by(audit.c.id))
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            row["detail"] = json.loads(row["detail"]) if row["detail"] else {}
        return rows

    def audit_log(self, bundle_id: str | None = None, limit: int | None = None) -> list[dict]:
        """The audit trail, newest first; only one bundle's entries when `bundle_id` is given."""
        query = select(audit).where(self._mine(audit)).order_by(audit.c.id.desc())
        if bundle_id is not None:
            query = query.where(audit.c.bundle_id == bundle_id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            row["detail"] = json.loads(row["detail"]) if row["detail"] else None
        return rows

    def last_complete_scheduled_run(self) -> tuple[datetime, set[str]] | None:
        """Start time and page ids of the newest scheduled run in which every page was captured.

        A scheduled run whose failed pages were all captured by retry runs that complete it
        (`run --retry-failed`) counts as complete, from its own start time.
        """
        query = (select(runs.c.id, runs.c.started_at, runs.c.status).where(runs.c.kind == "scheduled", self._mine(runs))
                 .order_by(runs.c.started_at.desc()))
        with self.engine.connect() as conn:
            for row in conn.execute(query).all():
                pages = conn.execute(select(run_pages.c.page_id, run_pages.c.status)
                                     .where(run_pages.c.run_id == row.id)).all()
                missing = {p.page_id for p in pages if p.status != "ok"}
                if row.status != "complete" and missing:
                    retried = conn.scalars(select(run_pages.c.page_id).join(runs, runs.c.id == run_pages.c.run_id)
                                           .where(runs.c.completes == row.id, self._mine(runs),
                                                  run_pages.c.status == "ok"))
                    missing -= set(retried)
                if not missing:
                    return row.started_at, {p.page_id for p in pages}
        return None

    def last_capture_seconds(self) -> dict[str, float]:
        """How long each page (capture key) took the last time it was captured, load to last pixel."""
        query = (select(run_pages.c.page_id, run_pages.c.capture_start, run_pages.c.capture_end)
                 .join(runs, runs.c.id == run_pages.c.run_id)
                 .where(run_pages.c.capture_start.is_not(None), run_pages.c.capture_end.is_not(None), self._mine(runs))
                 .order_by(run_pages.c.capture_start))
        with self.engine.connect() as conn:
            return {row.page_id: (row.capture_end - row.capture_start).total_seconds() for row in conn.execute(query)}

    @staticmethod
    def _registrations(conn, bundle_id: str) -> list[dict]:
        rows = conn.execute(select(registrations).where(registrations.c.bundle_id == bundle_id)
                            .order_by(registrations.c.id))
        return [dict(r._mapping) for r in rows]


def _append(conn, org: str | None, actor: str, action: str, bundle_id: str | None, detail: dict | None,
            at: datetime | None = None) -> int:
    """One audit entry inside the caller's transaction; its id."""
    result = conn.execute(insert(audit).values(
        at=at or datetime.now(UTC), org=org, actor=actor, action=action, bundle_id=bundle_id,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail is not None else None))
    return result.inserted_primary_key[0]

