"""Captures of pages that behave like real social-media sites, judged by what a visitor would see: the pixels.

One `capture_pages` run (concurrency 2) takes every page in tests/fixtures/social (see tests/social_site.py),
then a second run takes them again under emulated real-world conditions (`THROTTLED`: 150 ms latency,
10 Mbit/s, the CPU four times slower), and every check below is made on both runs:
a Facebook-like page with a Swedish consent dialog and a login pop-up after scrolling, an Instagram-like page
whose consent dialog is a cross-site iframe and whose "log in to see more" overlay has no close control, an
infinite X-like feed with lazy images, a fixed header and a sticky sidebar, a YouTube-like channel behind a
consent redirect, a LinkedIn-like authwall, a TikTok-like page with its banner in a shadow root and a deleted
TikTok account, a page that never goes network-idle, and a municipal page with a cookie bar and an app banner.

The tests then check, on each stitched capture: every post and image there exactly (its own colour, so neither
dimmed by a backdrop nor covered nor missing because it never loaded), no dialog, pop-up, banner, placeholder
or backdrop left, fixed elements once, optional cookies refused rather than accepted, and the capture's
record of what it dismissed; and that pages which are not the account (a login wall, a deleted account) fail
as such without spoiling the others.
"""

from __future__ import annotations

import asyncio
import io
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from PIL import Image
from social_site import (
    SOCIAL,
    SPECS,
    THROTTLED,
    X_IMAGES,
    X_POST_COUNT,
    X_POSTS,
    Block,
    Pixels,
    all_colours,
    consent_problems,
    fixed_problems,
    hex_of,
    leftovers,
    missing_blocks,
    row_runs,
    serve_social,
)

from archiver.capture import CaptureSettings, capture_pages, launch_browser
from archiver.capture.tiles import stack

pytestmark = pytest.mark.browser

TIMEOUT_S = 20
THROTTLED_TIMEOUT_S = 45  # the same pages with every request 150 ms later and the CPU four times slower
# Failing pages between the others, so a failure that spoils its neighbours would show.
ORDER = ("facebook", "linkedin", "instagram", "x", "tiktok-deleted", "youtube", "tiktok", "never-idle", "kommun")
OK_PAGES = [page_id for page_id in ORDER if SPECS[page_id].failure is None]
KINDS = {"consent", "popup", "overlay", "banner", "leftover"}
HOWS = {"autoconsent", "clicked", "removed", "undone"}
RUNS = {"plain": None, "throttled": THROTTLED}


@dataclass
class Run:
    base_url: str
    results: dict
    order: list[str]
    elapsed_s: float
    timeout_s: float


@pytest.fixture(scope="session")
def social_url():
    with serve_social() as base_url:
        yield base_url


@pytest.fixture(scope="session", params=list(RUNS))
def run(request, social_url, browser_choice) -> Run:
    """Every social page captured once, in one run, as the scheduler would: plain, then throttled."""
    pages = [SimpleNamespace(id=page_id, platform=SPECS[page_id].platform, url=social_url + SPECS[page_id].path,
                             owner="Kommunikationsavdelningen", name=None) for page_id in ORDER]
    throttle = RUNS[request.param]
    timeout_s = THROTTLED_TIMEOUT_S if throttle else TIMEOUT_S
    settings = CaptureSettings(allow_private_networks=True, timeout_s=timeout_s, viewport_width=1280,
                               viewport_height=900, max_height_px=100_000, concurrency=2, throttle=throttle)

    async def go():
        async with launch_browser(browser_choice) as browser:
            return await capture_pages(browser, pages, settings)

    started = time.monotonic()
    results = asyncio.run(go())
    return Run(social_url, {r.page_id: r for r in results}, [r.page_id for r in results],
               time.monotonic() - started, timeout_s)


@pytest.fixture(scope="session")
def pixels(run):
    """The stitched capture of a page (tiles stacked in order), decoded once per session."""
    cache: dict[str, Pixels] = {}

    def get(page_id: str) -> Pixels:
        result = run.results[page_id]
        if not (result.ok and result.tiles):
            pytest.fail(f"{page_id} was not captured: {result.status}: {result.error}")
        if page_id not in cache:
            cache[page_id] = Pixels(stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in result.tiles]))
        return cache[page_id]

    return get


def lines(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems)


# --- The run as a whole ------------------------------------------------------------------------------------
def test_one_run_captures_every_page_in_order(run):
    assert run.order == list(ORDER)
    outcome = {page_id: (r.status, getattr(r, "failure", "?"), r.error) for page_id, r in run.results.items()}
    expected = {page_id: ("failed" if SPECS[page_id].failure else "ok") for page_id in ORDER}
    assert {page_id: o[0] for page_id, o in outcome.items()} == expected, outcome


