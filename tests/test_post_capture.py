"""Single posts captured through `capture_post`: every "see more" and collapsed reply expanded, nothing else clicked.

The fixture posts (tests/fixtures/social/post-*.html) hide parts of themselves behind controls that load them
after a delay: some from the server, some bringing controls of their own, one only when scrolled into view,
one a toggle that keeps its label, one a <details>. Each hidden part has its own solid colour and its own
word, so the pixels and the text layer each prove it was captured. Controls that must not be clicked (like,
reply, share, "Dölj", "Visa mindre") turn a marker block from green-blue to pink; links that look like
expanders lead to other pages; the Facebook post asks for consent first and for a login mid-way. Two posts
cannot be expanded completely (a thread that never ends, controls that do nothing or lead away): they are
captured anyway, within their budget, marked incomplete with a warning.
"""

from __future__ import annotations

import asyncio
import io
import time
from types import SimpleNamespace

import pytest
from PIL import Image
from social_site import (
    FB_CONSENT,
    FB_CONSENT_ACCEPT,
    FB_CONSENT_REJECT,
    FB_LOGIN,
    FB_LOGIN_BUTTON,
    SOCIAL,
    Block,
    PageSpec,
    Pixels,
    all_colours,
    consent_problems,
    hex_of,
    leftovers,
    missing_blocks,
    rgb,
    serve_social,
)

from archiver.capture import CaptureSettings, launch_browser
from archiver.capture import post as post_steps
from archiver.capture.consent import in_page
from archiver.capture.page import capture_post
from archiver.capture.post import doc_url, incomplete_warning, permalink
from archiver.capture.recipes import RECIPES, recipe_for
from archiver.capture.tiles import stack

TIMEOUT_S = 20
THREAD_TIMEOUT_S = 30  # 9 clicks in 4 rounds of deliberately slow loads, and twice a feed's settle window at the end
ENDLESS_TIMEOUT_S = 8

# Both post pages: a marker that turns pink when a control that must not be clicked was clicked.
UNTOUCHED = rgb("#3cb4a0")  # 300 x 40
TOUCHED = rgb("#f0148c")

# post-facebook.html
FB_MEDIA = rgb("#14508c")  # 640 x 120, shown from the start
FB_HIDDEN = rgb("#b4461e")  # 640 x 160, behind "Visa mer" (arrives 300 ms after the click)
FB_FACTS = rgb("#8c8c1e")  # 640 x 80, behind a "Se mer" toggle that keeps its label (a second click hides it)
FB_WORDS = ("Trafikomläggning", "Ersättningsvägen", "Hällekisvägen", "Samhällsbyggnadsförvaltningen",
            "Omledningskarta")

# post-thread.html (+ post-thread-comments.json from /api/post/comments): (colour, width, height, word, what)
THREAD = (
    (rgb("#6e8c1e"), 640, 100, "cykelvägen", "the post"),
    (rgb("#8c1e6e"), 560, 50, "Tussilago", "earlier comment Z (Visa tidigare kommentarer)"),
    (rgb("#1e8c50"), 560, 50, "Ängsvädd", "comment A"),
    (rgb("#501e8c"), 480, 40, "Smörboll", "reply A1 (Visa 3 svar)"),
    (rgb("#8c501e"), 480, 40, "Kattfot", "reply A2 (Visa 3 svar)"),
    (rgb("#1e6e8c"), 480, 40, "Vitsippa", "reply A3 (Visa 3 svar)"),
    (rgb("#a01e3c"), 400, 30, "Backsippa", "reply A2a (A2's Visa 2 svar, a plain span)"),
    (rgb("#3ca01e"), 400, 30, "Mandelblom", "reply A2b (A2's Visa 2 svar, a plain span)"),
    (rgb("#1e3ca0"), 560, 50, "Blåsippa", "comment B (its Dölj would hide it)"),
    (rgb("#a0a01e"), 560, 50, "tjugo", "comment C"),
    (rgb("#1ea0a0"), 560, 50, "Gullviva", "comment C's rest (Läs mer, href=#)"),
    (rgb("#a01ea0"), 560, 50, "Prästkrage", "comment D (Visa fler kommentarer, page 1 from the server)"),
    (rgb("#5a1ea0"), 560, 50, "Kungsljus", "comment E (page 1)"),
    (rgb("#a05a1e"), 480, 40, "Liljekonvalj", "reply E1 (Visa 1 svar, inside loaded comment E)"),
    (rgb("#1ea05a"), 560, 50, "Blåklocka", "comment F (the same button again, page 2)"),
    (rgb("#3c1ea0"), 480, 40, "Rönnbär", "reply inside <details> (summary Visa fler svar)"),
    (rgb("#6e1e8c"), 560, 50, "Vallmo", "comment G (loads when scrolled into view)"),
    (rgb("#8c6e1e"), 480, 40, "Ljung", "reply G1 (Visa 1 svar, inside comment G)"),
)
ENDLESS_POST = rgb("#5a5a8c")  # post-endless.html, 640 x 100
POST_COLOURS = {UNTOUCHED: "untouched marker", TOUCHED: "touched marker", FB_MEDIA: "fb media",
                FB_HIDDEN: "fb hidden part", FB_FACTS: "fb facts", ENDLESS_POST: "endless post",
                **{colour: what for colour, *_, what in THREAD}}

