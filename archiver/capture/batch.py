"""Capturing many pages: which captures a run makes, in what order, how many at once, which are retried,
and a browser that dies under them started again. Each capture itself is archiver/capture/page.py's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from archiver.capture.browser import BrowserKeeper
from archiver.capture.page import CaptureSettings, capture_page, visitor_user_agents
from archiver.models import PageCapture

log = logging.getLogger(__name__)


def capture_jobs(pages: Sequence, last_seconds: dict[str, float] | None = None,
                 only_keys: Sequence[str] = ()) -> list[tuple[object, str]]:
    """Each page's desktop capture, and a mobile one beside it where the register asks for it.

    `only_keys` limits them to those capture keys ("id" or "id.mobile"). With the time each took last
    run, the longest start first: a tall page left for last would otherwise run alone while the other
    slots sit idle.
    """
    jobs = []
    for page in pages:
        jobs.append((page, "desktop"))
        if getattr(page, "mobile", False):
            jobs.append((page, "mobile"))
    if only_keys:
        wanted = set(only_keys)
        jobs = [job for job in jobs if capture_key(*job) in wanted]
    if last_seconds:
        jobs.sort(key=lambda job: -last_seconds.get(capture_key(*job), float("inf")))
    return jobs


def capture_key(page, variant: str) -> str:
    """A capture's key within a run, as `PageCapture.key` has it: "id", or "id.mobile"."""
    return page.id if variant == "desktop" else f"{page.id}.{variant}"


# HTTP statuses that say "try again later" rather than "this page is not there".
RETRY_HTTP_STATUSES = frozenset({408, 425, 429})


def worth_retrying(capture: PageCapture) -> bool:
    """Whether a failure may pass within seconds: timeouts, network/browser errors, HTTP 5xx/408/425/429.

    A login wall, an unavailable or missing page (404/410), an expired session, an address the guard
    blocked (`blocked`) or another 4xx will look the same on the next try, so those are not retried.
    """
    if capture.ok:
        return False
    if capture.failure in ("timeout", "error"):
        return True
    if capture.failure == "http":
        return capture.http_status is None or capture.http_status >= 500 or (
            capture.http_status in RETRY_HTTP_STATUSES)
    return False


async def capture_pages(browser, pages: Sequence, settings: CaptureSettings, on_done=None,
                        last_seconds: dict[str, float] | None = None,
                        only_keys: Sequence[str] = ()) -> list[PageCapture]:
    """Capture pages with at most `settings.concurrency` at once; results in register order.

    A failure `worth_retrying` is tried again, up to `settings.attempts` tries, after a backoff that is
    slept outside the concurrency gate so the other pages keep every slot meanwhile. `only_keys`
    limits the captures to those keys ("id" or "id.mobile"). `browser` is a `BrowserKeeper`, which starts
    the browser again when it dies (`capture_on_live_browser`), or one browser, used as it is.
    """
    keeper = browser if isinstance(browser, BrowserKeeper) else BrowserKeeper.fixed(browser)
    gate = asyncio.Semaphore(settings.concurrency)
    user_agents = await visitor_user_agents(await keeper.get())

    async def one(page, variant):
        earlier: list[str] = []
        for attempt in range(1, max(1, settings.attempts) + 1):
            async with gate:
                result = await capture_on_live_browser(
                    keeper, lambda live: capture_page(live, page, settings, user_agents, variant), earlier)
            result.attempts = attempt
            if attempt == settings.attempts or not worth_retrying(result):
                break
            wait = settings.backoff_s * 2 ** (attempt - 1)
            earlier.append(f"attempt {attempt} failed ({result.error}); tried again after {wait:g} s")
            log.info("%s (%s): attempt %d failed (%s); trying again in %g s", page.id, variant, attempt,
                     result.failure, wait)
            await asyncio.sleep(wait)
        result.warnings[:0] = earlier
        if on_done:
            on_done(result)
        return result

    captures = await asyncio.gather(*(one(p, v) for p, v in capture_jobs(pages, last_seconds, only_keys)))
    order = {job_key: index for index, job_key in enumerate(
        (p.id, v) for p, v in capture_jobs(pages))}
    return sorted(captures, key=lambda c: order[(c.page_id, c.variant)])


async def capture_on_live_browser(keeper: BrowserKeeper, capture: Callable[[object], Awaitable[PageCapture]],
                                  notes: list[str]) -> PageCapture:
    """`capture(browser)`, made anew on a restarted browser for as long as the browser died under it.

    A browser that dies (its processes killed, a crash) fails every page in flight, through no fault of
    theirs, so the capture is made again at once, without a backoff (the new browser is ready) and without
    counting as one of the page's attempts; the keeper's bound on restarts per run ends the loop, and then
    the page fails as `browser`. Each restart is noted (`notes`, which become the page's warnings).
    """
    browser = await keeper.get()
    while True:
        result = await capture(browser)
        if result.ok or browser.is_connected():
            return result
        browser = await keeper.get()  # started again, unless the restarts are used up
        if keeper.exhausted:
            result.failure = "browser"
            result.error = f"{keeper.exhausted}; the capture failed with: {result.error}"
            return result
        notes.append(f"the browser stopped during this capture ({result.error}); it was started again and the "
                     "page captured anew")
        log.warning("%s (%s): the browser stopped during the capture; capturing it again on a new browser",
                    result.page_id, result.variant)
