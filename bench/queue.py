"""`make bench`'s queue set: one run of 60 pages through 1, 2 and 3 `archiver worker` processes.

A throwaway PostgreSQL on loopback (tests/pgserver.py, the tests' own), the plain set's ten feed pages
each six times under another address (bench/scale.py), `run --queue`, then N workers started together.
Measured: seconds from queueing to the run's `done` (every capture and the bundle's assembly), pages per
minute, the peak memory of each worker's process tree (Python, Playwright's driver and its Chromium:
what a machine must have free per worker) and the CPU seconds of all workers' trees.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from archiver.demo.server import serve_directory
from bench.pages import write_site
from bench.scale import scale_pages

PAGES = 60
WORKERS = (1, 2, 3)
CONCURRENCY = 2  # jobs at once per worker: the register's default on this machine would be 3
SAMPLE_S = 0.2
LIMIT_S = 900
BIN = Path(sys.executable).parent
TESTS = Path(__file__).resolve().parents[1] / "tests"


def one(tmp: Path, postgres, base_url: str, site, workers: int, register_yaml, sample_tree) -> dict:
    from archiver.catalog import Catalog
    from archiver.queue import steps

    folder = tmp / f"{workers}-workers"
    folder.mkdir(parents=True)
    registry = folder / "pages.yaml"
    registry.write_text(register_yaml(scale_pages(site, PAGES), base_url, folder / "store"), encoding="utf-8")
    url = postgres.new_database()
    env = {**os.environ, "ARCHIVER_REGISTRY": str(registry), "ARCHIVER_CATALOG_URL": url}
    started = time.perf_counter()
    queued = subprocess.run([str(BIN / "archiver"), "-q", "run", "--queue", "--json"], env=env, capture_output=True,
                            text=True, check=True)
    run_id = json.loads(queued.stdout)["run_id"]
    procs = [psutil.Popen([str(BIN / "archiver"), "-q", "worker", "--concurrency", str(CONCURRENCY)], env=env,
                          stdout=subprocess.DEVNULL, stderr=(folder / f"worker-{n}.log").open("wb"))
             for n in range(workers)]
    catalog = Catalog(url)
    peaks, cpu = [0] * workers, [{} for _ in range(workers)]
    status = "queued"
    try:
        while status not in ("done", "failed") and time.perf_counter() - started < LIMIT_S:
            for n, proc in enumerate(procs):
                peaks[n] = max(peaks[n], sample_tree(proc, cpu[n]))
            status = steps.show(catalog, run_id)["status"]
            time.sleep(SAMPLE_S)
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except psutil.TimeoutExpired:
                proc.kill()
    shown = steps.show(catalog, run_id)
    ok = sum(p["status"] == "ok" for p in shown["pages"])
    return {"workers": workers, "concurrency_each": CONCURRENCY, "pages": PAGES, "status": status, "ok": ok,
            "seconds": round(seconds, 1), "pages_per_minute": round(PAGES * 60 / seconds, 1),
            "peak_mb_per_worker": [round(p / 2**20) for p in peaks],
            "cpu_s_all_workers": round(sum(sum(c.values()) for c in cpu), 1),
            "retried": sum(p["attempts"] > 1 for p in shown["pages"])}


def run_queue(tmp: Path, register_yaml, sample_tree) -> dict:
    """`sample_tree(proc, cpu)`: the summed RSS of a process tree now, its CPU seconds kept in `cpu` (run.py's)."""
    sys.path.insert(0, str(TESTS))
    from pgserver import running_postgres

    site = write_site(tmp / "site")
    with running_postgres() as postgres, serve_directory(tmp / "site") as base_url:
        runs = [one(tmp, postgres, base_url, site, n, register_yaml, sample_tree) for n in WORKERS]
    return {"runs": runs, "cpus": os.cpu_count()}


def queue_report(figures: dict) -> str:
    lines = [f"{'workers':>8}{'seconds':>10}{'pages/min':>11}{'peak MB per worker':>22}{'CPU s':>9}{'status':>9}"]
    for run in figures["runs"]:
        peaks = " ".join(str(p) for p in run["peak_mb_per_worker"])
        lines.append(f"{run['workers']:>8}{run['seconds']:>10.1f}{run['pages_per_minute']:>11.1f}{peaks:>22}"
                     f"{run['cpu_s_all_workers']:>9.1f}{run['status']:>9}")
    lines.append(f"{PAGES} pages (the plain set's ten, six times each) queued with `run --queue`; each worker "
                 f"runs {CONCURRENCY} jobs at once; one run each, on {figures['cpus']} CPUs; memory is each "
                 "worker's whole process tree (Python, Playwright's driver, Chromium).")
    return "\n".join(lines)
