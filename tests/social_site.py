"""Loopback pages that behave like social-media sites, the facts a capture of them must show, and pixel helpers.

The pages live in tests/fixtures/social/. Every colour that matters is solid and unique, so a test can tell
from the pixels alone whether a post is there (its exact colour, undimmed), whether every image loaded
(its colour, no placeholder grey), whether a consent dialog, pop-up or backdrop was left in the picture
(their colours), whether the fixed header is there once, and which consent answer the page received
(a marker block the page itself draws after the answer: green for "reject optional", red for "accept all").

`serve_social()` starts the server: static pages at /<name>.html plus the dynamic routes below (redirects,
consent cookies, the infinite feed's JSON, solid-colour PNGs with a delay, a long poll that never answers).
"""

from __future__ import annotations

import colorsys
import html
import io
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from PIL import Image, ImageChops

from archiver.capture.throttle import Throttle
from archiver.demo.server import hang, send_html, serve_directory

SOCIAL = Path(__file__).parent / "fixtures" / "social"

Colour = tuple[int, int, int]


def rgb(hex_colour: str) -> Colour:
    """'#1d9bf0' -> (29, 155, 240)."""
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def hex_of(colour: Colour) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def palette(n: int, hue0: float, s: float, v: float) -> tuple[Colour, ...]:
    """`n` evenly spaced hues at saturation `s` and value `v`: distinct solid colours for posts."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb(((hue0 + i * 360 / n) % 360) / 360, s, v)
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return tuple(out)


def dimmed(colour: Colour, alpha: float = 0.6) -> Colour:
    """What `colour` looks like under a backdrop of rgba(0, 0, 0, alpha)."""
    return tuple(round(c * (1 - alpha)) for c in colour)  # type: ignore[return-value]


# The second run of the fidelity pages: a slow mobile connection and a phone's CPU.
THROTTLED = Throttle(latency_ms=150, download_kbps=10_000, upload_kbps=5_000, cpu_slowdown=4)

# --- Colours shared by every page -------------------------------------------------------------------------
WHITE = (255, 255, 255)
BACKDROP_ON_WHITE = dimmed(WHITE)  # rgba(0, 0, 0, 0.6) over the white page: (102, 102, 102)
MARKER_REJECTED = rgb("#00a050")  # the page shows this 400x120 block after "reject optional cookies"
MARKER_ACCEPTED = rgb("#e62828")  # ... and this one after "accept all"
MARKER_SIZE = (400, 120)

# --- facebook.html ----------------------------------------------------------------------------------------
FB_HEADER = rgb("#3b5998")  # position: fixed, 56 px
FB_HEADER_PX = 56
FB_COVER = rgb("#8b5a2b")  # 1100 x 300 image
FB_AVATAR = rgb("#cd853f")  # 168 x 168 image, round
FB_PHOTOS = (rgb("#2e8b57"), rgb("#b8860b"), rgb("#4682b4"), rgb("#9932cc"))  # 640 x 300 images, posts 2, 5, 8, 11
FB_POSTS = palette(12, 5, 0.62, 0.86)  # 640 x 160 block in each div[role=article]
FB_CONSENT = rgb("#ffdead")  # the cookie dialog
FB_CONSENT_ACCEPT = rgb("#0866ff")  # "Tillåt alla cookies"
FB_CONSENT_REJECT = rgb("#d6e4f7")  # "Avvisa valfria cookies"
FB_LOGIN = rgb("#fffacd")  # "Se mer av Götene kommun på Facebook" pop-up after scrolling
FB_LOGIN_BUTTON = rgb("#1877f2")  # its "Logga in" button

# --- instagram.html (+ instagram-consent.html, cross-site iframe) -----------------------------------------
IG_AVATAR = rgb("#e1306c")  # 150 x 150 image, round
IG_POSTS = palette(12, 17, 0.50, 0.93)  # 400 x 400 images, one per <article>
IG_CONSENT = rgb("#faebd7")  # the iframe's page
IG_CONSENT_ACCEPT = rgb("#0095f6")  # "Allow all cookies"
IG_CONSENT_DECLINE = rgb("#dcf0e6")  # "Decline optional cookies"
IG_LOGIN = rgb("#ffe4e1")  # the "log in to see more" overlay's box (no close control)
IG_LOGIN_BUTTON = rgb("#0064e0")

# --- x.html (feed from /api/x/timeline) -------------------------------------------------------------------
X_HEADER = rgb("#1d9bf0")  # position: fixed, 53 px
X_HEADER_PX = 53
X_SIDEBAR = rgb("#ffad1f")  # position: sticky, 350 x 300
X_SIDEBAR_SIZE = (350, 300)
X_END = rgb("#17bf63")  # 500 x 120 "end of feed" block, shown after the 40th post
X_PLACEHOLDER = rgb("#cfd9de")  # grey behind images until they load
X_POST_COUNT = 40
X_BATCH = 5
X_BATCH_DELAY_S = 0.3
X_POSTS = palette(X_POST_COUNT, 3, 0.70, 0.62)  # 500 x 120 card in each article[data-testid=tweet]
X_CARD_SIZE = (500, 120)
X_IMAGE_SIZE = (500, 200)
X_IMAGE_POSTS = tuple(i for i in range(X_POST_COUNT) if i % 3 != 2)  # i % 3 == 0: loading=lazy; 1: data-src
X_IMAGES = palette(len(X_IMAGE_POSTS), 11, 0.85, 0.78)

# --- youtube.html (+ youtube-consent.html) ----------------------------------------------------------------
YT_HEADER = rgb("#cc0000")  # masthead, position: fixed, 56 px
YT_HEADER_PX = 56
YT_BANNER = rgb("#ff7f50")  # 1232 x 200 image
YT_AVATAR = rgb("#483d8b")  # 120 x 120 image, round
YT_THUMBS = palette(12, 29, 0.58, 0.74)  # 400 x 225 thumbnails, one per ytd-rich-item-renderer
YT_CONSENT = rgb("#e8f0fe")  # the consent page's box
YT_CONSENT_REJECT = rgb("#1a73e8")  # "Avvisa alla"
YT_CONSENT_ACCEPT = rgb("#0b57d0")  # "Godkänn alla"

# --- tiktok.html, tiktok-unavailable.html (+ tiktok-cookie-banner.js, open shadow root) --------------------
TT_AVATAR = rgb("#ff0050")  # 116 x 116 image, round
TT_POSTS = palette(9, 41, 0.47, 0.82)  # 400 x 533 covers, one per [data-e2e=user-post-item]
TT_BANNER = rgb("#e0f7f6")  # the cookie banner
TT_BANNER_REJECT = rgb("#fe2c55")  # "Avvisa alla"
TT_BANNER_ACCEPT = rgb("#4b2a6d")  # "Tillåt alla"

# --- kommun.html (generic) --------------------------------------------------------------------------------
KOMMUN_POSTS = palette(6, 53, 0.72, 0.90)  # 600 x 160 block in each <article>
KOMMUN_COOKIE_BAR = rgb("#003057")  # fixed at the bottom, no backdrop
KOMMUN_COOKIE_REJECT = rgb("#bada55")  # "Endast nödvändiga"
KOMMUN_COOKIE_ACCEPT = rgb("#ffc72c")  # "Acceptera alla"
KOMMUN_APP_BANNER = rgb("#663399")  # "Öppna appen" bar, fixed at the bottom, closed with "×"
KOMMUN_APP_LINK = rgb("#ffd400")

# --- never-idle.html (generic) ----------------------------------------------------------------------------
IDLE_POSTS = palette(4, 67, 0.40, 0.66)  # 600 x 150 block in each <article>


# --- late-feed.html (generic): batches appended by a timer after the bottom comes into view -----------------
LATE_POSTS = palette(40, 23, 0.45, 0.72)  # 600 x 100 card in each <article>; the page lists the same hex values
LATE_CARD = (600, 100)
LATE_END = rgb("#2d6a4f")  # 600 x 100 "no more posts" block under the 40th post
LATE_BATCH = 10


# --- What a capture of each page must show ----------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """A solid rectangle of `colour`, `width` x `height` px on the page (round: a circle inside that box).

    `top`: the row it must start at in the capture (fixed headers: 0), or None for anywhere.
    """

    colour: Colour
    width: int
    height: int
    round: bool = False
    what: str = ""
    top: int | None = None


@dataclass(frozen=True)
class Dismissal:
    """One entry `dismissed` must hold: its kind is one of `kinds`; a clicked one's label contains `label`."""

    kinds: frozenset[str]
    label: str | None = None


