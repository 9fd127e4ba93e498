"""Captures of pages built from real open-source front-end packages (tests/thirdparty_site.py), judged by pixels.

One `capture_pages` run (concurrency 2) takes every third-party page with our own consent texts alone (DuckDuckGo's
autoconsent knows three of these managers and would answer them first), and a second run takes them again as
a register run would, with autoconsent, under emulated real-world conditions (`THROTTLED`: 150 ms latency,
10 Mbit/s, the CPU four times slower); every check is made on both. A consent dialog must be answered with "refuse optional cookies" (the page's own
record, drawn by the package's callback, says which answer it got), never accepted, never merely hidden;
nothing it or a pop-up left (a blur, a dimming backdrop, a scroll lock, `inert`) may stay; every post, image
and the page's background must be there in their exact colours, so a page left blurred or dimmed fails.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from PIL import Image
from social_site import (
    MARKER_ACCEPTED,
    MARKER_REJECTED,
    THROTTLED,
    Pixels,
    all_colours,
    consent_problems,
    hex_of,
    leftovers,
    missing_blocks,
)
from social_site import SPECS as SOCIAL_SPECS
from thirdparty_site import (
    BACKGROUND,
    CONSENT_PAGES,
    FEED_END,
    FEED_POSTS,
    LEFTOVERS,
    SPECS,
    THIRDPARTY,
    background_problems,
    serve_thirdparty,
)

from archiver.capture import CaptureSettings, capture_pages, find_browser, launch_browser
from archiver.capture.consent import Autoconsent
from archiver.capture.dialogs import answer_consent, dismiss_popups
from archiver.capture.inpage import script
from archiver.capture.network import RECENT_REQUEST_S, NetworkWatch
from archiver.capture.recipes import recipe_for
from archiver.capture.steps import Budget
from archiver.capture.throttle import Throttle, apply_throttle
from archiver.capture.tiles import stack
from archiver.models import PageCapture

pytestmark = pytest.mark.browser

TIMEOUT_S = 30
THROTTLED_TIMEOUT_S = 60
PAGES = tuple(SPECS)
RUNS = {"texts-alone": {"consent_library": False, "timeout_s": TIMEOUT_S},
        "throttled": {"throttle": THROTTLED, "timeout_s": THROTTLED_TIMEOUT_S}}


@dataclass
class Run:
    name: str
    results: dict


def capture(base_url: str, browser_choice, page_ids, **settings) -> dict:
    pages = [SimpleNamespace(id=p, platform=SPECS[p].platform, url=base_url + SPECS[p].path, owner=None, name=None)
             for p in page_ids]
    settings = CaptureSettings(**{"allow_private_networks": True, "timeout_s": TIMEOUT_S, "concurrency": 2,
                                  **settings})

    async def go():
        async with launch_browser(browser_choice) as browser:
            return await capture_pages(browser, pages, settings)
    return {r.page_id: r for r in asyncio.run(go())}


@pytest.fixture(scope="session")
def thirdparty_url():
    with serve_thirdparty() as base_url:
        yield base_url


@pytest.fixture(scope="session", params=list(RUNS))
def tp_run(request, thirdparty_url, browser_choice) -> Run:
    """Every third-party page captured in one run: with our texts alone, then throttled with autoconsent."""
    return Run(request.param, capture(thirdparty_url, browser_choice, PAGES, **RUNS[request.param]))


def pixels_of(result) -> Pixels:
    if not (result.ok and result.tiles):
        pytest.fail(f"{result.page_id} was not captured: {result.status}: {result.error}")
    return Pixels(stack([Image.open(io.BytesIO(t.png)).convert("RGB") for t in result.tiles]))


@pytest.fixture(scope="session")
def tp_pixels(tp_run):
    cache: dict[str, Pixels] = {}

    def get(page_id: str) -> Pixels:
        if page_id not in cache:
            cache[page_id] = pixels_of(tp_run.results[page_id])
        return cache[page_id]
    return get


def lines(problems: list[str]) -> str:
    return "\n  " + "\n  ".join(problems)


# --- By pixels ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("page_id", PAGES)
def test_every_post_is_there_exactly_unblurred_and_undimmed(tp_pixels, page_id):
    problems = missing_blocks(tp_pixels(page_id), SPECS[page_id].posts)
    assert not problems, f"{len(problems)} of {len(SPECS[page_id].posts)} posts wrong:" + lines(problems)


@pytest.mark.parametrize("page_id", PAGES)
def test_every_image_loaded(tp_pixels, page_id):
    problems = missing_blocks(tp_pixels(page_id), SPECS[page_id].images)
    assert not problems, f"{len(problems)} of {len(SPECS[page_id].images)} images wrong:" + lines(problems)


@pytest.mark.parametrize("page_id", PAGES)
def test_no_dialog_backdrop_or_dimming_left(tp_pixels, page_id):
    px = tp_pixels(page_id)
    problems = leftovers(px, SPECS[page_id]) + background_problems(px, BACKGROUND[page_id])
    assert not problems, lines(problems)


@pytest.mark.parametrize("page_id", CONSENT_PAGES)
def test_the_page_says_optional_cookies_were_refused(tp_pixels, page_id):
    problems = consent_problems(tp_pixels(page_id))
    assert not problems, lines(problems)


# --- What the capture says it did -----------------------------------------------------------------------------
@pytest.mark.parametrize("page_id", CONSENT_PAGES)
def test_consent_is_answered_never_merely_hidden(tp_run, page_id):
    """Refused by the manager's own control: the label its Swedish translation (or config) gives it."""
    result = tp_run.results[page_id]
    consent = [d for d in result.dismissed if d["kind"] == "consent"]
    assert consent, f"no consent answer recorded: {result.dismissed}"
    for entry in consent:
        assert entry["how"] in ("clicked", "autoconsent"), f"hidden, not answered: {entry}"
        if entry["how"] == "clicked":
            assert entry["choice"] == "reject", entry
    assert not [d for d in result.dismissed if d["how"] == "removed"], result.dismissed
    assert not [w for w in result.warnings if "consent" in w or "cookie" in w], result.warnings
    clicked = [d["label"] for d in consent if d["how"] == "clicked"]
    if tp_run.name == "texts-alone":
        assert clicked, f"our texts pressed nothing: {consent}"
    want = SPECS[page_id].dismissed[0].label
    assert not clicked or want.casefold() in (label.casefold() for label in clicked), (want, clicked)


