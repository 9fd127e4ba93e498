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
  the pipeline discards its hidden `.partial-*` staging folder, so no half-written bundle is left. The
  stored job's next run time is then set back to now, so the next start makes the abandoned run (once).
- A fire while another run holds the lock is retried every 10 minutes (in memory) until it gets the lock.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from archiver.errors import ArchiverError, BusyError

log = logging.getLogger(__name__)

JOB_ID = "archiver-scheduled-run"
JOBS_TABLE = "apscheduler_jobs"
BUSY_RETRY = timedelta(minutes=10)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a run was in progress: the run is abandoned.

    A KeyboardInterrupt, because asyncio lets only those (and SystemExit) out of a callback: any other
    BaseException raised by the signal handler while the event loop runs a callback is logged and
    swallowed, and the run would go on.
    """


class _State:
    def __init__(self) -> None:
        self.scheduler: BlockingScheduler | None = None
        self.stopping = False
        self.running = False
        self.abandoned = False


_state = _State()


def scheduled_run(registry: str) -> None:
    """The job: one full scheduled run, as `archiver run` makes it, under the store's run lock."""
    from archiver.models import RunRequest
    from archiver.services import Services

    if _state.stopping:
        log.info("shutting down: the scheduled run is not started")
        return
    services = Services(registry)
    request = RunRequest(reason="scheduled", requested_by="scheduler")
    _state.running = True
    try:
        with services.lock():
            log.info("scheduled run started")
            result = services.run(request).result
        _state.running = False
        log.info("scheduled run done: bundle %s, %d of %d page(s) captured", result.bundle_id,
                 len(result.captures) - len(result.failed), len(result.captures))
    except Terminated:
        _state.abandoned = True
        log.warning("scheduled run abandoned on shutdown; its staging folder was discarded, nothing stored")
    except BusyError as exc:  # a CLI run or snapshot holds the store: try again later, in this process
        retry = datetime.now(UTC) + BUSY_RETRY
        log.warning("scheduled run not started: %s; retrying at %s", exc, retry.isoformat())
        if _state.scheduler is not None:
            _state.scheduler.add_job(scheduled_run, "date", run_date=retry, args=[registry], id="busy-retry",
                                     name="retry after busy", jobstore="once", replace_existing=True)
    except ArchiverError as exc:
        log.error("scheduled run not made: %s", exc)
    finally:
        _state.running = False


def _on_signal(signum, _frame) -> None:
    if _state.stopping:
        return
    _state.stopping = True
    name = signal.Signals(signum).name
    if _state.running:
        log.warning("%s: abandoning the run in progress, then stopping", name)
        raise Terminated(name)
    log.info("%s: stopping the scheduler", name)
    if _state.scheduler is not None:
        # From another thread: the main thread may hold the Event's (non-reentrant) lock right now.
        threading.Thread(target=_state.scheduler.wakeup, daemon=True).start()  # the loop sees `stopping`


class _Scheduler(BlockingScheduler):
    """BlockingScheduler whose main loop also ends on `stopping`, so a signal never has to call shutdown()
    from inside APScheduler's own bookkeeping (which a job run inline is part of)."""

    def _main_loop(self) -> None:
        wait_seconds = threading.TIMEOUT_MAX
        while self.state != STATE_STOPPED and not _state.stopping:
            self._event.wait(wait_seconds)
            self._event.clear()
            if _state.stopping:
                break
            wait_seconds = self._process_jobs()


def build_scheduler(registry: str, cron: str, engine, *, run_now: bool = False) -> BlockingScheduler:
    """The scheduler with its persistent job; `run_now` also runs once at start (not persisted)."""
    scheduler = _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE), "once": MemoryJobStore()},
        executors={"default": DebugExecutor()},  # inline, in the main thread, where SIGTERM is delivered
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
    )
    trigger = CronTrigger.from_crontab(cron)
    registry = str(Path(registry).resolve())
    store = scheduler._jobstores["default"]
    store.start(scheduler, "default")  # to read what an earlier scheduler stored
    existing = store.lookup_job(JOB_ID)
    keep = (existing is not None and str(existing.trigger) == str(trigger) and list(existing.args) == [registry]
            and existing.next_run_time is not None)
    options = {"next_run_time": existing.next_run_time} if keep else {}
    scheduler.add_job(scheduled_run, trigger, args=[registry], id=JOB_ID, name="scheduled run",
                      replace_existing=True, **options)
    if run_now:
        scheduler.add_job(scheduled_run, "date", args=[registry], id="run-now", name="run now",
                          jobstore="once")

    def started(_event) -> None:
        job = scheduler.get_job(JOB_ID)
        when = job.next_run_time if job else None
        late = when is not None and when <= datetime.now(when.tzinfo)
        log.info("scheduler running, cron %r; next scheduled run %s%s", cron,
                 when.isoformat() if when else "none", " (missed while down: runs now, once)" if late else "")

    scheduler.add_listener(started, EVENT_SCHEDULER_STARTED)
    return scheduler


def serve(registry: str, cron: str, engine, *, run_now: bool = False) -> int:
    """Run until SIGTERM/SIGINT; 0 on a clean stop."""
    scheduler = build_scheduler(registry, cron, engine, run_now=run_now)
    _state.scheduler, _state.stopping, _state.running, _state.abandoned = scheduler, False, False, False
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler.start()
        if _state.abandoned and scheduler.get_job(JOB_ID) is not None:
            # The fire was used up when the run began: set it back, so the next start catches up once.
            scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
            log.info("the abandoned run is made when the scheduler starts again")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if scheduler.running:
            scheduler.shutdown(wait=False)
        _state.scheduler = None
    log.info("scheduler stopped")
    return 0
