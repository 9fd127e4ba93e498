"""Capturing one page: a fresh browser context, the capture script's steps, then the tiles.

Every page is a self-contained job (page + settings in, `PageCapture` out) in its own context, so
cookies, sessions and failures never leak from one page to the next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from archiver.capture import post as post_steps
from archiver.capture import screenshot, steps
from archiver.capture.consent import Autoconsent
from archiver.capture.inpage import script
from archiver.capture.netguard import NetGuard
from archiver.capture.network import NetworkWatch
from archiver.capture.recipes import recipe_for
from archiver.capture.steps import Budget, PageFailed
from archiver.capture.throttle import Throttle, apply_throttle
from archiver.logcontext import page_id_var
from archiver.models import PageCapture, utcnow
from archiver.profile import CpuSampler, StepClock

log = logging.getLogger(__name__)

# A mid-range Android phone (Pixel 7) in CSS pixels; drawn at one image pixel per CSS pixel like the desktop.
MOBILE_VIEWPORT = {"width": 412, "height": 915}


@dataclass(frozen=True)
class CaptureSettings:
    """What one capture needs from the register; a worker could receive exactly this."""

    viewport_width: int = 1280
    viewport_height: int = 900
    timeout_s: float = 90.0
    max_height_px: int = 100_000
    max_posts: int | None = None
    scroll_budget_s: float = 30.0
    feed_settle_s: float = 3.5  # a feed's next batch may take this long after the bottom comes into view
    allow_private_networks: bool = False
    concurrency: int = 2
    locale: str = "sv-SE"
    timezone: str = "Europe/Stockholm"
    consent_library: bool = True
    sessions_dir: str | None = None  # saved logins (`archiver login`); None: captures are anonymous
    attempts: int = 2  # tries per page in one run (capture.retries.attempts); 1 = no retry
    backoff_s: float = 10.0  # wait before the second try, doubled before each further one
    # Makes each page's address guard when allow_private_networks is false; tests give it their resolver.
    net_guard: Callable[[], NetGuard] = NetGuard
    throttle: Throttle | None = None  # emulated slow network and CPU, for tests and benchmarks only
    profile: bool = False  # CPU seconds per step as well as wall seconds (archiver.profile)
    tile_spool: str | None = None  # a folder the tiles' PNGs wait in until the PDF is built; None: in memory
    record: bool = False  # a WARC of the visit (bundle.wacz): in tile_spool, else the temporary folder
    run_id: str | None = None  # the bundle the captures are for, named in each WARC's warcinfo

    @classmethod
    def from_register(cls, capture, sessions_dir: str | Path | None = None, record: bool = False) -> CaptureSettings:
        return cls(
            record=record,
            viewport_width=capture.viewport.width,
            viewport_height=capture.viewport.height,
            timeout_s=capture.timeout_s,
            max_height_px=capture.max_height_px,
            max_posts=capture.max_posts,
            scroll_budget_s=capture.scroll_budget_s,
            feed_settle_s=capture.feed_settle_s,
            allow_private_networks=capture.allow_private_networks,
            concurrency=capture.concurrency or auto_concurrency(),
            sessions_dir=str(sessions_dir) if sessions_dir else None,
            attempts=capture.retries.attempts,
            backoff_s=capture.retries.backoff_s,
        )


PAGE_MEMORY_BYTES = 768 * 2**20  # what one page in flight may take: its renderer, its segments' pixels
MAX_AUTO_CONCURRENCY = 8


def auto_concurrency(cpus: int | None = None, available_bytes: int | None = None) -> int:
    """Pages at once when the register does not say: one per core and one more, fewer if the memory
    available now would not hold PAGE_MEMORY_BYTES each; 1 to MAX_AUTO_CONCURRENCY. Unknown figures
    count as no limit.

    Capturing is mostly CPU work (Chromium lays out, rasterises and encodes; we decode and hash), but
    every page also waits: for its document, for quiet before the late-consent look, for images. The
    extra page fills those waits: ten plain pages on 2 cores took 5.2 s at 2, 4.4-4.6 s at 3, no less at 4.
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if available_bytes is None:
        import psutil

        available_bytes = psutil.virtual_memory().available  # free, plus the cache the kernel would give up
    wanted = cpus + 1
    by_memory = available_bytes // PAGE_MEMORY_BYTES if available_bytes else wanted
    return max(1, min(wanted, by_memory, MAX_AUTO_CONCURRENCY))


def _load_session(capture: PageCapture, recipe, settings: CaptureSettings):
    if not settings.sessions_dir:
        return None
    from archiver.capture import session as sessions

    found = sessions.load_session(capture.platform, Path(settings.sessions_dir), recipe, datetime.now(UTC))
    if found is None:
        return None
    if found.problem:
        raise PageFailed(found.problem, "session_expired")
    capture.session = str(found.path)
    return found


