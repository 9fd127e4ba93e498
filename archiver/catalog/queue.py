"""The catalog's record of queued runs: which captures a run has, which are done, and the run's state.

The job queue (Procrastinate, archiver/queue) decides who runs what and when; these rows say what a run
is and how far it got, so `runs show` answers from the catalog alone, a retried job can tell that its
capture is already done, and exactly one finished capture sees that it was the run's last.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from archiver.catalog.engine import insert_missing
from archiver.catalog.tables import owned_by, queued_pages, queued_runs
from archiver.errors import NotFoundError

RUN_STATES = ("queued", "running", "done", "failed")
FINISHED = ("ok", "failed")


class RunQueue:
    """Queued runs and their captures, of one organisation's catalog (`Catalog.org`; None: every one's)."""

    def __init__(self, catalog):
        self.engine: Engine = catalog.engine
        self.org: str | None = catalog.org

    def add_run(self, run: dict, capture_keys: list[str], at: datetime) -> None:
        """A new run and one row per capture, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(insert(queued_runs).values(**run, org=self.org, status="queued", queued_at=at))
            insert_missing(conn, queued_pages, [
                {"run_id": run["id"], "capture_key": key, "position": n, "status": "queued", "attempts": 0}
                for n, key in enumerate(capture_keys)])

    def run(self, run_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(select(queued_runs).where(queued_runs.c.id == run_id,
                                                         owned_by(queued_runs, self.org))).first()
            if row is None:
                raise NotFoundError(f"no queued run {run_id!r} in the catalog")
            pages = conn.execute(select(queued_pages).where(queued_pages.c.run_id == run_id)
                                 .order_by(queued_pages.c.position)).all()
        return dict(row._mapping) | {"pages": [dict(p._mapping) for p in pages]}

    def unfinished(self, kind: str) -> list[str]:
        """This organisation's queued runs of `kind` not yet done or failed: a scheduled one still counts
        as made when `run --if-due --queue` asks again the next day."""
        with self.engine.connect() as conn:
            return list(conn.scalars(select(queued_runs.c.id).where(
                owned_by(queued_runs, self.org), queued_runs.c.kind == kind, queued_runs.c.status.in_(("queued", "running")))))

    def start_capture(self, run_id: str, key: str, worker: str, at: datetime) -> dict:
        """Mark a capture started by `worker` (one more attempt) and the run running; the capture's row as
        it was before, so a retried job sees a capture that finished already."""
        with self.engine.begin() as conn:
            before = conn.execute(select(queued_pages).where(
                queued_pages.c.run_id == run_id, queued_pages.c.capture_key == key).with_for_update()).first()
            if before is None:
                raise NotFoundError(f"run {run_id} has no capture {key!r}")
            if before.status not in FINISHED:
                conn.execute(update(queued_pages).where(
                    queued_pages.c.run_id == run_id, queued_pages.c.capture_key == key).values(
                    status="running", attempts=queued_pages.c.attempts + 1, worker=worker, started_at=at))
            conn.execute(update(queued_runs).where(queued_runs.c.id == run_id, queued_runs.c.status == "queued")
                         .values(status="running", started_at=at))
        return dict(before._mapping)

    def finish_capture(self, run_id: str, key: str, status: str, error: str | None, at: datetime) -> int:
        """Record a capture's outcome; how many of the run's captures are still unfinished.

        The run's row is locked first, so of two captures finishing at the same moment one counts after the
        other has written: exactly one of them sees 0 and starts the bundle's assembly."""
        with self.engine.begin() as conn:
            conn.execute(select(queued_runs.c.id).where(queued_runs.c.id == run_id).with_for_update())
            conn.execute(update(queued_pages).where(
                queued_pages.c.run_id == run_id, queued_pages.c.capture_key == key,
                queued_pages.c.status.not_in(FINISHED)).values(status=status, error=error, finished_at=at))
            return conn.execute(select(func.count()).select_from(queued_pages).where(
                queued_pages.c.run_id == run_id, queued_pages.c.status.not_in(FINISHED))).scalar()

    def finish_run(self, run_id: str, status: str, at: datetime, error: str | None = None) -> bool:
        """The run is done (its bundle stored and catalogued) or failed; False when it was already."""
        with self.engine.begin() as conn:
            changed = conn.execute(update(queued_runs).where(
                queued_runs.c.id == run_id, queued_runs.c.status.in_(("queued", "running")))
                .values(status=status, finished_at=at, error=error))
            return changed.rowcount == 1