@pytest.mark.parametrize("page_id", list(LEFTOVERS))
def test_what_a_hidden_dialog_left_on_the_page_is_undone_and_recorded(tp_run, page_id):
    """The login dialog has no close control, so it is hidden; the site's scroll lock (body fixed at a negative
    top), `inert`, `aria-hidden` and blur stay behind unless the capture undoes them."""
    dismissed = tp_run.results[page_id].dismissed
    assert [d["kind"] for d in dismissed if d["how"] == "removed"] == ["popup"], dismissed
    undone = " | ".join(d["label"] for d in dismissed if d["kind"] == "leftover" and d["how"] == "undone")
    for what in LEFTOVERS[page_id]:
        assert what in undone, f"{what!r} not undone: {undone}"
    assert "scrolled back to" in undone, undone


def test_infinite_scroll_is_followed_to_its_end(tp_run, tp_pixels):
    result = tp_run.results["infinite-scroll"]
    image = tp_pixels("infinite-scroll")
    missing = [i + 1 for i, colour in enumerate(FEED_POSTS) if not image.count(colour)]
    assert not missing, f"posts missing ({result.scroll}): {missing}"
    assert image.count(FEED_END), f"no end-of-feed marker ({result.scroll})"
    assert result.posts == len(FEED_POSTS)


@pytest.mark.parametrize("page_id", PAGES)
def test_post_count(tp_run, page_id):
    assert tp_run.results[page_id].posts == SPECS[page_id].post_count


# --- The throttle itself ------------------------------------------------------------------------------------------
def test_throttle_is_chromiums_network_conditions_in_bytes_per_second():
    assert Throttle(latency_ms=150, download_kbps=10_000, upload_kbps=5_000).network_conditions() == {
        "offline": False, "latency": 150, "downloadThroughput": 1_250_000, "uploadThroughput": 625_000}


def test_a_throttled_page_waits_its_latency_for_every_response(thirdparty_url):
    async def go():
        async with launch_browser(find_browser()) as browser:
            context = await browser.new_context()
            page = await context.new_page()
            await apply_throttle(context, page, Throttle(latency_ms=300, cpu_slowdown=1))
            await page.goto(thirdparty_url + "/site.css")
            return await page.evaluate("async () => { const t = performance.now(); "
                                       "await (await fetch('/site.css')).text(); return performance.now() - t; }")
    waited_ms = asyncio.run(go())
    assert waited_ms >= 290, f"the response came {waited_ms:.0f} ms after the request, not 300 ms or more"


UNANSWERABLE = """<!doctype html><html lang="sv"><body style="overflow: hidden"><main><article>Nyheter</article></main>
<div style="position: fixed; inset: 0; background: rgba(0, 0, 0, 0.6)"></div>
<div role="dialog" aria-modal="true" style="position: fixed; top: 200px; left: 400px; width: 400px; background: #fff">
<p>Vi använder kakor för statistik.</p><button type="button">Fortsätt</button></div></body></html>"""


