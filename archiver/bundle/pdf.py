"""Building the run's PDF/A: a cover page, then each capture as exact image tiles with labels.

img2pdf turns each capture's PNGs into image XObjects without re-encoding a pixel (archiver/bundle/
imagepdf.py, as the capture finishes); fpdf2 draws the cover and the labels with an embedded font; QPDF
merges the files on disk, pikepdf moves each image onto its label page and adds bookmarks and metadata,
and `pikepdf.pdfa.save` writes the file only once its own validator approves it.
"""

from __future__ import annotations

import bisect
import logging
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import img2pdf
import pikepdf
import pikepdf.pdfa
from fpdf import FPDF
from fpdf.enums import TextMode

from archiver.bundle import imagepdf
from archiver.bundle.cover import draw_cover, fmt
from archiver.bundle.fonts import find_font
from archiver.bundle.imagepdf import ImagePdfs
from archiver.errors import ArchiverError
from archiver.models import PageCapture, iso
from archiver.profile import StepClock

log = logging.getLogger(__name__)

PT_PER_PX = 0.75  # a CSS pixel is 1/96 inch, a PDF unit 1/72 inch
LABEL_TOP_PT = 26.0
LABEL_BOTTOM_PT = 20.0
TILE_NAME = pikepdf.Name("/Tile")


class BundleError(ArchiverError):
    """The PDF could not be made, or did not pass PDF/A validation; nothing was stored."""


@dataclass(frozen=True)
class RunInfo:
    """What the cover page and the document metadata say about the run as a whole."""

    bundle_id: str
    organisation: str
    reason: str
    requested_by: str
    started_at: datetime
    finished_at: datetime
    tool: str
    browser: str
    pdfa: str
    post_class: str | None = None  # a single post's bundle: decision | action | evidence (records plan)
    wacz: bool = False  # a WACZ of the visit lies beside the PDF: set once it is built (pipeline._web_archive)


class _Document(FPDF):
    def __init__(self, font: Path):
        super().__init__(unit="pt", format="A4")
        self.set_auto_page_break(True, margin=40)
        self.set_margins(40, 40, 40)
        self.add_font("Body", "", str(font))
        self.set_font("Body", size=10)

    def close_fonts(self) -> None:
        """fontTools keeps the font file open; closed here, the garbage collector never closes it later in
        the middle of pikepdf's PDF/A validation, which reports that ResourceWarning as a content error and
        fails the whole bundle."""
        for font in self.fonts.values():
            if hasattr(font, "close"):
                font.close()


def _size_pt(tile) -> tuple[float, float]:
    return tile.width * PT_PER_PX, tile.height * PT_PER_PX


def _label_page(doc: _Document, capture: PageCapture, tile, number: int, total: int) -> None:
    width_pt, height_pt = _size_pt(tile)
    doc.add_page(format=(width_pt, height_pt + LABEL_TOP_PT + LABEL_BOTTOM_PT))
    doc.set_auto_page_break(False)
    doc.set_font("Body", size=8)
    doc.set_xy(6, 8)
    doc.cell(width_pt - 12, 10, f"{capture.label} · {capture.requested_url} · fångad "
             f"{fmt(capture.started_at)}", new_x="LMARGIN", new_y="NEXT")
    doc.set_xy(6, LABEL_TOP_PT + height_pt + 5)
    doc.cell(width_pt - 12, 10, f"{capture.label}: bild {tile.index + 1} av {len(capture.tiles)}, "
             f"pixelrader {tile.top}–{tile.top + tile.height - 1} · sida {number} av {total}", align="R")
    doc.set_auto_page_break(True, margin=40)


ASCENT, EM_HEIGHT = 0.928, 1.164  # DejaVu Sans: baseline below the top, and box height, per font size


def _words_by_tile(capture: PageCapture) -> list[list]:
    """Each tile's words: those whose top lies in its rows."""
    tops = [t.top for t in capture.tiles]
    buckets: list[list] = [[] for _ in capture.tiles]
    for word in capture.words:
        index = bisect.bisect_right(tops, word[1]) - 1
        if 0 <= index < len(buckets):
            buckets[index].append(word)
    return buckets


