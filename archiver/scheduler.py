"""`archiver scheduler`: APScheduler 3 in the foreground, its job store in the catalog database.

- One persistent cron job (`schedule.cron` in the register, local time) in the table `apscheduler_jobs` of
  the catalog database. A fire missed while the scheduler was down runs once when it starts again
  (coalesce, no misfire limit). When the job is already stored with the same cron, its stored next run
  time is kept, so a missed fire is not lost by restarting.
- A fire is a full scheduled run (every page, reason `scheduled`): the cron *is* the schedule here, so
  no `--if-due` check is made (it would skip a fire seconds before the previous run's anniversary).
- The job runs in the main thread (APScheduler's inline executor), under the store's run lock, so a
  concurrent `archiver run` or `snapshot` is refused rather than overlapping (and vice versa: a fire
  while a CLI run holds the lock is logged and skipped).
- SIGTERM/SIGINT: no new run starts; a run in progress is abandoned by raising `Terminated` in it, and
  the pipeline discards its hidden `.partial-*` staging folder, so no half-written bundle is left. A
  one-off job is then stored beside the cron job, so the next start makes the abandoned run (once).
- A fire while another run holds the lock is retried every 10 minutes (in memory) until it gets the lock.
- With the catalog on PostgreSQL a fire queues the run for `archiver worker` (`run --queue`) instead of
  capturing in this process, and returns at once.
- No private APScheduler API and no module-level state: the stored job is a plain function that reports
  how it ended in its return value; `ScheduledRuns` (one per process) reads it from the job's events,
  and SIGTERM stops the scheduler with its public `shutdown` from a thread of its own.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_SCHEDULER_STARTED,
)
from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from archiver.errors import ArchiverError, BusyError

log = logging.getLogger(__name__)

JOB_ID = "archiver-scheduled-run"
COLLECT_JOB_ID = "archiver-scheduled-collection"  # `collect.cron`, when pages have api:
CATCH_UP_ID = "archiver-abandoned-run"
JOBS_TABLE = "apscheduler_jobs"


def jobs_table_for(catalog) -> str:
    """The scheduler's table: `apscheduler_jobs` in an organisation's own SQLite catalog; one table per
    organisation in a shared database, since a scheduler runs every job its table holds."""
    if catalog.engine.dialect.name == "sqlite" or catalog.org is None:
        return JOBS_TABLE
    return f"{JOBS_TABLE}_{catalog.org.replace('-', '_')}"
BUSY_RETRY = timedelta(minutes=10)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a run was in progress: the run is abandoned.

    A KeyboardInterrupt, because asyncio lets only those (and SystemExit) out of a callback: any other
    BaseException raised by the signal handler while the event loop runs a callback is logged and
    swallowed, and the run would go on.
    """


def scheduled_run(registry: str) -> str:
    """The stored job: one full scheduled run of the register, as `archiver run` makes it, under the store's
    run lock; or, with the catalog on PostgreSQL, the run queued for the workers (`run --queue`).

    A module-level function, because APScheduler stores the job by reference. It says how it ended in its
    return value (`done`, `queued`, `busy: ...`, `abandoned`, `failed: ...`), which `ScheduledRuns` reads
    from the job's event: nothing here needs to know the scheduler."""
    from archiver.models import RunRequest
    from archiver.services import Services

    services = Services(registry)
    request = RunRequest(reason="scheduled", requested_by="scheduler")
    try:
        if services.catalog.engine.dialect.name == "postgresql":
            return _enqueue(services, request)
        result = _run_in_process(services, request)
        log.info("scheduled run done: bundle %s, %d of %d page(s) captured", result.bundle_id,
                 len(result.captures) - len(result.failed), len(result.captures))
        return "done"
    except Terminated:
        log.warning("scheduled run abandoned on shutdown; its staging folder was discarded, nothing stored")
        return "abandoned"
    except BusyError as exc:  # a CLI run or snapshot holds the store: try again later
        return f"busy: {exc}"
    except ArchiverError as exc:
        log.error("scheduled run not made: %s", exc)
        return f"failed: {exc}"


def scheduled_collection(registry: str) -> str:
    """The stored collection job (`collect.cron`): `archiver collect` of every page with `api:`, as the CLI
    makes it. A module-level function for the job store; says how it ended in its return value."""
    from archiver.services import Services

    try:
        outcomes = Services(registry).collect()
    except BusyError as exc:
        return f"busy: {exc}"
    except ArchiverError as exc:
        log.error("scheduled collection not made: %s", exc)
        return f"failed: {exc}"
    failed = [o["id"] for o in outcomes if o["status"] != "ok"]
    return f"failed: {', '.join(failed)}" if failed else "done"


def _run_in_process(services, request):
    """The run itself, under the store's lock: what SIGTERM abandons (`_inside_a_run`)."""
    with services.lock():
        log.info("scheduled run started")
        return services.run(request).result


def _enqueue(services, request) -> str:
    from archiver.queue.app import enqueue_run

    queued = enqueue_run(services, request)
    log.info("scheduled run queued: run %s, %d capture(s) for the workers", queued["run_id"], len(queued["captures"]))
    return "queued"


def _inside_a_run(frame) -> bool:
    """Whether the signal interrupted a run in progress (the jobs run inline, in the main thread, where
    signals are handled): `_run_in_process`'s frame is then below the handler's. A signal just after the
    run, while its job reports, stops the scheduler without abandoning anything."""
    while frame is not None:
        if frame.f_code is _run_in_process.__code__:
            return True
        frame = frame.f_back
    return False


