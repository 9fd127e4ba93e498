"""Pure helpers for cutting a capture into PDF-page tiles and checking their pixels."""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from isal import isal_zlib
from PIL import Image, ImageChops

A4_RATIO = 297 / 210
MIN_LAST_TILE_PX = 64


def tile_height_for(width: int) -> int:
    """Tiles have A4's proportion so that each prints as a page."""
    return round(width * A4_RATIO)


def plan_tiles(height: int, tile_height: int, min_last: int = MIN_LAST_TILE_PX) -> list[tuple[int, int]]:
    """(top, height) of each tile, covering 0..height exactly once.

    A last sliver shorter than `min_last` is merged into the tile before it, so no PDF page is
    too small to see (or below PDF's 3-unit minimum).
    """
    if height <= 0:
        return []
    count = math.ceil(height / tile_height)
    tops = [i * tile_height for i in range(count)]
    if count > 1 and height - tops[-1] < min_last:
        tops.pop()
    bounds = tops[1:] + [height]
    return [(top, bottom - top) for top, bottom in zip(tops, bounds)]


def normalise_png(data: bytes) -> tuple[bytes, Image.Image]:
    """Return PNG bytes with RGB pixels and the decoded image.

    The browser's PNG is kept byte for byte when it is already 8-bit RGB (so a one-tile capture
    goes into the PDF without re-encoding); anything with alpha is flattened on white first, since PDF/A-1
    forbids transparency.
    """
    image = Image.open(io.BytesIO(data))
    image.load()
    if image.mode == "RGB" and not image.info.get("transparency"):
        return data, image
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = image.convert("RGB")
    out = io.BytesIO()
    flat.save(out, format="PNG", compress_level=6)
    return out.getvalue(), flat


def stack(images: list[Image.Image]) -> Image.Image:
    """Stack tiles top to bottom: the inverse of cutting a capture into tiles."""
    width = images[0].width
    out = Image.new("RGB", (width, sum(i.height for i in images)))
    y = 0
    for image in images:
        out.paste(image, (0, y))
        y += image.height
    return out


SEGMENT_MAX_PX = 8000  # one browser capture; clipped captures up to 10,000 px are exact


def plan_segments(bounds: list[tuple[int, int]], max_px: int = SEGMENT_MAX_PX) -> list[list[tuple[int, int]]]:
    """Group consecutive tiles into segments of at most `max_px` rows, each taken in one capture.

    Every browser capture costs a fixed relayout and frame; fewer, taller ones are faster, and the
    tiles inside one capture meet without a seam to check. A tile taller than `max_px` is its own segment.
    """
    segments: list[list[tuple[int, int]]] = []
    for tile in bounds:
        if segments and sum(h for _, h in segments[-1]) + tile[1] <= max_px:
            segments[-1].append(tile)
        else:
            segments.append([tile])
    return segments


def cut(image: Image.Image, segment: list[tuple[int, int]], raw_png: bytes | None) -> list[tuple[bytes, PngParts | None]]:
    """A segment's capture cut into its tiles as PNG; a one-tile segment keeps the browser's bytes when
    they are exactly its rows (`raw_png`; None when the capture held more), and then has no parts."""
    if len(segment) == 1 and raw_png is not None:
        return [(raw_png, None)]
    top0 = segment[0][0]
    tiles = []
    for top, height in segment:
        parts = encode_png_parts(image.crop((0, top - top0, image.width, top - top0 + height)))
        tiles.append((parts.png, parts))
    return tiles


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, fastest
FINAL_EMPTY_BLOCK = b"\x03\x00"  # a last, empty deflate block (fixed Huffman): what ends a stream of flushed ones


@dataclass(frozen=True)
class PngParts:
    """A tile's PNG and the pieces of it that a PNG of the whole page is made of without deflating again:
    its rows' deflate data, cut off by a full flush (so it needs nothing before it), and their Adler-32."""

    png: bytes
    deflated: bytes
    adler: int
    size: int  # bytes of filtered rows the deflate data holds


def encode_png(image: Image.Image, level: int = 1) -> bytes:
    return encode_png_parts(image, level).png


