"""The bench's second set: pages heavy in our kind of work, built from real third-party packages.

Five consent managers configured in Swedish (each a dialog to answer and, for some, a blur or dim to undo),
an infinite-scroll feed with lazysizes images whose pages arrive 0.6 s late, a page of vanilla-lazyload and
lozad images behind a pop-up, and the 40-post late feed (batches 1 s after the bottom comes into view).
They are the test suite's own fixtures (tests/fixtures/thirdparty, tests/fixtures/social/late-feed.html,
vendored with their licences), served the way the tests serve them. shot-scraper takes the same pages as
they first appear: it answers no dialog and scrolls no feed, which the report says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiver.demo.server import send_html, serve_directory
from bench.pages import FixturePage

TESTS = Path(__file__).resolve().parents[1] / "tests"
LATE_FEED = FixturePage("late-feed-1s", "generic", "/late-feed.html?delay_ms=1000", 0)
PAGES = [FixturePage(name, "generic", f"/{name}.html", 0) for name in (
    "vanilla-cookieconsent", "klaro", "tarteaucitron", "osano-cookieconsent", "orejime",
    "infinite-scroll", "lazyload")] + [LATE_FEED]


@contextmanager
def serve() -> Iterator[str]:
    """The third-party fixture site with its routes (images, the late feed pages), plus the late feed."""
    sys.path.insert(0, str(TESTS))
    try:
        from thirdparty_site import THIRDPARTY, routes
    finally:
        sys.path.remove(str(TESTS))
    late = (TESTS / "fixtures" / "social" / "late-feed.html").read_text(encoding="utf-8")
    extra = {"/late-feed.html": lambda req: send_html(req, 200, late)}
    with serve_directory(THIRDPARTY, routes={**routes(), **extra}) as base_url:
        yield base_url
