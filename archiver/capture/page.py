"""Capturing one page exactly: load, settle, measure, then clipped tiles straight from Chromium.

Each tile is one CDP `Page.captureScreenshot` with `captureBeyondViewport`, clipped to that tile's
rows. That keeps every tile far below Chromium's texture limit (so nothing is blended or white
far down the page), keeps the browser's PNG bytes as they are (no decode and re-encode before
the PDF), and leaves fixed headers where a visitor sees them: once, at the top.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from archiver.capture import tiles as tiling
from archiver.models import PageCapture, Tile, utcnow
from archiver.register.schema import is_private_host

log = logging.getLogger(__name__)

SEAM_PROBE_PX = 8
SETTLE_BUDGET_S = 10.0
LOAD_SHARE = 0.5  # of the time left after the document arrived

FREEZE_CSS = """
*, *::before, *::after {
  animation-play-state: paused !important;
  transition: none !important;
  caret-color: transparent !important;
}
"""

# Resolves when web fonts are loaded and every <img> has finished (loaded or failed) and decoded.
SETTLE_JS = """
async (budgetMs) => {
  const deadline = Date.now() + budgetMs;
  const until = (p) => Promise.race([p, new Promise(r => setTimeout(r, Math.max(0, deadline - Date.now())))]);
  if (document.fonts) await until(document.fonts.ready);
  const imgs = Array.from(document.images);
  await until(Promise.all(imgs.map(img => img.complete ? (img.decode ? img.decode().catch(() => {}) : null)
      : new Promise(r => { img.addEventListener('load', r, {once: true}); img.addEventListener('error', r, {once: true}); }))));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  window.scrollTo(0, 0);
  return true;
}
"""

MEASURE_JS = """
() => {
  const d = document.documentElement, b = document.body;
  return {height: Math.max(d.scrollHeight, d.offsetHeight, b ? b.scrollHeight : 0, b ? b.offsetHeight : 0),
          title: document.title, userAgent: navigator.userAgent, dpr: window.devicePixelRatio};
}
"""


@dataclass(frozen=True)
class CaptureSettings:
    """What one capture needs from the register; a worker could receive exactly this."""

    viewport_width: int = 1280
    viewport_height: int = 900
    timeout_s: float = 90.0
    max_height_px: int = 100_000
    allow_private_networks: bool = False
    concurrency: int = 2
    locale: str = "sv-SE"
    timezone: str = "Europe/Stockholm"

    @classmethod
    def from_register(cls, capture) -> CaptureSettings:
        return cls(
            viewport_width=capture.viewport.width,
            viewport_height=capture.viewport.height,
            timeout_s=capture.timeout_s,
            max_height_px=capture.max_height_px,
            allow_private_networks=capture.allow_private_networks,
            concurrency=capture.concurrency,
        )


class PageFailed(Exception):
    """A page could not be captured; the message goes into the bundle as the page's error."""


async def _guard_private(route) -> None:
    """Refuse requests (redirects included) to loopback or private addresses."""
    if is_private_host(urlsplit(route.request.url).hostname or ""):
        await route.abort("blockedbyclient")
    else:
        await route.continue_()


async def _shot(cdp, top: int, width: int, height: int) -> bytes:
    result = await cdp.send("Page.captureScreenshot", {
        "format": "png",
        "clip": {"x": 0, "y": top, "width": width, "height": height, "scale": 1},
        "captureBeyondViewport": True,
        "fromSurface": True,
    })
    return base64.b64decode(result["data"])


async def _capture_tile(cdp, top: int, width: int, height: int) -> tuple[bytes, Image.Image]:
    png, image = tiling.normalise_png(await _shot(cdp, top, width, height))
    if image.size != (width, height):
        raise PageFailed(f"browser returned a {image.size[0]}x{image.size[1]} image for a "
                         f"{width}x{height} tile at y={top}")
    return png, image


async def _seam_matches(cdp, width: int, top: int, upper_rows: Image.Image, lower: Image.Image) -> bool:
    """Does a fresh capture straddling the seam at `top` equal the rows the two tiles put there?"""
    probe_down = min(SEAM_PROBE_PX, lower.height)
    _, fresh = tiling.normalise_png(await _shot(cdp, top - upper_rows.height, width,
                                                upper_rows.height + probe_down))
    expected = tiling.stack([upper_rows, lower.crop((0, 0, width, probe_down))])
    return fresh.tobytes() == expected.tobytes()


def _bottom_rows(image: Image.Image) -> Image.Image:
    return image.crop((0, max(0, image.height - SEAM_PROBE_PX), image.width, image.height))


