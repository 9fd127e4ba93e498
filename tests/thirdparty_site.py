"""Pages built from real, widely used open-source front-end packages, and what a capture of each must show.

The pages live in tests/fixtures/thirdparty/, the packages' dist files beside them (their licences and versions
in that folder's README.md). Nobody here wrote these components, so they test what our own fixtures
(tests/social_site.py) did not think of. Six consent managers configured in Swedish, as a municipality would:

- vanilla-cookieconsent: a centred box that dims the page, locks scrolling and (the site's theme) blurs it;
- klaro: its `mustConsent` modal over a blurring backdrop, without "decline all", so the answer is
  "Acceptera markerat" with nothing ticked;
- tarteaucitron: its "middle" dialog with its own blurring backdrop and a scroll lock;
- Osano's cookieconsent: a bottom bar in a web component's open shadow root, loaded a second after `load`;
- orejime: its forced modal, while the site keeps the page `inert` and `aria-hidden` until answered; its
  "Tacka nej till alla" only unticks (and is disabled while nothing is ticked), so the answer is "Spara";
- cookies-eu-banner: a bar at the top.

Each draws the shared consent marker (green: optional cookies refused, red: accepted) from its own callback.
Then an infinite-scroll feed (metafizzy's infinite-scroll, pages served 0.6 s late, lazysizes images) and a
page of lazy images (vanilla-lazyload and lozad, <img> and CSS backgrounds) whose a11y-dialog "Logga in för
att se mer" opens after scrolling, with no close control, locking, blurring and `inert`-ing the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from social_site import (
    CONSENT,
    POPUP,
    Block,
    Colour,
    Dismissal,
    PageSpec,
    Pixels,
    _blocks,
    _image,
    _wait,
    palette,
    rgb,
    row_runs,
)

from archiver.demo.server import send_html, serve_directory

THIRDPARTY = Path(__file__).parent / "fixtures" / "thirdparty"

FEED_PAGE_DELAY_S = 0.6  # how late infinite-scroll's next page arrives
FEED_POSTS = palette(30, 7, 0.45, 0.72)  # 600 x 160 block in each article.post, 6 a page over 5 pages
FEED_IMAGES = palette(10, 19, 0.80, 0.55)  # lazysizes images, 600 x 240, in posts 1, 4, 7, ...
FEED_END = rgb("#2e4057")  # 600 x 120 "Du har sett alla inlägg" on the last page
LAZY_POSTS = palette(12, 31, 0.35, 0.85)
LAZY_IMAGES = palette(12, 23, 0.70, 0.66)  # vanilla-lazyload img, its data-bg, lozad img, its background: in turn


def _posts(*hexes: str) -> tuple[Block, ...]:
    return tuple(Block(rgb(h), 600, 160, what=f"post {i + 1}") for i, h in enumerate(hexes))


def _photo(hex_colour: str) -> tuple[Block, ...]:
    return (Block(rgb(hex_colour), 600, 240, what="photo"),)


def _forbidden(*hexes: str) -> tuple[Colour, ...]:
    return tuple(rgb(h) for h in hexes)


# background: the page's own colour, which a dimmed page no longer shows anywhere.
BACKGROUND: dict[str, Colour] = {}


def _spec(id: str, background: str, files: tuple[str, ...] = (), **fields) -> PageSpec:
    BACKGROUND[id] = rgb(background)
    return PageSpec(id, "generic", f"/{id}.html", files=(f"{id}.html", *files), **fields)


SPECS: dict[str, PageSpec] = {spec.id: spec for spec in (
    _spec("vanilla-cookieconsent", "#f6f1e7", posts=_posts("#a1cc5c", "#5cccbf", "#875ccc", "#cc5c69"),
          images=_photo("#3d6b8f"), forbidden=_forbidden("#fff3c4", "#1f6f4a", "#d9c6ef"), consent=True,
          dismissed=(Dismissal(CONSENT, "Acceptera nödvändiga"),), post_count=4),
    _spec("klaro", "#eef3f8", posts=_posts("#87cc5c", "#5cbfcc", "#a15ccc", "#cc695c"),
          images=_photo("#8f6b3d"), forbidden=_forbidden("#3b2f5c", "#4d3f73", "#1e7f5c", "#2d5fa8"), consent=True,
          dismissed=(Dismissal(CONSENT, "Acceptera markerat"),), post_count=4),
    _spec("tarteaucitron", "#f2f7ee", posts=_posts("#69cc5c", "#5ca1cc", "#bf5ccc", "#cc875c"),
          images=_photo("#6b8f3d"), forbidden=_forbidden("#fde2c8", "#0f5132", "#b03a2e", "#c9d6ea"), consent=True,
          dismissed=(Dismissal(CONSENT, "Neka alla cookies"),), post_count=4),
    _spec("osano-cookieconsent", "#f7eef2", posts=_posts("#5ccc70", "#5c7fcc", "#cc5cb7", "#cca85c"),
          images=_photo("#3d8f6b"), forbidden=_forbidden("#1d3557", "#e9c46a"), consent=True,
          dismissed=(Dismissal(CONSENT, "Neka"),), post_count=4),
    _spec("orejime", "#eef6f5", posts=_posts("#5ccc92", "#5c5ecc", "#cc5c96", "#ccca5c"),
          images=_photo("#6b3d8f"), forbidden=_forbidden("#fff8e1", "#264653"), consent=True,
          dismissed=(Dismissal(CONSENT, "Spara"),), post_count=4),
    _spec("cookies-eu-banner", "#f4f4ec", posts=_posts("#5cccac", "#745ccc", "#cc5c7c", "#b4cc5c"),
          images=_photo("#8f3d6b"), forbidden=_forbidden("#12343b", "#9bd1c4", "#f4a259"), consent=True,
          dismissed=(Dismissal(CONSENT, "Jag avböjer"),), post_count=4),
    _spec("infinite-scroll", "#f0f0f7",
          posts=(*_blocks(FEED_POSTS, 600, 160, "post"), Block(FEED_END, 600, 120, what="end-of-feed marker")),
          images=_blocks(FEED_IMAGES, 600, 240, "lazysizes image"), post_count=len(FEED_POSTS),
          files=tuple(f"flode/sida-{n}.html" for n in range(2, 6))),
    _spec("lazyload", "#f9f4ef", posts=_blocks(LAZY_POSTS, 600, 160, "post"),
          images=_blocks(LAZY_IMAGES, 600, 240, "lazy image"), forbidden=_forbidden("#e0f2e9", "#7b2cbf"),
          dismissed=(Dismissal(POPUP),), post_count=len(LAZY_POSTS)),
)}
CONSENT_PAGES = tuple(page_id for page_id, spec in SPECS.items() if spec.consent)
# What the page keeps on it until its dialog is answered or closed, and the capture must undo if it hid it.
LEFTOVERS = {"lazyload": ("filter", "inert", "aria-hidden", "position")}


def background_problems(px: Pixels, colour: Colour) -> list[str]:
    """The page's background colour must run, exactly, down the page's margins from below its header.

    A page dimmed by a backdrop left behind has no pixel of it; a partly covered one has a gap.
    """
    runs = row_runs(px.rows_with(colour, 200))
    if not runs:
        return [f"page background absent: {px.describe(colour)}"]
    top, rows = max(runs, key=lambda run: run[1])
    if top > 200 or rows < px.height * 0.6:
        return [(f"page background {px.describe(colour)} runs only {rows} rows from y={top} of {px.height}: "
                 f"{runs[:6]}")]
    return []


# --- Routes ----------------------------------------------------------------------------------------------
def _late_page(name: str, seconds: float):
    def handler(req: SimpleHTTPRequestHandler) -> None:
        _wait(req, seconds)
        send_html(req, 200, (THIRDPARTY / name).read_text(encoding="utf-8"))
    return handler


def routes() -> dict[str, object]:
    found = {hexes for path in THIRDPARTY.rglob("*.html")
             for hexes in re.findall(r"/img/([0-9a-f]{6})\.png", path.read_text(encoding="utf-8"))}
    images = {f"/img/{h}.png": _image(rgb(h)) for h in found}
    feed = {f"/flode/sida-{n}.html": _late_page(f"flode/sida-{n}.html", FEED_PAGE_DELAY_S) for n in range(2, 6)}
    return {**images, **feed}


@contextmanager
def serve_thirdparty() -> Iterator[str]:
    """Serve the third-party pages and their packages on 127.0.0.1; yields the base URL."""
    with serve_directory(THIRDPARTY, routes=routes()) as base_url:
        yield base_url
