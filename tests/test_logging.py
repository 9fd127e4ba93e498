"""Item 6: logs on stderr carry run and page ids; JSON logs on request; stdout stays the result."""

from __future__ import annotations

import json

import pytest
from conftest import register_yaml, run_cli

pytestmark = pytest.mark.browser


@pytest.fixture
def registry(site, tmp_path):
    path = tmp_path / "pages.yaml"
    path.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"},
                                   {"id": "gone", "url": f"{site}/gone"}], tmp_path / "store"),
                    encoding="utf-8")
    return path


def test_json_logs_every_line_an_object_with_run_and_page_ids(registry):
    result = run_cli("--log-format", "json", "run", "--json", registry=registry)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)  # stdout is only the result
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is a JSON object
    assert records and all({"time", "level", "logger", "message", "run_id", "page_id"} <= set(r) for r in records)
    capture = [r for r in records if r["logger"] == "archiver.capture.page"]
    assert {r["page_id"] for r in capture} == {"short", "gone"}
    assert all(r["run_id"] == out["bundle_id"] for r in capture)
    failed = [r for r in capture if r["level"] == "WARNING"]
    assert failed and failed[0]["page_id"] == "gone"


def test_plain_logs_when_not_a_terminal_carry_run_and_page_ids(registry, monkeypatch):
    monkeypatch.delenv("ARCHIVER_LOG_FORMAT", raising=False)
    result = run_cli("run", "--json", registry=registry)  # stderr is a pipe: plain lines, no progress bar
    assert result.returncode == 1, result.stderr
    bundle_id = json.loads(result.stdout)["bundle_id"]
    lines = result.stderr.splitlines()
    assert any(f"[run={bundle_id} page=short]" in line and "captured" in line for line in lines), lines
    assert any(f"[run={bundle_id} page=gone]" in line and "failed" in line for line in lines), lines
    assert not any("\x1b[" in line for line in lines)  # no terminal control codes


def test_log_format_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "pages.yaml"
    path.write_text(register_yaml([{"id": "short", "url": "https://example.com/"}], tmp_path / "store"),
                    encoding="utf-8")
    monkeypatch.setenv("ARCHIVER_LOG_FORMAT", "json")
    result = run_cli("-v", "pages", "list", "--json", registry=path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["id"] == "short"
    assert all(isinstance(json.loads(line), dict) for line in result.stderr.splitlines())
    monkeypatch.setenv("ARCHIVER_LOG_FORMAT", "xml")
    assert run_cli("pages", "list", registry=path).returncode == 2
