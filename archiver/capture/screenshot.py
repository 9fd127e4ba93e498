"""Clipped captures straight from Chromium, cut into tiles, each seam checked by captures that overlap.

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
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from archiver.capture import tiles as tiling
from archiver.capture.steps import PageFailed
from archiver.models import PageCapture, Tile

log = logging.getLogger(__name__)

SEAM_OVERLAP_PX = 8  # rows each capture repeats of the one above it: the seam check
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


def _decode(raw: bytes, segment: list[tuple[int, int]], width: int, overlap: int):
    """A segment's capture as what the rest needs of it: each tile's PNG bytes (as stored) and pixel hash,
    the segment's pixels, the `overlap` rows captured above it (the seam check's) and its bottom
    SEAM_OVERLAP_PX rows (the next seam's).

    The tiles are full-width bands, so the segment's pixels are its tiles' pixels end to end: taken
    once, they give every tile's hash (as slices) and the capture's running hash; the decoded images
    are not kept, so a segment waiting its turn holds its pixels once.
    """
    png, image = tiling.normalise_png(raw)
    height = sum(h for _, h in segment)
    if image.size != (width, overlap + height):
        raise PageFailed(f"browser returned a {image.size[0]}x{image.size[1]} image for a {width}x{overlap + height} "
                         f"capture at y={segment[0][0] - overlap}")
    above = image.crop((0, 0, width, overlap)).tobytes()
    if overlap:  # the rows above belong to the segment before: the tiles are cut from the rest
        image, png = image.crop((0, overlap, width, overlap + height)), None
    pixels = memoryview(image.tobytes())
    stride, top0 = width * 3, segment[0][0]
    tiles = [(tile_png, hashlib.sha256(pixels[(top - top0) * stride:(top - top0 + h) * stride]).hexdigest(), parts)
             for (tile_png, parts), (top, h) in zip(tiling.cut(image, segment, png), segment)]
    return tiles, pixels, above, pixels[-SEAM_OVERLAP_PX * stride:].tobytes()


async def _take(cdp, segment: list[tuple[int, int]], width: int, first: bool) -> tuple[bytes, int]:
    """Chromium's part for one segment: one capture of its rows and, but for the first, the
    SEAM_OVERLAP_PX rows above it; returns the PNG and that overlap."""
    overlap = 0 if first else SEAM_OVERLAP_PX
    raw = await _shot(cdp, segment[0][0] - overlap, width, overlap + sum(h for _, h in segment))
    return raw, overlap


async def capture_tiles(cdp, capture: PageCapture, spool: Path | None = None,
                        page_png: Path | None = None) -> None:
    """Capture segment by segment (a few tiles each) while earlier segments are decoded in threads.

    Chromium captures segment n+1 while Python decodes, cuts and hashes segment n, so both cores
    work; at most LOOKAHEAD segments wait decoded in memory. Each capture after the first starts
    SEAM_OVERLAP_PX rows higher, over the end of the one before: those rows, captured twice at two
    moments, must be equal, or the page moved or changed at the seam. A seam that differs gets its
    lower segment captured again; if it still differs, the page is changing under us and the capture
    says so rather than hiding it. Tiles within one segment come from one capture and have no seam.
    With `spool` (a folder), each tile's PNG is written there as it is cut and not kept in memory. With
    `page_png` (a file), the whole page's pixels are written there as one PNG as well, on the decoding
    thread (the web archive's screenshot record); its path and SHA-256 go into `capture.screenshot`.
    """
    # One decode at a time: each holds a segment's pixels several times over (decoded, cut, filtered), and
    # on a 100,000 px page three at once took our process from about 330 to 600 MB.
    decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiles")
    loop = asyncio.get_running_loop()

    def decode(raw: bytes, segment, overlap: int):
        return loop.run_in_executor(decoder, _decode, raw, segment, capture.width, overlap)

    png = tiling.PngStream(page_png, capture.width, capture.height) if page_png is not None else None
    writes = []

    def keep(tile_png: bytes, parts, pixels, rows: int) -> None:  # each tile in order, on the decoding thread
        if png is None:
            return
        if parts is not None:
            writes.append(loop.run_in_executor(decoder, png.add_parts, parts, rows))
        elif rows == capture.height:  # the page is this one tile, kept as the browser's PNG
            writes.append(loop.run_in_executor(decoder, png.whole, tile_png, rows))
        else:
            writes.append(loop.run_in_executor(decoder, png.add, pixels, rows))

    try:
        await _capture_segments(cdp, capture, spool, decode, keep)
        if png is not None:
            await asyncio.gather(*writes)
            capture.screenshot = {"path": page_png, "sha256": png.close()}
    except BaseException:
        if png is not None:
            png.abandon()
        raise
    finally:
        decoder.shutdown(wait=False, cancel_futures=True)  # a decode under way ends by itself


async def _capture_segments(cdp, capture: PageCapture, spool: Path | None, decode, keep) -> None:
    bounds = tiling.plan_tiles(capture.height, tiling.tile_height_for(capture.width))
    segments = tiling.plan_segments(bounds)
    width = capture.width
    digest = hashlib.sha256()
    previous_rows = b""
    mismatched = []
    pending: deque = deque()

    async def settle_oldest() -> None:
        nonlocal previous_rows
        segment, overlap, decoding = pending.popleft()
        tiles, pixels, above, bottom_rows = await decoding
        if overlap and above != previous_rows:
            top = segment[0][0]
            log.info("%s: the rows over the seam at y=%d differ between its two captures; capturing again",
                     capture.page_id, top)
            raw, overlap = await _take(cdp, segment, width, first=False)
            tiles, pixels, above, bottom_rows = await decode(raw, segment, overlap)
            if above != previous_rows:
                mismatched.append(top)
        digest.update(pixels)  # the tiles' pixels in order: the segment's, top to bottom
        stride, top0 = width * 3, segment[0][0]
        for (top, height), (png, pixels_sha256, parts) in zip(segment, tiles):
            keep(png, parts, pixels[(top - top0) * stride:(top - top0 + height) * stride], height)
            index = len(capture.tiles)
            path = spool / f"{capture.key}-{index:04d}.png" if spool is not None else None
            if path is not None:
                await asyncio.to_thread(path.write_bytes, png)
            capture.tiles.append(Tile(index, top, width, height, None if path else png, pixels_sha256, path))
        previous_rows = bottom_rows

    for index, segment in enumerate(segments):
        raw, overlap = await _take(cdp, segment, width, first=index == 0)
        pending.append((segment, overlap, decode(raw, segment, overlap)))
        if len(pending) > LOOKAHEAD:
            await settle_oldest()
    while pending:
        await settle_oldest()
    capture.pixels_sha256 = digest.hexdigest()
    capture.seam_check = {"seams": max(0, len(segments) - 1), "tiles": len(bounds),
                          "mismatched_at_px": mismatched}
    if mismatched:
        capture.warnings.append(
            f"the page kept changing while it was captured: {len(mismatched)} seam(s) differ between the two "
            "captures that meet there")
