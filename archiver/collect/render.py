"""A collection bundle's PDF/A: every post of the period with its whole comment thread, readable, in
Swedish: who wrote it as the API gives the name, when, each edit with the time it was seen, hidden
comments marked, and what was removed with when it was last seen and first missed. The same embedded font
and `pikepdf.pdfa` validation as every bundle.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

from PIL import Image

from archiver import TOOL_NAME, __version__
from archiver.bundle.cover import fmt
from archiver.bundle.textpdf import TextDocument, save_pdfa
from archiver.errors import ArchiverError

PLATFORM_SV = {"facebook": "Facebook", "instagram": "Instagram", "youtube": "YouTube"}
KIND_SV = {"comment": "Kommentar", "reply": "Svar"}
IMAGE_WIDTH_PT = 220.0


class RenderError(ArchiverError):
    """The collection's PDF did not pass PDF/A validation: nothing is written."""


def text_of(platform: str, item: dict) -> tuple[str | None, str | None, str]:
    """(author, shown time, text) of an item's JSON as each platform names them."""
    if platform == "youtube":
        snippet = item.get("snippet") or {}
        top = (snippet.get("topLevelComment") or {}).get("snippet")
        if top is not None:
            snippet = top
        if "title" in snippet:  # a video
            return snippet.get("channelTitle"), snippet.get("publishedAt"), \
                f"{snippet.get('title') or ''}\n{snippet.get('description') or ''}".strip()
        return snippet.get("authorDisplayName"), snippet.get("publishedAt"), snippet.get("textOriginal") or ""
    author = (item.get("from") or {}).get("name") or (item.get("from") or {}).get("username") or item.get("username")
    when = item.get("created_time") or item.get("timestamp")
    return author, when, item.get("message") or item.get("caption") or item.get("text") or ""


def hidden(item: dict) -> bool:
    return bool(item.get("is_hidden") or item.get("hidden"))


def _image(doc: TextDocument, data: bytes, indent: float) -> None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError):
        return
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[3])
    flat.thumbnail((int(IMAGE_WIDTH_PT * 2), 2000))
    buffer = io.BytesIO()
    flat.save(buffer, "PNG")
    buffer.seek(0)
    height = IMAGE_WIDTH_PT * flat.height / flat.width
    if doc.get_y() + height > doc.h - doc.b_margin:
        doc.add_page()
    doc.image(buffer, x=doc.l_margin + indent, w=IMAGE_WIDTH_PT)


def _status(item: dict, history: list[dict]) -> list[str]:
    lines = []
    if len(history) > 1:
        lines.append("Redigerat: " + "; ".join(f"version {n} sedd {fmt(v['seen_at'])}" for n, v in enumerate(history, 1)))
    if item["removed_at"] is not None:
        lines.append(f"BORTTAGET: senast sett {fmt(item['last_seen_at'])}, saknades först {fmt(item['removed_at'])}")
    if hidden(json.loads(item["raw"])):
        lines.append("DOLT av sidans administratör (syns inte för besökare)")
    return lines


def _item(doc: TextDocument, platform: str, item: dict, history: list[dict], images: dict[str, list[bytes]],
          indent: float) -> None:
    for number, version in enumerate(history, 1):
        author, when, text = text_of(platform, json.loads(version["raw"]))
        label = KIND_SV.get(item["kind"], "Inlägg")
        prefix = f"(version {number} av {len(history)}) " if len(history) > 1 else ""
        doc.say(f"{label} {prefix}av {author or 'okänd'}, {when or '–'}", 8, indent)
        doc.say(text or "(ingen text)", 10, indent)
    for line in _status(item, history):
        doc.say(line, 8, indent)
    for data in images.get(item["item_id"], []):
        _image(doc, data, indent)
    doc.ln(4)


def render(dest: Path, *, organisation: str, pages: list[dict], period: tuple[datetime, datetime],
           items: list[dict], history: dict[str, list[dict]], images: dict[str, list[bytes]], pdfa: str,
           bundle_id: str) -> int:
    """Write the PDF/A; returns its page count. `items` are the catalog's rows (each with `raw`, its newest
    version), `history` every item's versions, `images` the attachments' bytes by item id."""
    doc = TextDocument()
    doc.add_page()
    doc.say("Inlägg och kommentarer insamlade via plattformarnas API", 16)
    doc.say(organisation, 12)
    doc.say(f"Period: {period[0]:%Y-%m-%d} – {period[1]:%Y-%m-%d} (inlägg publicerade under perioden, med alla "
            "kommentarer och svar som hämtats)", 9)
    posts = [i for i in items if i["kind"] == "post"]
    comments = [i for i in items if i["kind"] != "post"]
    removed = [i for i in items if i["removed_at"] is not None]
    doc.say(f"{len(posts)} inlägg, {len(comments)} kommentarer och svar, varav {len(removed)} borttagna efter "
            "insamlingen. Varje version av varje post finns i paketet som den JSON plattformen skickade "
            "(raw-*.json), med SHA-256 i manifest.json; bifogade bilder som media-*.", 9)
    for page in pages:
        doc.say(f"{page['id']}: {PLATFORM_SV.get(page['platform'], page['platform'])} {page['url']} "
                f"(konto {page['account']})", 9)
    doc.say(f"Paket {bundle_id}, skapat av {TOOL_NAME} {__version__}.", 8)
    children: dict[str, list[dict]] = {}
    for c in comments:
        children.setdefault(c["parent_id"], []).append(c)
    for post in sorted(posts, key=lambda p: (p["page_id"], p["created_at"] or p["first_seen_at"])):
        doc.add_page()
        doc.say(f"{post['page_id']} · {PLATFORM_SV.get(post['platform'], post['platform'])} · {post['item_id']}", 8)
        _item(doc, post["platform"], post, history[post["item_id"]], images, 0)

        def thread(parent: str, depth: int) -> None:
            for child in sorted(children.get(parent, []), key=lambda c: (c["created_at"] or c["first_seen_at"])):
                _item(doc, child["platform"], child, history[child["item_id"]], images, min(depth, 4) * 18)
                thread(child["item_id"], depth + 1)

        thread(post["item_id"], 1)
    return save_pdfa(doc, dest, pdfa, error=RenderError, creator=organisation, identifier=bundle_id,
                     title=f"Inlägg och kommentarer – {organisation} – {bundle_id}")
