"""Clipped tiles straight from Chromium, each seam checked against a fresh capture as it is made.

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
        # Half the encoding time for about a tenth more bytes on photo-heavy pages (more on flat ones).
        "optimizeForSpeed": True,
    })
    return base64.b64decode(result["data"])


def _decode(raw: bytes, width: int, height: int) -> tuple[bytes, Image.Image, str]:
    """PNG bytes as stored, the decoded tile, its pixel hash."""
    png, image = tiling.normalise_png(raw)
    if image.size != (width, height):
        raise PageFailed(f"browser returned a {image.size[0]}x{image.size[1]} image for a {width}x{height} tile")
    return png, image, hashlib.sha256(image.tobytes()).hexdigest()


async def _tile(cdp, top: int, width: int, height: int, upper_rows: Image.Image | None):
    """One tile and whether its top seam equals a fresh capture straddling it.

    The tile is decoded and hashed in a thread while Chromium captures the seam probe, so the two
    cores work at once.
    """
    raw = await _shot(cdp, top, width, height)
    decoded = asyncio.create_task(asyncio.to_thread(_decode, raw, width, height))
    probe = None
    if upper_rows is not None:
        probe = await _shot(cdp, top - upper_rows.height, width, upper_rows.height + min(SEAM_PROBE_PX, height))
    png, image, pixels_sha256 = await decoded
    if probe is None:
        return png, image, pixels_sha256, True
    _, fresh = tiling.normalise_png(probe)
    expected = tiling.stack([upper_rows, image.crop((0, 0, width, min(SEAM_PROBE_PX, height)))])
    return png, image, pixels_sha256, fresh.tobytes() == expected.tobytes()


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
        attempt = await _tile(cdp, top, capture.width, height, previous_rows)
        if not attempt[3]:
            log.info("%s: seam at y=%d differs from a fresh capture; capturing the tile again", capture.page_id, top)
            attempt = await _tile(cdp, top, capture.width, height, previous_rows)
            if not attempt[3]:
                mismatched.append(top)
        png, image, pixels_sha256, _ = attempt
        digest.update(image.tobytes())
        capture.tiles.append(Tile(index, top, capture.width, height, png, pixels_sha256))
        previous_rows = _bottom_rows(image)
    capture.pixels_sha256 = digest.hexdigest()
    capture.seam_check = {"seams": max(0, len(bounds) - 1), "mismatched_at_px": mismatched}
    if mismatched:
        capture.warnings.append(
            f"the page kept changing while it was captured: {len(mismatched)} seam(s) differ from a fresh capture")
