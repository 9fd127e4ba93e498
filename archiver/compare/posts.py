"""Which posts of OLD are gone from NEW, and which are new: matched by permalink where the page shows one,
else by their text word for word, else by author and time as shown, else by much the same text.

The capture lists each post (archiver/capture/inpage/posts.js: box, permalink, author, time, the start of
its text and a hash of it). A post whose text was edited keeps its permalink (or author and time), so it
is the same post, changed, not one removed and one added. Bundles made before posts were listed have no
list: `available` says so rather than reporting every post as new.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from urllib.parse import parse_qsl, urlsplit, urlunsplit

SAME_TEXT = 0.6  # text similarity (difflib ratio) above which two posts without permalink, author or time match
KEPT_QUERY = {"v", "story_fbid", "fbid", "id"}  # the query keys that name a post; tracking keys are dropped


def _permalink(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    query = "&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query)) if k in KEPT_QUERY)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"), query, ""))


def describe(post: dict) -> dict:
    """A post as the report and the JSON name it."""
    return {"permalink": post.get("permalink"), "author": post.get("author"), "time": post.get("time"),
            "text": (post.get("text") or "")[:200], "top_px": post.get("top")}


@dataclass(frozen=True)
class PostDiff:
    available: bool
    removed: list[dict] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)
    kept: int = 0


def compare_posts(old: list[dict] | None, new: list[dict] | None) -> PostDiff:
    if old is None or new is None:
        return PostDiff(False)
    left, right = list(old), list(new)
    pairs = 0
    keys = (lambda p: _permalink(p.get("permalink")),
            lambda p: p.get("text_sha256") if p.get("text") else None,  # the same text, word for word
            lambda p: (p.get("author"), p.get("time")) if p.get("author") and p.get("time") else None)
    for key in keys:
        # A key two posts share in either capture ("Götene kommun", "3 d") tells nothing apart: only keys
        # that name one post in each are used.
        shared = Counter(k for p in old if (k := key(p)) is not None) + Counter(
            k for p in new if (k := key(p)) is not None)
        index = {k: p for p in right if (k := key(p)) is not None}
        unmatched = []
        for post in left:
            k = key(post)
            if k is not None and shared[k] == 2 and k in index:
                right.remove(index.pop(k))
                pairs += 1
            else:
                unmatched.append(post)
        left = unmatched
    # Last: posts that say nothing better than their text, matched when the texts are much alike.
    unmatched = []
    for post in left:
        best, score = None, SAME_TEXT
        for other in right:
            if (post.get("author") or other.get("author")) and post.get("author") != other.get("author"):
                continue
            ratio = SequenceMatcher(None, post.get("text") or "", other.get("text") or "").ratio()
            if ratio > score:
                best, score = other, ratio
        if best is None:
            unmatched.append(post)
        else:
            right.remove(best)
            pairs += 1
    return PostDiff(True, [describe(p) for p in unmatched], [describe(p) for p in right], pairs)
