"""The bench's fixture site: ten feed pages of exact, known height, each with a few real JPEG images.

The pages are generated into a folder at run time rather than checked in, so every page's height is
exact (1,500-4,000 px, chosen below) and the images are real encoded JPEGs that the browser must fetch
and decode, as on a social-media feed, without binary files in the repository. Everything is
self-contained: no fonts, scripts or images from outside the folder.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

TOP_PX = 56  # the fixed top bar, as on the real platforms
HEAD_PX = 344  # profile block under the top bar (cover + name)
POST_PX = 440  # one post card, margin included
MIN_FOOT_PX = 100
IMAGE_SIZE = (960, 240)
COVER_SIZE = (1280, 240)

PLATFORMS = ("facebook", "instagram", "youtube", "x", "linkedin", "tiktok", "facebook", "instagram",
             "youtube", "linkedin")
COLOURS = {"facebook": "#1877f2", "instagram": "#c13584", "youtube": "#ff0000", "x": "#0f1419",
           "linkedin": "#0a66c2", "tiktok": "#010101"}
TEXTS = (
    "Nu öppnar vi anmälan till sommarlovets aktiviteter för barn och unga. Läs mer på vår webbplats.",
    "Vinterväghållningen är i full gång. Plogbilarna är ute sedan klockan fyra i morse.",
    "Välkommen till öppet hus på biblioteket i helgen – sagostund, bokbyte och fika.",
    "Kommunfullmäktige sammanträder på torsdag. Mötet sänds direkt och kan ses i efterhand.",
    "Vattenavstängning på Storgatan under tisdagen på grund av ledningsarbete.",
    "Grattis till årets miljöpristagare! Priset delas ut vid en ceremoni i stadshuset.",
    "Nu är badplatsen vid Vänern öppen igen efter renoveringen av bryggan.",
    "Tyck till om den nya översiktsplanen – samrådet pågår hela månaden.",
)


@dataclass(frozen=True)
class FixturePage:
    id: str
    platform: str
    path: str  # URL path on the fixture server
    height_px: int


def _photo(path: Path, seed: int, size: tuple[int, int] = IMAGE_SIZE) -> None:
    """A photo-like JPEG: a sky-to-ground gradient with soft shapes and noise, so it compresses like a
    real photograph (tens of kB) rather than a flat colour."""
    rng = random.Random(seed)
    w, h = size
    sky = (rng.randrange(90, 160), rng.randrange(150, 200), rng.randrange(200, 250))
    ground = (rng.randrange(40, 110), rng.randrange(90, 150), rng.randrange(30, 80))
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):
        t = y / (h - 1)
        draw.line([(0, y), (w, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(sky, ground)))
    for _ in range(12):
        x, y, r = rng.randrange(w), rng.randrange(h), rng.randrange(20, 90)
        draw.ellipse([x - r, y - r // 2, x + r, y + r // 2],
                     fill=tuple(rng.randrange(40, 255) for _ in range(3)))
    noise = Image.effect_noise(size, 40).convert("RGB")
    Image.blend(img, noise, 0.12).save(path, "JPEG", quality=85)


def _page_html(page: FixturePage, posts: int, images: list[str]) -> str:
    colour = COLOURS[page.platform]
    foot_px = page.height_px - TOP_PX - HEAD_PX - posts * POST_PX
    cards = []
    for n in range(posts):
        text = TEXTS[(n + page.height_px) % len(TEXTS)]
        cards.append(
            f'<article><div class="who"><span class="av"></span><b>Götene kommun</b>'
            f"<small>{n + 1} dag{'ar' if n else ''} sedan</small></div><p>{text}</p>"
            f'<img src="{images[n % len(images)]}" alt="Bild {n + 1}" width="{IMAGE_SIZE[0]}" '
            f'height="{IMAGE_SIZE[1]}"><div class="re">{17 * (n + 3)} gillar · {n * 4 + 2} kommentarer · '
            f"{n + 1} delningar</div></article>"
        )
    return f"""<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Götene kommun på {page.platform} (bench)</title>
<style>
  * {{ box-sizing: border-box; }}
  body {{ margin: 0; background: #f0f2f5; font: 15px/1.45 "DejaVu Sans", sans-serif; color: #1c1e21; }}
  .top {{ position: fixed; top: 0; left: 0; right: 0; height: {TOP_PX}px; background: {colour}; color: #fff;
    font-size: 22px; line-height: {TOP_PX}px; padding-left: 24px; z-index: 10; }}
  .head {{ margin-top: {TOP_PX}px; height: {HEAD_PX}px; background: #fff; }}
  .cover {{ display: block; width: 100%; height: {COVER_SIZE[1]}px; }}
  .head h1 {{ margin: 0; padding: 24px 0 0 160px; font-size: 28px; height: 104px; position: relative; }}
  .head h1::before {{ content: ""; position: absolute; left: 32px; top: -60px; width: 112px; height: 112px;
    border-radius: 50%; background: #fff; border: 6px solid {colour}; }}
  article {{ width: 1000px; height: {POST_PX - 16}px; margin: 16px auto 0; padding: 16px 20px;
    background: #fff; border-radius: 8px; overflow: hidden; }}
  .who {{ display: flex; gap: 10px; align-items: center; height: 40px; }}
  .who small {{ color: #65676b; }}
  .av {{ width: 40px; height: 40px; border-radius: 50%; background: {colour}; }}
  article p {{ margin: 10px 0; height: 44px; overflow: hidden; }}
  article img {{ display: block; width: {IMAGE_SIZE[0]}px; height: {IMAGE_SIZE[1]}px; border-radius: 6px; }}
  .re {{ margin-top: 12px; color: #65676b; }}
  footer {{ height: {foot_px}px; padding-top: 24px; text-align: center; color: #65676b; }}
</style></head>
<body><div class="top">Götene kommun</div>
<div class="head"><img class="cover" src="cover.jpg" alt="Omslagsbild"><h1>Götene kommun</h1></div>
{"".join(cards)}
<footer>© Götene kommun · fixture page {page.id} · {page.height_px} px</footer>
</body></html>
"""


def write_site(root: Path, count: int = 10, images: int = 6) -> list[FixturePage]:
    """Write `count` feed pages (heights spread evenly over 1,500-3,975 px) and their images to `root`.

    Each page has a cover photo and 2-7 posts with a photo each (at most 4 distinct ones per page).
    """
    root.mkdir(parents=True, exist_ok=True)
    names = [f"img{n}.jpg" for n in range(images)]
    for n, name in enumerate(names):
        _photo(root / name, seed=n)
    _photo(root / "cover.jpg", seed=images, size=COVER_SIZE)
    pages = []
    for n in range(count):
        platform = PLATFORMS[n % len(PLATFORMS)]
        page = FixturePage(f"p{n + 1:02d}-{platform}", platform, f"/p{n + 1:02d}.html", 1500 + n * 275)
        posts = (page.height_px - TOP_PX - HEAD_PX - MIN_FOOT_PX) // POST_PX
        chosen = [names[(n + k) % images] for k in range(min(posts, 4))]  # a few distinct images each
        (root / page.path.lstrip("/")).write_text(_page_html(page, posts, chosen), encoding="utf-8")
        pages.append(page)
    return pages
