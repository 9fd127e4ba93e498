"""The `archiver` command as an operator and a registrar use it: JSON, exit codes, messages."""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path

import pytest
from conftest import register_yaml, run_cli


def test_bad_register_is_refused_with_file_line_and_field(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(
        "organisation: Götene kommun\n"
        "capture:\n"
        "  viewprt: {width: 1280, height: 900}\n"
        "pages:\n"
        "  - id: facebook\n"
        "    platform: facebook\n"
        "    url: ftp://www.facebook.com/gotene\n",
        encoding="utf-8")
    for args in (["pages", "check"], ["run", "--json"], ["pages", "list"]):
        result = run_cli(*args, registry=registry)
        assert result.returncode == 2, (args, result.stderr)
        assert f"{registry}:3: capture.viewprt" in result.stderr
        assert f"{registry}:7: pages[0].url" in result.stderr
        assert result.stdout == ""


def test_pages_list_json(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "fb", "platform": "facebook", "url": "https://www.facebook.com/x"}],
                                      tmp_path / "store", allow_private=False), encoding="utf-8")
    result = run_cli("pages", "list", "--json", registry=registry)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0] == {"id": "fb", "platform": "facebook", "url": "https://www.facebook.com/x",
                                            "owner": "Kommunikationsavdelningen", "name": None}
    assert run_cli("pages", "check", registry=registry).returncode == 0


def test_shipped_example_register_is_valid():
    root = Path(__file__).parent.parent
    assert run_cli("pages", "check", cwd=root).returncode == 0


def test_missing_register_exits_2(tmp_path):
    result = run_cli("pages", "list", registry=tmp_path / "nope.yaml")
    assert result.returncode == 2 and "nope.yaml" in result.stderr


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory, site):
    tmp = tmp_path_factory.mktemp("cli")
    registry = tmp / "pages.yaml"
    registry.write_text(register_yaml([
        {"id": "feed", "platform": "facebook", "url": f"{site}/feed.html"},
        {"id": "gone", "url": f"{site}/gone"},
    ], tmp / "store", wacz=True), encoding="utf-8")
    started = time.perf_counter()
    result = run_cli("run", "--json", "--profile", str(tmp / "profile.json"), registry=registry)
    result.wall_s = time.perf_counter() - started
    return registry, result


@pytest.mark.browser
def test_profile_times_every_step_of_the_run_and_of_each_page_and_adds_up(partial_run):
    registry, result = partial_run
    profile = json.loads((registry.parent / "profile.json").read_text(encoding="utf-8"))
    steps = [s["name"] for s in profile["run"]]
    assert steps[:2] == ["start-up", "browser start"] and steps[-1] == "other", steps
    for name in ("captures", "PDF build", "PDF/A validation and save", "manifest", "store", "catalog"):
        assert name in steps
    # The steps (parts "within" another left out) add up to the process's own time, which the wall clock
    # around the command exceeds by the interpreter's exit (how far the bench reports: no timing here).
    total = sum(s["wall_s"] for s in profile["run"] if "within" not in s)
    assert abs(total - profile["wall_s"]) < 0.05 and profile["wall_s"] <= result.wall_s + 0.02  # clock ticks
    browser = next(s for s in profile["run"] if s["name"] == "browser start")
    assert browser["browser_cpu_s"] > 0 and browser["cpu_s"] > 0  # Chromium started; our set-up ran meanwhile
    feed = [s["name"] for s in profile["pages"]["feed"]]
    assert feed[:5] == ["context", "navigation", "consent", "pop-ups", "account check"], feed
    assert {"scroll", "settle", "text", "tiles", "close"} <= set(feed)
    gone = [s["name"] for s in profile["pages"]["gone"]]
    assert gone == ["context", "navigation", "close"], gone  # a failed page's steps end where it failed
    captures = next(s for s in profile["run"] if s["name"] == "captures")["wall_s"]
    assert sum(s["wall_s"] for s in profile["pages"]["feed"] if "within" not in s) <= captures


@pytest.mark.browser
def test_run_with_a_failed_page_exits_1_and_bundles_the_rest(partial_run):
    _registry, result = partial_run
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    # The tiles waited on disk for the PDF (archiver.pipeline._tile_spool); that folder is gone with the run.
    assert not list(Path(tempfile.gettempdir()).glob(f"archiver-tiles-{out['bundle_id']}-*"))
    assert set(out) == {"bundle_id", "pdf", "manifest", "pages", "wacz"}
    assert out["pages"] == [{"id": "feed", "variant": "desktop", "status": "ok", "error": None, "failure": None},
                            {"id": "gone", "variant": "desktop", "status": "failed",
                             "error": "HTTP 404 Not Found: the page does not exist", "failure": "unavailable"}]
    pdf = Path(out["pdf"])
    assert pdf.is_file() and pdf.parent.parent.name == out["bundle_id"][:4]
    assert pdf.parent.name == out["bundle_id"] and Path(out["manifest"]).parent == pdf.parent
    # The web archive of the same visit lies beside the PDF, named with its SHA-256 (issue 15).
    wacz = Path(out["wacz"]["file"])
    assert wacz.parent == pdf.parent and wacz.name == f"{out['bundle_id']}.wacz"
    assert hashlib.sha256(wacz.read_bytes()).hexdigest() == out["wacz"]["sha256"]
    assert out["wacz"]["bytes"] == wacz.stat().st_size