def test_the_pop_up_step_answers_a_consent_dialog_and_warns_of_one_it_cannot():
    """A layer that talks about cookies is answered (klaro's modal: "Acceptera markerat" with nothing ticked),
    not hidden; one whose only control means nothing to us is hidden with a warning, its scroll lock undone."""
    async def go(base_url):
        async with launch_browser(find_browser()) as browser:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            await context.route("http://unanswerable.test/", lambda route: route.fulfill(
                body=UNANSWERABLE, content_type="text/html"))
            page = await context.new_page()
            out = []
            for url in (base_url + "/klaro.html", "http://unanswerable.test/"):
                capture = PageCapture(page_id="p", platform="generic", requested_url=url)
                await page.goto(url)
                await page.wait_for_selector("[role=dialog], .cookie-modal", state="visible")
                await dismiss_popups(page, capture, recipe_for("generic"))
                marker = await page.evaluate("() => document.getElementById('consent-state')?.className ?? null")
                out.append((capture, marker))
            return out

    with serve_thirdparty() as base_url:
        (klaro, marker), (unanswerable, _) = asyncio.run(go(base_url))
    consent = [d for d in klaro.dismissed if d["kind"] == "consent"]
    assert [(d["how"], d["choice"], d["label"]) for d in consent] == [("clicked", "reject", "acceptera markerat")], (
        klaro.dismissed, klaro.warnings)
    assert not [d for d in klaro.dismissed if d["how"] == "removed"], klaro.dismissed
    assert marker == "consent-state rejected"
    assert [(d["kind"], d["how"]) for d in unanswerable.dismissed if d["how"] != "undone"] == [
        ("consent", "removed"), ("overlay", "removed")], unanswerable.dismissed
    assert any(w.startswith("a cookie dialog could not be answered and was hidden") for w in unanswerable.warnings)
    assert "overflow: hidden on body" in [d["label"] for d in unanswerable.dismissed if d["how"] == "undone"]


@asynccontextmanager
async def _watched_page(url: str, page_html: str, routes: dict | None = None):
    """A page in a fresh browser with pending.js installed, `url` answering `page_html` (and `routes`)."""
    async with launch_browser(find_browser()) as browser:
        context = await browser.new_context()
        await context.add_init_script(script=script("pending.js"))
        await context.route(url, lambda route: route.fulfill(body=page_html, content_type="text/html"))
        for pattern, handler in (routes or {}).items():
            await context.route(pattern, handler)
        yield await context.new_page()


def test_the_late_consent_wait_knows_when_a_page_has_nothing_coming():
    """The page's own short timers count, ours do not; a change in a shadow root counts as a change."""
    page_html = ("<!doctype html><body><div id=host></div><script>"
                 "window.fired = false; setTimeout(() => { window.fired = true; }, 1200);"
                 "setTimeout(() => {}, 60000);"  # a long one: a poll, not something about to happen
                 "</script></body>")

    async def go():
        async with _watched_page("http://pending.test/", page_html) as page:
            await page.goto("http://pending.test/")
            pending = "() => window.__archiverPending()"
            first = await page.evaluate(pending)
            await page.evaluate("() => { setTimeout(() => {}, 2000); }")  # ours
            ours = await page.evaluate(pending)
            await page.wait_for_function("() => window.fired")
            await page.wait_for_timeout(400)
            quiet = await page.evaluate(pending)
            await page.evaluate("() => { const root = document.getElementById('host').attachShadow({mode: 'open'});"
                                " root.innerHTML = '<p>kakor</p>'; }")
            changed = await page.evaluate(pending)
            return first, ours, quiet, changed
    first, ours, quiet, changed = asyncio.run(go())
    assert first["timers"] == 1 and first["sinceLoadMs"] >= 0, first
    assert ours["timers"] == 1, ours
    assert quiet["timers"] == 0 and quiet["quietMs"] >= 300, quiet
    assert changed["quietMs"] < quiet["quietMs"], (quiet, changed)


