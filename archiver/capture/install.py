"""`make install`'s browser step: Playwright's own Chromium where it downloads, else the system's.

Run as `python -m archiver.capture.install`. Exits 0 once `find_browser` will find a browser.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

from archiver.bundle.fonts import find_font
from archiver.capture.browser import SYSTEM_NAMES, find_browser
from archiver.errors import ConfigurationError

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT_S = 300
APT_PACKAGES = ("chromium", "fonts-dejavu-core")


def _try(cmd: list[str], timeout: float | None = None) -> bool:
    log.info("running: %s", " ".join(cmd))
    try:
        return subprocess.run(cmd, timeout=timeout, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: %s", cmd[0], exc)
        return False


def _apt_install(*packages: str) -> bool:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    return subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env).returncode == 0


def ensure_font() -> str:
    """The PDF's labels need a TrueType font to embed; DejaVu Sans is the one we look for."""
    try:
        return str(find_font())
    except ConfigurationError:
        _apt_install("fonts-dejavu-core")
        return str(find_font())


def ensure_browser() -> str:
    if os.environ.get("ARCHIVER_BROWSER"):
        return f"ARCHIVER_BROWSER={find_browser().executable}"
    if _try([sys.executable, "-m", "playwright", "install", "chromium"], DOWNLOAD_TIMEOUT_S):
        return "Playwright's Chromium"
    log.warning("Playwright's browser could not be downloaded; using the system's Chromium")
    if not any(shutil.which(name) for name in SYSTEM_NAMES) and not _apt_install(*APT_PACKAGES):
        raise ConfigurationError("no Chromium: install your distribution's chromium package "
                                 "(e.g. `sudo apt-get install chromium`) or set ARCHIVER_BROWSER")
    choice = find_browser()
    return f"{choice.source} Chromium at {choice.executable}"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="install: %(message)s")
    try:
        log.info("browser ready: %s", ensure_browser())
        log.info("font for the PDF's text: %s", ensure_font())
    except ConfigurationError as exc:
        log.error("%s", exc)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
