"""Scheduling: `run --if-due`, the store's run lock, `archiver scheduler` and the shipped unit files."""

from __future__ import annotations

import configparser
import json
import os
import queue
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import register_yaml, run_cli

from archiver.lock import LOCK_NAME, store_lock

SCHEDULES = Path(__file__).resolve().parent.parent / "schedules"


def _write(registry: Path, pages: list[dict], store: Path, *, extra: str = "", **options) -> Path:
    registry.write_text(extra + register_yaml(pages, store, **options), encoding="utf-8")
    return registry


@pytest.mark.browser
def test_if_due_runs_once_and_again_when_pages_are_added(site, tmp_path):
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    _write(registry, [{"id": "short", "url": f"{site}/short.html"}], store)
    first = run_cli("run", "--if-due", "--json", registry=registry)
    assert first.returncode == 0, first.stderr
    assert [p["status"] for p in json.loads(first.stdout)["pages"]] == ["ok"]
    second = run_cli("run", "--if-due", "--json", registry=registry)
    assert second.returncode == 0, second.stderr
    answer = json.loads(second.stdout)
    assert answer["due"] is False and answer["next_due"] > datetime.now(UTC).isoformat()[:10]

    _write(registry, [{"id": "short", "url": f"{site}/short.html"}, {"id": "feed", "url": f"{site}/feed.html"}],
           store)
    third = run_cli("run", "--if-due", "--json", registry=registry)
    assert third.returncode == 0, third.stderr
    assert "pages added since the last run: feed" in third.stderr
    assert sorted(p["id"] for p in json.loads(third.stdout)["pages"]) == ["feed", "short"]  # a full run
    fourth = run_cli("run", "--if-due", "--json", registry=registry)
    assert json.loads(fourth.stdout)["due"] is False


def test_a_second_run_is_refused_while_the_lock_is_held(tmp_path):
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    _write(registry, [{"id": "short", "url": "http://127.0.0.1:9/short.html"}], store)
    with store_lock(store):
        for args in (("run", "--json"), ("run", "--if-due"), ("snapshot", "short", "--reason", "r", "--by", "Kim")):
            result = run_cli(*args, registry=registry)
            assert result.returncode == 75, (args, result.stderr)
            assert "another archiver run is in progress" in result.stderr
            assert f"pid {os.getpid()}" in result.stderr and result.stdout == ""
    assert (store / LOCK_NAME).exists()
    with store_lock(store):  # released by the holder; the file stays and is reused
        pass


def test_bad_cron_is_refused_with_file_line_and_field(tmp_path):
    registry = _write(tmp_path / "pages.yaml", [{"id": "a", "url": "https://example.se/"}], tmp_path / "s",
                      extra='schedule:\n  cron: "0 25 * * *"\n')
    result = run_cli("pages", "check", registry=registry)
    assert result.returncode == 2
    assert re.search(r"pages\.yaml:2: schedule\.cron: bad cron expression", result.stderr), result.stderr
    registry = _write(tmp_path / "pages.yaml", [{"id": "a", "url": "https://example.se/"}], tmp_path / "s",
                      extra='schedule:\n  cron: "0 6 1 *"\n')
    assert "must have 5 fields" in run_cli("pages", "check", registry=registry).stderr


class Scheduler:
    """`archiver scheduler` as a subprocess, its stderr read line by line."""

    def __init__(self, registry: Path, *args: str):
        env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "archiver", "scheduler", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in self._queue.get(timeout=0.2):
                    return
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
        pytest.fail(f"no {text!r} from the scheduler:\n{''.join(self.lines)}")

    def stop(self, timeout: float = 20) -> int:
        self.proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            pytest.fail(f"the scheduler did not stop within {timeout} s of SIGTERM:\n{self.log()}")
        self.stop_seconds = time.monotonic() - started
        time.sleep(0.2)
        return code

    def log(self) -> str:
        return "".join(self.lines)


def _tables(store: Path) -> set[str]:
    with sqlite3.connect(store / "catalog.sqlite") as db:
        return {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}


def _scheduled_runs(store: Path) -> int:
    with sqlite3.connect(store / "catalog.sqlite") as db:
        return db.execute("select count(*) from runs where kind = 'scheduled'").fetchone()[0]


@pytest.mark.browser
def test_scheduler_stores_its_job_and_catches_up_a_missed_fire_once(site, tmp_path):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    from archiver.scheduler import JOB_ID, JOBS_TABLE

    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    _write(registry, [{"id": "short", "url": f"{site}/short.html"}], store)
    first = Scheduler(registry)
    first.wait_for("scheduler running")
    assert first.stop() == 0 and first.stop_seconds < 10, first.log()
    assert JOBS_TABLE in _tables(store) and "bundles" in _tables(store)  # the job store is the catalog DB
    assert "scheduled run started" not in first.log()

    # The machine was down for two years: four fires missed. One run on start, not four.
    jobs = SQLAlchemyJobStore(url=f"sqlite:///{store / 'catalog.sqlite'}", tablename=JOBS_TABLE)
    jobs.start(BlockingScheduler(timezone=UTC), "default")  # never started: only reads and writes the store
    job = jobs.lookup_job(JOB_ID)
    job._modify(next_run_time=datetime.now(UTC) - timedelta(days=730))
    jobs.update_job(job)
    jobs.shutdown()

    second = Scheduler(registry)
    second.wait_for("missed while down: runs now, once")
    second.wait_for("scheduled run done", timeout=60)
    assert second.stop() == 0, second.log()
    assert second.log().count("scheduled run started") == 1
    assert _scheduled_runs(store) == 1
    assert len(list(store.glob("[0-9]*/*/manifest.json"))) == 1
    with sqlite3.connect(store / "catalog.sqlite") as db:
        (next_run,) = db.execute(f"select next_run_time from {JOBS_TABLE}").fetchone()
    assert next_run > time.time()  # rescheduled to the next fire, not left in the past


