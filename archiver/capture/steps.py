"""The capture script: the named steps every page goes through, each reading the platform's recipe.

open → answer consent → dismiss pop-ups → check it is the account → scroll to load → settle → measure.
The dialog steps (consent, pop-ups, what they leave behind) live in `archiver.capture.dialogs`.
No step waits for network idle: social pages poll and stream for ever, so each step waits for
concrete conditions (the document stops growing, images decode) within its share of the timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from playwright.async_api import TimeoutError as PlaywrightTimeout

from archiver.capture.consent import in_page
from archiver.capture.dialogs import answer_consent, dismiss_popups  # noqa: F401 (steps of the script)
from archiver.capture.network import FEED_REQUEST_TYPES, SLOW_REQUEST_S, NetworkWatch
from archiver.models import PageCapture

log = logging.getLogger(__name__)

LOAD_SHARE = 0.5  # of the time left once the document has arrived
SCROLL_SHARE = 0.5
SETTLE_BUDGET_S = 10.0
MAX_WORDS = 200_000  # a text layer this long is already a book
MAX_POSTS_LISTED = 5000  # posts listed per capture for `bundles compare`
POST_TEXT_KEPT = 300  # characters of each listed post's text kept in the manifest

FREEZE_CSS = """
*, *::before, *::after {
  animation-play-state: paused !important;
  transition: none !important;
  caret-color: transparent !important;
}
"""


class PageFailed(Exception):
    """A page could not be captured; the message goes into the bundle as the page's error."""

    def __init__(self, message: str, failure: str = "error") -> None:
        super().__init__(message)
        self.failure = failure


@dataclass
class Budget:
    """The page's deadline on the event loop clock, shared out between the steps."""

    deadline: float

    def left(self) -> float:
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    def share(self, fraction: float, cap: float | None = None) -> float:
        seconds = self.left() * fraction
        return min(seconds, cap) if cap is not None else seconds


async def open_page(page, capture: PageCapture, budget: Budget) -> None:
    response = await page.goto(capture.requested_url, wait_until="domcontentloaded", timeout=budget.left() * 1000)
    capture.final_url = page.url
    if response is None:
        raise PageFailed("the browser received no response")
    capture.http_status = response.status
    if response.status in (404, 410):
        raise PageFailed(f"HTTP {response.status} {response.status_text}: the page does not exist".strip(),
                         "unavailable")
    if response.status >= 400:
        raise PageFailed(f"HTTP {response.status} {response.status_text}".strip(), "http")
    # One resource that never arrives must not cost the whole page: wait for `load` only so long.
    load_budget = budget.share(LOAD_SHARE)
    try:
        await page.wait_for_load_state("load", timeout=load_budget * 1000)
    except PlaywrightTimeout:
        capture.warnings.append(f"the page had not finished loading after {load_budget:.0f} s; "
                                "captured what had loaded by then")
    capture.final_url = page.url


def _is_login_path(url: str, patterns: tuple[str, ...]) -> bool:
    path = urlsplit(url).path or "/"
    return any(re.search(p, path) for p in patterns)


async def check_account(page, capture: PageCapture, recipe, session_used: bool) -> None:
    """Refuse to archive a login page or a "not available" page as if it were the account."""
    facts = await page.evaluate(in_page("inspect.js"), {"recipe": recipe.as_js()})
    capture.posts = facts["posts"]
    redirected_to_login = (_is_login_path(page.url, recipe.login_paths)
                           and not _is_login_path(capture.requested_url, recipe.login_paths))
    login_wall = redirected_to_login or (facts["passwordField"] and facts["posts"] == 0)
    if login_wall:
        where = f" ({urlsplit(page.url).path})" if redirected_to_login else ""
        if session_used:
            raise PageFailed(f"the saved {capture.platform} session has expired or was logged out: the site showed "
                             f"its login page{where}; run `archiver login {capture.platform}`", "session_expired")
        raise PageFailed(f"login wall: the site showed a login page{where} instead of the account", "login_wall")
    if facts["unavailable"] and facts["posts"] == 0:
        raise PageFailed(f"content unavailable: the page says {facts['unavailable']!r}", "unavailable")


NUDGE_MS = 900  # at the bottom, a one-pixel scroll this often, for feeds that only look again on scroll
IDLE_S = 0.5  # nothing pending in the page for this long at the bottom: the feed has ended
FEED_CUT_WORDS = {"max_posts": "capture.max_posts", "max_height_px": "capture.max_height_px",
                  "time budget": "capture.scroll_budget_s"}


async def _wait_for_more(page, height: int, network: NetworkWatch, settle_s: float, until: float) -> str:
    """At the bottom: does the feed append more? "grown", or how the wait ended: "idle", "window".

    The page itself says when it grows (grow.js resolves on the mutation or resize), so a batch that
    arrives after 0.4 s costs 0.4 s. The wait ends early, "idle", only when for IDLE_S the page has had
    nothing that could still append: no DOM change, none of its own timers, frames, idle callbacks or
    polls pending (pending.js), and no request that may bring a batch in flight or just finished (its
    handler may not have run yet), including one the page started just before we reached the bottom.
    Otherwise it ends when `settle_s` is over ("window"); a request still running then (a slow network) is
    given SLOW_REQUEST_S more. Bounded by `until`, the scroll budget's end.
    """
    loop = asyncio.get_running_loop()
    mark = loop.time()
    window_end = min(until, mark + settle_s)
    slow_until = min(until, window_end + SLOW_REQUEST_S)
    while True:
        now = loop.time()
        busy = network.loading_since(mark, FEED_REQUEST_TYPES)
        end = slow_until if busy else window_end
        if now >= end:
            return "window"
        result = await page.evaluate(in_page("grow.js"), {"height": height, "nudgeMs": NUDGE_MS, "idleMs": IDLE_S * 1000,
                                                          "waitMs": (end - now) * 1000})
        if result["grown"]:
            return "grown"
        if result["idle"] and network.quiet_since(now, FEED_REQUEST_TYPES):
            return "idle"