FACEBOOK_SPEC = PageSpec(
    "post-facebook", "facebook", "/post-facebook.html",
    posts=(Block(FB_MEDIA, 640, 120, what="visible media"), Block(FB_HIDDEN, 640, 160, what="text behind Visa mer"),
           Block(FB_FACTS, 640, 80, what="facts behind the Se mer toggle"),
           Block(UNTOUCHED, 300, 40, what="untouched marker")),
    forbidden=(TOUCHED, FB_CONSENT, FB_CONSENT_ACCEPT, FB_CONSENT_REJECT, FB_LOGIN, FB_LOGIN_BUTTON),
)
THREAD_SPEC = PageSpec(
    "post-thread", "generic", "/post-thread.html",
    posts=(*(Block(colour, w, h, what=what) for colour, w, h, _, what in THREAD),
           Block(UNTOUCHED, 300, 40, what="untouched marker")),
    forbidden=(TOUCHED,),
)


def account(platform: str) -> SimpleNamespace:
    return SimpleNamespace(id="gotene-kommun", platform=platform, url="https://www.facebook.com/gotenekommun",
                           owner="Kommunikationsavdelningen", name="Götene kommun")


@pytest.fixture(scope="module")
def social_url():
    with serve_social() as base_url:
        yield base_url


@pytest.fixture(scope="module")
def posts(social_url, browser_choice) -> dict:
    """Every fixture post captured at once in one browser: {name: (capture, seconds it took)}."""
    jobs = {"facebook": ("facebook", "/post-facebook.html", TIMEOUT_S),
            "thread": ("generic", "/post-thread.html", THREAD_TIMEOUT_S),
            "stuck": ("generic", "/post-stuck.html", TIMEOUT_S),
            "endless": ("generic", "/post-endless.html", ENDLESS_TIMEOUT_S)}

    async def one(browser, platform, path, timeout_s):
        settings = CaptureSettings(allow_private_networks=True, timeout_s=timeout_s)
        started = time.monotonic()
        capture = await capture_post(browser, account(platform), social_url + path, settings)
        return capture, time.monotonic() - started

    async def go():
        async with launch_browser(browser_choice) as browser:
            done = await asyncio.gather(*(one(browser, *job) for job in jobs.values()))
        return dict(zip(jobs, done, strict=True))

    return asyncio.run(go())


def pixels_of(capture) -> Pixels:
    assert capture.ok and capture.tiles, f"{capture.status}: {capture.error}"
    return Pixels(stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in capture.tiles]))


def words_of(capture) -> set[str]:
    return {w[4].strip(".,!?:") for w in capture.words}


def lines(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems)


