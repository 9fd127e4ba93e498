"""Feeds whose next batch arrives late: followed to their end, and a feed cut by a limit says so.

tests/fixtures/social/late-feed.html appends its next 10 posts `delay_ms` after the bottom of the page
comes into view, from a timer (as a debounce or a render step does): no request is in flight while it
waits, so only the page itself can tell that more is coming. 40 posts in all, each a card of its own
colour, then an end marker. Judged by the pixels: every card there exactly, and the end marker.
"""

from __future__ import annotations

import asyncio
import io
import re
from types import SimpleNamespace

import pytest
from PIL import Image
from social_site import LATE_CARD, LATE_END, LATE_POSTS, Block, Pixels, missing_blocks, serve_social
from test_bundle import pdftotext

from archiver.bundle.cover import feed_in_words
from archiver.bundle.pdf import RunInfo, build_pdf
from archiver.capture import CaptureSettings, capture_pages, launch_browser
from archiver.capture.throttle import Throttle
from archiver.capture.tiles import stack
from archiver.models import new_bundle_id, utcnow

pytestmark = pytest.mark.browser

CARDS = tuple(Block(c, *LATE_CARD, what=f"post {i + 1}") for i, c in enumerate(LATE_POSTS))
END = Block(LATE_END, *LATE_CARD, what="end-of-feed marker")
LATE = {"late-0.4s": "delay_ms=400", "late-1s": "delay_ms=1000", "late-2s": "delay_ms=2000",
        "late-1s-scroll-listener": "delay_ms=1000&trigger=scroll", "late-1s-frames": "delay_ms=1000&trigger=frames",
        "late-1s-poll": "delay_ms=1000&trigger=poll"}
# Each feed's end is known from the page, not from a quiet moment: nothing of its own pending (timers,
# animation frames, its poll, which it stops at the end) once the last batch is in. A wait for a quiet 0.5 s
# alone would miss the frames and poll feeds' second batch: no DOM change and no timer tells it is coming.
# The same wait on a slow machine and network (150 ms latency, CPU 4x slower): the frames feed's render step
# then takes longer than the quiet moment would allow.
THROTTLED_LATE = ("late-1s-frames-throttled",)


def entry(base_url: str, page_id: str, query: str, **extra) -> SimpleNamespace:
    return SimpleNamespace(id=page_id, platform="generic", url=f"{base_url}/late-feed.html?{query}", owner=None,
                           name=None, **extra)


def settings(**extra) -> CaptureSettings:
    return CaptureSettings(**{"allow_private_networks": True, "timeout_s": 60, "concurrency": 2, **extra})


def pixels(result) -> Pixels:
    assert result.ok, result.error
    return Pixels(stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in result.tiles]))


@pytest.fixture(scope="module")
def late(browser_choice):
    """The late feeds captured once, several at a time as a run would; beside them, in the same browser, one feed
    cut by its page's max_posts and one by a 3 s scroll budget; then two of them throttled."""
    with serve_social() as base_url:
        feeds = [entry(base_url, page_id, query) for page_id, query in LATE.items()]
        feeds.append(entry(base_url, "cut-by-max-posts", "delay_ms=400", max_posts=15))
        slow = [entry(base_url, "cut-by-budget", "delay_ms=2000")]
        throttled = [entry(base_url, page_id, LATE[page_id[:-len("-throttled")]]) for page_id in THROTTLED_LATE]

        async def go():
            async with launch_browser(browser_choice) as browser:
                # Four at a time: these pages mostly wait for their own timers.
                first = await asyncio.gather(capture_pages(browser, feeds, settings(concurrency=4)),
                                             capture_pages(browser, slow, settings(scroll_budget_s=3)))
                # After them: a page slowed fourfold beside four others would be slower than intended.
                return [*first, await capture_pages(browser, throttled, settings(throttle=Throttle()))]
        results = asyncio.run(go())
    return {r.page_id: r for group in results for r in group}


@pytest.mark.parametrize("page_id", [*LATE, *THROTTLED_LATE])
def test_a_feed_whose_batches_arrive_late_is_followed_to_its_end(late, page_id):
    result = late[page_id]
    problems = missing_blocks(pixels(result), (*CARDS, END))
    assert not problems, f"{page_id}: {len(problems)} blocks wrong, e.g. {problems[:3]}"
    assert result.posts == 40
    assert result.scroll["feed"] == "ended" and result.scroll["cut_by"] is None, result.scroll
    # Waited at the bottom for at least one batch (the poll's may also arrive while the scroll is on its way).
    assert result.scroll["batches_waited_for"] >= (1 if "poll" in page_id else 3), result.scroll
    assert result.scroll["ended_by"] == "nothing pending", result.scroll
    assert not [w for w in result.warnings if "feed cut" in w], result.warnings


def test_a_feed_cut_by_max_posts_says_so_in_the_manifest_and_on_the_cover(late, tmp_path):
    result = late["cut-by-max-posts"]
    assert result.ok and result.scroll["feed"] == "cut" and result.scroll["cut_by"] == "max_posts", result.scroll
    assert 15 <= result.posts < 40
    (warning,) = [w for w in result.warnings if w.startswith("feed cut")]
    assert "capture.max_posts (15)" in warning and f"{result.posts} posts" in warning
    assert result.provenance()["scroll"]["feed"] == "cut" and warning in result.provenance()["warnings"]

    now = utcnow()
    run = RunInfo(bundle_id=new_bundle_id(now), organisation="Götene kommun", reason="scheduled",
                  requested_by="scheduler", started_at=now, finished_at=now, tool="archiver test",
                  browser="Chromium", pdfa="2b")
    build_pdf(run, [result], tmp_path / "cut.pdf")
    cover = " ".join(pdftotext("-l", "2", str(tmp_path / "cut.pdf")).split())
    assert f"FLÖDET AVBRÖTS av gränsen för antal inlägg (capture.max_posts) vid {result.posts} inlägg" in cover


def test_a_feed_cut_by_the_scroll_budget_says_so_and_keeps_what_it_loaded(late):
    result = late["cut-by-budget"]
    assert result.ok and result.scroll["cut_by"] == "time budget", result.scroll
    assert result.scroll["seconds"] < 5, result.scroll
    assert any(re.match(r"feed cut by capture\.scroll_budget_s \(3 s\)", w) for w in result.warnings), \
        result.warnings
    shown = pixels(result)
    assert not missing_blocks(shown, CARDS[:10]), "the first batch must be there"
    assert not shown.count(LATE_END)


def test_feed_in_words_tells_ended_from_cut():
    assert feed_in_words({}) is None
    assert feed_in_words({"feed": "ended", "posts": 40, "height_px": 8401}) == "flödet tog slut (40 inlägg, 8401 px)"
    cut = feed_in_words({"feed": "cut", "cut_by": "max_height_px", "posts": 0, "height_px": 100000})
    assert cut.startswith("FLÖDET AVBRÖTS av gränsen för sidans höjd (capture.max_height_px) vid 100000 px")
