"""Clipped captures straight from Chromium, cut into tiles, each seam checked against a fresh capture.

Each segment of a few tiles is one CDP `Page.captureScreenshot` with `captureBeyondViewport`,
clipped to its rows. That keeps every capture far below Chromium's texture limit (so nothing is
blended or white far down the page) and leaves fixed headers where a visitor sees them: once, at
the top. Every capture costs a relayout and a frame whatever its size, so fewer, taller ones win.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections import deque

from PIL import Image

from archiver.capture import tiles as tiling
from archiver.capture.steps import PageFailed
from archiver.models import PageCapture, Tile
from archiver.profile import StepClock

log = logging.getLogger(__name__)

SEAM_PROBE_PX = 8
LOOKAHEAD = 2  # segments captured ahead of the one being decoded


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


def _decode(raw: bytes, segment: list[tuple[int, int]], width: int):
    """A segment's capture as what the rest needs of it: each tile's PNG bytes (as stored) and pixel hash,
    the segment's pixels, and its top and bottom SEAM_PROBE_PX rows for the seam checks.

    The tiles are full-width bands, so the segment's pixels are its tiles' pixels end to end: taken
    once, they give every tile's hash (as slices) and the capture's running hash; the decoded images
    are not kept, so a segment waiting its turn holds its pixels once.
    """
    png, image = tiling.normalise_png(raw)
    height = sum(h for _, h in segment)
    if image.size != (width, height):
        raise PageFailed(f"browser returned a {image.size[0]}x{image.size[1]} image for a {width}x{height} "
                         f"capture at y={segment[0][0]}")
    pixels = memoryview(image.tobytes())
    stride, top0 = width * 3, segment[0][0]
    tiles = [(tile_png, hashlib.sha256(pixels[(top - top0) * stride:(top - top0 + h) * stride]).hexdigest())
             for (tile_png, _), (top, h) in zip(tiling.cut(image, segment, png), segment)]
    top_rows = image.crop((0, 0, width, min(SEAM_PROBE_PX, height)))
    return tiles, pixels, top_rows, _bottom_rows(image)


def _seam_matches(probe: bytes, upper_rows: Image.Image, lower_rows: Image.Image) -> bool:
    """Does a fresh capture straddling a seam equal the rows the two segments put there?"""
    _, fresh = tiling.normalise_png(probe)
    return fresh.tobytes() == tiling.stack([upper_rows, lower_rows]).tobytes()


async def _take(cdp, segment: list[tuple[int, int]], width: int, first: bool, probing: list[float]):
    """Chromium's part for one segment: its capture, and a probe straddling its top seam (its wall time
    added to `probing`)."""
    top = segment[0][0]
    raw = await _shot(cdp, top, width, sum(h for _, h in segment))
    probe = None
    if not first:
        started = time.perf_counter()
        probe = await _shot(cdp, top - SEAM_PROBE_PX, width, SEAM_PROBE_PX + min(SEAM_PROBE_PX, segment[0][1]))
        probing[0] += time.perf_counter() - started
    return raw, probe


def _bottom_rows(image: Image.Image) -> Image.Image:
    return image.crop((0, max(0, image.height - SEAM_PROBE_PX), image.width, image.height))


async def capture_tiles(cdp, capture: PageCapture, clock: StepClock | None = None) -> None:
    """Capture segment by segment (a few tiles each) while earlier segments are decoded in threads.

    Chromium captures segment n+1 while Python decodes, cuts and hashes segment n, so both cores
    work; at most LOOKAHEAD segments wait decoded in memory. A seam between segments that differs
    from a fresh capture gets its lower segment captured again; if it still differs, the page is
    changing under us and the capture says so rather than hiding it. Tiles within one segment come
    from one capture and have no seam.
    """
    bounds = tiling.plan_tiles(capture.height, tiling.tile_height_for(capture.width))
    segments = tiling.plan_segments(bounds)
    width = capture.width
    digest = hashlib.sha256()
    previous_rows = None
    mismatched = []
    pending: deque = deque()
    probing = [0.0]  # wall seconds of the seam probes' captures

    async def settle_oldest() -> None:
        nonlocal previous_rows
        segment, probe, decoding = pending.popleft()
        tiles, pixels, top_rows, bottom_rows = await decoding
        if probe is not None and not _seam_matches(probe, previous_rows, top_rows):
            top = segment[0][0]
            log.info("%s: seam at y=%d differs from a fresh capture; capturing again", capture.page_id, top)
            raw, probe = await _take(cdp, segment, width, first=False, probing=probing)
            tiles, pixels, top_rows, bottom_rows = await asyncio.to_thread(_decode, raw, segment, width)
            if not _seam_matches(probe, previous_rows, top_rows):
                mismatched.append(top)
        digest.update(pixels)  # the tiles' pixels in order: the segment's, top to bottom
        for (top, height), (png, pixels_sha256) in zip(segment, tiles):
            capture.tiles.append(Tile(len(capture.tiles), top, width, height, png, pixels_sha256))
        previous_rows = bottom_rows

    for index, segment in enumerate(segments):
        raw, probe = await _take(cdp, segment, width, first=index == 0, probing=probing)
        pending.append((segment, probe, asyncio.create_task(asyncio.to_thread(_decode, raw, segment, width))))
        if len(pending) > LOOKAHEAD:
            await settle_oldest()
    while pending:
        await settle_oldest()
    if clock is not None:
        clock.add_part("seam probes", probing[0], within="tiles")
    capture.pixels_sha256 = digest.hexdigest()
    capture.seam_check = {"seams": max(0, len(segments) - 1), "tiles": len(bounds),
                          "mismatched_at_px": mismatched}
    if mismatched:
        capture.warnings.append(
            f"the page kept changing while it was captured: {len(mismatched)} seam(s) differ from a fresh capture")
