"""Real Chromium against loopback fixture pages: the capture must give back exactly what the page renders."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw

from archiver.capture import CaptureSettings, capture_pages, launch_browser
from archiver.capture.tiles import plan_segments, plan_tiles, stack, tile_height_for
from archiver.demo.server import expected_row_colour

pytestmark = pytest.mark.browser


def page(page_id: str, url: str):
    return SimpleNamespace(id=page_id, platform="generic", url=url, owner=None, name=None)


def capture(browser_choice, pages, **settings):
    settings = CaptureSettings(**{"allow_private_networks": True, "timeout_s": 30, **settings})

    async def go():
        async with launch_browser(browser_choice) as browser:
            return await capture_pages(browser, pages, settings)
    return asyncio.run(go())


def expected_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top = 0
    while top < height:
        colour = expected_row_colour(top)
        bottom = top + 1
        while bottom < height and expected_row_colour(bottom) == colour:
            bottom += 1
        draw.rectangle((0, top, width - 1, bottom - 1), fill=colour)
        top = bottom
    return image


def stitched(result) -> Image.Image:
    return stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in result.tiles])


def first_difference(actual: Image.Image, expected: Image.Image) -> str:
    for y in range(expected.height):
        row_a = actual.crop((0, y, actual.width, y + 1)).tobytes()
        row_e = expected.crop((0, y, expected.width, y + 1)).tobytes()
        if row_a != row_e:
            return f"first differing row {y}: got {row_a[:3]!r}…, expected {row_e[:3]!r}…"
    return "no row differs"


def test_page_far_beyond_texture_limit_is_stitched_exactly(site, browser_choice):
    (result,) = capture(browser_choice, [page("tall", f"{site}/tall-45000")])
    assert result.ok, result.error
    assert (result.width, result.height) == (1280, 45_000)
    assert not result.truncated
    tile_h = tile_height_for(1280)
    assert [(t.top, t.height) for t in result.tiles] == plan_tiles(45_000, tile_h)
    segments = plan_segments(plan_tiles(45_000, tile_h))
    assert result.seam_check == {"seams": len(segments) - 1, "tiles": len(result.tiles), "mismatched_at_px": []}
    image = stitched(result)
    expected = expected_image(1280, 45_000)
    assert image.size == expected.size
    # Every pixel, including the fixed header exactly once at the top and nowhere else.
    assert image.tobytes() == expected.tobytes(), first_difference(image, expected)
    # The hashes the manifest carries are of exactly these pixels: each tile's, and the page's end to end.
    decoded = [Image.open(io.BytesIO(t.png)).convert("RGB").tobytes() for t in result.tiles]
    assert [t.pixels_sha256 for t in result.tiles] == [hashlib.sha256(d).hexdigest() for d in decoded]
    assert result.pixels_sha256 == hashlib.sha256(b"".join(decoded)).hexdigest()


def test_a_page_that_changes_while_captured_has_its_seams_named(site, browser_choice):
    """Each capture repeats the last rows of the one above it; on a page whose colour changes every 20 ms
    those rows differ, the segment is captured again, they still differ, and the capture says so."""
    (result,) = capture(browser_choice, [page("changing", f"{site}/changing.html")], feed_settle_s=0.5)
    assert result.ok, result.error
    segments = plan_segments(plan_tiles(16_000, tile_height_for(1280)))
    assert len(segments) >= 2
    assert result.seam_check["seams"] == len(segments) - 1
    assert result.seam_check["mismatched_at_px"] == [s[0][0] for s in segments[1:]]
    assert any("kept changing while it was captured" in w for w in result.warnings), result.warnings


def test_tiles_can_wait_on_disk_and_are_the_same_pixels(site, browser_choice, tmp_path):
    """A run spools its tiles (CaptureSettings.tile_spool) so its memory does not grow with its pages."""
    (result,) = capture(browser_choice, [page("tall", f"{site}/tall-12000")], tile_spool=str(tmp_path))
    assert result.ok, result.error
    assert result.tiles and all(t.png is None and t.path.parent == tmp_path for t in result.tiles)
    image = stack([Image.open(t.path).convert("RGB") for t in result.tiles])
    assert image.tobytes() == expected_image(1280, 12_000).tobytes()
    assert [t.pixels_sha256 for t in result.tiles] == [
        hashlib.sha256(Image.open(t.path).convert("RGB").tobytes()).hexdigest() for t in result.tiles]


def test_tall_page_is_cut_at_max_height_and_says_so(site, browser_choice):
    (result,) = capture(browser_choice, [page("tall", f"{site}/tall-12000")], max_height_px=5_000)
    assert result.ok, result.error
    assert (result.height, result.document_height, result.truncated) == (5_000, 12_000, True)
    assert any("5000" in w for w in result.warnings)
    assert stitched(result).tobytes() == expected_image(1280, 5_000).tobytes()


def test_hanging_page_times_out_alone(site, browser_choice):
    started = time.monotonic()
    hung, ok = capture(browser_choice, [page("hung", f"{site}/hang"), page("ok", f"{site}/short.html")],
                       timeout_s=4, attempts=1)  # no retry: retries have their own tests (test_retries.py)
    elapsed = time.monotonic() - started
    assert hung.status == "failed" and "timed out after 4 s" in hung.error
    assert ok.ok, ok.error
    assert elapsed < 4 + 10, f"the run took {elapsed:.1f} s; the page timeout was 4 s"


def test_a_resource_that_never_arrives_does_not_cost_the_page(site, browser_choice):
    started = time.monotonic()
    (result,) = capture(browser_choice, [page("stalled", f"{site}/stalled-image.html")], timeout_s=8)
    assert result.ok, result.error
    assert any("not finished loading" in w for w in result.warnings)
    assert stitched(result).getpixel((600, 400)) == (0, 128, 0)
    assert time.monotonic() - started < 8 + 10


def test_http_error_and_provenance(site, browser_choice):
    gone, short = capture(browser_choice, [page("gone", f"{site}/gone"), page("short", f"{site}/short.html")])
    assert gone.status == "failed" and gone.http_status == 404 and "404" in gone.error
    assert gone.tiles == []
    assert short.ok and short.http_status == 200
    assert short.final_url == f"{site}/short.html"
    assert short.title == "Kort sida"
    assert short.viewport == {"width": 1280, "height": 900} and short.device_scale_factor == 1
    assert short.browser.startswith("Chromium ") and "HeadlessChrome" not in short.user_agent
    assert short.started_at <= short.finished_at
    # A page shorter than the viewport is captured at its own height: the viewport's 900 rows.
    image = stitched(short)
    assert image.getpixel((10, 10)) == (250, 250, 0) and image.getpixel((10, 450)) == (10, 120, 200)


def test_private_addresses_refused_unless_allowed(site, browser_choice):
    (result,) = capture(browser_choice, [page("short", f"{site}/short.html")], allow_private_networks=False)
    assert result.status == "failed" and result.failure == "blocked"
    assert result.error == "127.0.0.1 is a loopback address: refused (capture.allow_private_networks is false)"
    assert result.attempts == 1  # the guard would refuse it again: not retried


@pytest.mark.parametrize("height,expected", [
    (0, []),
    (100, [(0, 100)]),
    (1810, [(0, 1810)]),
    (1811, [(0, 1811)]),
    (1810 + 64, [(0, 1810), (1810, 64)]),
    (4000, [(0, 1810), (1810, 1810), (3620, 380)]),
])
def test_plan_tiles_covers_every_row_once(height, expected):
    assert plan_tiles(height, 1810) == expected


def _disabled_features(command_line: str) -> list[str]:
    """The --disable-features Chromium acts on: the last one on its command line."""
    values = [arg.split("=", 1)[1] for arg in command_line.split() if arg.startswith("--disable-features=")]
    return values[-1].split(",") if values else []


def test_the_browser_keeps_playwrights_disabled_features_and_opens_no_browser_ui_per_context(browser_choice):
    """Ours would replace Playwright's list if it left one out (Chromium keeps the last); and a context must
    not load Chrome's address-bar pop-up, which a full Chromium gives each new window (0.4 CPU-s a page)."""
    from playwright.async_api import async_playwright

    from archiver.capture.browser import OUR_DISABLED_FEATURES

    async def command_line(browser) -> str:
        version = await browser.new_page()
        await version.goto("chrome://version")
        text = await version.locator("#command_line").inner_text()
        await version.close()
        return text

    async def go():
        async with async_playwright() as p:
            plain = await p.chromium.launch(executable_path=browser_choice.executable)
            theirs = _disabled_features(await command_line(plain))
            await plain.close()
        async with launch_browser(browser_choice) as browser:
            ours = _disabled_features(await command_line(browser))
            context = await browser.new_context()
            await (await context.new_page()).goto("about:blank")
            targets = (await (await browser.new_browser_cdp_session()).send("Target.getTargets"))["targetInfos"]
            return theirs, ours, [(t["type"], t["url"]) for t in targets]
    theirs, ours, targets = asyncio.run(go())
    assert "HttpsUpgrades" in theirs, theirs  # the check below reads the right thing
    assert [f for f in theirs if f not in ours] == [], "PLAYWRIGHT_DISABLED_FEATURES lacks what Playwright disables"
    assert set(OUR_DISABLED_FEATURES) <= set(ours)
    assert [t for t in targets if t[0] != "page"] == [], targets
    assert [url for kind, url in targets] == ["about:blank"], targets