def _text_layer(doc: _Document, tile, words: list) -> None:
    """The tile's words in text mode 3 (invisible) where the browser drew them.

    `pdftotext` and a viewer's search find them and highlight them in place; the tile's pixels are
    untouched. Characters the embedded font lacks are left out: PDF/A forbids showing .notdef.
    """
    if not words:
        return
    known = doc.current_font.cmap
    doc.text_mode = TextMode.INVISIBLE
    for index, (x, y, width, height, text) in enumerate(words):
        text = "".join(ch for ch in text if ord(ch) in known)
        if not text:
            continue
        following = words[index + 1] if index + 1 < len(words) else None
        if following and abs(following[1] - y) < height / 2 and following[0] > x + width:
            # A word followed on its line carries the space up to the next one, so that text
            # extraction sees the words apart however wide the browser set the gap.
            text, width = text + " ", following[0] - x
        size = max(1.0, height * PT_PER_PX / EM_HEIGHT)
        doc.set_font_size(size)
        doc.set_stretching(100)  # fpdf2 measures with the current stretching
        natural = doc.get_string_width(text)
        if natural <= 0:
            continue
        doc.set_stretching(min(1000.0, max(10.0, 100.0 * width * PT_PER_PX / natural)))
        doc.text(x * PT_PER_PX, LABEL_TOP_PT + (y - tile.top) * PT_PER_PX + size * ASCENT, text)
    doc.set_stretching(100)
    doc.text_mode = TextMode.FILL


def _place_tile(pdf: pikepdf.Pdf, page: pikepdf.Page, image: pikepdf.Object, tile) -> None:
    """Draw the tile under the label text, filling the page between the label bands."""
    width_pt, height_pt = _size_pt(tile)
    if "/XObject" not in page.Resources:
        page.Resources.XObject = pikepdf.Dictionary()
    page.Resources.XObject[TILE_NAME] = image
    draw = f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 {LABEL_BOTTOM_PT:.4f} cm /Tile Do Q\n".encode()
    page.contents_add(pikepdf.Stream(pdf, draw), prepend=True)


@dataclass(frozen=True)
class PdfLayout:
    """Where things ended up in the PDF, for the manifest (page numbers are 1-based)."""

    pages: int
    cover_pages: int
    first_pages: dict[str, int]


def build_pdf(run: RunInfo, captures: list[PageCapture], dest: Path, clock: StepClock | None = None,
              images: ImagePdfs | None = None) -> PdfLayout:
    """Write the PDF/A to `dest`. Raises BundleError, writing nothing, if it does not validate.

    `images` holds the captures' image PDFs, made as they finished (the pipeline's); without it they are
    made here."""
    clock = clock or StepClock()
    with tempfile.TemporaryDirectory(prefix="archiver-pdf-") as scratch, \
            (ImagePdfs(Path(scratch)) if images is None else nullcontext(images)) as made:
        with clock.step("PDF build"):
            pdf, layout = _build(run, captures, Path(scratch), made)
        with pdf, clock.step("PDF/A validation and save"):
            try:
                report = pikepdf.pdfa.save(pdf, dest, run.pdfa)
            except pikepdf.pdfa.PdfaError as exc:
                raise BundleError(f"the PDF did not pass PDF/A-{run.pdfa} validation:\n"
                                  f"{exc.report.summary()}") from exc
    log.info("wrote %s (PDF/A-%s, %d pages, verdict %s)", dest.name, run.pdfa, layout.pages, report.verdict)
    return layout