@pytest.mark.browser
def test_verify_register_get_and_tamper(partial_run, tmp_path):
    registry, result = partial_run
    out = json.loads(result.stdout)
    bundle_id = out["bundle_id"]

    verified = run_cli("bundles", "verify", bundle_id, "--json", registry=registry)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True

    registered = run_cli("register", bundle_id, "--dnr", "KS 2026/123", "--by", "Registrator Rut",
                         registry=registry)
    assert registered.returncode == 0, registered.stderr
    listing = json.loads(run_cli("bundles", "list", "--json", registry=registry).stdout)
    (row,) = [r for r in listing if r["id"] == bundle_id]
    assert row["registrations"][0]["dnr"] == "KS 2026/123"
    assert row["registrations"][0]["registered_by"] == "Registrator Rut"
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["registrations"][0]["dnr"] == "KS 2026/123"
    assert run_cli("bundles", "verify", bundle_id, registry=registry).returncode == 0

    fetched = run_cli("bundles", "get", bundle_id, "--out", str(tmp_path / "dl"), registry=registry)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "dl" / Path(out["pdf"]).name).read_bytes() == Path(out["pdf"]).read_bytes()
    wacz = Path(out["wacz"]["file"])  # the web archive comes with it, and the copy verifies with it
    assert (tmp_path / "dl" / wacz.name).read_bytes() == wacz.read_bytes()
    copied = run_cli("bundles", "verify", str(tmp_path / "dl"), registry=registry)
    assert copied.returncode == 0 and "ok    WACZ files match datapackage.json" in copied.stdout, copied.stdout
    again = run_cli("bundles", "get", bundle_id, "--out", str(tmp_path / "dl"), registry=registry)
    assert again.returncode != 0 and "already exists" in again.stderr

    copy = tmp_path / "dl"
    pdf_copy = copy / Path(out["pdf"]).name
    data = bytearray(pdf_copy.read_bytes())
    data[-100] ^= 0x20
    pdf_copy.write_bytes(bytes(data))
    tampered = run_cli("bundles", "verify", str(copy), registry=registry)
    assert tampered.returncode == 1
    assert "FAIL  PDF SHA-256 matches manifest" in tampered.stdout


@pytest.mark.browser
def test_run_if_due_and_snapshot(site, tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"}], tmp_path / "store"),
                        encoding="utf-8")
    first = run_cli("run", "--if-due", "--json", registry=registry)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["pages"][0]["status"] == "ok"
    second = run_cli("run", "--if-due", "--json", registry=registry)
    assert second.returncode == 0
    assert json.loads(second.stdout)["due"] is False and json.loads(second.stdout)["next_due"]

    snap = run_cli("snapshot", "short", "--reason", "ny omslagsbild", "--by", "Kim", "--json", registry=registry)
    assert snap.returncode == 0, snap.stderr
    manifest = json.loads(Path(json.loads(snap.stdout)["manifest"]).read_text())
    assert manifest["reason"] == "pre-change: ny omslagsbild" and manifest["requested_by"] == "Kim"


def test_unknown_ids_exit_2(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": "http://127.0.0.1:9/short.html"}], tmp_path / "s"),
                        encoding="utf-8")
    result = run_cli("run", "--page", "nosuch", registry=registry)
    assert result.returncode == 2 and "nosuch" in result.stderr
    assert not (tmp_path / "s").exists()
    assert run_cli("snapshot", "nosuch", "--reason", "x", "--by", "y", registry=registry).returncode == 2
    assert run_cli("bundles", "verify", "20261124T000000Z-000000", registry=registry).returncode == 2
    assert run_cli("bundles", "get", "../../etc", "--out", str(tmp_path / "o"), registry=registry).returncode == 2
    assert run_cli("register", "20261124T000000Z-000000", "--dnr", "KS 1", "--by", "x",
                   registry=registry).returncode == 2


@pytest.mark.browser
def test_run_where_every_page_fails_still_bundles_and_names_them(site, tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "gone", "url": f"{site}/gone"}], tmp_path / "store"),
                        encoding="utf-8")
    result = run_cli("run", "--json", registry=registry)
    assert result.returncode == 1, result.stderr
    out = json.loads(result.stdout)
    assert out["pages"] == [{"id": "gone", "variant": "desktop", "status": "failed",
                             "error": "HTTP 404 Not Found: the page does not exist", "failure": "unavailable"}]
    manifest = json.loads(Path(out["manifest"]).read_text())
    assert manifest["failures"] == [{"id": "gone", "variant": "desktop", "failure": "unavailable",
                                     "error": "HTTP 404 Not Found: the page does not exist"}]
    assert run_cli("bundles", "verify", out["bundle_id"], registry=registry).returncode == 0


def test_every_command_is_found_and_start_up_loads_no_browser_pdf_or_database_code():
    """`archiver pages check` from cron must start in a fraction of a second: the commands' modules, and the
    pipeline's heavy libraries, load only when a command that needs them runs."""
    import subprocess
    import sys

    import click

    from archiver.cli import COMMANDS, cli
    for name in COMMANDS:
        assert isinstance(cli.get_command(click.Context(cli), name), click.Command), name
    probe = ("import sys; from archiver.cli import main; sys.argv = ['archiver', '--version']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('playwright', 'pikepdf', 'fpdf', 'sqlalchemy', 'boto3', 'pydantic') if m in sys.modules]\n"
             "print('loaded:' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "archiver, version" in out and out.rstrip().endswith("loaded:"), out
