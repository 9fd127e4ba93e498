"""`archiver worker`: a Procrastinate worker with one browser, capturing and assembling queued runs of any
organisation (each job names its register).

A worker that dies (SIGKILL, a lost machine) stops sending Procrastinate its heartbeat. Every worker
looks for jobs whose worker has been silent for `stalled_after_s` and puts them back on the queue, so a
killed worker's capture is made again by another within about 1⅓ × `stalled_after_s`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from procrastinate.exceptions import ConnectorException

from archiver.queue.app import make_app
from archiver.queue.steps import worker_name

log = logging.getLogger(__name__)

STALLED_AFTER_S = 60.0  # a worker silent this long is taken for dead (it beats every quarter of it)


class ServicesByRegister:
    """The worker's `Services`, one per register a job names (with the folder its relative paths are
    relative to): the register is read, and its store and catalog opened, once, and again when the
    register's file has changed since (a page added)."""

    def __init__(self):
        self._known: dict[tuple[Path, str | None], tuple[int, object]] = {}

    def __call__(self, registry: str, workdir: str | None = None):
        from archiver.services import Services

        path = Path(registry).resolve()
        changed = path.stat().st_mtime_ns if path.exists() else 0
        known = self._known.get((path, workdir))
        if known is None or known[0] != changed:
            self._known[(path, workdir)] = (changed, Services(path, workdir))
        return self._known[(path, workdir)][1]


async def serve(catalog_url: str, concurrency: int, browser_choice, stalled_after_s: float = STALLED_AFTER_S,
                wait: bool = True) -> None:
    """Run jobs until stopped (SIGINT/SIGTERM finish the jobs in hand), or, without `wait`, until the queue
    is empty."""
    from archiver.capture.browser import keep_browser
    from archiver.catalog import Catalog

    Catalog(catalog_url)  # the catalog and the queue's tables are brought to this version first
    app = make_app(catalog_url)
    name = worker_name()
    async with app.open_async(), keep_browser(browser_choice) as keeper:
        await keeper.get()  # one browser, started before the first job asks for it
        context = {"services": ServicesByRegister(), "browser": keeper, "worker": name, "catalog_url": catalog_url}
        reaper = asyncio.create_task(retry_stalled(app, stalled_after_s), name="retry stalled jobs")
        log.info("worker %s: %d job(s) at once; jobs of a worker silent for %g s are run again", name,
                 concurrency, stalled_after_s)
        try:
            while True:
                await app.run_worker_async(name=name, concurrency=concurrency, additional_context=context,
                                           wait=wait, update_heartbeat_interval=stalled_after_s / 4,
                                           stalled_worker_timeout=stalled_after_s, install_signal_handlers=True)
                # Without `wait` the worker stops when it finds no job, though the jobs it was finishing may
                # have queued more (the last capture queues the assembly): go on while there are any.
                if wait or not list(await app.job_manager.list_jobs_async(status="todo")):
                    break
        finally:
            reaper.cancel()
    log.info("worker %s stopped", name)


async def retry_stalled(app, stalled_after_s: float) -> None:
    """Forever: put the jobs of workers silent for `stalled_after_s` back on the queue."""
    while True:
        await asyncio.sleep(stalled_after_s / 3)
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
            try:
                await app.job_manager.retry_job(job)
            except ConnectorException:  # another worker put it back first
                continue
            log.warning("job %s (%s %s) was running on a worker that stopped answering; queued again",
                        job.id, job.task_name, job.task_kwargs)
