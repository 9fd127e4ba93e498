"""What changed in the pixels between two captures of a page, aligned by content.

A capture is a column of pixel rows. Each row is reduced to a short hash and runs of identical rows (a
blank gap, a border) to one token; the two token sequences are aligned like the lines of two texts
(difflib), so a post inserted at the top shifts the rest of the page instead of marking it changed.
What does not align is a changed region: rows removed from OLD, rows added in NEW, or rows replaced;
its box is narrowed to the columns that actually differ. Pure functions of two Pillow images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from difflib import SequenceMatcher

from PIL import Image, ImageChops

MERGE_GAP_PX = 12  # regions closer than this (a line's spacing) are one region


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int  # exclusive
    bottom: int  # exclusive

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True)
class Region:
    """One change: `old` and/or `new` the box it covers in each capture (None where it has no rows)."""

    kind: str  # "removed" (rows only in OLD) | "added" (only in NEW) | "changed" (replaced)
    old: Box | None
    new: Box | None
    old_at: int = 0  # the row where the region is, or (added) where it would be, in OLD
    new_at: int = 0  # likewise in NEW

    def as_dict(self) -> dict:
        return {"kind": self.kind, "old": self.old.as_list() if self.old else None,
                "new": self.new.as_list() if self.new else None}


@dataclass(frozen=True)
class PixelDiff:
    regions: list[Region]
    matched_rows: int  # rows outside every region, the mean of the two captures'
    old_height: int
    new_height: int

    @property
    def changed_ratio(self) -> float:
        """The share of both captures' rows in a changed region: 0 for identical pixels, 1 for nothing shared."""
        total = self.old_height + self.new_height
        return 0.0 if total == 0 else round(1 - 2 * self.matched_rows / total, 4)


def _tokens(image: Image.Image, data: bytes | None) -> tuple[list[bytes], list[int]]:
    """Runs of identical rows: each run's token (row hash + length) and its first row. `data`: the image's
    RGB bytes when the caller has them (making them from a tall image costs more than hashing them)."""
    width = image.width * 3
    data = data if data is not None else image.convert("RGB").tobytes()
    view = memoryview(data)
    tokens, starts = [], []
    previous, run, start = None, 0, 0
    for y in range(image.height):
        digest = hashlib.blake2b(view[y * width:(y + 1) * width], digest_size=8).digest()
        if digest == previous:
            run += 1
            continue
        if previous is not None:
            tokens.append(previous + run.to_bytes(4, "big"))
            starts.append(start)
        previous, run, start = digest, 1, y
    if previous is not None:
        tokens.append(previous + run.to_bytes(4, "big"))
        starts.append(start)
    return tokens, starts


def _rows(starts: list[int], height: int, first: int, last: int) -> tuple[int, int]:
    """Token range [first, last) → pixel rows [top, bottom)."""
    top = starts[first] if first < len(starts) else height
    bottom = starts[last] if last < len(starts) else height
    return top, bottom


def _content_columns(image: Image.Image, top: int, bottom: int) -> tuple[int, int] | None:
    """The columns of a strip that hold anything but its background (the colour of its first pixel)."""
    strip = image.crop((0, top, image.width, bottom)).convert("RGB")
    background = Image.new("RGB", strip.size, strip.getpixel((0, 0)))
    box = ImageChops.difference(strip, background).getbbox()
    return (box[0], box[2]) if box else None


def _changed_columns(old: Image.Image, new: Image.Image, old_rows: tuple[int, int],
                     new_rows: tuple[int, int]) -> tuple[int, int] | None:
    """The columns where two strips differ: pixel by pixel when they are as tall, else where either has
    content."""
    if old_rows[1] - old_rows[0] == new_rows[1] - new_rows[0] and old.width == new.width:
        a = old.crop((0, old_rows[0], old.width, old_rows[1])).convert("RGB")
        b = new.crop((0, new_rows[0], new.width, new_rows[1])).convert("RGB")
        box = ImageChops.difference(a, b).getbbox()
        return (box[0], box[2]) if box else None
    spans = [s for s in (_content_columns(old, *old_rows) if old_rows[1] > old_rows[0] else None,
                         _content_columns(new, *new_rows) if new_rows[1] > new_rows[0] else None) if s]
    if not spans:
        return (0, max(old.width, new.width))
    return min(s[0] for s in spans), max(s[1] for s in spans)


def compare_pixels(old: Image.Image, new: Image.Image, old_rgb: bytes | None = None,
                   new_rgb: bytes | None = None) -> PixelDiff:
    """Changed regions between two captures of one page, aligned by content (`*_rgb`: their RGB bytes)."""
    old_tokens, old_starts = _tokens(old, old_rgb)
    new_tokens, new_starts = _tokens(new, new_rgb)
    matcher = SequenceMatcher(None, old_tokens, new_tokens)
    spans = [(_rows(old_starts, old.height, a0, a1), _rows(new_starts, new.height, b0, b1))
             for op, a0, a1, b0, b1 in matcher.get_opcodes() if op != "equal"]
    regions = []
    unmatched = 0
    for old_rows, new_rows in _merged(spans):
        left, right = _changed_columns(old, new, old_rows, new_rows) or (0, max(old.width, new.width))
        old_box = Box(left, old_rows[0], right, old_rows[1]) if old_rows[1] > old_rows[0] else None
        new_box = Box(left, new_rows[0], right, new_rows[1]) if new_rows[1] > new_rows[0] else None
        kind = "changed" if old_box and new_box else "removed" if old_box else "added"
        regions.append(Region(kind, old_box, new_box, old_rows[0], new_rows[0]))
        unmatched += (old_rows[1] - old_rows[0]) + (new_rows[1] - new_rows[0])
    return PixelDiff(regions, (old.height + new.height - unmatched) // 2, old.height, new.height)


def _merged(spans: list[tuple[tuple[int, int], tuple[int, int]]]):
    """Neighbouring unaligned spans (a few equal rows apart in both captures) as one."""
    merged: list[list[list[int]]] = []
    for old_rows, new_rows in spans:
        if merged:
            last_old, last_new = merged[-1]
            if old_rows[0] - last_old[1] < MERGE_GAP_PX and new_rows[0] - last_new[1] < MERGE_GAP_PX:
                last_old[1], last_new[1] = old_rows[1], new_rows[1]
                continue
        merged.append([list(old_rows), list(new_rows)])
    return [(tuple(o), tuple(n)) for o, n in merged]