@pytest.mark.parametrize("page_id", OK_PAGES)
def test_page_is_captured_despite_failing_neighbours(run, page_id):
    result = run.results[page_id]
    assert result.status == "ok", f"{page_id}: {result.error}"
    assert result.failure is None
    assert result.tiles and result.width == 1280 and result.height >= 900
    assert result.final_url == run.base_url + SPECS[page_id].path, "the capture is not of the page asked for"


# --- Pages that are not the account must fail as such, with nothing archived ------------------------------
def test_login_wall_fails_as_login_wall_and_is_not_archived(run):
    result = run.results["linkedin"]
    assert result.status == "failed", "the authwall was archived as if it were the company page"
    assert result.failure == "login_wall", result.error
    assert result.tiles == []
    assert result.error
    assert "/authwall" in (result.final_url or ""), result.final_url


def test_deleted_account_fails_as_unavailable(run):
    result = run.results["tiktok-deleted"]
    assert result.status == "failed", "a deleted account's page (HTTP 200) was archived as the account"
    assert result.failure == "unavailable", result.error
    assert result.tiles == []
    assert result.http_status == 200


# --- By pixels: what a visitor would see -------------------------------------------------------------------
@pytest.mark.parametrize("page_id", OK_PAGES)
def test_every_post_is_there_exactly_and_undimmed(pixels, page_id):
    problems = missing_blocks(pixels(page_id), SPECS[page_id].posts)
    assert not problems, f"{len(problems)} of {len(SPECS[page_id].posts)} posts wrong:" + lines(problems)


@pytest.mark.parametrize("page_id", [p for p in OK_PAGES if SPECS[p].images])
def test_every_image_loaded(pixels, page_id):
    spec = SPECS[page_id]
    problems = missing_blocks(pixels(page_id), spec.images)
    assert not problems, f"{len(problems)} of {len(spec.images)} images wrong:" + lines(problems)


@pytest.mark.parametrize("page_id", OK_PAGES)
def test_no_dialog_popup_banner_placeholder_or_backdrop_left(pixels, page_id):
    problems = leftovers(pixels(page_id), SPECS[page_id])
    assert not problems, lines(problems)


@pytest.mark.parametrize("page_id", [p for p in OK_PAGES if SPECS[p].fixed])
def test_fixed_and_sticky_elements_appear_once(pixels, page_id):
    problems = fixed_problems(pixels(page_id), SPECS[page_id])
    assert not problems, lines(problems)


@pytest.mark.parametrize("page_id", [p for p in OK_PAGES if SPECS[p].consent])
def test_optional_cookies_are_refused_not_accepted(pixels, page_id):
    problems = consent_problems(pixels(page_id))
    assert not problems, lines(problems)


def test_infinite_feed_is_followed_to_its_end(run, pixels):
    result = run.results["x"]
    assert result.posts == X_POST_COUNT
    image = pixels("x")
    cards = [i + 1 for i, colour in enumerate(X_POSTS) if not image.count(colour)]
    assert not cards, f"posts missing from the capture: {cards}"
    assert not missing_blocks(image, SPECS["x"].posts[-1:]), "no end-of-feed marker"


# --- What the capture says it did ---------------------------------------------------------------------------
@pytest.mark.parametrize("page_id", OK_PAGES)
def test_post_count(run, page_id):
    assert run.results[page_id].posts == SPECS[page_id].post_count


@pytest.mark.parametrize("page_id", OK_PAGES)
def test_dismissed_records_what_was_taken_away(run, page_id):
    spec = SPECS[page_id]
    dismissed = run.results[page_id].dismissed
    for entry in dismissed:
        assert entry["kind"] in KINDS and entry["how"] in HOWS and isinstance(entry["label"], str), entry
    if not spec.dismissed:
        assert dismissed == [], "nothing on this page needed dismissing"
    remaining = list(dismissed)
    for want in spec.dismissed:
        match = next((entry for entry in remaining if entry["kind"] in want.kinds), None)
        assert match is not None, f"no {'/'.join(sorted(want.kinds))} entry in {dismissed}"
        remaining.remove(match)
        if want.label and match["how"] == "clicked":
            assert want.label.casefold() in match["label"].casefold(), f"pressed {match['label']!r}, not {want.label!r}"


# --- A page that never goes quiet ---------------------------------------------------------------------------
def test_never_idle_page_finishes_well_within_its_timeout(run, pixels):
    result = run.results["never-idle"]
    assert result.status == "ok", result.error
    took = (result.finished_at - result.started_at).total_seconds()
    assert took < run.timeout_s * 0.75, (f"took {took:.1f} s of its {run.timeout_s:g} s: it waited for the network "
                                         "to go idle")
    assert not missing_blocks(pixels("never-idle"), SPECS["never-idle"].posts)


