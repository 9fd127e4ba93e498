"""Catalog tables and queries, through SQLAlchemy Core so PostgreSQL can replace SQLite unchanged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    update,
)

from archiver.errors import NotFoundError

log = logging.getLogger(__name__)

metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", String(64), primary_key=True),
    Column("organisation", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),  # complete | partial | failed
    Column("completes", String(64)),  # a retry run (`run --retry-failed`): the run whose failures it redoes
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
    Column("capture_start", DateTime(timezone=True)),
    Column("capture_end", DateTime(timezone=True)),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
)
registrations = Table(
    "registrations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bundle_id", String(64), ForeignKey("bundles.id"), nullable=False),
    Column("dnr", Text, nullable=False),
    Column("registered_by", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)


def catalog_url_for(store_root: Path) -> str:
    """The embedded default: a SQLite file beside the bundles it describes."""
    return f"sqlite:///{Path(store_root).resolve() / 'catalog.sqlite'}"


def _utc(value: datetime | None) -> datetime | None:
    """SQLite forgets time zones; everything in the catalog is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _parse(ts: str | None) -> datetime | None:
    return datetime.fromisoformat(ts) if ts else None


class Catalog:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    def record_bundle(self, manifest: dict, kind: str, store: str, location: str,
                      manifest_sha256: str) -> None:
        """Record a stored bundle's run, pages and files in one transaction."""
        pages = manifest["pages"]
        ok = sum(p["status"] == "ok" for p in pages)
        status = "complete" if ok == len(pages) else "failed" if ok == 0 else "partial"
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(
                id=manifest["bundle_id"], organisation=manifest["organisation"], reason=manifest["reason"],
                kind=kind, requested_by=manifest["requested_by"], started_at=_parse(manifest["run_start"]),
                finished_at=_parse(manifest["run_end"]), status=status, completes=manifest.get("completes")))
            conn.execute(insert(run_pages), [{
                "run_id": manifest["bundle_id"], "page_id": p.get("key", p["id"]), "platform": p["platform"], "url": p["requested_url"],
                "final_url": p["final_url"], "status": p["status"], "error": p["error"],
                "capture_start": _parse(p["capture_start"]), "capture_end": _parse(p["capture_end"]),
                "pixels_sha256": p["pixels_sha256"]} for p in pages])
            conn.execute(insert(bundles).values(
                id=manifest["bundle_id"], run_id=manifest["bundle_id"], store=store, location=location,
                pdf_name=manifest["pdf"]["file"], pdf_sha256=manifest["pdf"]["sha256"],
                manifest_sha256=manifest_sha256, pdfa=manifest["pdf"]["pdfa"],
                pdf_pages=manifest["pdf"]["pages"], created_at=_parse(manifest["run_end"])))

    def list_bundles(self) -> list[dict]:
        query = (select(bundles, runs.c.reason, runs.c.kind, runs.c.requested_by, runs.c.status,
                        runs.c.started_at, runs.c.completes)
                 .join(runs, runs.c.id == bundles.c.run_id).order_by(bundles.c.created_at))
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
            for row in rows:
                row["pages"] = [dict(p._mapping) for p in conn.execute(
                    select(run_pages).where(run_pages.c.run_id == row["run_id"]))]
                row["registrations"] = self._registrations(conn, row["id"])
        return [_utc_row(r) for r in rows]

    def get_bundle(self, bundle_id: str) -> dict:
        for row in self.list_bundles():
            if row["id"] == bundle_id:
                return row
        raise NotFoundError(f"no bundle {bundle_id!r} in the catalog")

    def find_bundle(self, bundle_id: str) -> dict | None:
        try:
            return self.get_bundle(bundle_id)
        except NotFoundError:
            return None

    def add_registration(self, bundle_id: str, dnr: str, by: str, at: datetime) -> dict:
        self.get_bundle(bundle_id)
        with self.engine.begin() as conn:
            conn.execute(insert(registrations).values(bundle_id=bundle_id, dnr=dnr, registered_by=by,
                                                      registered_at=at))
        return {"dnr": dnr, "registered_by": by, "registered_at": at}

    def last_complete_scheduled_run(self) -> tuple[datetime, set[str]] | None:
        """Start time and page ids of the newest scheduled run in which every page was captured.

        A scheduled run whose failed pages were all captured by retry runs that complete it
        (`run --retry-failed`) counts as complete, from its own start time.
        """
        query = (select(runs.c.id, runs.c.started_at, runs.c.status).where(runs.c.kind == "scheduled")
                 .order_by(runs.c.started_at.desc()))
        with self.engine.connect() as conn:
            for row in conn.execute(query).all():
                pages = conn.execute(select(run_pages.c.page_id, run_pages.c.status)
                                     .where(run_pages.c.run_id == row.id)).all()
                missing = {p.page_id for p in pages if p.status != "ok"}
                if row.status != "complete" and missing:
                    retried = conn.scalars(select(run_pages.c.page_id).join(runs, runs.c.id == run_pages.c.run_id)
                                           .where(runs.c.completes == row.id, run_pages.c.status == "ok"))
                    missing -= set(retried)
                if not missing:
                    return _utc(row.started_at), {p.page_id for p in pages}
        return None

    def last_capture_seconds(self) -> dict[str, float]:
        """How long each page (capture key) took the last time it was captured, load to last pixel."""
        query = (select(run_pages.c.page_id, run_pages.c.capture_start, run_pages.c.capture_end)
                 .where(run_pages.c.capture_start.is_not(None), run_pages.c.capture_end.is_not(None))
                 .order_by(run_pages.c.capture_start))
        with self.engine.connect() as conn:
            return {row.page_id: (row.capture_end - row.capture_start).total_seconds() for row in conn.execute(query)}

    def set_manifest_sha256(self, bundle_id: str, digest: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(bundles).where(bundles.c.id == bundle_id).values(manifest_sha256=digest))

    @staticmethod
    def _registrations(conn, bundle_id: str) -> list[dict]:
        rows = conn.execute(select(registrations).where(registrations.c.bundle_id == bundle_id)
                            .order_by(registrations.c.id))
        return [_utc_row(dict(r._mapping)) for r in rows]


def _add_missing_columns(engine) -> None:
    """`create_all` makes missing tables but never alters existing ones: add the nullable columns newer
    versions brought (runs.completes) to a catalog made before them."""
    have = {column["name"] for column in inspect(engine).get_columns("runs")}
    if "completes" not in have:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN completes VARCHAR(64)")
        log.info("catalog: added column runs.completes")


def _utc_row(row: dict) -> dict:
    return {k: _utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