def _context_options(settings: CaptureSettings, variant: str, user_agents: dict[str, str]) -> dict:
    if variant == "mobile":
        viewport = MOBILE_VIEWPORT
        options = {"is_mobile": True, "has_touch": True}
    else:
        viewport = {"width": settings.viewport_width, "height": settings.viewport_height}
        options = {}
    if settings.record:  # what a service worker fetched would not pass through the page's session
        options["service_workers"] = "block"
    return {"viewport": viewport, "device_scale_factor": 1, "locale": settings.locale,
            "timezone_id": settings.timezone, "user_agent": user_agents.get(variant), **options}


async def _capture_into(browser, capture: PageCapture, page_entry, settings: CaptureSettings, budget: Budget,
                        user_agents: dict[str, str], single_post: bool = False) -> None:
    """The capture script. A page scrolls to load its feed; a single post expands its text and comments."""
    recipe = recipe_for(capture.platform)
    session = _load_session(capture, recipe, settings)
    options = _context_options(settings, capture.variant, user_agents)
    if session is not None:
        options["storage_state"] = session.state
    # Every connection of the context goes through its own guard, so what it refuses is this page's.
    clock = StepClock(CpuSampler() if settings.profile else None, label=capture.key)
    guard = context = recorder = None
    try:
        capture.viewport = dict(options["viewport"])
        capture.browser = f"Chromium {browser.version}"
        with clock.step("context"):
            # Every connection of the context goes through its own guard, so what it refuses is this page's.
            guard = None if settings.allow_private_networks else await settings.net_guard().start()
            context = await browser.new_context(**options, **({"proxy": guard.proxy} if guard else {}))
            autoconsent = Autoconsent() if settings.consent_library else None
            if autoconsent is not None and not await autoconsent.install(context):
                autoconsent = None
            await context.add_init_script(script=script("observe.js"))
            await context.add_init_script(script=script("pending.js"))
            page = await context.new_page()
            if settings.throttle:  # before navigating; the session is never detached, so it holds for the page's life
                await apply_throttle(context, page, settings.throttle)
            network = NetworkWatch()
            network.attach(page)
            if settings.record:
                recorder = await _start_recording(context, page, capture, settings, options)
        width, height = options["viewport"]["width"], options["viewport"]["height"]
        max_posts = getattr(page_entry, "max_posts", None) or settings.max_posts

        with clock.step("navigation"):
            await steps.open_page(page, capture, budget)
        with clock.step("consent"):
            await steps.answer_consent(page, capture, recipe, autoconsent, budget)
        with clock.step("pop-ups"):
            await steps.dismiss_popups(page, capture, recipe)
        with clock.step("account check"):
            await steps.check_account(page, capture, recipe, session_used=session is not None)
        if single_post:
            async def scroll_down(seconds: float) -> None:  # comments that load as they come into view
                await steps.load_everything(page, capture, recipe, budget, viewport_height=height,
                                            max_height_px=settings.max_height_px, max_posts=None,
                                            scroll_budget_s=min(settings.scroll_budget_s, seconds), network=network,
                                            feed_settle_s=min(settings.feed_settle_s, post_steps.COMMENTS_SETTLE_S),
                                            report_cut=False)

            with clock.step("expand post"):
                await post_steps.expand_post(page, capture, recipe, budget, network, scroll_down=scroll_down)
        else:
            with clock.step("scroll"):
                await steps.load_everything(page, capture, recipe, budget, viewport_height=height,
                                            max_height_px=settings.max_height_px, max_posts=max_posts,
                                            scroll_budget_s=settings.scroll_budget_s, network=network,
                                            feed_settle_s=settings.feed_settle_s)
        with clock.step("late consent"):
            await steps.answer_consent(page, capture, recipe, autoconsent, budget, network=network)
        with clock.step("late pop-ups"):
            await steps.dismiss_popups(page, capture, recipe)
        if single_post:
            with clock.step("read post"):
                await post_steps.read_post(page, capture, recipe)
        with clock.step("settle"):
            await steps.settle(page, capture, budget)
        with clock.step("measure"):
            await steps.measure(page, capture, width=width, max_height_px=settings.max_height_px)
        with clock.step("text"):
            await steps.read_text(page, capture)
            if not single_post:
                await steps.read_posts(page, capture, recipe)
        with clock.step("tiles"):
            cdp = await context.new_cdp_session(page)
            await screenshot.capture_tiles(cdp, capture, Path(settings.tile_spool) if settings.tile_spool else None,
                                           page_png=recorder.screenshot_path if recorder is not None else None)
        if recorder is not None:
            with clock.step("recording"):
                await recorder.stop()
                await recorder.finish(capture)
                recorder = None
        if autoconsent is not None:
            capture.dismissed.extend(autoconsent.answered())  # an opt-out that finished late
        capture.status = "ok"
    except PlaywrightError as exc:
        explained = guard.failure_for(str(exc)) if guard is not None else None
        if explained is None:
            raise
        raise PageFailed(*explained) from exc
    finally:
        with clock.step("close"):
            try:
                if context is not None:
                    await context.close()
                if recorder is not None:  # the capture failed: its recording is not kept
                    await recorder.warc.abandon()
            finally:
                if guard is not None:
                    await guard.close()
                    capture.warnings.extend(guard.warnings())
        capture.timings = clock.as_list()