def _labels(run: RunInfo, captures: list[PageCapture], ok: list[PageCapture], dest: Path) -> tuple[int, dict]:
    """The cover and every tile's page of labels and invisible text, without the images, into `dest`.

    Returns the cover's page count and each capture's first page (0-based)."""
    font = find_font()
    # The cover lists each capture's PDF pages, which follow the cover: measure it once, then draw it.
    measuring = _Document(font)
    draw_cover(measuring, run, captures, None)
    cover_pages = measuring.page
    measuring.close_fonts()
    first_pages, page = {}, cover_pages + 1
    for capture in ok:
        first_pages[capture.key] = page
        page += len(capture.tiles)
    doc = _Document(font)
    draw_cover(doc, run, captures, first_pages)
    if doc.page != cover_pages:
        raise BundleError(f"the cover took {doc.page} pages when measured at {cover_pages}")
    total = cover_pages + sum(len(c.tiles) for c in ok)
    first_index = {}  # capture key → 0-based PDF page of its first tile
    for capture in ok:
        first_index[capture.key] = doc.page
        for tile, words in zip(capture.tiles, _words_by_tile(capture)):
            _label_page(doc, capture, tile, doc.page + 1, total)
            _text_layer(doc, tile, words)
    doc.output(str(dest))
    doc.close_fonts()
    return cover_pages, first_index


def _build(run: RunInfo, captures: list[PageCapture], scratch: Path,
           images: ImagePdfs) -> tuple[pikepdf.Pdf, PdfLayout]:
    """The document: the labels' pages and the captures' image PDFs merged on disk, then each image moved
    onto its label page (within one document, so no image is read), outline and metadata."""
    ok = [c for c in captures if c.ok]
    labels = scratch / "labels.pdf"
    cover_pages, first_index = _labels(run, captures, ok, labels)
    with_tiles = [c for c in ok if c.tiles]
    merged = scratch / "merged.pdf"
    imagepdf.merge([labels, *(images.path_for(c) for c in with_tiles)], merged)
    # Streamed, not mapped: the images are read once, as the save writes them, and never count as ours.
    pdf = pikepdf.open(merged, access_mode=pikepdf.AccessMode.stream)
    labelled = cover_pages + sum(len(c.tiles) for c in ok)
    image_pages = iter(pdf.pages[labelled:])
    for capture in with_tiles:
        first = first_index[capture.key]
        for offset, tile in enumerate(capture.tiles):
            (image,) = next(image_pages).Resources.XObject.values()
            _place_tile(pdf, pdf.pages[first + offset], image, tile)
    del pdf.pages[labelled:]

    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("Försättsblad (cover)", 0))
        for capture in ok:
            outline.root.append(pikepdf.OutlineItem(f"{capture.label} – {capture.requested_url}",
                                                    first_index[capture.key]))
    _metadata(pdf, run, captures)
    return pdf, PdfLayout(len(pdf.pages), cover_pages, {k: v + 1 for k, v in first_index.items()})


def _metadata(pdf: pikepdf.Pdf, run: RunInfo, captures: list[PageCapture]) -> None:
    what = "Inlägg i sociala medier" if run.post_class else "Skärmdumpar av sociala medier"
    title = f"{what} – {run.organisation} – {run.bundle_id}"
    description = (
        f"{run.organisation}: skärmdumpar av {sum(c.ok for c in captures)} av {len(captures)} sidor. "
        f"Anledning: {run.reason}. Beställd av: {run.requested_by}. "
        f"Start {iso(run.started_at)}, slut {iso(run.finished_at)}. {run.tool}; {run.browser}. "
        + " ".join(f"[{c.key} {c.status} {c.requested_url}]" for c in captures)
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:title"] = title
        meta["dc:creator"] = [run.organisation]
        meta["dc:description"] = description
        meta["dc:identifier"] = run.bundle_id
        meta["dc:subject"] = [c.page_id for c in captures]
        meta["dc:source"] = " ".join(c.requested_url for c in captures)
        meta["xmp:CreatorTool"] = run.tool
        # Seconds only: the Info dictionary's PDF date cannot hold milliseconds and must agree.
        meta["xmp:CreateDate"] = run.finished_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["pdf:Producer"] = f"{run.tool} (img2pdf {img2pdf.__version__}, pikepdf {pikepdf.__version__})"
        meta["pdf:Keywords"] = f"reason: {run.reason}; requested by: {run.requested_by}" + (
            f"; records class: {run.post_class}" if run.post_class else "")