# --- A Facebook post with its text behind "Visa mer" ----------------------------------------------------------
@pytest.mark.browser
def test_post_text_behind_see_more_is_captured_by_pixels_and_text(posts):
    capture, _ = posts["facebook"]
    px = pixels_of(capture)
    problems = missing_blocks(px, FACEBOOK_SPEC.posts) + leftovers(px, FACEBOOK_SPEC) + consent_problems(px)
    assert not problems, lines(problems)
    words = words_of(capture)
    assert set(FB_WORDS) <= words, set(FB_WORDS) - words
    assert "FÖRBJUDET" not in words and "orörd" in words
    assert "Visa mindre" in " ".join(w[4] for w in capture.words), "the expanded text's own toggle should show"


@pytest.mark.browser
def test_post_records_permalink_author_and_time_as_shown(posts, social_url):
    capture, _ = posts["facebook"]
    assert capture.status == "ok" and capture.warnings == [], capture.warnings
    assert capture.final_url == social_url + "/post-facebook.html", "a link was followed"
    post = capture.post
    assert post["url"] == social_url + "/post-facebook.html"
    assert post["permalink"] == "https://www.facebook.com/gotenekommun/posts/pfbid02Kinnekullebanan4711"
    assert post["author"] == "Götene kommun"
    assert post["shown_time"] == "20 november kl. 14:32"
    assert post["shown_datetime"] == "2026-11-20T14:32:00+01:00"
    assert post["complete"] is True and post["remaining"] == []
    # The toggle: shown, clicked again (it still said "Se mer"), hid the facts, so shown once more and left.
    assert post["expanded"]["clicked"] == {"visa mer": 1, "se mer": 3}
    assert capture.provenance()["post"] == post
    assert (capture.page_id, capture.platform, capture.owner, capture.name) == (
        "gotene-kommun", "facebook", "Kommunikationsavdelningen", "Götene kommun")
    assert [d["choice"] for d in capture.dismissed if d["kind"] == "consent"] == ["reject"]
    assert [d["how"] for d in capture.dismissed if d["kind"] == "popup"] == ["clicked"], capture.dismissed


# --- A comment thread with collapsed, nested and server-loaded replies ---------------------------------------
@pytest.mark.browser
def test_every_comment_and_reply_is_captured_by_pixels(posts):
    capture, _ = posts["thread"]
    px = pixels_of(capture)
    problems = missing_blocks(px, THREAD_SPEC.posts) + leftovers(px, THREAD_SPEC)
    assert not problems, f"{len(problems)} wrong:" + lines(problems)


@pytest.mark.browser
def test_every_comment_and_reply_is_in_the_text_layer(posts):
    capture, _ = posts["thread"]
    words = words_of(capture)
    missing = [f"{word} ({what})" for _, _, _, word, what in THREAD if word not in words]
    assert not missing, missing
    assert "FÖRBJUDET" not in words and "orörd" in words


@pytest.mark.browser
def test_forbidden_controls_and_links_away_are_not_clicked(posts, social_url):
    capture, _ = posts["thread"]
    assert capture.final_url == social_url + "/post-thread.html"
    clicked = capture.post["expanded"]["clicked"]
    assert clicked == {"visa tidigare kommentarer": 1, "visa 3 svar": 1, "visa 2 svar": 1, "läs mer": 1,
                       "visa fler svar": 1, "visa fler kommentarer": 2, "visa 1 svar": 2}, clicked
    assert capture.post["expanded"]["clicks"] == 9


@pytest.mark.browser
def test_thread_metadata_comes_from_the_post_not_its_comments(posts, social_url):
    capture, _ = posts["thread"]
    post = capture.post
    assert post["permalink"] == social_url + "/inlagg/4711"  # og:url, relative, made absolute
    assert post["author"] == "Götene kommun"  # a[rel=author], not the first commenter
    assert (post["shown_time"], post["shown_datetime"]) == ("21 nov. kl. 09:15", "2026-11-21 09:15")  # abbr[title]
    assert post["complete"] is True and post["remaining"] == []
    assert post["expanded"]["stopped_by"] == "done"
    assert capture.scroll["stopped_by"].startswith("end of page"), "no scroll to the end for lazy comments"
    assert capture.warnings == []


