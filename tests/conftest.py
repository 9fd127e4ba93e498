"""Shared fixtures: a loopback fixture site, the browser, registers and a CLI runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eark_check import eark_validator  # noqa: F401  (a session fixture, shared by the SIP tests)

from archiver.capture import find_browser
from archiver.demo.server import hang, serve_directory, status, tall_page

FIXTURES = Path(__file__).parent / "fixtures"
JAVA_JARS = ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")


@pytest.fixture(scope="session")
def site():
    """Fixture pages on 127.0.0.1, plus dynamic routes: a hanging page, error statuses, tall pages."""
    routes = {
        "/hang": hang,
        "/gone": status(404),
        "/tall-45000": tall_page(45_000),
        "/tall-12000": tall_page(12_000),
        "/tall-3000": tall_page(3_000),
    }
    with serve_directory(FIXTURES, routes=routes) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def browser_choice():
    return find_browser()


def register_yaml(pages: list[dict], store: Path, *, pdfa: str = "2b", timeout_s: float = 30,
                  max_height_px: int = 100_000, allow_private: bool = True, concurrency: int = 2,
                  retries: dict | None = None, wacz: bool = False) -> str:
    """A register for the tests. The WACZ is off unless asked for: recording costs every run ~10 %, and
    only the tests about the archive, its storage, export, timestamp and web page need it."""
    lines = [
        "organisation: Götene kommun (test)",
        "capture:",
        "  viewport: {width: 1280, height: 900}",
        f"  timeout_s: {timeout_s}",
        f"  max_height_px: {max_height_px}",
        f"  allow_private_networks: {'true' if allow_private else 'false'}",
        f"  concurrency: {concurrency}",
        *([f"  retries: {json.dumps(retries)}"] if retries is not None else []),
        "storage:",
        f"  local: {json.dumps(str(store))}",
        "bundle:",
        f"  pdfa: {json.dumps(pdfa)}",
        f"  wacz: {'true' if wacz else 'false'}",
        "pages:",
    ]
    for page in pages:
        lines.append(f"  - id: {page['id']}")
        lines.append(f"    platform: {page.get('platform', 'generic')}")
        lines.append(f"    url: {json.dumps(page['url'])}")
        lines.append(f"    owner: {page.get('owner', 'Kommunikationsavdelningen')}")
        for key in ("mobile", "max_posts"):
            if key in page:
                lines.append(f"    {key}: {json.dumps(page[key])}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_register(tmp_path):
    def write(pages, **options) -> Path:
        path = tmp_path / "pages.yaml"
        path.write_text(register_yaml(pages, tmp_path / "store", **options), encoding="utf-8")
        return path
    return write


def free_port() -> int:
    """A port free on 127.0.0.1 now, for a server the test starts as a process of its own."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, registry: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if registry is not None:
        env["ARCHIVER_REGISTRY"] = str(registry)
    return subprocess.run([sys.executable, "-m", "archiver", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300, check=False)


def preflight_classpath() -> str | None:
    jars = [Path("/usr/share/java") / f"{name}.jar" for name in JAVA_JARS]
    if not shutil.which("java") or not all(j.exists() for j in jars):
        return None
    return ":".join(str(j) for j in jars)


@pytest.fixture(scope="session")
def preflight():
    """Apache PDFBox Preflight, an independent PDF/A-1b validator. Required in CI, skipped elsewhere."""
    classpath = preflight_classpath()
    if classpath is None:
        if os.environ.get("CI"):
            pytest.fail("PDFBox Preflight is not installed (java + libpdfbox2-java); .ci/run installs it")
        pytest.skip("PDFBox Preflight not installed")

    def validate(pdf: Path) -> subprocess.CompletedProcess:
        return subprocess.run(["java", "-cp", classpath, "org.apache.pdfbox.preflight.Validator_A1b", str(pdf)],
                              capture_output=True, text=True, timeout=300, check=False)
    return validate


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory):
    """ReplayWeb.page's ui.js and sw.js (archiver/web/replay_assets.py), from npm once. Required in CI."""
    from archiver.errors import ConfigurationError
    from archiver.web import replay_assets

    if replay_assets.installed():
        return replay_assets.assets_dir()
    folder = tmp_path_factory.mktemp("replay") / f"replaywebpage-{replay_assets.VERSION}"
    try:
        return replay_assets.install(folder)
    except ConfigurationError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"ReplayWeb.page could not be installed ({exc}); .ci/run installs npm")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server on loopback for the whole session (tests/pgserver.py). Required in
    CI, skipped elsewhere when PostgreSQL's server is not installed (as Preflight is)."""
    from pgserver import INSTALL_HINT, postgres_bindir, running_postgres

    if postgres_bindir() is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path) -> str:
    """The same test on both catalogs the README offers: a SQLite file, and a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres").new_database()