async def _capture_tiles(cdp, capture: PageCapture) -> None:
    """Capture tile by tile, checking each seam as it is made, holding one decoded tile at a time.

    A seam that differs from a fresh capture gets its lower tile captured again; if it still
    differs, the page is changing under us and the capture says so rather than hiding it.
    """
    bounds = tiling.plan_tiles(capture.height, tiling.tile_height_for(capture.width))
    digest = hashlib.sha256()
    previous_rows = None
    mismatched = []
    for index, (top, height) in enumerate(bounds):
        png, image = await _capture_tile(cdp, top, capture.width, height)
        if previous_rows is not None and not await _seam_matches(cdp, capture.width, top, previous_rows, image):
            log.info("%s: seam at y=%d differs from a fresh capture; capturing the tile again", capture.page_id, top)
            png, image = await _capture_tile(cdp, top, capture.width, height)
            if not await _seam_matches(cdp, capture.width, top, previous_rows, image):
                mismatched.append(top)
        pixels = image.tobytes()
        capture.tiles.append(Tile(index, top, capture.width, height, png, hashlib.sha256(pixels).hexdigest()))
        digest.update(pixels)
        previous_rows = _bottom_rows(image)
    capture.pixels_sha256 = digest.hexdigest()
    capture.seam_check = {"seams": max(0, len(bounds) - 1), "mismatched_at_px": mismatched}
    if mismatched:
        capture.warnings.append(
            f"the page kept changing while it was captured: {len(mismatched)} seam(s) differ from a fresh capture")


async def _capture_into(browser, capture: PageCapture, settings: CaptureSettings, deadline: float,
                        user_agent: str | None) -> None:
    loop = asyncio.get_running_loop()
    remaining_ms = lambda: max(1.0, (deadline - loop.time()) * 1000)
    context = await browser.new_context(
        viewport={"width": settings.viewport_width, "height": settings.viewport_height},
        device_scale_factor=1,
        locale=settings.locale,
        timezone_id=settings.timezone,
        user_agent=user_agent,
    )
    try:
        if not settings.allow_private_networks:
            await context.route("**/*", _guard_private)
        page = await context.new_page()
        capture.viewport = {"width": settings.viewport_width, "height": settings.viewport_height}
        capture.browser = f"Chromium {browser.version}"

        response = await page.goto(capture.requested_url, wait_until="domcontentloaded", timeout=remaining_ms())
        capture.final_url = page.url
        if response is None:
            raise PageFailed("the browser received no response")
        capture.http_status = response.status
        if response.status >= 400:
            raise PageFailed(f"HTTP {response.status} {response.status_text}".strip())
        # One resource that never arrives must not cost the whole page: wait for `load` only so long.
        load_budget_ms = remaining_ms() * LOAD_SHARE
        try:
            await page.wait_for_load_state("load", timeout=load_budget_ms)
        except PlaywrightTimeout:
            capture.warnings.append(f"the page had not finished loading after {load_budget_ms / 1000:.0f} s; "
                                    "captured what had loaded by then")
        capture.final_url = page.url

        await page.add_style_tag(content=FREEZE_CSS)
        await page.evaluate(SETTLE_JS, min(SETTLE_BUDGET_S * 1000, remaining_ms() / 2))
        facts = await page.evaluate(MEASURE_JS)
        capture.title = facts["title"]
        capture.user_agent = facts["userAgent"]
        capture.device_scale_factor = facts["dpr"]
        capture.document_height = int(facts["height"])
        capture.width = settings.viewport_width
        capture.height = min(capture.document_height, settings.max_height_px)
        capture.truncated = capture.document_height > settings.max_height_px
        if capture.truncated:
            capture.warnings.append(
                f"page is {capture.document_height} px tall; captured the first {settings.max_height_px} px "
                "(capture.max_height_px)")

        cdp = await context.new_cdp_session(page)
        await _capture_tiles(cdp, capture)
        capture.status = "ok"
    finally:
        await context.close()


async def visitor_user_agent(browser) -> str:
    """The browser's own user agent without "HeadlessChrome", which sites treat as a bot."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        return (await page.evaluate("navigator.userAgent")).replace("HeadlessChrome", "Chrome")
    finally:
        await context.close()


async def capture_page(browser, page, settings: CaptureSettings, user_agent: str | None = None) -> PageCapture:
    """Capture one register page within `settings.timeout_s`; never raises for a page's own failure."""
    capture = PageCapture(page_id=page.id, platform=page.platform, requested_url=page.url,
                          owner=page.owner, name=getattr(page, "name", None))
    capture.started_at = utcnow()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.timeout_s
    try:
        await asyncio.wait_for(_capture_into(browser, capture, settings, deadline, user_agent),
                               settings.timeout_s)
    except (TimeoutError, PlaywrightTimeout):
        capture.error = f"timed out after {settings.timeout_s:g} s (capture.timeout_s)"
    except PageFailed as exc:
        capture.error = str(exc)
    except PlaywrightError as exc:
        capture.error = str(exc).splitlines()[0]
    capture.finished_at = utcnow()
    if not capture.ok:
        capture.status = "failed"
        capture.tiles = []
        log.warning("%s: failed: %s", capture.page_id, capture.error)
    else:
        log.info("%s: captured %dx%d px in %d tiles", capture.page_id, capture.width, capture.height,
                 len(capture.tiles))
    return capture


async def capture_pages(browser, pages: Sequence, settings: CaptureSettings, on_done=None) -> list[PageCapture]:
    """Capture pages with at most `settings.concurrency` at once, in register order."""
    gate = asyncio.Semaphore(settings.concurrency)
    user_agent = await visitor_user_agent(browser)

    async def one(page):
        async with gate:
            result = await capture_page(browser, page, settings, user_agent)
        if on_done:
            on_done(result)
        return result

    return list(await asyncio.gather(*(one(p) for p in pages)))
