"""Clipped tiles straight from Chromium, each seam checked against a fresh capture as it is made.

Each tile is one CDP `Page.captureScreenshot` with `captureBeyondViewport`, clipped to that tile's
rows. That keeps every tile far below Chromium's texture limit (so nothing is blended or white
far down the page), keeps the browser's PNG bytes as they are (no decode and re-encode before
the PDF), and leaves fixed headers where a visitor sees them: once, at the top.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from PIL import Image

from archiver.capture import tiles as tiling
from archiver.capture.steps import PageFailed
from archiver.models import PageCapture, Tile

log = logging.getLogger(__name__)

SEAM_PROBE_PX = 8


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


async def capture_tiles(cdp, capture: PageCapture) -> None:
    """Capture tile by tile, holding one decoded tile at a time.

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
