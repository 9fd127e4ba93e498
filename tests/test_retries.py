"""Retries: a page that fails for a moment is tried again within the run; `run --retry-failed` redoes
the failed pages of a stored bundle into a new bundle linked to the first."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES, register_yaml, run_cli

from archiver.capture.batch import worth_retrying
from archiver.catalog import Catalog
from archiver.demo.server import send_html, serve_directory, status, tall_page_html
from archiver.models import PageCapture


def flaky(failures: int):
    """503 for the first `failures` requests, then a small page."""
    lock, seen = threading.Lock(), [0]

    def handler(req) -> None:
        with lock:
            seen[0] += 1
            failing = seen[0] <= failures
        if failing:
            status(503)(req)
        else:
            send_html(req, 200, tall_page_html(2000))
    return handler


def fixable(state: dict):
    """503 while `state["broken"]`, then a small page."""
    def handler(req) -> None:
        if state["broken"]:
            status(503)(req)
        else:
            send_html(req, 200, tall_page_html(2000))
    return handler


def _capture(failure: str | None, http_status: int | None = None) -> PageCapture:
    return PageCapture(page_id="p", platform="generic", requested_url="https://example.se/", failure=failure,
                       http_status=http_status)


def test_which_failures_are_worth_retrying():
    assert worth_retrying(_capture("timeout")) and worth_retrying(_capture("error"))
    assert worth_retrying(_capture("http", 503)) and worth_retrying(_capture("http", 429))
    for failure, code in (("http", 403), ("unavailable", 404), ("login_wall", 200),
                          ("session_expired", None)):
        assert not worth_retrying(_capture(failure, code))
    ok = _capture(None)
    ok.status = "ok"
    assert not worth_retrying(ok)


def test_catalog_made_before_retries_gets_the_completes_column(tmp_path):
    path = tmp_path / "catalog.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id VARCHAR(64) PRIMARY KEY, organisation TEXT NOT NULL, reason TEXT "
                     "NOT NULL, kind VARCHAR(16) NOT NULL, requested_by TEXT NOT NULL, started_at DATETIME "
                     "NOT NULL, finished_at DATETIME NOT NULL, status VARCHAR(16) NOT NULL)")
    Catalog(f"sqlite:///{path}")
    Catalog(f"sqlite:///{path}")  # a second open finds it there and changes nothing
    with sqlite3.connect(path) as conn:
        assert "completes" in [row[1] for row in conn.execute("PRAGMA table_info(runs)")]


@pytest.mark.browser
def test_transient_failures_are_retried_within_the_run(tmp_path):
    routes = {"/flaky": flaky(1), "/down": status(503), "/gone": status(404)}
    with serve_directory(FIXTURES, routes=routes) as base:
        registry = tmp_path / "pages.yaml"
        registry.write_text(register_yaml(
            [{"id": "flaky", "url": f"{base}/flaky"}, {"id": "down", "url": f"{base}/down"},
             {"id": "gone", "url": f"{base}/gone"}],
            tmp_path / "store", concurrency=3, retries={"attempts": 3, "backoff_s": 0.2}), encoding="utf-8")
        result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    pages = {p["id"]: p for p in json.loads(Path(out["manifest"]).read_text())["pages"]}
    assert (pages["flaky"]["status"], pages["flaky"]["attempts"]) == ("ok", 2)
    assert "attempt 1 failed (HTTP 503" in pages["flaky"]["warnings"][0]
    assert (pages["down"]["status"], pages["down"]["failure"], pages["down"]["attempts"]) == ("failed", "http", 3)
    assert (pages["gone"]["failure"], pages["gone"]["attempts"]) == ("unavailable", 1)  # a 404 stays a 404


@pytest.mark.browser
def test_retry_failed_makes_a_bundle_of_the_failed_pages_linked_to_the_first(tmp_path):
    state = {"broken": True}
    routes = {"/fine": flaky(0), "/fixable": fixable(state)}
    with serve_directory(FIXTURES, routes=routes) as base:
        registry = tmp_path / "pages.yaml"
        registry.write_text(register_yaml(
            [{"id": "fine", "url": f"{base}/fine"}, {"id": "fixable", "url": f"{base}/fixable"}],
            tmp_path / "store", retries={"attempts": 1, "backoff_s": 0}), encoding="utf-8")
        first = run_cli("run", "--json", registry=registry)
        assert first.returncode == 1, first.stderr
        first_id = json.loads(first.stdout)["bundle_id"]

        state["broken"] = False
        retry = run_cli("run", "--retry-failed", first_id, "--by", "Kim", "--json", registry=registry)
    assert retry.returncode == 0, retry.stderr
    out = json.loads(retry.stdout)
    assert [(p["id"], p["status"]) for p in out["pages"]] == [("fixable", "ok")]
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["completes"] == first_id
    assert manifest["reason"] == f"retry of {first_id}: scheduled" and manifest["requested_by"] == "Kim"
    rows = {row["id"]: row for row in json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)}
    assert (rows[out["bundle_id"]]["completes"], rows[out["bundle_id"]]["kind"]) == (first_id, "retry")
    assert rows[first_id]["completes"] is None
    assert run_cli("bundles", "verify", out["bundle_id"], registry=registry).returncode == 0

    # The scheduled run is complete now that its one failure was captured by the retry.
    due = run_cli("run", "--if-due", "--json", registry=registry)
    assert due.returncode == 0 and json.loads(due.stdout)["due"] is False, due.stdout + due.stderr

    # Nothing left to retry, from the first bundle or from the retry itself: no new bundle.
    for bundle_id in (first_id, out["bundle_id"]):
        again = run_cli("run", "--retry-failed", bundle_id, registry=registry)
        assert again.returncode == 0 and "nothing to retry" in again.stdout, again.stdout + again.stderr
    assert len(json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)) == 2

    unknown = run_cli("run", "--retry-failed", "20261124T000000Z-000000", registry=registry)
    assert unknown.returncode == 2 and "no bundle" in unknown.stderr
    assert run_cli("run", "--retry-failed", first_id, "--page", "fine", registry=registry).returncode == 2