async def load_everything(page, capture: PageCapture, recipe, budget: Budget, *, viewport_height: int,
                          max_height_px: int, max_posts: int | None, scroll_budget_s: float,
                          network: NetworkWatch, feed_settle_s: float = 3.5, report_cut: bool = True) -> None:
    """Scroll down in viewport steps until the feed ends, or a limit from the register cuts it.

    "Ended" means the page at the bottom had nothing pending that could append more, or did not grow for
    `feed_settle_s` while it had (`_wait_for_more`), or listens for nothing that could load more; a cut
    (max_posts, max_height_px, the time budget) is a warning, so a registrar sees that the capture may hold
    less than the feed did (`report_cut=False`: a single post's comments, whose expansion reports what
    stayed collapsed itself).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    end = started + min(scroll_budget_s, budget.share(SCROLL_SHARE))
    args = {"recipe": recipe.as_js(), "step": viewport_height}
    steps = grew = 0
    waited = 0.0
    ended_by = None
    while True:
        state = await page.evaluate(in_page("scroll.js"), args)
        steps += 1
        if state["covered"] or state["locked"]:
            await dismiss_popups(page, capture, recipe)
        if state["height"] >= max_height_px:
            stop = "max_height_px"
        elif max_posts and state["posts"] >= max_posts:
            stop = "max_posts"
        elif loop.time() >= end:
            stop = "time budget"
        elif state["atBottom"] and not state["listens"]:
            stop = "end of page (nothing on it loads on scroll)"
        elif state["atBottom"]:
            before = loop.time()
            outcome = await _wait_for_more(page, state["height"], network, feed_settle_s, end)
            waited += loop.time() - before
            if outcome == "grown":
                grew += 1
                continue
            ended_by = "nothing pending" if outcome == "idle" else f"no growth in {feed_settle_s:g} s"
            stop = "time budget" if loop.time() >= end else "end of page"
        else:
            continue
        break
    capture.posts = state["posts"]
    cut = stop in FEED_CUT_WORDS
    capture.scroll = {"steps": steps, "stopped_by": stop, "feed": "cut" if cut else "ended",
                      "cut_by": stop if cut else None, "batches_waited_for": grew,
                      "waited_at_bottom_s": round(waited, 2), "ended_by": ended_by if not cut else None,
                      "height_px": state["height"],
                      "posts": state["posts"], "seconds": round(loop.time() - started, 2)}
    if cut and report_cut:
        limit = {"max_posts": max_posts, "max_height_px": max_height_px,
                 "time budget": f"{min(scroll_budget_s, end - started):.0f} s"}[stop]
        capture.warnings.append(f"feed cut by {FEED_CUT_WORDS[stop]} ({limit}): stopped scrolling at "
                                f"{state['posts']} posts, {state['height']} px after {loop.time() - started:.0f} s; "
                                "the feed may hold more below")
    log.info("%s: scrolled %d steps to %d px, %d posts (%s%s; waited %.1f s at the bottom for %d batches)",
             capture.page_id, steps, state["height"], state["posts"], stop,
             f", {ended_by}" if ended_by and not cut else "", waited, grew)


async def settle(page, capture: PageCapture, budget: Budget) -> None:
    """Lazy media loaded now, every image decoded, animations frozen, back at the top."""
    await page.add_style_tag(content=FREEZE_CSS)
    images = await page.evaluate(in_page("settle.js"), {"budgetMs": budget.share(0.3, SETTLE_BUDGET_S) * 1000})
    capture.images = images
    if images["broken"] or images["pending"]:
        capture.warnings.append(
            f"{images['broken']} image(s) failed to load and {images['pending']} had not arrived in time, "
            f"of {images['images']}; e.g. {', '.join(images['examples'])}")


async def measure(page, capture: PageCapture, *, width: int, max_height_px: int) -> None:
    facts = await page.evaluate(in_page("inspect.js"), {"recipe": {"postSelectors": [], "unavailableTexts": [],
                                                                   "loginTexts": []}})
    capture.title = facts["title"]
    capture.user_agent = facts["userAgent"]
    capture.device_scale_factor = facts["dpr"]
    capture.document_height = int(facts["height"])
    capture.width = width
    capture.height = min(capture.document_height, max_height_px)
    capture.truncated = capture.document_height > max_height_px
    if capture.truncated:
        capture.warnings.append(f"page is {capture.document_height} px tall; captured the first {max_height_px} px "
                                "(capture.max_height_px)")


async def read_posts(page, capture: PageCapture, recipe) -> None:
    """Each post's box, permalink, author, time and text: what `bundles compare` tells posts apart by."""
    found = await page.evaluate(in_page("posts.js"), {"recipe": recipe.as_js(), "maxPosts": MAX_POSTS_LISTED,
                                                      "maxY": capture.height})
    # The manifest keeps the start of each post's text and a hash of what was read (up to 2,000 characters).
    capture.post_list = [post | {"text": (post["text"] or "")[:POST_TEXT_KEPT],
                                 "text_sha256": hashlib.sha256((post["text"] or "").encode()).hexdigest()}
                         for post in found]


async def read_text(page, capture: PageCapture) -> None:
    """The words the browser rendered and where, for the PDF's searchable text layer."""
    capture.words = await page.evaluate(in_page("text.js"), {"maxWords": MAX_WORDS, "maxY": capture.height})
    if len(capture.words) >= MAX_WORDS:
        capture.warnings.append(f"the text layer holds the first {MAX_WORDS} words only")
