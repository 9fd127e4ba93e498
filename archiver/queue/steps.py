"""A queued run, as the steps its jobs take: enqueue → capture each page (one job each) → assemble the
bundle once, when the last capture is in. The bundle step is the pipeline's own (`bundle_store_catalog`):
a queued run's bundle is made exactly as a run in one process makes it.

Side effects that belong to the job engine (deferring a job) are parameters, so these steps are tested
without a worker.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace

from archiver.catalog.queue import RunQueue
from archiver.models import PageCapture, RunRequest, new_bundle_id, utcnow
from archiver.queue import parcel

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(services, request: RunRequest, defer_capture: Callable[[str, str], None]) -> dict:
    """A run's row and one capture job per page (and phone variant), in register order; the run's id,
    which is also its bundle's. Pages are checked against the register first (NotFoundError, exit 2)."""
    from archiver.capture.batch import capture_jobs, capture_key

    register = services.register
    pages = register.select(list(request.page_ids))
    keys = [capture_key(page, variant) for page, variant in capture_jobs(pages, only_keys=request.capture_keys)]
    now = utcnow()
    run_id = new_bundle_id(now)
    queue = RunQueue(services.catalog)
    queue.add_run({"id": run_id, "registry": str(services.registry_path.resolve()),
                   "organisation": register.organisation, "reason": request.reason, "kind": request.kind,
                   "requested_by": request.requested_by, "completes": request.completes}, keys, now)
    for key in keys:
        defer_capture(run_id, key)
    log.info("run %s queued: %d capture(s), reason %r, requested by %s", run_id, len(keys), request.reason,
             request.requested_by)
    return {"run_id": run_id, "captures": keys}


def _page_and_variant(register, key: str):
    page_id, _, variant = key.partition(".")
    for page in register.pages:
        if page.id == page_id:
            return page, variant or "desktop"
    return None, variant or "desktop"


def _failed(register, key: str, error: str) -> PageCapture:
    """A capture that could not be made, as the bundle names a failed page."""
    page, variant = _page_and_variant(register, key)
    return PageCapture(page_id=key.partition(".")[0], platform=page.platform if page else "generic",
                       requested_url=str(page.url) if page else "", owner=page.owner if page else None,
                       name=page.name if page else None, variant=variant, error=error, failure="error")


async def capture(services, run_id: str, key: str, keeper, on_last: Callable[[str], Awaitable[None]],
                  worker: str | None = None) -> str:
    """One capture job: capture `key` of run `run_id` into its parcel, record its outcome, and when it was
    the run's last unfinished capture call `on_last(run_id)` (which defers the assembly).

    A retried job whose capture was sealed already (its worker died after sealing it) captures nothing
    again; it records the outcome and calls `on_last` as the first try would have."""
    from archiver.capture import CaptureSettings, capture_pages
    from archiver.capture.session import sessions_dir

    queue = RunQueue(services.catalog)
    before = queue.start_capture(run_id, key, worker or worker_name(), utcnow())
    run_dir = parcel.work_dir(services.local_root, run_id)
    sealed = parcel.load(run_dir, key)
    if sealed is None:
        register = services.register
        page, _ = _page_and_variant(register, key)
        if page is None:
            sealed = _failed(register, key, "the page is no longer in the register")
            target = parcel.seal(sealed, parcel.new_partial(run_dir, key), run_dir)
        else:
            partial = parcel.new_partial(run_dir, key)
            settings = replace(CaptureSettings.from_register(register.capture, sessions_dir(),
                                                             record=register.bundle.wacz),
                               concurrency=1, tile_spool=str(partial), run_id=run_id)
            keeper.fresh_budget()  # the run's bound on browser restarts, for this job (not the worker's life)
            [sealed] = await capture_pages(keeper, [page], settings, only_keys=[key])
            target = parcel.seal(sealed, partial, run_dir)
        log.info("run %s: %s %s (attempt %d), kept in %s", run_id, key, sealed.status, before["attempts"] + 1,
                 target)
    else:
        log.info("run %s: %s was captured already (%s); not captured again", run_id, key, sealed.status)
    left = queue.finish_capture(run_id, key, sealed.status, sealed.error, utcnow())
    if left == 0:
        await on_last(run_id)
    return sealed.status