# --- Expansions that cannot finish -------------------------------------------------------------------------
@pytest.mark.browser
def test_a_thread_that_never_ends_stops_within_budget_incomplete_with_a_warning(posts, social_url):
    capture, took = posts["endless"]
    assert capture.status == "ok", capture.error
    assert took < ENDLESS_TIMEOUT_S, f"took {took:.1f} s of its {ENDLESS_TIMEOUT_S} s"
    post = capture.post
    assert post["complete"] is False and post["remaining"] == ["visa fler kommentarer"]
    assert post["expanded"]["stopped_by"] == "time budget"
    # Its share of the time, and the last round's wait for its clicks to take effect.
    assert post["expanded"]["seconds"] <= ENDLESS_TIMEOUT_S * post_steps.EXPAND_SHARE + post_steps.ROUND_WAIT_S
    # One click per round, each round waiting for its click's effect; on a loaded machine one round may be
    # all its share of 8 s allows (two or three on a quiet one).
    assert post["expanded"]["clicks"] >= 1 and post["expanded"]["rounds"] == post["expanded"]["clicks"]
    assert any(w.startswith("the post may not be complete") for w in capture.warnings), capture.warnings
    assert post["permalink"] == social_url + "/post-endless.html"  # no canonical, no og:url: the final URL
    assert not missing_blocks(pixels_of(capture), (Block(ENDLESS_POST, 640, 100, what="post"),))


@pytest.mark.browser
def test_dead_controls_and_ones_that_lead_away_are_reported_not_repeated(posts, social_url):
    capture, _ = posts["stuck"]
    assert capture.status == "ok", capture.error
    assert capture.final_url == social_url + "/post-stuck.html", "it did not come back to the post"
    post = capture.post
    assert post["complete"] is False and sorted(post["remaining"]) == ["visa alla kommentarer", "visa mer"]
    assert post["expanded"]["stopped_by"] == "done"
    assert post["expanded"]["clicked"]["visa alla kommentarer"] == 1
    assert post["expanded"]["clicked"]["visa mer"] <= 2  # once more only if going back reloaded the page
    assert any("led away from the post" in w for w in capture.warnings), capture.warnings
    assert any(w.startswith("the post may not be complete") for w in capture.warnings), capture.warnings
    assert (post["author"], post["shown_datetime"]) == ("Götene kommun", "2026-11-23T12:00:00+01:00")


@pytest.mark.browser
def test_max_rounds_stops_an_endless_thread(social_url, browser_choice, monkeypatch):
    monkeypatch.setattr(post_steps, "MAX_ROUNDS", 2)
    settings = CaptureSettings(allow_private_networks=True, timeout_s=TIMEOUT_S)

    async def go():
        async with launch_browser(browser_choice) as browser:
            return await capture_post(browser, account("generic"), social_url + "/post-endless.html", settings)

    capture = asyncio.run(go())
    assert capture.status == "ok", capture.error
    assert capture.post["expanded"]["rounds"] == 2 and capture.post["expanded"]["stopped_by"] == "max rounds"
    assert capture.post["complete"] is False
    assert any("2 rounds" in w for w in capture.warnings), capture.warnings


# --- Which labels are expanders: the in-page judgement itself ---------------------------------------------------
LABELS = [
    ("Visa mer", True, False), ("Se mer", True, False), ("Läs mer", True, False), ("…Visa mer", True, False),
    ("Visa 3 svar", True, False), ("Visa alla 12 svar", True, False), ("Visa 1 svar", True, False),
    ("Visa fler svar", True, False), ("Visa fler kommentarer", True, False),
    ("Visa tidigare kommentarer", True, False), ("Götene kommun svarade · 2 svar", True, False),
    ("View more replies", True, False), ("View 2 replies", True, False), ("View 1 reply", True, False),
    ("View replies (4)", True, False), ("Show replies", True, False), ("See more", True, False),
    ("Dölj", False, True), ("Dölj 3 svar", False, True), ("Visa färre", False, True), ("Visa mindre", False, True),
    ("Hide replies", False, True), ("Gilla", False, True), ("Svara", False, True), ("Dela", False, True),
    ("Visa översättning", False, True), ("Visa mer på Facebook", False, False), ("Visa", False, False),
    ("Dölj svarade · 2 svar", True, True), ("Visa ytterligare 4 svar", True, False),
    ("Se alla kommentarer", True, False), ("Läs in fler kommentarer", True, False), ("Load 5 more replies", True, False),
    ("Visa 3 svar ▾", True, False), ("— View replies (12)", True, False), ("Visa dolda svar", True, False),
    ("Visa färre svar", True, True), ("Show fewer comments", True, True), ("Svara 3 svar", False, True),
]


