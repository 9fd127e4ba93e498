"""The job queue: Procrastinate on the catalog's PostgreSQL, with two tasks.

- `archiver.capture` (one per capture of a run): locked per run and capture, so two workers never capture
  the same page of a run at once; a capture's job is deferred once (its queueing lock).
- `archiver.assemble` (one per run, deferred by the capture that finished last): locked per store, so an
  organisation's store takes one bundle assembly at a time (Procrastinate's lock, and inside it a
  PostgreSQL advisory lock that every other writer of the store takes too: archiver/queue/locks.py).

Procrastinate's tables are made by the catalog's migrations (0003), not by `procrastinate schema`.
"""

from __future__ import annotations

import logging

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from archiver.errors import ArchiverError, ConfigurationError

log = logging.getLogger(__name__)

CAPTURE_ATTEMPTS = 2  # a job that raises (not a page that fails: that is a result) is tried once more
ASSEMBLE_ATTEMPTS = 3
RETRY_WAIT_S = 5

tasks = procrastinate.Blueprint()


def libpq_url(catalog_url: str | None) -> str:
    """The catalog's SQLAlchemy URL as libpq takes it; no URL, or a SQLite catalog, has no queue (exit 2)."""
    url = make_url(catalog_url) if catalog_url else None
    if url is None or url.get_backend_name() != "postgresql":
        raise ConfigurationError("the job queue needs a PostgreSQL catalog: set ARCHIVER_CATALOG_URL="
                                 "postgresql://USER:PASSWORD@HOST/DATABASE (without it, `archiver run` captures "
                                 "in one process, as before)")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(catalog_url: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq_url(catalog_url)))
    app.add_tasks_from(tasks, namespace="archiver")
    return app


def store_key(services) -> str:
    """What one organisation's store is called in locks: its S3 bucket and prefix, else its folder."""
    s3 = services.register.storage.s3
    if s3 is not None:
        return f"s3://{s3.bucket}/{s3.prefix or ''}"
    return str(services.local_root)


@tasks.task(name="capture", pass_context=True, retry=procrastinate.RetryStrategy(
    max_attempts=CAPTURE_ATTEMPTS - 1, wait=RETRY_WAIT_S))
async def capture_task(context, registry: str, run_id: str, key: str, workdir: str | None = None) -> str:
    from archiver.queue import steps

    deps = context.additional_context
    services = deps["services"](registry, workdir)
    if not steps.register_readable(services, deps["catalog_url"], run_id):
        return "failed"

    async def on_last(finished_run: str) -> None:
        await defer_assembly(context.app, services, finished_run)

    try:
        return await steps.capture(services, run_id, key, deps["browser"], on_last, deps["worker"])
    except (ArchiverError, OSError) as exc:  # ours, or the disk's: anything else is a bug, and shows as one
        if context.job.attempts + 1 < CAPTURE_ATTEMPTS:
            raise
        # The last try: the capture fails as a page does, so the run still ends with a bundle naming it.
        await steps.give_up_capture(services, run_id, key, f"{exc}", on_last)
        raise


@tasks.task(name="assemble", pass_context=True, retry=procrastinate.RetryStrategy(
    max_attempts=ASSEMBLE_ATTEMPTS - 1, wait=RETRY_WAIT_S))
def assemble_task(context, registry: str, run_id: str, workdir: str | None = None) -> None:
    from archiver.queue import locks, steps

    deps = context.additional_context
    services = deps["services"](registry, workdir)
    if not steps.register_readable(services, deps["catalog_url"], run_id):
        return
    try:
        with locks.store_assembly(services.catalog.engine, store_key(services)):
            steps.assemble(services, run_id)
    except (ArchiverError, OSError) as exc:
        if context.job.attempts + 1 >= ASSEMBLE_ATTEMPTS:
            steps.fail_run(services, run_id, str(exc))
        raise


def _whose(services) -> dict[str, str]:
    """What every job names: the register, and the folder its relative paths are relative to."""
    return {"registry": str(services.registry_path.resolve()), "workdir": str(services.workdir)}


def enqueue_run(services, request) -> dict:
    """Queue a run of the register (`run --queue`, the scheduler): its rows and one capture job a page."""
    from archiver.queue import steps

    app = make_app(services.catalog_url)
    whose = _whose(services)

    def defer(run_id: str, key: str) -> None:
        capture_task.configure(lock=f"capture:{run_id}:{key}", queueing_lock=f"capture:{run_id}:{key}").defer(
            run_id=run_id, key=key, **whose)

    with app.open():
        return steps.enqueue(services, request, defer)


async def defer_assembly(app: procrastinate.App, services, run_id: str) -> None:
    try:
        await assemble_task.configure(lock=f"assemble:{store_key(services)}",
                                      queueing_lock=f"assemble:{run_id}").defer_async(
            run_id=run_id, **_whose(services))
        log.info("run %s: every capture is in; its bundle is queued for assembly", run_id)
    except AlreadyEnqueued:
        log.info("run %s: its assembly is queued already", run_id)
