"""Finding and starting Chromium: Playwright's own build where installed, else the system's."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import ConfigurationError

log = logging.getLogger(__name__)

# Flags that keep Chromium from reaching out to Google's services and work as root in containers.
# WebRTC may use UDP only through the proxy (none does), so it cannot reach addresses around the
# private-address guard (archiver/capture/netguard.py); QUIC is off for the same reason. Chromium
# reads --webrtc-ip-handling-policy (156 verified); the --force- spelling is the older content switch.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--hide-scrollbars",
    "--font-render-hinting=none",
)
SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


@dataclass(frozen=True)
class BrowserChoice:
    executable: str | None  # None: Playwright's own build
    source: str  # "ARCHIVER_BROWSER", "playwright" or "system"


def _browsers_path(env: Mapping[str, str]) -> Path:
    """Where Playwright keeps its downloaded browsers (its own rules, per operating system)."""
    if env.get("PLAYWRIGHT_BROWSERS_PATH") not in (None, "", "0"):
        return Path(env["PLAYWRIGHT_BROWSERS_PATH"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if sys.platform == "win32":
        return Path(env.get("LOCALAPPDATA", Path.home())) / "ms-playwright"
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ms-playwright"


def _playwright_build(env: Mapping[str, str]) -> Path | None:
    """Where this Playwright's own headless Chromium would be, from its browsers.json; None if it can't tell.

    Reading the revision from the package saves starting Playwright's driver (most of a second) on
    every command just to ask.
    """
    import playwright

    try:
        manifest = json.loads((Path(playwright.__file__).parent / "driver/package/browsers.json").read_text())
        revision = next(b["revision"] for b in manifest["browsers"] if b["name"] == "chromium-headless-shell")
    except (OSError, ValueError, KeyError, StopIteration):
        return None
    if env.get("PLAYWRIGHT_BROWSERS_PATH") == "0":
        return None
    return _browsers_path(env) / f"chromium_headless_shell-{revision}"


def _playwright_executable() -> str | None:
    build = _playwright_build(os.environ)
    if build is not None:
        return str(build) if build.is_dir() else None
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Error:
        return None
    return path if path and Path(path).exists() else None


def find_browser(
    env: Mapping[str, str] | None = None,
    playwright_executable: Callable[[], str | None] = _playwright_executable,
    which: Callable[[str], str | None] = shutil.which,
) -> BrowserChoice:
    """ARCHIVER_BROWSER wins; then Playwright's downloaded build; then a system Chromium."""
    env = os.environ if env is None else env
    override = env.get("ARCHIVER_BROWSER")
    if override:
        path = which(override) or override
        if not Path(path).exists():
            raise ConfigurationError(f"ARCHIVER_BROWSER={override!r}: no such browser executable")
        return BrowserChoice(path, "ARCHIVER_BROWSER")
    if playwright_executable():
        return BrowserChoice(None, "playwright")
    for name in SYSTEM_NAMES:
        path = which(name)
        if path:
            return BrowserChoice(path, "system")
    raise ConfigurationError(
        "no Chromium found: run `make install` (installs Playwright's browser, or Debian's chromium "
        "as root), or set ARCHIVER_BROWSER to a Chromium executable"
    )


@asynccontextmanager
async def launch_browser(choice: BrowserChoice, headless: bool = True) -> AsyncIterator:
    """One headless browser for a whole run; contexts isolate the pages from each other.

    `headless=False` shows a window, for a person signing in (`archiver login`).
    """
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        log.info("starting browser (%s%s)", choice.source,
                 f": {choice.executable}" if choice.executable else "")
        browser = await p.chromium.launch(
            executable_path=choice.executable, args=list(CHROMIUM_ARGS), headless=headless
        )
        try:
            yield browser
        finally:
            await browser.close()
