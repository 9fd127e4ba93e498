"""`archiver bundles compare OLD NEW`: what changed between two captures of a page.

A fixture page is captured three times by real runs: as it was, after known changes (a post removed, a
post added at the top, one sentence edited, an image replaced), and again unchanged. The comparison must
find exactly those changes, nothing on the unchanged posts, nothing at all between the two identical
captures, and refuse a bundle that was tampered with.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pikepdf
import pytest
from conftest import register_yaml, run_cli
from PIL import Image, ImageDraw

from archiver.compare.pixels import compare_pixels
from archiver.compare.posts import compare_posts
from archiver.demo.server import serve_directory

POSTS = {
    1: "Vinterväghållningen börjar när snön kommer och plogbilarna kör från klockan fyra.",
    2: "Biblioteket har nya öppettider under jullovet, se vår webbplats för alla tider.",
    3: "Simhallen stänger för underhåll i två veckor och öppnar igen den första mars.",
    4: "Kommunfullmäktige sammanträder på torsdag och mötet sänds direkt på webben.",
    5: "Återvinningscentralen har öppet på lördagar mellan nio och femton hela vintern.",
    6: "Fritidsgården ordnar filmkväll för alla mellan tretton och sjutton år på fredag.",
    7: "Så här ser den nya lekplatsen vid torget ut, den invigs nästa vecka.",
    8: "Tack till alla som svarade på enkäten om kollektivtrafiken i kommunen.",
}
EDITED = "Återvinningscentralen har öppet på söndagar mellan tio och fjorton hela vintern."
NEW_POST = (9, "Nu är julbelysningen på plats längs hela Storgatan, välkommen på invigningen i kväll.")


def _article(number: int, text: str, image: str | None = None) -> str:
    img = f'<img src="{image}" width="600" height="200" alt="Bild till inlägg {number}">' if image else ""
    return f"""<article style="border:1px solid #ccc; margin:16px 0; padding:12px; background:#fff">
  <header><a rel="author" href="/kommun">Götene kommun</a> ·
    <a href="/kommun/posts/{number}"><time datetime="2026-11-{number:02d}T10:00:00Z">{number} nov</time></a></header>
  <p style="font-size:18px; line-height:1.5">{text}</p>{img}
</article>"""


def _page(posts: list[tuple[int, str]], image: str) -> str:
    body = "\n".join(_article(n, t, image if n == 7 else None) for n, t in posts)
    return f"""<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Götene kommun</title>
