"""Finding and starting Chromium: Playwright's own build where installed, else the system's."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from archiver.errors import ConfigurationError

log = logging.getLogger(__name__)

# Flags that keep Chromium from reaching out to Google's services and work as root in containers.
# WebRTC may use UDP only through the proxy (none does), so it cannot reach addresses around the
# private-address guard (archiver/capture/netguard.py); QUIC is off for the same reason. Chromium
# reads --webrtc-ip-handling-policy (156 verified); the --force- spelling is the older content switch.
# Chromium keeps only the last --disable-features it is given, and Playwright gives its own first: ours
# must repeat Playwright's (1.65's list, for automation that behaves: HTTP kept on HTTP, no paint
# holding, no calls to Google) or they would be switched back on. A test in tests/test_capture.py
# compares this with what the installed Playwright passes, so an upgrade that adds one fails there.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync", "DestroyProfileOnBrowserClose", "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable", "LensOverlay", "MediaRouter", "PaintHolding",
    "ThirdPartyStoragePartitioning", "AvoidCorsURLLoaderRestartOnRedirect", "TcpPortRandomizationWin",
    "OptimizationHints", "NetworkTimeServiceQuerying", "AimEnabled", "PreconnectToSearch",
    "msForceBrowserSignIn", "msEdgeUpdateLaunchServicesPreferredVersion",
)
# A full Chromium in headless mode (Debian's; not Playwright's headless shell) gives every new window, so
# every browser context, the address bar's pop-up: two WebUI pages of Chrome's own (`browser_ui` targets),
# loaded in a renderer of their own. That is about 0.4 CPU-seconds a page captured, more than the page
# itself costs; a headless capture never opens the address bar.
# Site isolation off (as Browsertrix runs): a cross-site frame then renders in the page's own renderer, so
# its requests pass through the page's CDP session, which records the visit (archiver/capture/record.py).
# Each capture is a throwaway context of its own; nothing of another site's is in it to protect.
OUR_DISABLED_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup", "WebUIOmniboxFullPopup",
                         "IsolateOrigins", "site-per-process")
CHROMIUM_ARGS = (
    "--disable-features=" + ",".join((*PLAYWRIGHT_DISABLED_FEATURES, *OUR_DISABLED_FEATURES)),
    "--no-sandbox",
    "--disable-site-isolation-trials",
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


async def _launch(playwright, choice: BrowserChoice, headless: bool = True):
    log.info("starting browser (%s%s)", choice.source, f": {choice.executable}" if choice.executable else "")
    return await playwright.chromium.launch(executable_path=choice.executable, args=list(CHROMIUM_ARGS),
                                            headless=headless)


@asynccontextmanager
async def launch_browser(choice: BrowserChoice, headless: bool = True) -> AsyncIterator:
    """One headless browser; contexts isolate the pages from each other. A run uses `keep_browser`.

    `headless=False` shows a window, for a person signing in (`archiver login`).
    """
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await _launch(p, choice, headless)
        try:
            yield browser
        finally:
            await browser.close()


# Restarts of a dead browser per run. A browser dies rarely (killed by the OOM killer or a person, a crash),
# so three cover a bad run; one that dies on every page ends the run's captures after three.
MAX_RESTARTS = 3


class BrowserKeeper:
    """The run's one browser, started again when it has died (`is_connected()` false: its processes were
    killed, it crashed), at most `max_restarts` times per run.

    `launch` starts a browser (an awaitable factory), so this is tested without one. Once the restarts are
    used up `get` hands back the dead browser and `exhausted` says why: captures on it fail at once.
    """

    def __init__(self, launch: Callable[[], Awaitable] | None, max_restarts: int = MAX_RESTARTS):
        self._launch = launch
        self.max_restarts = max_restarts if launch is not None else 0
        self.restarts = 0
        self.exhausted: str | None = None
        self._browser = None
        self._lock = asyncio.Lock()  # pages in flight that all saw it die restart it once

    @classmethod
    def fixed(cls, browser) -> BrowserKeeper:
        """A browser the caller started and owns (tests, scripts): used as it is, never restarted."""
        keeper = cls(None)
        keeper._browser = browser
        return keeper

    def fresh_budget(self) -> None:
        """A new allowance of restarts: a worker's browser outlives every run, so each capture job gets the
        bound a run has, and a browser given up on by one job is started again for the next."""
        self.restarts, self.exhausted = 0, None

    @property
    def version(self) -> str:
        return self._browser.version if self._browser is not None else ""

    async def get(self):
        """The live browser, started (again) if need be; the dead one once `exhausted`."""
        async with self._lock:
            dead = self._browser
            if dead is not None and (dead.is_connected() or self.exhausted):
                return dead
            if dead is not None:
                if self.restarts >= self.max_restarts:
                    stops = self.restarts + 1
                    self.exhausted = (f"the browser stopped {'once' if stops == 1 else f'{stops} times'} in this run "
                                      f"and is not started again (at most {self.max_restarts} restarts per run)")
                    log.error("%s", self.exhausted)
                    return dead
                self.restarts += 1
                log.warning("the browser stopped; starting it again (restart %d of at most %d in this run)",
                            self.restarts, self.max_restarts)
                await _close_quietly(dead)
            from playwright.async_api import Error as PlaywrightError

            try:
                self._browser = await self._launch()
            except PlaywrightError as exc:
                if dead is None:
                    raise  # the first start: no browser at all is the caller's error, before any page
                self.exhausted = f"the browser stopped and could not be started again: {exc}"
                log.error("%s", self.exhausted)
            return self._browser

    async def close(self) -> None:
        if self._browser is not None:
            await _close_quietly(self._browser)


async def _close_quietly(browser) -> None:
    from playwright.async_api import Error as PlaywrightError

    try:
        await browser.close()
    except PlaywrightError as exc:  # a browser already dead may refuse
        log.debug("closing the browser: %s", exc)


@asynccontextmanager
async def keep_browser(choice: BrowserChoice, max_restarts: int = MAX_RESTARTS) -> AsyncIterator[BrowserKeeper]:
    """A run's browser (headless), started now, so a browser that cannot start fails before any page, and
    started again when it dies (`BrowserKeeper`)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        keeper = BrowserKeeper(lambda: _launch(p, choice), max_restarts)
        try:
            await keeper.get()
            yield keeper
        finally:
            await keeper.close()
