"""The comparison as a report a person reads: a PDF/A of its own, in Swedish, with the same embedded font
and the same validation as a bundle (`pikepdf.pdfa.save`).

The summary comes first: the two bundles, and per page how much changed, how many words were added and
removed, and which posts disappeared or are new. Then per page each change side by side: OLD's and NEW's
pixels around it, reduced, the changed rows boxed (red: only in OLD, green: only in NEW, orange: replaced);
the words changed, as phrases; the posts, with permalink, author, time and the start of their text.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageDraw

from archiver import TOOL_NAME
from archiver.bundle.cover import fmt, reason_in_words
from archiver.bundle.textpdf import TextDocument, save_pdfa
from archiver.compare import Comparison, PageComparison
from archiver.errors import ArchiverError

log = logging.getLogger(__name__)

COLUMN_PT = 250.0  # each capture's column
CONTEXT_PX = 300  # rows of unchanged page shown above and below a change
MAX_SHOWN_PX = 1800  # a change taller than this is shown from its top
MAX_CHANGES_SHOWN = 40  # per page; the rest are counted
COLOURS = {"removed": (220, 30, 30), "added": (20, 150, 40), "changed": (235, 140, 0)}
WORDS_SHOWN = 200  # phrases per page
SUMMARY_POSTS = 10  # removed posts named in the summary, per page


class ReportError(ArchiverError):
    """The report did not pass PDF/A validation (a defect: nothing is written)."""


def _post_line(post: dict, chars: int = 90) -> str:
    facts = " · ".join(x for x in (post["author"], post["time"], post["permalink"]) if x)
    return f"{facts}: «{post['text'][:chars]}»"


def _bundle_line(manifest: dict) -> str:
    started = datetime.fromisoformat(manifest["run_start"])
    return f"{manifest['bundle_id']}, fångat {fmt(started)} ({reason_in_words(manifest.get('reason') or '')})"


def _summary(doc: TextDocument, comparison: Comparison) -> None:
    old, new = comparison.old, comparison.new
    doc.heading("Jämförelse av två fångster", 18)
    doc.say(f"{new.get('organisation') or ''}")
    doc.say(f"Före (OLD): {_bundle_line(old)}")
    doc.say(f"Efter (NEW): {_bundle_line(new)}")
    doc.say("Båda paketen verifierades före jämförelsen: deras filer är de som lagrades.")
    doc.ln(6)
    doc.heading("Sammanfattning", 13)
    if not comparison.pages:
        doc.say("Ingen sida fångades i båda paketen.")
    for page in comparison.pages:
        if page.unchanged:
            doc.say(f"{page.key}: oförändrad (samma pixlar, samma ord, samma inlägg).")
            continue
        posts = (f"{len(page.posts.removed)} inlägg borta, {len(page.posts.added)} nya" if page.posts.available
                 else "inläggen jämfördes inte (det äldre paketet listar dem inte)")
        doc.say(f"{page.key}: {100 * page.pixels.changed_ratio:.1f} % av raderna ändrade i "
                      f"{len(page.pixels.regions)} område(n); {len(page.words.added)} ord tillagda, "
                      f"{len(page.words.removed)} borttagna; {posts}.")
        for post in page.posts.removed[:SUMMARY_POSTS]:
            doc.say(f"    Borta: {_post_line(post)}", 9)
        if len(page.posts.removed) > SUMMARY_POSTS:
            doc.say(f"    … och {len(page.posts.removed) - SUMMARY_POSTS} till (se sidans avsnitt).", 9)
    for key in comparison.only_old:
        doc.say(f"{key}: fångades bara i det äldre paketet.")
    for key in comparison.only_new:
        doc.say(f"{key}: fångades bara i det nyare paketet.")


def _window(height: int, at: int, box_height: int) -> tuple[int, int]:
    top = max(0, at - CONTEXT_PX)
    return top, min(height, top + min(box_height, MAX_SHOWN_PX) + 2 * CONTEXT_PX)


def _crop(image: Image.Image, window: tuple[int, int], box, kind: str) -> Image.Image:
    crop = image.crop((0, window[0], image.width, max(window[1], window[0] + 1))).convert("RGB")
    scale = 2 * COLUMN_PT / image.width  # two pixels a point: sharp enough to read
    reduced = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.LANCZOS)
    draw = ImageDraw.Draw(reduced)
    if box is not None:
        draw.rectangle([box.left * scale, (box.top - window[0]) * scale, box.right * scale - 1,
                        (min(box.bottom, window[1]) - window[0]) * scale - 1], outline=COLOURS[kind], width=4)
    else:  # where rows would be: a line
        y = (CONTEXT_PX if window[0] > 0 else 0) * scale
        draw.line([0, y, reduced.width, y], fill=COLOURS[kind], width=4)
    return reduced


def _png(image: Image.Image) -> io.BytesIO:
    data = io.BytesIO()
    image.save(data, "PNG")
    data.seek(0)
    return data


def crops(page: PageComparison, old_image: Image.Image, new_image: Image.Image) -> list[tuple]:
    """Each change's two reduced crops, boxed: all the report keeps of the captures."""
    shown = []
    for region in page.pixels.regions[:MAX_CHANGES_SHOWN]:
        old_window = _window(old_image.height, region.old_at, region.old.height if region.old else 0)
        new_window = _window(new_image.height, region.new_at, region.new.height if region.new else 0)
        shown.append((region, _crop(old_image, old_window, region.old, region.kind),
                      _crop(new_image, new_window, region.new, region.kind)))
    return shown