@dataclass(frozen=True)
class PageSpec:
    id: str
    platform: str
    path: str
    failure: str | None = None  # the expected `failure` of a page that must not be archived
    posts: tuple[Block, ...] = ()
    images: tuple[Block, ...] = ()
    forbidden: tuple[Colour, ...] = ()  # consent dialogs, pop-ups, banners and their buttons
    placeholder: Colour | None = None  # shown only until an image has loaded
    consent: bool = False  # the page asks for consent and draws MARKER_REJECTED/ACCEPTED after the answer
    fixed: tuple[Block, ...] = ()  # fixed or sticky: must appear exactly once; fixed headers at the top
    dismissed: tuple[Dismissal, ...] = ()
    post_count: int | None = None
    files: tuple[str, ...] = ()  # fixture files that set the page's colours


def _blocks(colours, width, height, what) -> tuple[Block, ...]:
    return tuple(Block(c, width, height, what=f"{what} {i + 1}") for i, c in enumerate(colours))


CONSENT = frozenset({"consent"})
POPUP = frozenset({"popup", "overlay"})
BANNER = frozenset({"banner", "popup", "overlay"})

SPECS: dict[str, PageSpec] = {spec.id: spec for spec in (
    PageSpec(
        "facebook", "facebook", "/facebook.html",
        posts=_blocks(FB_POSTS, 640, 160, "post"),
        images=(Block(FB_COVER, 1100, 300, what="cover photo"), Block(FB_AVATAR, 168, 168, True, "profile picture"),
                *_blocks(FB_PHOTOS, 640, 300, "photo")),
        forbidden=(FB_CONSENT, FB_CONSENT_ACCEPT, FB_CONSENT_REJECT, FB_LOGIN, FB_LOGIN_BUTTON),
        consent=True,
        fixed=(Block(FB_HEADER, 1280, FB_HEADER_PX, what="fixed header", top=0),),
        dismissed=(Dismissal(CONSENT, "Avvisa valfria cookies"), Dismissal(POPUP)),
        post_count=12,
        files=("facebook.html",),
    ),
    PageSpec(
        "instagram", "instagram", "/instagram.html",
        posts=_blocks(IG_POSTS, 400, 400, "post image"),
        images=(Block(IG_AVATAR, 150, 150, True, "profile picture"),),
        forbidden=(IG_CONSENT, IG_CONSENT_ACCEPT, IG_CONSENT_DECLINE, IG_LOGIN, IG_LOGIN_BUTTON),
        consent=True,
        dismissed=(Dismissal(CONSENT, "Decline optional cookies"), Dismissal(POPUP)),
        post_count=12,
        files=("instagram.html", "instagram-consent.html"),
    ),
    PageSpec(
        "x", "x", "/x.html",
        posts=(*_blocks(X_POSTS, *X_CARD_SIZE, "post"), Block(X_END, *X_CARD_SIZE, what="end-of-feed marker")),
        images=_blocks(X_IMAGES, *X_IMAGE_SIZE, "image"),
        placeholder=X_PLACEHOLDER,
        fixed=(Block(X_HEADER, 1280, X_HEADER_PX, what="fixed header", top=0),
               Block(X_SIDEBAR, *X_SIDEBAR_SIZE, what="sticky sidebar")),
        post_count=X_POST_COUNT,
        files=("x.html",),
    ),
    PageSpec(
        "youtube", "youtube", "/youtube/@gotenekommun/videos",
        posts=_blocks(YT_THUMBS, 400, 225, "thumbnail"),
        images=(Block(YT_BANNER, 1232, 200, what="channel banner"), Block(YT_AVATAR, 120, 120, True, "avatar")),
        forbidden=(YT_CONSENT, YT_CONSENT_REJECT, YT_CONSENT_ACCEPT),
        consent=True,
        fixed=(Block(YT_HEADER, 1280, YT_HEADER_PX, what="masthead", top=0),),
        dismissed=(Dismissal(CONSENT, "Avvisa alla"),),
        post_count=12,
        files=("youtube.html", "youtube-consent.html"),
    ),
    PageSpec("linkedin", "linkedin", "/linkedin/company/gotene-kommun", failure="login_wall"),
    PageSpec(
        "tiktok", "tiktok", "/tiktok/@gotenekommun",
        posts=_blocks(TT_POSTS, 400, 533, "video cover"),
        images=(Block(TT_AVATAR, 116, 116, True, "avatar"),),
        forbidden=(TT_BANNER, TT_BANNER_REJECT, TT_BANNER_ACCEPT),
        consent=True,
        dismissed=(Dismissal(CONSENT, "Avvisa alla"),),
        post_count=9,
        files=("tiktok.html", "tiktok-cookie-banner.js"),
    ),
    PageSpec("tiktok-deleted", "tiktok", "/tiktok/@gotene.fritid", failure="unavailable"),
    PageSpec(
        "never-idle", "generic", "/never-idle.html",
        posts=_blocks(IDLE_POSTS, 600, 150, "post"),
        post_count=4,
        files=("never-idle.html",),
    ),
    PageSpec(
        "kommun", "generic", "/kommun.html",
        posts=_blocks(KOMMUN_POSTS, 600, 160, "news item"),
        forbidden=(KOMMUN_COOKIE_BAR, KOMMUN_COOKIE_REJECT, KOMMUN_COOKIE_ACCEPT, KOMMUN_APP_BANNER, KOMMUN_APP_LINK),
        consent=True,
        dismissed=(Dismissal(CONSENT, "Endast nödvändiga"), Dismissal(BANNER)),
        post_count=6,
        files=("kommun.html",),
    ),
)}