async def _start_recording(context, page, capture: PageCapture, settings: CaptureSettings, options: dict):
    from archiver import TOOL_NAME, __version__
    from archiver.capture.record import Recorder
    from archiver.capture.warcfile import WarcFile

    folder = Path(settings.tile_spool) if settings.tile_spool else Path(tempfile.mkdtemp(prefix="archiver-warc-"))
    name = f"{settings.run_id or 'capture'}-{capture.key}-{uuid.uuid4().hex[:8]}.warc.gz"
    warc = WarcFile(folder / name, {
        "software": f"{TOOL_NAME} {__version__} (warcio, recording in the page's own CDP session)",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "isPartOf": settings.run_id or "",
        "description": f"{capture.key}: {capture.requested_url}",
        "browser": capture.browser or "",
        "http-header-user-agent": options.get("user_agent") or "",
    })
    recorder = Recorder(warc, folder)
    try:
        await recorder.start(context, page)
    except BaseException:
        await warc.abandon()
        raise
    return recorder


async def visitor_user_agents(browser) -> dict[str, str]:
    """The browser's own user agent without "HeadlessChrome" (which sites treat as a bot), and a phone's."""
    cdp = await browser.new_browser_cdp_session()
    try:
        desktop = (await cdp.send("Browser.getVersion"))["userAgent"].replace("HeadlessChrome", "Chrome")
    finally:
        await cdp.detach()
    major = browser.version.split(".")[0]
    mobile = (f"Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/{major}.0.0.0 Mobile Safari/537.36")
    return {"desktop": desktop, "mobile": mobile}


async def capture_page(browser, page, settings: CaptureSettings, user_agents: dict[str, str] | None = None,
                       variant: str = "desktop") -> PageCapture:
    """Capture one register page within `settings.timeout_s`; never raises for a page's own failure."""
    page_id_var.set(page.id if variant == "desktop" else f"{page.id}.{variant}")  # for log lines
    capture = PageCapture(page_id=page.id, platform=page.platform, requested_url=page.url,
                          owner=page.owner, name=getattr(page, "name", None), variant=variant)
    return await _run(browser, capture, page, settings, user_agents)


async def capture_post(browser, page_entry, url: str, settings: CaptureSettings,
                       user_agents: dict[str, str] | None = None) -> PageCapture:
    """Capture one post or comment thread at `url`, of the register account `page_entry`, fully expanded.

    Like `capture_page`, but instead of scrolling a feed it clicks every "see more" and collapsed-replies
    control (`archiver.capture.post.expand_post`) and records the post's permalink, author and time as
    shown in `capture.post`. An expansion left incomplete is a warning; the capture is still ok.
    Never raises for the post's own failure.
    """
    page_id_var.set(page_entry.id)
    capture = PageCapture(page_id=page_entry.id, platform=page_entry.platform, requested_url=url,
                          owner=getattr(page_entry, "owner", None), name=getattr(page_entry, "name", None))
    if user_agents is None:
        user_agents = await visitor_user_agents(browser)
    return await _run(browser, capture, page_entry, settings, user_agents, single_post=True)


async def _run(browser, capture: PageCapture, page_entry, settings: CaptureSettings,
               user_agents: dict[str, str] | None, single_post: bool = False) -> PageCapture:
    variant = capture.variant
    capture.started_at = utcnow()
    budget = Budget(asyncio.get_running_loop().time() + settings.timeout_s)
    try:
        await asyncio.wait_for(_capture_into(browser, capture, page_entry, settings, budget, user_agents or {},
                                             single_post=single_post), settings.timeout_s)
    except (TimeoutError, PlaywrightTimeout):
        capture.error = f"timed out after {settings.timeout_s:g} s (capture.timeout_s)"
        capture.failure = "timeout"
    except PageFailed as exc:
        capture.error = str(exc)
        capture.failure = exc.failure
    except PlaywrightError as exc:
        capture.error = str(exc).splitlines()[0]
        capture.failure = "error"
    capture.finished_at = utcnow()
    if not capture.ok:
        capture.status = "failed"
        capture.tiles = []
        log.warning("%s (%s): failed: %s", capture.page_id, variant, capture.error)
    else:
        log.info("%s (%s): captured %dx%d px in %d tiles", capture.page_id, variant, capture.width, capture.height,
                 len(capture.tiles))
    return capture