def test_autoconsent_checks_every_rule_without_writing_to_the_console():
    """A logs setting left out is read by the library as "log every detection step": a console message per
    rule on every page, each serialised for the driver (it doubled a plain page's renderer time)."""
    messages: list[str] = []
    attempts: list[int] = []

    async def go():
        async with _watched_page("http://plain.test/", "<!doctype html><body><p>Inga kakor här.</p></body>") as page:
            page.on("console", lambda message: messages.append(message.text))
            consent = Autoconsent()
            answer = consent._on_message

            async def counted(source, message):
                attempts.append((message.get("state") or {}).get("findCmpAttempts", 0))
                await answer(source, message)
            consent._on_message = counted
            assert await consent.install(page.context)
            await page.goto("http://plain.test/")
            loop = asyncio.get_running_loop()
            end = loop.time() + 10
            while max(attempts, default=0) < 2 and loop.time() < end:  # every rule checked twice, none found
                await asyncio.sleep(0.05)
    asyncio.run(go())
    assert max(attempts) >= 2, attempts
    assert messages == [], f"{len(messages)} console messages, the first: {messages[:3]}"


@pytest.mark.parametrize("slow", ["image", "script"])
def test_the_late_consent_wait_waits_for_a_slow_script_but_not_for_a_slow_image(slow, caplog):
    """A script still loading may be a consent manager on its way: waited for while it counts as loading
    (RECENT_REQUEST_S; older, it is a poll). An image still loading cannot bring a dialog: the wait ends
    once the page is quiet, long before the image arrives (4 s)."""
    tag = '<img src="/slow">' if slow == "image" else '<script async src="/slow"></script>'
    page_html = f"<!doctype html><body><p>Välkommen</p>{tag}</body>"

    async def delayed(route):
        await asyncio.sleep(4)
        await route.fulfill(body="", content_type="image/png" if slow == "image" else "text/javascript")

    async def go():
        async with _watched_page("http://late.test/", page_html, {"http://late.test/slow": delayed}) as page:
            watch = NetworkWatch()
            watch.attach(page)
            async with page.expect_request("**/slow"):  # its event may come after domcontentloaded
                await page.goto("http://late.test/", wait_until="domcontentloaded")
            capture = PageCapture(page_id="late", platform="generic", requested_url="http://late.test/")
            budget = Budget(asyncio.get_running_loop().time() + 60)
            (slow_started,) = [t for request, t in watch.started.items() if request.url.endswith("/slow")]
            await answer_consent(page, capture, recipe_for("generic"), None, budget, network=watch)
            return capture, asyncio.get_running_loop().time() - slow_started

    with caplog.at_level(logging.INFO, logger="archiver.capture.dialogs"):
        capture, since_slow_request = asyncio.run(go())
    (line,) = [r.getMessage() for r in caplog.records if "late consent" in r.getMessage()]
    waited = float(re.search(r"waited ([\d.]+) s", line).group(1))
    assert line.endswith("(nothing pending)"), line
    assert capture.dismissed == []
    if slow == "image":
        assert waited < RECENT_REQUEST_S / 2, line  # the quiet (0.3 s) and our look at the page
    else:
        # Until the script's request was as old as a poll (the wait itself began a little after it).
        assert since_slow_request >= RECENT_REQUEST_S, (line, since_slow_request)

# --- The fixtures themselves --------------------------------------------------------------------------------------
def test_fixture_colours_are_unique_and_used_by_the_pages():
    seen = dict(all_colours())  # the social pages' colours, the shared markers, white and the backdrop
    for spec in SPECS.values():
        named = [(b.colour, f"{spec.id} {b.what}") for b in (*spec.posts, *spec.images)]
        named += [(c, f"{spec.id} dialog") for c in spec.forbidden] + [(BACKGROUND[spec.id], f"{spec.id} background")]
        for colour, what in named:
            assert colour not in seen, f"{hex_of(colour)} is used by both {seen[colour]} and {what}"
            seen[colour] = what
        text = "".join((THIRDPARTY / name).read_text(encoding="utf-8") for name in spec.files).lower()
        unused = [hex_of(c) for c, _ in named if hex_of(c)[1:] not in text]
        assert not unused, f"{spec.id}: colours not in {spec.files}: {unused}"
    assert {MARKER_REJECTED, MARKER_ACCEPTED} <= set(seen) and SOCIAL_SPECS


def test_every_vendored_package_has_its_licence_and_a_line_saying_where_it_came_from():
    readme = (THIRDPARTY / "README.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in THIRDPARTY.iterdir() if p.is_dir() and p.name != "flode")
    assert len(folders) >= 10, folders
    for folder in folders:
        assert (THIRDPARTY / folder / "LICENSE").is_file(), f"{folder}: no LICENSE"
        line = next((row for row in readme.splitlines() if f"`{folder}/`" in row), None)
        assert line is not None, f"{folder}: not in tests/fixtures/thirdparty/README.md"
        assert re.search(r"`npm pack [@\w./-]+@\d+\.\d+\.\d+`", line), f"{folder}: no pinned npm pack source: {line}"