def all_colours() -> dict[Colour, str]:
    """Every colour a page declares, to check that no two things share one (shared markers excepted)."""
    seen: dict[Colour, str] = {}
    for spec in SPECS.values():
        named = [(b.colour, f"{spec.id} {b.what}") for b in (*spec.posts, *spec.images, *spec.fixed)]
        named += [(c, f"{spec.id} dialog/pop-up/banner") for c in spec.forbidden]
        if spec.placeholder:
            named.append((spec.placeholder, f"{spec.id} placeholder"))
        for colour, what in named:
            if colour in seen:
                raise ValueError(f"{hex_of(colour)} is used by both {seen[colour]} and {what}")
            seen[colour] = what
    for i, colour in enumerate(LATE_POSTS):
        if colour in seen:
            raise ValueError(f"{hex_of(colour)} is used by both {seen[colour]} and late-feed post {i + 1}")
        seen[colour] = f"late-feed post {i + 1}"
    for colour, what in ((LATE_END, "late-feed end marker"), (MARKER_REJECTED, "marker rejected"), (MARKER_ACCEPTED, "marker accepted"),
                         (WHITE, "page background"), (BACKDROP_ON_WHITE, "backdrop")):
        if colour in seen:
            raise ValueError(f"{hex_of(colour)} is used by both {seen[colour]} and {what}")
        seen[colour] = what
    return seen