def _changes(doc: TextDocument, page: PageComparison, shown: list[tuple]) -> None:
    regions = page.pixels.regions
    for number, (region, left, right) in enumerate(shown, 1):
        height_pt = max(left.height, right.height) / 2
        if doc.get_y() + height_pt + 30 > doc.h - doc.b_margin:
            doc.add_page()
        words = {"removed": "borttaget", "added": "tillagt", "changed": "ändrat"}[region.kind]
        doc.say(f"Ändring {number} av {len(regions)} ({words}): före rad {region.old_at}, efter rad "
                      f"{region.new_at}", 9)
        top = doc.get_y()
        doc.image(_png(left), x=doc.l_margin, y=top, w=COLUMN_PT)
        doc.image(_png(right), x=doc.l_margin + COLUMN_PT + 15, y=top, w=COLUMN_PT)
        doc.set_y(top + height_pt + 8)
    if len(regions) > len(shown):
        doc.say(f"… och {len(regions) - len(shown)} ändringar till (alla i JSON-utdata).")


def _page_section(doc: TextDocument, page: PageComparison, shown: list[tuple] | None) -> None:
    doc.add_page()
    doc.heading(f"{page.key} – {page.url or ''}", 13)
    if page.unchanged:
        doc.say("Oförändrad: samma pixlar, samma ord, samma inlägg.")
        return
    doc.say(f"Före {page.old_capture['height_px']} px, efter {page.new_capture['height_px']} px; "
                  f"{100 * page.pixels.changed_ratio:.1f} % av raderna ändrade. Till vänster före, till höger efter.")
    doc.ln(4)
    if shown:
        _changes(doc, page, shown)
    doc.ln(6)
    doc.heading("Ord", 12)
    if not page.words.phrases:
        doc.say("Inga ord tillagda eller borttagna.")
    for kind, before, after in page.words.phrases[:WORDS_SHOWN]:
        if kind == "changed":
            doc.say(f"Ändrat: «{before}» → «{after}»", 9)
        elif kind == "removed":
            doc.say(f"Borttaget: «{before}»", 9)
        else:
            doc.say(f"Tillagt: «{after}»", 9)
    doc.ln(6)
    doc.heading("Inlägg", 12)
    if not page.posts.available:
        doc.say("Inläggen jämfördes inte: det äldre paketet gjordes innan fångsten listade inlägg.")
        return
    for title, posts in (("Borta sedan förra fångsten", page.posts.removed), ("Nya", page.posts.added)):
        doc.say(f"{title}: {len(posts) or 'inga'}")
        for post in posts:
            doc.say(f"– {_post_line(post, 160)}", 9)
            seen = post.get("last_seen")
            if seen:
                dnr = f", diarienummer {', '.join(seen['dnr'])}" if seen["dnr"] else ", paketet är inte diariefört"
                doc.say(f"   Senast sett {fmt(datetime.fromisoformat(seen['captured_at']))} i paket "
                              f"{seen['bundle_id']}{dnr}.", 8)


def write_report(comparison: Comparison, shown: dict[str, list[tuple]], dest: Path, level: str = "2b") -> Path:
    """The report as PDF/A (`level`: the register's, as its bundles) at `dest`, written whole or not at all,
    never over another file; `shown`: `crops` by capture key."""
    doc = TextDocument()
    doc.add_page()
    _summary(doc, comparison)
    for page in comparison.pages:
        _page_section(doc, page, shown.get(page.key))
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        save_pdfa(doc, partial, level, error=ReportError, creator=comparison.new.get("organisation") or TOOL_NAME,
                  title=f"Jämförelse av {comparison.old['bundle_id']} och {comparison.new['bundle_id']}")
        os.link(partial, dest)  # fails rather than replace a report another process wrote meanwhile
    finally:
        partial.unlink(missing_ok=True)
    log.info("wrote the comparison report %s", dest)
    return dest
