"""Pre-change snapshots and single posts asked for on the web page, run one at a time in a background thread.

The store's run lock is taken in the request (so a busy store is answered at once) and handed to the
thread, which releases it when the run ends. Whatever goes wrong in the thread is recorded on the job
and in the audit trail; it never reaches the server.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime

from archiver.errors import BusyError
from archiver.models import PostRequest, RunRequest, utcnow

log = logging.getLogger(__name__)

MAX_JOBS_KEPT = 200


@dataclass
class Job:
    id: str
    page_id: str
    reason: str
    requested_by: str
    total: int
    kind: str = "snapshot"  # or "post"
    url: str | None = None  # a post's URL
    post_class: str | None = None
    state: str = "running"  # running | done | partial | failed
    done: list[tuple[str, str, str | None]] = field(default_factory=list)  # (capture key, status, error)
    bundle_id: str | None = None
    error: str | None = None
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state != "running"

    @property
    def phase(self) -> str:
        """What is happening now, in Swedish, for the progress page."""
        if self.finished:
            return "Klar"
        if len(self.done) < self.total:
            return f"Steg 1 av 2: sidan fotograferas ({len(self.done)} av {self.total} klara)"
        return "Steg 2 av 2: PDF/A-paketet byggs, kontrolleras och sparas"


class JobRunner:
    def __init__(self, services):
        self.services = services
        self._jobs: dict[str, Job] = {}
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def recent(self, limit: int = 10) -> list[Job]:
        """The newest jobs first."""
        with self._mutex:
            return list(reversed(self._jobs.values()))[:limit]

    def get(self, job_id: str) -> Job | None:
        with self._mutex:
            return self._jobs.get(job_id)

    def start(self, page_id: str, reason: str, requested_by: str) -> Job:
        """Start a snapshot of one registered page; BusyError when another run holds the store."""
        from archiver.capture.batch import capture_jobs

        selected = self.services.register.select([page_id])  # NotFoundError for an unregistered id
        request = RunRequest(reason=f"pre-change: {reason}", requested_by=requested_by, page_ids=(page_id,))
        return self._start(Job(secrets.token_urlsafe(12), page_id, reason, requested_by,
                               total=len(capture_jobs(selected))),
                           lambda on_page: self.services.run(request, on_page=on_page))

    def start_post(self, request: PostRequest, page_id: str) -> Job:
        """Start the capture of one post of the registered page `page_id` (the caller checked the URL)."""
        self.services.register.select([page_id])
        return self._start(Job(secrets.token_urlsafe(12), page_id, request.reason, request.requested_by, total=1,
                               kind="post", url=request.url, post_class=request.post_class),
                           lambda _on_page: self.services.post(request, page_id))

    def _start(self, job: Job, work) -> Job:
        with self._mutex:
            if self._thread is not None and self._thread.is_alive():
                raise BusyError("a snapshot started from the web page is still running")
            lock = self.services.lock()
            lock.__enter__()  # BusyError at once when a scheduled run or the CLI holds it
            self._jobs[job.id] = job
            while len(self._jobs) > MAX_JOBS_KEPT:
                self._jobs.pop(next(iter(self._jobs)))
            self._thread = threading.Thread(target=self._run, args=(job, lock, work), name=f"snapshot-{job.id}",
                                            daemon=True)
            self._thread.start()
        return job

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, job: Job, lock, work) -> None:
        def on_page(capture) -> None:
            job.done.append((capture.key, capture.status, capture.error))

        try:
            outcome = work(on_page)
            if not job.done:  # a post reports no progress of its own
                job.done += [(c.key, c.status, c.error) for c in outcome.result.captures]
            job.bundle_id = outcome.result.bundle_id
            job.state = "partial" if outcome.result.failed else "done"
            if outcome.result.failed:
                job.error = "; ".join(f"{c.key}: {c.error}" for c in outcome.result.failed)
        except Exception as exc:
            log.exception("snapshot %s of %s failed", job.id, job.page_id)
            job.state = "failed"
            job.error = str(exc) or type(exc).__name__
            try:
                self.services.catalog.audit(job.requested_by, f"{job.kind}.failed", None,
                                            {"page": job.page_id, "error": job.error} | ({"url": job.url} if job.url else {}))
            except Exception:
                log.exception("could not write the audit entry for snapshot %s", job.id)
        finally:
            job.finished_at = utcnow()
            try:
                lock.__exit__(None, None, None)
            except Exception:
                log.exception("could not release the run lock after snapshot %s", job.id)