# --- The fixtures and helpers themselves (no capture needed) ------------------------------------------------
def test_fixture_colours_are_unique_and_used_by_the_pages():
    all_colours()  # raises on a colour used for two things
    dynamic = set(X_POSTS) | set(X_IMAGES)  # served by /api/x/timeline, not written in x.html
    for spec in SPECS.values():
        text = "".join((SOCIAL / name).read_text(encoding="utf-8") for name in spec.files).lower()
        colours = [b.colour for b in (*spec.posts, *spec.images, *spec.fixed)] + list(spec.forbidden)
        unused = [hex_of(c) for c in colours if c not in dynamic and hex_of(c)[1:] not in text]
        assert not unused, f"{spec.id}: colours not in {spec.files}: {unused}"


def test_image_route_serves_a_solid_png_after_its_delay(social_url):
    started = time.monotonic()
    with urllib.request.urlopen(f"{social_url}/img/ff7f50.png?w=7&h=3&delay_ms=300", timeout=10) as response:
        data = response.read()
        assert response.headers["Content-Type"] == "image/png"
    assert time.monotonic() - started >= 0.3
    image = Image.open(io.BytesIO(data))
    assert image.size == (7, 3) and image.mode == "RGB"
    assert image.getcolors() == [(21, (255, 127, 80))]


def test_redirects_behave_like_the_sites(social_url):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    for path, to in (("/youtube/@gotenekommun/videos", "/consent/m?continue="),
                     ("/linkedin/company/gotene-kommun", "/authwall?")):
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(social_url + path, timeout=10)
        assert caught.value.code == 302 and caught.value.headers["Location"].startswith(to)


def test_pixel_helpers():
    image = Image.new("RGB", (100, 50), (255, 255, 255))
    image.paste((10, 20, 30), (10, 5, 60, 25))  # a 50x20 block
    image.paste((10, 20, 30), (0, 40, 100, 43))  # a second patch of the same colour: no longer one block
    image.paste((1, 2, 3), (0, 0, 100, 2))
    px = Pixels(image)
    assert px.count((10, 20, 30)) == 50 * 20 + 100 * 3
    assert px.solid_block((1, 2, 3)) == (0, 0, 100, 2)
    assert px.solid_block((10, 20, 30)) is None
    assert row_runs(px.rows_with((10, 20, 30), 40)) == [(5, 20), (40, 3)]
    assert row_runs(px.rows_with((10, 20, 30), 80)) == [(40, 3)]
    assert px.rows_with((9, 21, 31), 40, tolerance=1) == px.rows_with((10, 20, 30), 40)
    assert missing_blocks(px, (Block((1, 2, 3), 100, 2),)) == []
    assert missing_blocks(px, (Block((1, 2, 3), 100, 3, what="x"),)) != []
    assert missing_blocks(px, (Block((7, 7, 7), 10, 10, what="absent"),))[0].startswith("absent")


# --- Consent: the library and our own texts, each on its own --------------------------------------------------

CONSENT_PAGES = [page_id for page_id in OK_PAGES if SPECS[page_id].consent]


def capture_social(social_url, browser_choice, page_ids, **settings):
    pages = [SimpleNamespace(id=p, platform=SPECS[p].platform, url=social_url + SPECS[p].path, owner=None, name=None)
             for p in page_ids]
    settings = CaptureSettings(**{"allow_private_networks": True, "timeout_s": TIMEOUT_S, **settings})

    async def go():
        async with launch_browser(browser_choice) as browser:
            return await capture_pages(browser, pages, settings)
    return {r.page_id: r for r in asyncio.run(go())}


@pytest.fixture(scope="session")
def without_library(social_url, browser_choice):
    """The consent pages captured with DuckDuckGo's rules switched off: only our Swedish/English texts."""
    return capture_social(social_url, browser_choice, CONSENT_PAGES, consent_library=False)


@pytest.mark.parametrize("page_id", CONSENT_PAGES)
def test_our_own_texts_alone_refuse_optional_cookies(without_library, page_id):
    """Frames, shadow roots, div role=button and a consent page that posts a form: all answered "reject"."""
    result = without_library[page_id]
    assert result.ok, result.error
    px = Pixels(stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in result.tiles]))
    problems = consent_problems(px) + leftovers(px, SPECS[page_id]) + missing_blocks(px, SPECS[page_id].posts)
    assert not problems, lines(problems)
    consent = [d for d in result.dismissed if d["kind"] == "consent"]
    assert consent and all(d["how"] == "clicked" and d["choice"] == "reject" for d in consent), result.dismissed


def test_the_library_answers_a_consent_platform_it_knows(run):
    """TikTok's own banner is in DuckDuckGo's rule set: the library opts out before our texts are needed."""
    assert [d["how"] for d in run.results["tiktok"].dismissed if d["kind"] == "consent"] == ["autoconsent"], \
        run.results["tiktok"].dismissed


def test_max_posts_stops_an_endless_feed_early(social_url, browser_choice):
    result = capture_social(social_url, browser_choice, ["x"], max_posts=10)["x"]
    assert result.ok, result.error
    assert result.scroll["stopped_by"] == "max_posts"
    assert 10 <= result.posts < 20, result.posts