@pytest.fixture(scope="module")
def verdicts(browser_choice) -> dict:
    """Every label in LABELS judged by post.js as the Facebook recipe reads it, in one browser page."""
    labels = [label for label, *_ in LABELS]

    async def go():
        async with launch_browser(browser_choice) as browser:
            page = await browser.new_page()
            return await page.evaluate(in_page("post.js"), {"act": "classify", "labels": labels,
                                                           "recipe": recipe_for("facebook").as_js()})

    return dict(zip(labels, asyncio.run(go()), strict=True))


@pytest.mark.browser
@pytest.mark.parametrize(("label", "match", "never"), LABELS)
def test_expander_labels_are_told_from_other_controls(verdicts, label, match, never):
    """match: names a control that shows more; never: holds a word (hide, like, reply…) that forbids a click."""
    assert (verdicts[label]["match"], verdicts[label]["never"]) == (match, never), verdicts[label]


# --- Helpers and recipes, no browser ----------------------------------------------------------------------------
def test_permalink_prefers_canonical_then_og_url_then_final_url():
    final = "https://www.facebook.com/gotenekommun/posts/123?__cft__=x"
    assert permalink({"canonical": "https://www.facebook.com/p/1", "ogUrl": "https://x/2"}, final) == \
        "https://www.facebook.com/p/1"
    assert permalink({"canonical": None, "ogUrl": "/posts/2"}, final) == "https://www.facebook.com/posts/2"
    assert permalink({"canonical": "javascript:void(0)", "ogUrl": None}, final) == final
    assert permalink({}, final) == final


def test_doc_url_ignores_the_fragment_only():
    assert doc_url("https://a.se/p?x=1#comment-3") == "https://a.se/p?x=1"
    assert doc_url("https://a.se/p") == "https://a.se/p"


def test_incomplete_warning_says_why_and_which():
    expanded = {"clicks": 9, "rounds": 9, "stopped_by": "time budget"}
    text = incomplete_warning(expanded, [f"visa {i} svar" for i in range(7)])
    assert text.startswith("the post may not be complete: 7 control(s)") and "timeout_s" in text
    assert "'visa 0 svar'" in text and "'visa 5 svar'" not in text and text.endswith("…")
    assert "40 rounds" in incomplete_warning({"clicks": 40, "rounds": 40, "stopped_by": "max rounds"}, ["x"])


def test_every_recipe_expands_in_swedish_first_and_never_hides_or_likes():
    for platform, recipe in RECIPES.items():
        texts = recipe.expand_texts
        assert texts.index("Visa mer") < texts.index("See more"), platform
        assert {"Visa # svar", "Visa fler kommentarer", "View # replies"} <= set(texts), platform
        assert {"dölj", "gilla", "svara", "hide", "like"} <= set(recipe.expand_never_words), platform
        assert "time" in recipe.post_time_selectors and "[rel=author]" in recipe.post_author_selectors, platform
        js = recipe.as_js()
        assert js["expandTexts"] == list(texts) and js["postAuthorSelectors"] == list(recipe.post_author_selectors)
    assert recipe_for("facebook").post_author_selectors[0] == '[data-ad-rendering-role="profile_name"]'


def test_post_fixture_colours_are_unique_and_used():
    taken = all_colours()
    clashes = [f"{hex_of(c)} ({what}) is also {taken[c]}" for c, what in POST_COLOURS.items() if c in taken]
    assert not clashes, clashes
    assert len({colour for colour, *_ in THREAD}) == len(THREAD)
    text = "".join(p.read_text(encoding="utf-8") for p in SOCIAL.glob("post-*")).lower()
    unused = [hex_of(c) for c in POST_COLOURS if hex_of(c)[1:] not in text]
    assert not unused, unused