def assemble(services, run_id: str):
    """The bundle step, once: every sealed capture of the run into one bundle (PDF/A, manifest, WACZ,
    timestamp), stored and catalogued, then the run marked done and its work folder removed.

    Safe to run again after a crash at any point: a run already done changes nothing; a bundle stored
    but not marked done (the worker died between) is catalogued by `sync` and the run marked done."""
    from archiver import pipeline
    from archiver.notify import notify_run

    catalog, store, register = services.catalog, services.store, services.register
    queue = RunQueue(catalog)
    run = queue.run(run_id)
    run_dir = parcel.work_dir(services.local_root, run_id)
    if run["status"] in ("done", "failed"):
        log.info("run %s is %s already; nothing to assemble", run_id, run["status"])
        return None
    pipeline.sync(store, catalog)  # a bundle of this run a crash stored is catalogued now
    if catalog.find_bundle(run_id) is not None:
        log.warning("run %s: its bundle was stored before a crash; marked done without assembling it again",
                    run_id)
        queue.finish_run(run_id, "done", utcnow())
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    captures = [parcel.load(run_dir, p["capture_key"]) for p in run["pages"]]
    missing = [p["capture_key"] for p, c in zip(run["pages"], captures, strict=True) if c is None]
    if missing:
        raise FileNotFoundError(f"run {run_id}: no sealed capture of {', '.join(missing)} in {run_dir}")
    request = RunRequest(reason=run["reason"], requested_by=run["requested_by"], completes=run["completes"])
    browsers = sorted({c.browser for c in captures if c.browser})
    run_info = pipeline.run_info(register, run_id, request, run["started_at"] or run["queued_at"],
                                 browsers[-1].removeprefix("Chromium ") if browsers else "unknown")
    result = pipeline.bundle_store_catalog(register, run_info, captures, run["kind"], store=store, catalog=catalog,
                                           completes=run["completes"])
    catalog.audit(run["requested_by"], "bundle.created", run_id,
                  {"reason": run["reason"], "failed": [c.key for c in result.failed], "queued": True})
    queue.finish_run(run_id, "done", utcnow())
    shutil.rmtree(run_dir, ignore_errors=True)
    changes = (services.changes_since_last_scheduled(run_id)
               if request.kind == "scheduled" and register.notify is not None else None)
    if request.kind == "scheduled" and register.collect.bundle_with_scheduled_runs:
        services.collection_bundle_for_run(run_id)  # as a run in one process does (Services.run)
    notify_run(register, request, result, changes)  # a mail problem never raises
    return result


async def give_up_capture(services, run_id: str, key: str, error: str,
                          on_last: Callable[[str], Awaitable[None]]) -> None:
    """A capture whose job failed its last try is recorded as a failed page with the job's error, so the run
    still ends with a bundle that names it (nothing waits for a capture that will never come)."""
    run_dir = parcel.work_dir(services.local_root, run_id)
    loaded = parcel.load(run_dir, key)
    if loaded is None:
        failed = _failed(services.register, key, f"the capture job failed: {error}")
        parcel.seal(failed, parcel.new_partial(run_dir, key), run_dir)
        loaded = parcel.load(run_dir, key)  # the first sealed wins: another try may have sealed it meanwhile
    if RunQueue(services.catalog).finish_capture(run_id, key, loaded.status, loaded.error, utcnow()) == 0:
        await on_last(run_id)


def register_readable(services, catalog_url: str, run_id: str) -> bool:
    """Whether the run's register can still be read. One removed or broken since the run was queued names
    no store to capture into: the run is failed with the register's error (through the catalog without an
    organisation, which the register would have named), so it does not wait for ever."""
    from archiver.catalog import Catalog
    from archiver.errors import RegisterError

    try:
        services.register  # noqa: B018
    except RegisterError as exc:
        log.error("run %s failed: its register cannot be read: %s", run_id, exc)
        RunQueue(Catalog(catalog_url)).finish_run(run_id, "failed", utcnow(), f"its register cannot be read: {exc}")
        return False
    return True


def fail_run(services, run_id: str, error: str) -> None:
    """The run's bundle could not be made on its last try: the run is failed, its captures kept."""
    log.error("run %s failed: %s", run_id, error)
    RunQueue(services.catalog).finish_run(run_id, "failed", utcnow(), error)


def show(catalog, run_id: str) -> dict:
    """`runs show`: the run's state and each capture's, from the catalog."""
    run = RunQueue(catalog).run(run_id)
    bundle = catalog.find_bundle(run_id) if run["status"] == "done" else None
    return {"run_id": run_id, "status": run["status"], "bundle_id": bundle["id"] if bundle else None,
            "organisation": run["organisation"], "reason": run["reason"], "queued_at": run["queued_at"],
            "started_at": run["started_at"], "finished_at": run["finished_at"], "error": run["error"],
            "pages": [{"key": p["capture_key"], "status": p["status"], "attempts": p["attempts"],
                       "worker": p["worker"], "error": p["error"]} for p in run["pages"]]}