<style>body {{ font-family: DejaVu Sans, sans-serif; margin: 0 auto; width: 900px; background: #f4f4f4 }}</style>
</head><body><h1>Götene kommun</h1>{body}</body></html>"""


def _image(path: Path, colour: tuple[int, int, int]) -> None:
    image = Image.new("RGB", (600, 200), colour)
    ImageDraw.Draw(image).ellipse([200, 20, 400, 180], fill=(255, 255, 255))
    image.save(path)


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """The page captured before the changes (a pre-change snapshot), after them, and after them again."""
    tmp = tmp_path_factory.mktemp("compare")
    site = tmp / "site"
    site.mkdir()
    _image(site / "lekplats-1.png", (40, 90, 200))
    _image(site / "lekplats-2.png", (200, 60, 40))
    before = list(POSTS.items())
    after = [NEW_POST] + [(n, EDITED if n == 5 else t) for n, t in before if n != 3]
    bundles = []
    with serve_directory(site) as base:
        registry = tmp / "pages.yaml"
        registry.write_text(register_yaml([{"id": "kommun", "url": f"{base}/index.html"}], tmp / "store"),
                            encoding="utf-8")
        commands = (("snapshot", "kommun", "--reason", "inför ny webbplats", "--by", "Anna"), ("run",), ("run",))
        for command, (posts, image) in zip(commands, ((before, "lekplats-1.png"), (after, "lekplats-2.png"),
                                                     (after, "lekplats-2.png"))):
            (site / "index.html").write_text(_page(posts, image), encoding="utf-8")
            run = run_cli(*command, "--json", registry=registry)
            assert run.returncode == 0, run.stderr
            bundles.append(json.loads(run.stdout)["bundle_id"])
    return {"tmp": tmp, "registry": registry, "bundles": bundles}


def _compare(three_runs, old: str, new: str, *extra: str):
    return run_cli("bundles", "compare", old, new, "--json", "--out", str(three_runs["tmp"] / "reports"), *extra,
                   registry=three_runs["registry"])


@pytest.mark.browser
def test_the_report_finds_exactly_the_known_changes(three_runs):
    first, second, _third = three_runs["bundles"]
    result = _compare(three_runs, first, second)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    (page,) = out["pages"]
    assert page["id"] == "kommun"
    # Posts: the removed one and the new one, by permalink; the edited one is the same post, not gone.
    assert [p["permalink"].rsplit("/", 1)[1] for p in page["posts_removed"]] == ["3"]
    assert page["posts_removed"][0]["last_seen"]["bundle_id"] == first  # where to find it now
    assert [p["permalink"].rsplit("/", 1)[1] for p in page["posts_added"]] == ["9"]
    assert page["posts_compared"] is True
    # Words: the removed post's, the new post's and the edited sentence's, nothing else.
    removed, added = " ".join(page["words_removed"]), " ".join(page["words_added"])
    assert POSTS[3] in removed and NEW_POST[1] in added
    assert {"lördagar", "nio", "femton"} <= set(page["words_removed"])
    assert {"söndagar", "tio", "fjorton"} <= set(page["words_added"])
    header = {"Götene", "kommun", "·", "nov"}
    assert set(page["words_removed"]) <= set(POSTS[3].split()) | set(POSTS[5].split()) | header | {"3"}
    assert set(page["words_added"]) <= set(NEW_POST[1].split()) | set(EDITED.split()) | header | {"9"}
    # Pixels: four regions, in page order: the new post (added), the removed post, the edited sentence,
    # the replaced image; none on the unchanged posts.
    kinds = [r["kind"] for r in page["regions"]]
    assert kinds == ["added", "removed", "changed", "changed"], page["regions"]
    assert 0 < page["changed_ratio"] < 0.6
    image_region = page["regions"][3]["new"]
    assert image_region[2] - image_region[0] <= 602 and image_region[3] - image_region[1] <= 202
    report = Path(out["report"])
    assert report.is_file() and report.parent == three_runs["tmp"] / "reports"
    with pikepdf.open(report) as pdf:
        assert len(pdf.pages) >= 2
        assert "Jämförelse" in str(pdf.open_metadata()["dc:title"])


@pytest.mark.browser
def test_identical_captures_give_an_empty_report(three_runs):
    _first, second, third = three_runs["bundles"]
    result = _compare(three_runs, second, third)
    assert result.returncode == 0, result.stderr
    (page,) = json.loads(result.stdout)["pages"]
    assert (page["changed_ratio"], page["regions"], page["words_added"], page["words_removed"],
            page["posts_removed"], page["posts_added"]) == (0.0, [], [], [], [], [])
    again = _compare(three_runs, second, third)  # an earlier report is kept; the new one gets its own name
    assert json.loads(again.stdout)["report"] != json.loads(result.stdout)["report"]


@pytest.mark.browser
def test_the_report_at_pdfa_1b_passes_pdfbox_preflight(three_runs, preflight):
    """The report is validated like a bundle; written at 1b (a register's `pdfa: 1b`), the independent
    PDF/A-1b validator accepts it too."""
    from archiver.compare import compare_folders
    from archiver.compare.report import crops, write_report

    first, second, _third = three_runs["bundles"]
    store = three_runs["tmp"] / "store"
    (old,), (new,) = store.glob(f"*/{first}"), store.glob(f"*/{second}")
    comparison, shown = compare_folders(old, new, on_images=crops)
    report = write_report(comparison, shown, three_runs["tmp"] / "report-1b.pdf", "1b")
    checked = preflight(report)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.browser
def test_a_tampered_bundle_is_refused_and_nothing_is_written(three_runs):
    first, second, _third = three_runs["bundles"]
    store = three_runs["tmp"] / "store"
    (pdf,) = store.glob(f"*/{first}/{first}.pdf")
    original = pdf.read_bytes()
    out = three_runs["tmp"] / "tampered-reports"
    try:
        pdf.write_bytes(original[:-10] + b"%tampered\n")
        result = run_cli("bundles", "compare", first, second, "--json", "--out", str(out),
                         registry=three_runs["registry"])
    finally:
        pdf.write_bytes(original)
    assert result.returncode == 1 and f"bundle {first} is not what was stored" in result.stderr, result.stderr
    assert result.stdout == "" and not out.exists()


# -- the pieces, without a browser ------------------------------------------------------------------------

def _feed(posts: list[tuple[tuple[int, int, int], int, str]], width: int = 1280) -> Image.Image:
    height = sum(h for _c, h, _t in posts) + 20 * len(posts)
    image = Image.new("RGB", (width, height), "white")
    draw, y = ImageDraw.Draw(image), 0
    for colour, h, text in posts:
        draw.rectangle([40, y + 10, width - 40, y + h], fill=colour)
        draw.text((60, y + 20), text, fill="black")
        y += h + 20
    return image


def test_pixels_are_aligned_by_content_so_an_insertion_at_the_top_changes_nothing_below():
    rng = random.Random(7)
    posts = [((rng.randrange(256), rng.randrange(256), 200), rng.randrange(150, 400), f"inlägg {i}") for i in range(60)]
    old = _feed(posts)
    new = _feed([((10, 200, 10), 300, "nytt")] + posts[:20] + posts[21:40]
                + [(posts[40][0], posts[40][1], "inlägg 40 ändrat")] + posts[41:])
    diff = compare_pixels(old, new)
    assert [r.kind for r in diff.regions] == ["added", "removed", "changed"]
    added, removed, changed = diff.regions
    assert added.new.top <= 10 and added.new.bottom >= 310 and added.old is None
    assert removed.new is None and removed.old.height >= posts[20][1]
    assert changed.old.right - changed.old.left < 200 and changed.old.height < 20  # only the edited label
    assert compare_pixels(old, old).regions == [] and compare_pixels(old, old).changed_ratio == 0.0


def test_posts_are_matched_by_permalink_then_text_then_a_unique_author_and_time():
    def post(n, text, permalink=True, author="Götene kommun", time="3 d"):
        return {"permalink": f"https://example.se/kommun/posts/{n}?ref=feed" if permalink else None,
                "author": author, "time": time, "text": text, "text_sha256": str(hash(text)), "top": n * 100}

    old = [post(1, "Ett"), post(2, "Två"), post(3, "Tre", permalink=False), post(4, "Fyra inlägg om snö", False,
                                                                               time="1 d")]
    new = [post(1, "Ett, ändrat"), post(5, "Fem"), post(3, "Tre", permalink=False),
           post(4, "Fyra inlägg om snö och is", False, time="2 d")]
    diff = compare_posts(old, new)
    assert [p["permalink"] for p in diff.removed] == ["https://example.se/kommun/posts/2?ref=feed"]
    assert [p["permalink"] for p in diff.added] == ["https://example.se/kommun/posts/5?ref=feed"]
    assert diff.kept == 3  # 1 by permalink (its text edited), 3 by its text, 4 by much the same text
    # Two posts with the same author and time and no permalink say nothing about which is which.
    twins = compare_posts([post(1, "A", False), post(2, "B", False)], [post(1, "C", False)])
    assert len(twins.removed) == 2 and len(twins.added) == 1
    assert compare_posts(None, new).available is False


@pytest.mark.browser
def test_the_web_page_compares_with_the_previous_bundle_and_serves_the_report(three_runs):
    from test_web import PASSWORD, USERS, Web, request, session_for
    from webserve import serving

    from archiver.services import Services
    from archiver.web import accounts
    from archiver.web.app import create_app

    first, second, _third = three_runs["bundles"]
    services = Services(three_runs["registry"])
    for role, name in USERS.items():
        if not any(u.name == name for u in accounts.list_users(services.catalog)):
            accounts.add_user(services.catalog, name, role, PASSWORD)
    app = create_app(services)
    with serving(app) as base:
        web = Web(base, services, app)
        cookies, csrf = session_for(web, "communicator")
        snapshot = request(web, "GET", f"/bundles/{first}", cookies=cookies)
        # A pre-change snapshot offers the next capture of its page.
        assert "Jämför med nästa fångst" in snapshot.body and f'value="{second}"' in snapshot.body
        page = request(web, "GET", f"/bundles/{second}", cookies=cookies)
        assert f'<option value="{first}">' in page.body  # the previous bundle is the default (the first)
        done = request(web, "POST", f"/bundles/{second}/jamfor", cookies=cookies,
                       form={"csrf_token": csrf, "mot": first})
        assert done.status == 303 and done.location.startswith("/jamforelser/jamforelse-"), done.body
        shown = request(web, "GET", done.location, cookies=cookies)
        assert shown.status == 200 and shown.headers["Content-Type"] == "application/pdf"
        assert shown.raw.startswith(b"%PDF") and "attachment" not in shown.headers.get("Content-Disposition", "")
        download = request(web, "GET", done.location + "?ladda=ja", cookies=cookies)
        assert "attachment" in download.headers["Content-Disposition"] and download.raw == shown.raw
        listed = request(web, "GET", f"/bundles/{first}", cookies=cookies)
        assert done.location.split("/")[-1] in listed.body  # both bundles' pages list the report
        assert request(web, "GET", "/jamforelser/..%2Fcatalog.sqlite", cookies=cookies).status == 404


POSTS_HTML = """<!doctype html><html><body>
<div class="post"><span class="author">Götene kommun</span> <a href="https://example.se/kommun/posts/11"><time datetime="2026-11-01">1 nov</time></a>
  <p>Första inlägget med lite text.</p><div class="post-footer">Gilla</div></div>
<div class="post"><a href="https://example.se/watch?v=abc&amp;t=3">Video</a><p>Andra inlägget.</p></div>
</body></html>"""


@pytest.mark.browser
def test_posts_are_listed_from_common_markup_when_the_platforms_selectors_find_none(browser_choice):
    """A page built without <article>: its .post blocks are the posts (outer ones only), with their links."""
    import asyncio

    from archiver.capture import launch_browser
    from archiver.capture.consent import in_page
    from archiver.capture.recipes import recipe_for

    async def go():
        async with launch_browser(browser_choice) as browser:
            page = await browser.new_page()
            await page.set_content(POSTS_HTML)
            return await page.evaluate(in_page("posts.js"), {"recipe": recipe_for("generic").as_js(),
                                                            "maxPosts": 100, "maxY": 100_000})

    posts = asyncio.run(go())
    assert [p["permalink"] for p in posts] == ["https://example.se/kommun/posts/11",
                                               "https://example.se/watch?v=abc&t=3"]
    assert (posts[0]["author"], posts[0]["time"]) == ("Götene kommun", "2026-11-01")
    assert posts[0]["text"].startswith("Götene kommun 1 nov Första inlägget") and len(posts) == 2


@pytest.mark.browser
def test_page_picks_one_page_and_an_unknown_page_is_refused_naming_what_was_captured(three_runs):
    first, second, _third = three_runs["bundles"]
    one = _compare(three_runs, first, second, "--page", "kommun")
    assert one.returncode == 0 and [p["id"] for p in json.loads(one.stdout)["pages"]] == ["kommun"]
    unknown = _compare(three_runs, first, second, "--page", "facebook")
    assert unknown.returncode == 2 and "page 'facebook' was not captured in both bundles" in unknown.stderr
    assert "kommun" in unknown.stderr
    same = _compare(three_runs, first, first)
    assert same.returncode == 2 and "give two different bundles" in same.stderr


@pytest.mark.browser
def test_two_captures_of_a_feed_built_with_real_packages_compare_as_unchanged_post_for_post(tmp_path):
    """infinite-scroll (metafizzy) appending pages that arrive late, and lazysizes images, captured twice:
    components nobody here wrote must list the same posts and the same pixels both times."""
    from thirdparty_site import serve_thirdparty

    with serve_thirdparty() as base:
        registry = tmp_path / "pages.yaml"
        registry.write_text(register_yaml([{"id": "flode", "url": f"{base}/infinite-scroll.html"}], tmp_path / "store",
                                          timeout_s=60), encoding="utf-8")
        runs = [run_cli("run", "--json", registry=registry) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    old, new = (json.loads(r.stdout)["bundle_id"] for r in runs)
    manifest = json.loads(Path(json.loads(runs[0].stdout)["manifest"]).read_text(encoding="utf-8"))
    listed = manifest["pages"][0]["post_list"]
    assert len(listed) >= 8 and all(p["text"] for p in listed)  # every appended page's posts, each with its text
    result = run_cli("bundles", "compare", old, new, "--json", "--out", str(tmp_path / "reports"), registry=registry)
    assert result.returncode == 0, result.stderr
    (page,) = json.loads(result.stdout)["pages"]
    assert (page["regions"], page["words_added"], page["words_removed"], page["posts_removed"],
            page["posts_added"]) == ([], [], [], [], []), page
