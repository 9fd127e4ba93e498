"""The job queue under crashes: a worker SIGKILLed while it captures and while it assembles, and the
store's assembly lock (tests/test_queue.py has the queue's ordinary runs and its helpers; the two files
run side by side under pytest-xdist)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from test_queue import PAGES, cli, counts, manifest_of, setup, show, stop, wait_for, worker

from archiver.catalog import Catalog


@pytest.mark.browser
def test_a_worker_killed_mid_capture_has_its_capture_made_by_another_and_the_run_ends_once(site, tmp_path, postgres):
    registry, store, url = setup(tmp_path, site, postgres)
    run_id = json.loads(cli(registry, url, "run", "--queue", "--json").stdout)["run_id"]
    # Worker A dies (SIGKILL, as `kill -9` or the OOM killer) as it starts taking its first page's tiles.
    doomed = worker(registry, url, "--concurrency", "1", point="archiver.capture.screenshot:capture_tiles",
                    log=tmp_path / "a.log")
    assert doomed.wait(timeout=120) == -signal.SIGKILL, (tmp_path / "a.log").read_text()
    killed = [p for p in show(registry, url, run_id)["pages"] if p["status"] == "running"]
    assert len(killed) == 1, show(registry, url, run_id)
    b = worker(registry, url, "--concurrency", "1", log=tmp_path / "b.log")
    c = worker(registry, url, "--concurrency", "2", log=tmp_path / "c.log")
    try:
        shown = wait_for(registry, url, run_id)
    finally:
        stop(b, c)
    logs = (tmp_path / "b.log").read_text() + (tmp_path / "c.log").read_text()
    assert shown["status"] == "done" and shown["bundle_id"] == run_id, (shown, logs)
    by_key = {p["key"]: p for p in shown["pages"]}
    assert by_key[killed[0]["key"]]["attempts"] == 2 and by_key[killed[0]["key"]]["status"] == "ok"
    # Every other capture was started once: no two workers took the same page of the run.
    assert all(p["attempts"] == 1 for key, p in by_key.items() if key != killed[0]["key"]), by_key
    assert "queued again" in logs
    assert [p["key"] for p in manifest_of(store, run_id)["pages"]] == [i for i, _ in PAGES]  # every page once
    verified = cli(registry, url, "bundles", "verify", run_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert counts(url) == {"runs": 1, "run_pages": 4, "bundles": 1, "queued_runs": 1, "queued_pages": 4}
    assert len(list(store.glob("[0-9]*/*/manifest.json"))) == 1
    assert not (store / ".queue" / run_id).exists() and not list(store.rglob(".partial-*"))


def test_one_store_takes_one_assembly_at_a_time_across_processes(postgres):
    """The assembly's PostgreSQL advisory lock (archiver/queue/locks.py): a second holder of the same store's
    lock, on another connection as another worker would be, waits until the first lets go; another store's
    does not wait."""
    import threading

    from archiver.queue.locks import store_assembly

    catalog = Catalog(postgres.new_database())
    events: list[str] = []
    holding, release = threading.Event(), threading.Event()

    def first():
        with store_assembly(catalog.engine, "/srv/gotene"):
            events.append("first in")
            holding.set()
            release.wait(10)
            events.append("first out")

    def second():
        with store_assembly(catalog.engine, "/srv/gotene"):
            events.append("second in")

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=second)
    two.start()
    with store_assembly(catalog.engine, "/srv/lidkoping"):  # another organisation's store: at once
        events.append("other store")
    two.join(0.5)
    assert two.is_alive() and "second in" not in events  # still waiting for the first
    release.set()
    one.join(10)
    two.join(10)
    assert events == ["first in", "other store", "first out", "second in"]


HOLD = """import sys, time
from archiver.catalog import Catalog
from archiver.queue.locks import store_assembly
with store_assembly(Catalog(sys.argv[1]).engine, "/srv/gotene"):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_the_assembly_lock_of_a_killed_worker_is_let_go_by_the_server(postgres):
    from sqlalchemy import text

    from archiver.queue.locks import advisory_key

    url = postgres.new_database()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    engine = Catalog(url).engine
    with engine.connect() as conn:
        taken = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key("/srv/gotene")}).scalar()
        assert taken is False  # held by the other process
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not taken and time.monotonic() < deadline:
            time.sleep(0.1)
            taken = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key("/srv/gotene")}).scalar()
        assert taken is True


@pytest.mark.browser
@pytest.mark.parametrize("point", [
    "archiver.bundle.pdf:build_pdf",  # building the bundle: only a hidden staging folder is left
    "archiver.store.local:LocalStore.put:return",  # stored, not yet catalogued nor marked done
])
def test_a_worker_killed_while_it_assembles_leaves_one_bundle_made_by_another(site, tmp_path, postgres, point):
    registry, store, url = setup(tmp_path, site, postgres, pages=PAGES[:2])
    run_id = json.loads(cli(registry, url, "run", "--queue", "--json").stdout)["run_id"]
    doomed = worker(registry, url, point=point, log=tmp_path / "a.log")
    assert doomed.wait(timeout=120) == -signal.SIGKILL, (tmp_path / "a.log").read_text()
    assert show(registry, url, run_id)["status"] == "running"  # every capture in, the bundle not done
    other = worker(registry, url, log=tmp_path / "b.log")
    try:
        shown = wait_for(registry, url, run_id)
    finally:
        stop(other)
    assert (shown["status"], shown["bundle_id"]) == ("done", run_id), (tmp_path / "b.log").read_text()
    assert [p["attempts"] for p in shown["pages"]] == [1, 1]  # the captures were not made again
    assert len(list(store.glob("[0-9]*/*/manifest.json"))) == 1
    assert counts(url) == {"runs": 1, "run_pages": 2, "bundles": 1, "queued_runs": 1, "queued_pages": 2}
    verified = cli(registry, url, "bundles", "verify", run_id)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert not (store / ".queue" / run_id).exists()
