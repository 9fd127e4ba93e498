"""The words of a capture, read back from the bundle's text layer, and the words two captures differ by.

The text layer is the DOM's words drawn invisibly over each tile (archiver/bundle/pdf.py): reading it
back gives what the browser rendered, not an OCR guess. Only text inside the tile's area is taken; the
label lines above and below each tile (page, URL, time, tile number) are not the page's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

import pypdf

from archiver.bundle.pdf import LABEL_BOTTOM_PT, LABEL_TOP_PT


def capture_words(reader: pypdf.PdfReader, pdf_pages: list[int]) -> list[str]:
    """The words of one capture: its tiles' pages (1-based, in order), text layer only, in reading order."""
    words: list[str] = []
    for number in pdf_pages:
        page = reader.pages[number - 1]
        height = float(page.mediabox.height)
        parts: list[str] = []

        def keep(text, cm, tm, _font, _size, parts=parts, height=height):
            y = tm[5] * cm[3] + cm[5]
            if LABEL_BOTTOM_PT < y < height - LABEL_TOP_PT:
                parts.append(text)

        page.extract_text(visitor_text=keep)
        words.extend(" ".join(parts).split())  # a line's last word carries no space of its own
    return words


@dataclass(frozen=True)
class WordDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    # The changes as phrases: ("removed"|"added"|"changed", old words, new words), for people to read.
    phrases: list[tuple[str, str, str]] = field(default_factory=list)


def compare_words(old: list[str], new: list[str]) -> WordDiff:
    """Words removed from OLD and added in NEW, aligned as a text diff (what an inserted post pushes down is not a change)."""
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    added, removed, phrases = [], [], []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        removed.extend(old[a0:a1])
        added.extend(new[b0:b1])
        kind = {"replace": "changed", "delete": "removed", "insert": "added"}[op]
        phrases.append((kind, " ".join(old[a0:a1]), " ".join(new[b0:b1])))
    return WordDiff(added, removed, phrases)