class ScheduledRuns:
    """One `archiver scheduler` process: its scheduler, whether a run is in progress, and what SIGTERM does.

    SIGTERM/SIGINT stop the scheduler from a thread of their own (`shutdown` waits for a run in progress, so
    it must not be called inside one); a run in progress in the main thread is abandoned first, by raising
    `Terminated` in it."""

    def __init__(self, registry: str, jobs_table: str = JOBS_TABLE):
        self.registry = str(Path(registry).resolve())
        self.jobs_table = jobs_table
        self.scheduler: BlockingScheduler | None = None
        self.stopping = False

    def on_signal(self, signum, frame) -> None:
        if self.stopping:
            return
        self.stopping = True
        name = signal.Signals(signum).name
        if _inside_a_run(frame):  # the scheduler is stopped once the run has given up (`on_event`)
            log.warning("%s: abandoning the run in progress, then stopping", name)
            raise Terminated(name)
        log.info("%s: stopping the scheduler", name)
        self._stop_soon()

    def _stop_soon(self) -> None:
        threading.Thread(target=self._stop, name="scheduler stop", daemon=True).start()

    def _stop(self) -> None:
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    def on_event(self, event) -> None:
        """A job ended: note an abandoned run, retry a busy one later (a collection is just made next time)."""
        if getattr(event, "job_id", None) == COLLECT_JOB_ID:
            return
        outcome = getattr(event, "retval", None) or ""
        if outcome == "abandoned" and self.scheduler is not None:
            # Its fire was used up when it began: a one-off job in the stored jobs makes it when the
            # scheduler starts again (once; a missed one-off job runs late, as the cron job does).
            self.scheduler.add_job(scheduled_run, "date", run_date=datetime.now(UTC), args=[self.registry],
                                   id=CATCH_UP_ID, name="abandoned run, made again", replace_existing=True)
            log.info("the abandoned run is made when the scheduler starts again")
            self._stop_soon()
        elif outcome.startswith("busy: ") and not self.stopping and self.scheduler is not None:
            retry = datetime.now(UTC) + BUSY_RETRY
            log.warning("scheduled run not started: %s; retrying at %s", outcome.removeprefix("busy: "),
                        retry.isoformat())
            self.scheduler.add_job(scheduled_run, "date", run_date=retry, args=[self.registry], id="busy-retry",
                                   name="retry after busy", jobstore="once", replace_existing=True)


def build_scheduler(runs: ScheduledRuns, cron: str, engine, *, run_now: bool = False,
                    collect_cron: str | None = None) -> BlockingScheduler:
    """The scheduler with its persistent job; `run_now` also runs once at start (not persisted)."""
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=runs.jobs_table), "once": MemoryJobStore()},
        executors={"default": DebugExecutor()},  # inline, in the main thread, where SIGTERM is delivered
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    trigger = CronTrigger.from_crontab(cron)
    registry = runs.registry
    existing = _stored_job(engine, runs.jobs_table)
    keep = (existing is not None and str(existing.trigger) == str(trigger) and list(existing.args) == [registry]
            and existing.next_run_time is not None)
    options = {"next_run_time": existing.next_run_time} if keep else {}
    scheduler.add_job(scheduled_run, trigger, args=[registry], id=JOB_ID, name="scheduled run",
                      replace_existing=True, **options)
    if run_now:
        scheduler.add_job(scheduled_run, "date", args=[registry], id="run-now", name="run now",
                          jobstore="once")
    if collect_cron is not None:  # the register has pages with api: collected on their own schedule
        # In memory, not the job table: an hourly collection missed while the scheduler was down is not
        # worth catching up (the next one reads everything new since), and a register whose pages lose
        # their api: leaves no stored job behind.
        scheduler.add_job(scheduled_collection, CronTrigger.from_crontab(collect_cron), args=[registry],
                          id=COLLECT_JOB_ID, name="scheduled collection", jobstore="once")

    def started(_event) -> None:
        job = scheduler.get_job(JOB_ID)
        when = job.next_run_time if job else None
        late = when is not None and when <= datetime.now(when.tzinfo)
        log.info("scheduler running, cron %r; next scheduled run %s%s", cron,
                 when.isoformat() if when else "none", " (missed while down: runs now, once)" if late else "")

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(runs.on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    runs.scheduler = scheduler
    return scheduler


def _stored_job(engine, table: str):
    """The job an earlier scheduler stored, read through a job store of its own (the scheduler's own is
    started only with the scheduler)."""
    store = SQLAlchemyJobStore(engine=engine, tablename=table)
    store.start(BlockingScheduler(timezone=UTC), "default")
    return store.lookup_job(JOB_ID)


def serve(registry: str, cron: str, catalog, *, run_now: bool = False, collect_cron: str | None = None) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop."""
    runs = ScheduledRuns(registry, jobs_table_for(catalog))
    engine = catalog.engine
    scheduler = build_scheduler(runs, cron, engine, run_now=run_now, collect_cron=collect_cron)
    previous = {sig: signal.signal(sig, runs.on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            scheduler.start()  # returns once stopped
        except JobLookupError:
            if not runs.stopping:
                raise
            # Stopped while a one-off run (--run-now, a busy retry) ended: the scheduler's removing the
            # finished one-off job finds it already gone with the stop. Nothing stored is affected.
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if scheduler.running:
            scheduler.shutdown(wait=False)
    log.info("scheduler stopped")
    return 0