# --- Routes ------------------------------------------------------------------------------------------------
def _query(req: SimpleHTTPRequestHandler) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(req.path).query).items()}


def _cookies(req: SimpleHTTPRequestHandler) -> dict[str, str]:
    jar = SimpleCookie()
    try:
        jar.load(req.headers.get("Cookie", ""))
    except CookieError:  # a malformed header counts as no cookies
        return {}
    return {k: m.value for k, m in jar.items()}


def _wait(req: SimpleHTTPRequestHandler, seconds: float) -> None:
    """Sleep, but give up at once when the server is stopping."""
    stopping: threading.Event = req.server.stopping  # type: ignore[attr-defined]
    stopping.wait(max(0.0, seconds))


def _send(req: SimpleHTTPRequestHandler, code: int, body: bytes, content_type: str,
          headers: tuple[tuple[str, str], ...] = ()) -> None:
    req.send_response(code)
    req.send_header("Content-Type", content_type)
    req.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        req.send_header(name, value)
    req.end_headers()
    if req.command != "HEAD":
        req.wfile.write(body)


def _redirect(req: SimpleHTTPRequestHandler, location: str, *cookies: str) -> None:
    req.send_response(302)
    req.send_header("Location", location)
    for cookie in cookies:
        req.send_header("Set-Cookie", cookie)
    req.send_header("Content-Length", "0")
    req.end_headers()