def encode_png_parts(image: Image.Image, level: int = 1) -> PngParts:
    """An 8-bit RGB image as PNG, every row but the first with PNG's "Up" filter, deflated at `level`.

    Pillow's encoder tries all five filters on every row; for screenshots, whose rows mostly repeat
    the one above, "Up" alone (one C subtraction over the image) makes files a few per cent smaller
    in about half the time. Chromium's own fast PNGs are filtered the same way. The first row has no
    row above it and is stored unfiltered (type 0), so the rows do not depend on what comes before and
    the same deflate data serves the tile's PNG and the whole page's (`PngStream.add_parts`). The
    deflate is ISA-L's (python-isal), a standard zlib stream: a 1,280 x 1,810 tile of a feed takes 7 ms
    against zlib's 33 ms at the same level, for 1 % more bytes. Lossless either way.
    """
    if image.mode != "RGB":
        raise ValueError(f"encode_png takes RGB images, not {image.mode}")
    width, height = image.size
    above = Image.new("RGB", image.size)  # row y holds row y-1; the first row's "above" is zero
    above.paste(image.crop((0, 0, width, height - 1)), (0, 1))
    rows = ImageChops.subtract_modulo(image, above).tobytes()
    stride = width * 3
    filtered = b"\x00" + rows[:stride] + b"".join(b"\x02" + rows[y:y + stride] for y in range(stride, len(rows), stride))
    compressor = isal_zlib.compressobj(level, isal_zlib.DEFLATED, -15)
    deflated = compressor.compress(filtered) + compressor.flush(isal_zlib.Z_FULL_FLUSH)
    adler = zlib.adler32(filtered)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, deflate, adaptive, no interlace
    idat = ZLIB_HEADER + deflated + FINAL_EMPTY_BLOCK + struct.pack(">I", adler)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return PngParts(png, deflated, adler, len(filtered))


def adler32_combine(first: int, second: int, second_size: int) -> int:
    """The Adler-32 of two byte strings end to end from theirs (zlib's adler32_combine, which Python lacks)."""
    base = 65521
    rem = second_size % base
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % base
    sum1 += (second & 0xFFFF) + base - 1
    sum2 += ((first >> 16) & 0xFFFF) + ((second >> 16) & 0xFFFF) + base - rem
    return (sum1 % base) | ((sum2 % base) << 16)


class PngStream:
    """One PNG of a whole page, written tile by tile as the page's pixels arrive, never held at once.

    A 100,000 px page is 380 MB of RGB. Each tile's deflate data (`PngParts`) goes in as it is, one IDAT
    chunk each, and the Adler-32s are combined: the page's PNG costs no second deflate. A page of one tile
    kept as the browser's own PNG takes that PNG whole (`whole`); a tile kept so in a taller page (a
    first segment of one tile, on a page wider than about 5,600 px) is encoded here from its pixels.
    """

    def __init__(self, path, width: int, height: int) -> None:
        self.path, self.width, self.height = path, width, height
        self.rows = 0
        self.sha256 = hashlib.sha256()  # of the file's bytes, as written
        self._adler = 1  # Adler-32 of nothing
        self._out = open(path, "wb")  # noqa: SIM115 - closed by close()
        header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        self._emit(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header))
        self._first, self._whole = True, False

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self.sha256.update(data)

    def add_parts(self, parts: PngParts, rows: int) -> None:
        """The next `rows` rows, as a tile's deflate data."""
        self._emit(_chunk(b"IDAT", (ZLIB_HEADER if self._first else b"") + parts.deflated))
        self._first = False
        self._adler = adler32_combine(self._adler, parts.adler, parts.size)
        self.rows += rows

    def whole(self, png: bytes, rows: int) -> None:
        """A page of one tile: its PNG is the page's (the browser's own bytes, not encoded again)."""
        self._out.seek(0)
        self._out.truncate()
        self.sha256 = hashlib.sha256()
        self._emit(png)
        self.rows, self._whole = rows, True

    def add(self, pixels, rows: int) -> None:
        """The next `rows` rows as 8-bit RGB pixels (a tile the browser's PNG was kept for)."""
        image = Image.frombuffer("RGB", (self.width, rows), bytes(pixels), "raw", "RGB", 0, 1)
        self.add_parts(encode_png_parts(image), rows)

    def close(self) -> str:
        """Finish the file; returns its SHA-256. Raises ValueError if the rows added are not the height."""
        try:
            if not self._whole:
                self._emit(_chunk(b"IDAT", (ZLIB_HEADER if self._first else b"") + FINAL_EMPTY_BLOCK
                                  + struct.pack(">I", self._adler)) + _chunk(b"IEND", b""))
        finally:
            self._out.close()
        if self.rows != self.height:
            raise ValueError(f"{self.path}: {self.rows} rows written for a {self.height} px image")
        return self.sha256.hexdigest()

    def abandon(self) -> None:
        self._out.close()
        Path(self.path).unlink(missing_ok=True)
