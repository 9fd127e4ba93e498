"""Each item of an API's list response exactly as it was sent: its JSON text, not a re-serialisation.

`json.JSONDecoder.raw_decode` reads one value from a position and says where it ended, so walking the
list element by element gives every item's own characters. Their SHA-256 is over those characters in
UTF-8; the response itself is not kept (its paging cursors and tokens are not the record).
"""

from __future__ import annotations

import hashlib
import json

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def list_items(text: str, key: str) -> tuple[dict, list[tuple[str, dict]]]:
    """(the whole response, [(item's raw JSON text, item)]) for the list under top-level `key`
    ("data" for the Graph APIs, "items" for YouTube's). Raises ValueError for anything else."""
    whole = json.loads(text)
    if not isinstance(whole, dict) or not isinstance(whole.get(key, []), list):
        raise ValueError(f"the response has no list under {key!r}")  # noqa: TRY004 - a bad answer, as bad JSON is
    found: list[tuple[str, dict]] = []
    at = _skip(text, 0)
    if text[at] != "{":
        raise ValueError("the response is not a JSON object")
    at += 1
    while True:  # the top-level object's members, until `key`
        at = _skip(text, at)
        if text[at] == "}":
            return whole, found
        name, at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        at = _skip(text, at + 1)  # the colon
        if name != key:
            _value, at = _DECODER.raw_decode(text, at)
            at = _skip(text, at)
            if text[at] == ",":
                at += 1
            continue
        at = _skip(text, at + 1)  # the list's "["
        while text[at] != "]":
            start = at
            item, at = _DECODER.raw_decode(text, at)
            found.append((text[start:at], item))
            at = _skip(text, at)
            if text[at] == ",":
                at = _skip(text, at + 1)
        return whole, found


def sha256_text(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