def _page(name: str, **slots: str):
    """A handler answering 200 with fixture file `name`; `{{slot}}` placeholders are filled, HTML-escaped."""
    def handler(req: SimpleHTTPRequestHandler) -> None:
        body = (SOCIAL / name).read_text(encoding="utf-8")
        for slot, fill in slots.items():
            body = body.replace("{{" + slot + "}}", html.escape(fill(req)))
        send_html(req, 200, body)
    return handler


@lru_cache(maxsize=512)
def solid_png(colour: Colour, width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def _image(colour: Colour):
    """/img/<rrggbb>.png?w=W&h=H&delay_ms=N: a solid PNG of that colour, answered after N ms."""
    def handler(req: SimpleHTTPRequestHandler) -> None:
        q = _query(req)
        width = min(4000, max(1, int(q.get("w", 100))))
        height = min(4000, max(1, int(q.get("h", 100))))
        _wait(req, int(q.get("delay_ms", 0)) / 1000)
        _send(req, 200, solid_png(colour, width, height), "image/png")
    return handler


def image_routes() -> dict[str, object]:
    """One route per image colour: those the fixture files name, and the X feed's."""
    found = {colour for path in SOCIAL.iterdir() if path.suffix in (".html", ".js", ".css")
             for colour in map(rgb, re.findall(r"/img/([0-9a-f]{6})\.png", path.read_text(encoding="utf-8")))}
    found |= set(X_IMAGES)
    return {f"/img/{hex_of(c)[1:]}.png": _image(c) for c in found}


X_TEXTS = (
    "Vinterväghållning: plogbilarna är ute sedan klockan fyra. Tack för ert tålamod!",
    "Nu öppnar anmälan till sommarlovsaktiviteterna för barn och unga i Götene.",
    "Kommunfullmäktige sammanträder på måndag kl. 18.00. Sändningen går att följa på webben.",
    "Vattenavstängning på Källbyvägen tisdag kl. 9–12 på grund av ledningsarbete.",
    "Biblioteket har nya öppettider från och med 1 september.",
    "Välkommen till öppet hus på Holmestads förskola! Vi bjuder på fika.",
    "Återvinningscentralen håller stängt på helgdagsafton.",
    "Rekordmånga besökte Kinnekulle vandringsled i helgen. Hjälp oss att hålla naturen ren!",
)


def x_post(i: int) -> dict:
    post = {"id": f"17{i:017d}", "n": i + 1, "colour": hex_of(X_POSTS[i]), "text": X_TEXTS[i % len(X_TEXTS)],
            "time": f"{i + 1} tim", "image": None}
    if i in X_IMAGE_POSTS:
        colour = X_IMAGES[X_IMAGE_POSTS.index(i)]
        w, h = X_IMAGE_SIZE
        post["image"] = {"src": f"/img/{hex_of(colour)[1:]}.png?w={w}&h={h}&delay_ms={100 + (i * 37) % 500}",
                         "lazy": "native" if i % 3 == 0 else "data-src", "width": w, "height": h}
    return post


def x_timeline(req: SimpleHTTPRequestHandler) -> None:
    """/api/x/timeline?cursor=N: the next X_BATCH posts after ~300 ms, and the next cursor (null at the end)."""
    cursor = max(0, int(_query(req).get("cursor", 0) or 0))
    _wait(req, X_BATCH_DELAY_S)
    end = min(X_POST_COUNT, cursor + X_BATCH)
    body = {"posts": [x_post(i) for i in range(cursor, end)], "next_cursor": end if end < X_POST_COUNT else None}
    _send(req, 200, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


def poll(req: SimpleHTTPRequestHandler) -> None:
    """/api/poll: answers at once, so a page can poll it for ever."""
    _send(req, 200, b'{"unread": 0, "live": true}', "application/json")


def _this_url(req: SimpleHTTPRequestHandler) -> str:
    return f"http://{req.headers.get('Host', '127.0.0.1')}{req.path}"


def youtube_channel(req: SimpleHTTPRequestHandler) -> None:
    """The channel's videos, once consent is answered; before that a redirect to the consent page."""
    if "SOCS" not in _cookies(req):
        _redirect(req, f"/consent/m?continue={quote(_this_url(req), safe='')}&gl=SE&m=0&pc=yt&cm=2&hl=sv&src=1")
        return
    _page("youtube.html")(req)


def youtube_consent_save(req: SimpleHTTPRequestHandler) -> None:
    """The consent form's target: a cookie recording the answer, then back to `continue`."""
    q = _query(req)
    target = q.get("continue", "/")
    if urlsplit(target).netloc not in ("", req.headers.get("Host")):
        target = "/"
    choice = "reject" if q.get("set_eom") == "true" else "accept"
    _redirect(req, target, f"SOCS=CAE.{choice}; Path=/; Max-Age=33696000; SameSite=Lax")


def linkedin_company(req: SimpleHTTPRequestHandler) -> None:
    """Visitors without a session are sent to the authwall, as LinkedIn does."""
    _redirect(req, "/authwall?trk=bf&trkInfo=AQFhxGDnGz3Z9wAAAZA&original_referer="
                   f"&sessionRedirect={quote(_this_url(req), safe='')}")


def post_comments(req: SimpleHTTPRequestHandler) -> None:
    """/api/post/comments?page=N&delay_ms=D: page N of post-thread.html's further comments, after D ms."""
    q = _query(req)
    pages = json.loads((SOCIAL / "post-thread-comments.json").read_text(encoding="utf-8"))
    _wait(req, int(q.get("delay_ms", 0)) / 1000)
    body = pages.get(q.get("page", "1"), {"html": "", "more": False})
    _send(req, 200, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


def routes() -> dict[str, object]:
    return {
        **image_routes(),
        "/api/x/timeline": x_timeline,
        "/api/poll": poll,
        "/api/longpoll": hang,
        "/api/post/comments": post_comments,
        "/youtube/@gotenekommun/videos": youtube_channel,
        "/consent/m": _page("youtube-consent.html", continue_url=lambda req: _query(req).get("continue", "/")),
        "/consent/save": youtube_consent_save,
        "/linkedin/company/gotene-kommun": linkedin_company,
        "/authwall": _page("linkedin-authwall.html"),
        "/tiktok/@gotenekommun": _page("tiktok.html"),
        "/tiktok/@gotene.fritid": _page("tiktok-unavailable.html"),
    }


@contextmanager
def serve_social() -> Iterator[str]:
    """Serve the social fixture site on 127.0.0.1; yields its base URL. Pages reach `localhost` on the same
    port for a cross-site iframe."""
    with serve_directory(SOCIAL, routes=routes()) as base_url:
        yield base_url


# --- Pixel helpers -----------------------------------------------------------------------------------------
class Pixels:
    """Questions about the colours of one RGB image, answered with Pillow's C loops (no per-pixel Python)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image.convert("RGB")
        self.width, self.height = self.image.size
        self._bands = self.image.split()
        self._counts: dict[Colour, int] | None = None

    def count(self, colour: Colour) -> int:
        """How many pixels are exactly `colour`."""
        if self._counts is None:
            colours = self.image.getcolors(maxcolors=self.width * self.height) or []
            self._counts = {c: n for n, c in colours}
        return self._counts.get(tuple(colour), 0)

    def mask(self, colour: Colour, tolerance: int = 0) -> Image.Image:
        """An "L" image: 255 where every channel is within `tolerance` of `colour`, else 0."""
        channels = [band.point([255 if abs(v - c) <= tolerance else 0 for v in range(256)])
                    for band, c in zip(self._bands, colour)]
        return ImageChops.darker(ImageChops.darker(channels[0], channels[1]), channels[2])

    def bbox(self, colour: Colour) -> tuple[int, int, int, int] | None:
        """The box (left, top, right, bottom) around every pixel of exactly `colour`, or None."""
        return self.mask(colour).getbbox() if self.count(colour) else None

    def solid_block(self, colour: Colour) -> tuple[int, int, int, int] | None:
        """If the pixels of `colour` fill exactly one rectangle (nothing over it, nowhere else), its box."""
        box = self.bbox(colour)
        if box is None:
            return None
        return box if (box[2] - box[0]) * (box[3] - box[1]) == self.count(colour) else None

    def rows_with(self, colour: Colour, min_px: int, tolerance: int = 0) -> list[int]:
        """Rows holding at least `min_px` pixels of `colour` (to within a few px: a row's mean is rounded)."""
        if tolerance == 0 and not self.count(colour):
            return []
        means = self.mask(colour, tolerance).resize((1, self.height), Image.Resampling.BOX).tobytes()
        threshold = min_px * 255 / self.width
        return [y for y, mean in enumerate(means) if mean >= threshold - 1]

    def describe(self, colour: Colour) -> str:
        """What a failed assertion should say about `colour` in this image."""
        n = self.count(colour)
        if not n:
            return f"{hex_of(colour)} absent (dimmed {hex_of(dimmed(colour))}: {self.count(dimmed(colour))} px)"
        box = self.bbox(colour)
        assert box is not None
        return (f"{hex_of(colour)}: {n} px within box x={box[0]}..{box[2]} y={box[1]}..{box[3]} "
                f"({box[2] - box[0]}x{box[3] - box[1]})")


def row_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive row numbers grouped as (first row, how many): [0, 1, 2, 7] -> [(0, 3), (7, 1)]."""
    runs: list[tuple[int, int]] = []
    for y in rows:
        if runs and runs[-1][0] + runs[-1][1] == y:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((y, 1))
    return runs


# --- What is wrong with a capture of a page, as a list of sentences (empty: nothing) -----------------------
def missing_blocks(px: Pixels, blocks: tuple[Block, ...]) -> list[str]:
    """Blocks that are not in the picture exactly: their colour absent, dimmed, covered in part, or resized."""
    problems = []
    for block in blocks:
        if block.round:
            box = px.bbox(block.colour)
            size = (box[2] - box[0], box[3] - box[1]) if box else (0, 0)
            whole = px.count(block.colour) >= 0.75 * block.width * block.height
            if not whole or abs(size[0] - block.width) > 2 or abs(size[1] - block.height) > 2:
                problems.append(f"{block.what} ({block.width}x{block.height}, round): {px.describe(block.colour)}")
            continue
        box = px.solid_block(block.colour)
        if box is None or (box[2] - box[0], box[3] - box[1]) != (block.width, block.height):
            problems.append(f"{block.what} (solid {block.width}x{block.height}): {px.describe(block.colour)}")
    return problems


def leftovers(px: Pixels, spec: PageSpec) -> list[str]:
    """Consent dialogs, pop-ups, banners, image placeholders or a dimming backdrop still in the picture."""
    problems = [f"dialog/pop-up/banner colour {px.describe(c)}" for c in spec.forbidden if px.count(c)]
    if spec.placeholder and px.count(spec.placeholder):
        problems.append(f"image placeholder (an image never loaded): {px.describe(spec.placeholder)}")
    dim_rows = px.rows_with(BACKDROP_ON_WHITE, 400, tolerance=2)
    if dim_rows:
        problems.append(f"white page dimmed to ~{hex_of(BACKDROP_ON_WHITE)} by a backdrop in {len(dim_rows)} rows, "
                        f"from y={dim_rows[0]}: {row_runs(dim_rows)[:5]}")
    return problems


def fixed_problems(px: Pixels, spec: PageSpec) -> list[str]:
    """Fixed or sticky elements missing, repeated, or (headers) not at the top."""
    problems = []
    for block in spec.fixed:
        runs = row_runs(px.rows_with(block.colour, block.width // 2))
        if block.top is not None:
            once = runs == [(block.top, block.height)]
        else:
            once = [rows for _, rows in runs] == [block.height]
        if not once:
            where = f"at y={block.top}" if block.top is not None else "anywhere"
            problems.append(f"{block.what}: expected once, {block.height} rows {where}; "
                            f"rows of {hex_of(block.colour)} (first, how many): {runs[:8]}")
    return problems


def consent_problems(px: Pixels) -> list[str]:
    """The page's own marker says which consent answer it received: it must be "reject optional"."""
    problems = []
    if px.count(MARKER_ACCEPTED):
        problems.append(f"the page says optional cookies were ACCEPTED: {px.describe(MARKER_ACCEPTED)}")
    problems += missing_blocks(px, (Block(MARKER_REJECTED, *MARKER_SIZE, what="consent=rejected marker"),))
    return problems


def capture_problems(px: Pixels, spec: PageSpec) -> dict[str, list[str]]:
    """Every pixel check for one page, by name."""
    return {
        "posts": missing_blocks(px, spec.posts),
        "images": missing_blocks(px, spec.images),
        "leftovers": leftovers(px, spec),
        "fixed": fixed_problems(px, spec),
        "consent": consent_problems(px) if spec.consent else [],
    }
