"""Runs as jobs on Procrastinate (PostgreSQL): `run --queue`, `archiver worker`, `runs show`.

Real parts throughout: the tests' own PostgreSQL (tests/pgserver.py), worker processes with Chromium
capturing the fixture site, and kill_at.py killing a worker with SIGKILL in the middle of a capture.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import register_yaml
from faultkit import command
from sqlalchemy import func, select

from archiver.catalog import Catalog
from archiver.catalog.tables import bundles, queued_pages, queued_runs, run_pages, runs

PAGES = [("short", "/short.html"), ("tall", "/tall-12000"), ("tall3", "/tall-3000"), ("gone", "/gone")]
STALLED_AFTER_S = "4"  # the tests' bound on noticing a dead worker (the default is 60 s)


def setup(tmp_path: Path, site: str, postgres, pages=PAGES, wacz: bool = False) -> tuple[Path, Path, str]:
    """A register whose store is `store`, relative: to the folder `cli` runs in (tmp_path), which is not the
    folder the workers run in (the root), as on a service whose workers are started by systemd."""
    registry, store = tmp_path / "pages.yaml", tmp_path / "store"
    text = register_yaml([{"id": i, "url": f"{site}{path}"} for i, path in pages], store, wacz=wacz)
    registry.write_text(text.replace(json.dumps(str(store)), '"store"'), encoding="utf-8")
    return registry, store, postgres.new_database()


def env(registry: Path, url: str) -> dict[str, str]:
    return {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_CATALOG_URL": url, "PYTHONUNBUFFERED": "1"}


def cli(registry: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args), capture_output=True, text=True, env=env(registry, url), timeout=300,
                          check=False, cwd=registry.parent)


def worker(registry: Path, url: str, *extra: str, point: str | None = None, log: Path | None = None):
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command("worker", "--stalled-after", STALLED_AFTER_S, *extra, point=point),
                            env=env(registry, url), stdout=subprocess.DEVNULL, stderr=out, text=True, cwd="/")


def show(registry: Path, url: str, run_id: str) -> dict:
    shown = cli(registry, url, "runs", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def wait_for(registry: Path, url: str, run_id: str, states=("done", "failed"), timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = show(registry, url, run_id)
        if shown["status"] in states:
            return shown
        time.sleep(0.5)
    pytest.fail(f"run {run_id} did not end in {timeout} s: {shown}")


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def counts(url: str) -> dict[str, int]:
    catalog = Catalog(url)
    with catalog.engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar()
                for t in (runs, run_pages, bundles, queued_runs, queued_pages)}


def manifest_of(store: Path, bundle_id: str) -> dict:
    [path] = store.glob(f"*/{bundle_id}/manifest.json")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.browser
def test_a_queued_run_is_captured_by_a_worker_into_one_bundle_pixel_for_pixel(site, tmp_path, postgres):
    registry, store, url = setup(tmp_path, site, postgres, wacz=True)  # the WARCs travel with the captures too
    queued = cli(registry, url, "run", "--queue", "--json", "--reason", "halvårsvis", "--by", "Rut")
    assert queued.returncode == 0, queued.stderr
    run_id = json.loads(queued.stdout)["run_id"]
    assert set(json.loads(queued.stdout)) == {"run_id"}
    shown = show(registry, url, run_id)
    assert (shown["status"], shown["bundle_id"]) == ("queued", None)
    assert [(p["key"], p["status"]) for p in shown["pages"]] == [(i, "queued") for i, _ in PAGES]

    finished = subprocess.run(command("worker", "--until-empty", "--concurrency", "2"), env=env(registry, url),
                              capture_output=True, text=True, timeout=300, check=False, cwd="/")
    assert finished.returncode == 0, finished.stderr
    shown = show(registry, url, run_id)
    assert (shown["status"], shown["bundle_id"]) == ("done", run_id), shown
    assert [(p["key"], p["status"], p["attempts"]) for p in shown["pages"]] == [
        ("short", "ok", 1), ("tall", "ok", 1), ("tall3", "ok", 1), ("gone", "failed", 1)]
    assert "HTTP 404" in shown["pages"][3]["error"]

    verified = cli(registry, url, "bundles", "verify", run_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ok    WACZ files match datapackage.json" in verified.stdout
    # The same pages captured in one process give the same pixels: a queued capture is the same capture.
    direct = cli(registry, url, "run", "--json", "--page", "short", "--page", "tall", "--page", "tall3")
    assert direct.returncode == 0, direct.stderr
    ours = {p["key"]: p["pixels_sha256"] for p in manifest_of(store, run_id)["pages"] if p["status"] == "ok"}
    theirs = {p["key"]: p["pixels_sha256"] for p in manifest_of(store, json.loads(direct.stdout)["bundle_id"])["pages"]}
    assert ours == theirs and len(ours) == 3
    assert counts(url) == {"runs": 2, "run_pages": 7, "bundles": 2, "queued_runs": 1, "queued_pages": 4}
    assert not (store / ".queue" / run_id).exists()  # the captures' work folder went with the run
    assert not list(store.rglob(".partial-*"))


def test_the_queue_needs_postgresql_and_says_so(tmp_path, site):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"}], tmp_path / "store"),
                        encoding="utf-8")
    for args in (("run", "--queue"), ("worker",), ("runs", "show", "x")):
        refused = subprocess.run(command(*args), env={k: v for k, v in env(registry, "").items()
                                                      if k != "ARCHIVER_CATALOG_URL"},
                                 capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2 and "needs a PostgreSQL catalog" in refused.stderr, (args, refused.stderr)
    assert not (tmp_path / "store").exists()


def test_the_scheduler_queues_its_runs_for_the_workers_on_postgresql(site, tmp_path, postgres):
    registry, store, url = setup(tmp_path, site, postgres)
    sched = subprocess.Popen(command("scheduler", "--run-now"), env=env(registry, url), cwd=registry.parent,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    deadline, log = time.monotonic() + 60, []
    while time.monotonic() < deadline and not any("scheduled run queued" in line for line in log):
        line = sched.stderr.readline()
        if not line:
            break
        log.append(line)
    sched.send_signal(signal.SIGTERM)
    log += sched.communicate(timeout=30)[1].splitlines(keepends=True)
    assert sched.returncode == 0, "".join(log)
    [queued] = [line for line in log if "scheduled run queued" in line]
    run_id = queued.split("run ", 2)[2].split(",")[0]
    shown = show(registry, url, run_id)
    assert shown["status"] == "queued" and [p["key"] for p in shown["pages"]] == [i for i, _ in PAGES]
    assert not any("starting browser" in line for line in log)  # nothing is captured by the scheduler itself
    assert not list(store.glob("[0-9]*/*"))


def test_if_due_queues_a_scheduled_run_once_while_it_is_not_done(site, tmp_path, postgres):
    """Cron's daily `run --if-due --queue`: the first call queues the run; the next ones, while the workers
    have not finished it, say it is queued instead of queueing it again."""
    registry, _store, url = setup(tmp_path, site, postgres)
    first = cli(registry, url, "run", "--if-due", "--queue", "--json")
    assert first.returncode == 0, first.stderr
    run_id = json.loads(first.stdout)["run_id"]
    again = cli(registry, url, "run", "--if-due", "--queue", "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["due"], json.loads(again.stdout)["queued"]) == (False, run_id)
    assert counts(url)["queued_runs"] == 1


def test_captures_whose_jobs_gave_up_still_end_the_run_with_a_bundle_naming_them(tmp_path, site, postgres,
                                                                                  monkeypatch):
    """A capture job that raised on its last try (app.capture_task) is recorded as a failed page: the run's last
    one queues the assembly exactly once, and the bundle names every such page with the job's error."""
    import asyncio

    from archiver.models import RunRequest
    from archiver.queue import steps
    from archiver.services import Services

    registry, _store, url = setup(tmp_path, site, postgres, pages=PAGES[:3])
    monkeypatch.setenv("ARCHIVER_CATALOG_URL", url)
    services = Services(registry, workdir=tmp_path)
    run_id = steps.enqueue(services, RunRequest(), lambda run, key: None)["run_id"]
    last = []

    async def on_last(finished: str) -> None:
        last.append(finished)

    for key in ("short", "tall", "tall3", "tall3"):  # the last one twice: a retried job that gave up again
        asyncio.run(steps.give_up_capture(services, run_id, key, "the disk went away", on_last))
    assert last == [run_id, run_id]  # each call after the last capture queues it; the queueing lock keeps one
    result = steps.assemble(services, run_id)
    assert [(c.key, c.status) for c in result.captures] == [("short", "failed"), ("tall", "failed"),
                                                            ("tall3", "failed")]
    assert all(c.error == "the capture job failed: the disk went away" for c in result.captures)
    assert steps.show(services.catalog, run_id)["status"] == "done"
    assert steps.assemble(services, run_id) is None  # again: nothing to do, nothing doubled
    assert len(services.catalog.list_bundles()) == 1


@pytest.mark.browser
def test_a_run_whose_register_is_gone_before_its_captures_fails_saying_so(site, tmp_path, postgres):
    from archiver.queue import steps

    registry, store, url = setup(tmp_path, site, postgres, pages=PAGES[:2])
    run_id = json.loads(cli(registry, url, "run", "--queue", "--json").stdout)["run_id"]
    registry.rename(tmp_path / "moved.yaml")  # the register is moved away before any worker runs
    worked = subprocess.run(command("worker", "--until-empty"), env=env(registry, url), capture_output=True,
                            text=True, timeout=300, check=False, cwd="/")
    assert worked.returncode == 0, worked.stderr
    shown = steps.show(Catalog(url), run_id)
    assert shown["status"] == "failed" and str(registry) in shown["error"], shown
    assert "its register cannot be read" in shown["error"] and not store.exists()
