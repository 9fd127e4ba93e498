"""What changed between two bundles: `archiver bundles compare OLD NEW`.

For each page captured in both (by capture key: a page's phone capture is compared with its phone
capture), in three ways: the pixels aligned by content (pixels.py), the words of the text layers
(words.py) and the posts (posts.py). The report is a PDF/A of its own (report.py). The bundles are
verified by the caller first (archiver.services.Services.compare): a changed bundle is never compared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pypdf
from PIL import Image

from archiver.bundle import manifest as manifest_io
from archiver.bundle.pdf import TILE_NAME
from archiver.compare.pixels import PixelDiff, compare_pixels
from archiver.compare.posts import PostDiff, compare_posts
from archiver.compare.words import WordDiff, capture_words, compare_words
from archiver.errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageComparison:
    key: str
    page_id: str
    url: str | None
    old_capture: dict  # the manifest's page entries
    new_capture: dict
    pixels: PixelDiff
    words: WordDiff
    posts: PostDiff

    @property
    def unchanged(self) -> bool:
        return not self.pixels.regions and not self.words.phrases and not self.posts.removed and not self.posts.added

    def as_dict(self) -> dict:
        return {"id": self.key, "page": self.page_id, "changed_ratio": self.pixels.changed_ratio,
                "regions": [r.as_dict() for r in self.pixels.regions],
                "words_added": self.words.added, "words_removed": self.words.removed,
                "posts_compared": self.posts.available,
                "posts_removed": self.posts.removed, "posts_added": self.posts.added}


@dataclass(frozen=True)
class Comparison:
    old: dict  # the manifests
    new: dict
    pages: list[PageComparison]
    only_old: list[str] = field(default_factory=list)  # capture keys captured in one bundle only
    only_new: list[str] = field(default_factory=list)


def _ok_captures(manifest: dict) -> dict[str, dict]:
    return {p.get("key", p["id"]): p for p in manifest["pages"] if p["status"] == "ok" and p.get("tiles")}


def capture_pixels(pdf: pikepdf.Pdf, capture: dict) -> bytes:
    """The capture's pixels as RGB rows, its tiles in order as the PDF holds them (verified before this is
    called). An 8-bit RGB tile's decoded stream is those rows already (their SHA-256 is the manifest's),
    read without making an image of it; any other tile goes through Pillow."""
    rows = []
    for tile in capture["tiles"]:
        xobject = pdf.pages[tile["pdf_page"] - 1].Resources.XObject[TILE_NAME]
        if xobject.get("/ColorSpace") == pikepdf.Name.DeviceRGB and xobject.get("/BitsPerComponent") == 8 \
                and "/SMask" not in xobject:
            rows.append(xobject.read_bytes())
        else:
            rows.append(pikepdf.PdfImage(xobject).as_pil_image().convert("RGB").tobytes())
    return b"".join(rows)


def compare_folders(old_folder: Path, new_folder: Path, page: str | None = None,
                    on_images: Callable[[PageComparison, Image.Image, Image.Image], object] | None = None
                    ) -> tuple[Comparison, dict[str, object]]:
    """Compare two (verified) bundle folders. `page`: only that page id (or capture key). `on_images` is
    given each page's result and its two captures while they are in memory (one page's at a time); what it
    returns is kept by capture key (the report's reduced crops)."""
    old = manifest_io.load(Path(old_folder) / manifest_io.MANIFEST_NAME)
    new = manifest_io.load(Path(new_folder) / manifest_io.MANIFEST_NAME)
    old_caps, new_caps = _ok_captures(old), _ok_captures(new)
    keys = [k for k in new_caps if k in old_caps]
    if page is not None:
        keys = [k for k in keys if k == page or new_caps[k]["id"] == page]
        if not keys:
            raise BadInputError(f"page {page!r} was not captured in both bundles ({old['bundle_id']}: "
                                f"{', '.join(old_caps) or 'none'}; {new['bundle_id']}: {', '.join(new_caps) or 'none'})")
    pages, images = [], {}
    old_path, new_path = Path(old_folder) / old["pdf"]["file"], Path(new_folder) / new["pdf"]["file"]
    with pikepdf.open(old_path) as old_pdf, pikepdf.open(new_path) as new_pdf, \
            old_path.open("rb") as old_file, new_path.open("rb") as new_file:
        old_text, new_text = pypdf.PdfReader(old_file), pypdf.PdfReader(new_file)
        for key in keys:
            a, b = old_caps[key], new_caps[key]
            old_rows, new_rows = capture_pixels(old_pdf, a), capture_pixels(new_pdf, b)
            old_image = Image.frombytes("RGB", (a["width_px"], a["height_px"]), old_rows)
            new_image = Image.frombytes("RGB", (b["width_px"], b["height_px"]), new_rows)
            pixels = compare_pixels(old_image, new_image, old_rows, new_rows)
            del old_rows, new_rows
            words = compare_words(capture_words(old_text, [t["pdf_page"] for t in a["tiles"]]),
                                  capture_words(new_text, [t["pdf_page"] for t in b["tiles"]]))
            posts = compare_posts(a.get("post_list"), b.get("post_list"))
            for post in posts.removed:  # where a person asking about it finds it: the bundle that last showed it
                post["last_seen"] = {"bundle_id": old["bundle_id"], "captured_at": a.get("capture_start"),
                                     "dnr": [r["dnr"] for r in old.get("registrations", []) if r.get("dnr")]}
            pages.append(PageComparison(key, b["id"], b.get("requested_url"), a, b, pixels, words, posts))
            log.info("compared %s: %.1f %% of rows changed in %d region(s), %d word(s) added, %d removed, "
                     "%d post(s) gone, %d new", key, 100 * pixels.changed_ratio, len(pixels.regions),
                     len(words.added), len(words.removed), len(posts.removed), len(posts.added))
            if on_images is not None:
                images[key] = on_images(pages[-1], old_image, new_image)
            del old_image, new_image
    only_old = [k for k in old_caps if k not in new_caps] if page is None else []
    only_new = [k for k in new_caps if k not in old_caps] if page is None else []
    return Comparison(old, new, pages, only_old, only_new), images