@pytest.mark.browser
def test_sigterm_during_a_run_abandons_it_and_leaves_no_partial_bundle(site, tmp_path):
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    _write(registry, [{"id": "short", "url": f"{site}/short.html"}, {"id": "hang", "url": f"{site}/hang"}],
           store, timeout_s=30)
    sched = Scheduler(registry, "--run-now")
    sched.wait_for("scheduled run started")
    time.sleep(2)  # the browser is capturing; the hanging page keeps the run going
    assert sched.stop() == 0, sched.log()
    assert sched.stop_seconds < 15
    assert "abandoned" in sched.log() and "scheduler stopped" in sched.log()
    assert not list(store.rglob(".partial-*"))
    assert not list(store.glob("[0-9]*/*/manifest.json")) and _scheduled_runs(store) == 0
    with store_lock(store):  # the lock died with the run
        pass
    with sqlite3.connect(store / "catalog.sqlite") as db:
        (next_run,) = db.execute("select min(next_run_time) from apscheduler_jobs").fetchone()
    assert next_run <= time.time()  # the abandoned run is made, once, when the scheduler starts again


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SCHEDULES / name, encoding="utf-8")
    return parser


def test_systemd_units_and_crontab(tmp_path):
    run_service, timer, sched = _unit("archiver-run.service"), _unit("archiver-run.timer"), _unit(
        "archiver-scheduler.service")
    assert run_service["Service"]["Type"] == "oneshot"
    assert run_service["Service"]["ExecStart"].split()[0].endswith("/archiver")
    assert run_service["Service"]["ExecStart"].split()[-2:] == ["run", "--if-due"]
    assert "75" in run_service["Service"]["SuccessExitStatus"].split()
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "archiver-run.service" and timer["Install"]["WantedBy"] == "timers.target"
    assert sched["Service"]["ExecStart"].split()[0].endswith("/archiver")
    assert sched["Service"]["ExecStart"].split()[-1] == "scheduler"
    assert sched["Service"]["KillSignal"] == "SIGTERM" and int(sched["Service"]["TimeoutStopSec"]) > 0
    assert run_service["Service"]["WorkingDirectory"] == sched["Service"]["WorkingDirectory"]
    worker = _unit("archiver-worker.service")
    assert worker["Service"]["ExecStart"].split()[0].endswith("/archiver")
    assert worker["Service"]["ExecStart"].split()[1:3] == ["worker", "--concurrency"]
    assert worker["Service"]["KillSignal"] == "SIGTERM" and int(worker["Service"]["TimeoutStopSec"]) > 90
    assert worker["Service"]["EnvironmentFile"]  # ARCHIVER_CATALOG_URL, with the database's password

    lines = [line for line in (SCHEDULES / "crontab").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert len(fields) == 6 and "archiver" in fields[5] and "run --if-due" in fields[5]
    from apscheduler.triggers.cron import CronTrigger

    CronTrigger.from_crontab(" ".join(fields[:5]))  # the five time fields are valid cron

    if shutil.which("systemd-analyze"):  # the real check where systemd is installed
        install = Path(__file__).resolve().parent.parent
        env_file = tmp_path / "catalog.env"
        env_file.write_text("ARCHIVER_CATALOG_URL=postgresql://archiver@127.0.0.1/catalog\n")
        for name in ("archiver-run.service", "archiver-run.timer", "archiver-scheduler.service",
                     "archiver-worker.service"):
            text = (SCHEDULES / name).read_text().replace("/opt/archiver", str(install)).replace(
                "/etc/archiver/catalog.env", str(env_file))
            (tmp_path / name).write_text(text)
        units = sorted(str(p) for p in tmp_path.glob("archiver-*"))
        verify = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True,
                                timeout=60, check=False)
        assert verify.returncode == 0, verify.stderr
        assert "ignoring" not in verify.stderr, verify.stderr  # a line systemd cannot parse exits 0 all the same


def test_scheduler_fire_while_a_run_holds_the_lock_is_retried_later(tmp_path):
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    _write(registry, [{"id": "short", "url": "http://127.0.0.1:9/short.html"}], store)
    with store_lock(store):
        sched = Scheduler(registry, "--run-now")
        sched.wait_for("another archiver run is in progress")
        assert "retrying at" in sched.log()
        assert sched.stop() == 0, sched.log()
    assert "scheduled run started" not in sched.log()


@pytest.mark.parametrize("where", ["task", "callback"])
def test_terminated_stops_the_event_loop_wherever_the_signal_lands(where):
    """SIGTERM's handler raises Terminated in whatever the main thread runs: inside a task's step (Playwright's
    message dispatch) or a plain callback. asyncio swallows other BaseExceptions there and the run went on."""
    import asyncio

    from archiver.scheduler import Terminated

    def land():
        raise Terminated("SIGTERM")

    async def capture():
        if where == "task":
            async def dispatch():
                await asyncio.sleep(0)
                land()
            asyncio.get_running_loop().create_task(dispatch())
        else:
            asyncio.get_running_loop().call_soon(land)
        await asyncio.sleep(2)  # a hanging page: the run would go on this long
        return "went on"

    started = time.monotonic()
    with pytest.raises(Terminated):
        asyncio.run(capture())
    assert time.monotonic() - started < 1
