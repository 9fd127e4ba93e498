"""The steps a single post goes through instead of scrolling a feed: expand it, then read what it shows of itself.

`expand_post` clicks, with real mouse clicks, every control that shows more of the post or its comments
("Visa mer", "Visa 3 svar", "Visa fler kommentarer", and the recipe's own), round after round, since a click
may load more comments that bring their own controls, until none is left or its share of the capture's time
or `MAX_ROUNDS` runs out; with none left it scrolls to the end once, for comments that load into view. It
never clicks what would change the post rather than show more of it: links to other pages, hide/fewer
toggles, like, reply and share, menus, translations (see inpage/post.js). `read_post` records the post's
permalink, its author name and time as shown, and how complete the expansion was.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from playwright.async_api import Error as PlaywrightError

from archiver.capture import steps
from archiver.capture.consent import in_page
from archiver.capture.network import NetworkWatch
from archiver.capture.steps import Budget
from archiver.models import PageCapture

log = logging.getLogger(__name__)

ScrollDown = Callable[[float], Awaitable[None]]  # scroll to the end of the page within so many seconds

EXPAND_SHARE = 0.5  # of the time left when expansion starts; the rest settles, measures and shoots
MAX_ROUNDS = 40  # rounds of "click every control found, wait for the page to settle"
ROUND_WAIT_S = 3.0  # the longest wait for a round's clicks to finish loading
AFTER_CLICK_S = 0.45  # a click may start a timer or a request only after a moment
QUIET_S = 0.45  # nothing changed for this long and nothing loading: the round's clicks have done their work
CLICK_TIMEOUT_MS = 1500  # then a scripted click: something lies over the control
COMMENTS_SETTLE_S = 1.5  # at the end of a thread, comments that load into view; less than a feed's window,
# since the expansion scrolls to the end again after every round that changed the page
MAX_LISTED = 20  # labels listed in the warning and in `remaining`


def doc_url(url: str) -> str:
    """The URL without its fragment: clicks that only change the fragment stay on the page."""
    return url.split("#", 1)[0]


def permalink(facts: dict, final_url: str) -> str:
    """The post's own address: its canonical link, else og:url, else where the browser ended up."""
    for candidate in (facts.get("canonical"), facts.get("ogUrl")):
        if candidate:
            absolute = urljoin(final_url, candidate.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return final_url


def incomplete_warning(expanded: dict, remaining: list[str]) -> str:
    """The warning for a post that is not wholly expanded: how many controls, why, and which."""
    why = {"time budget": "its share of capture.timeout_s ran out",
           "max rounds": f"it reached {expanded['rounds']} rounds of clicks",
           "done": "clicking them changed nothing or led away from the post"}.get(expanded["stopped_by"],
                                                                                  expanded["stopped_by"])
    listed = ", ".join(repr(label) for label in remaining[:5]) + (" …" if len(remaining) > 5 else "")
    return (f"the post may not be complete: {len(remaining)} control(s) that show more were still there "
            f"after {expanded['clicks']} click(s) in {expanded['rounds']} round(s) ({why}): {listed}")


async def _post_js(page, recipe, act: str, **more):
    return await page.evaluate(in_page("post.js"), {"act": act, "recipe": recipe.as_js(), **more})


async def _click(page, control_id: str) -> str | None:
    """Click the marked control like a visitor; a scripted click if something covers it. None: it is gone."""
    target = page.locator(f'[data-archiver-expand="{control_id}"]').first
    before = doc_url(page.url)
    try:
        if not await target.count():
            return None
        await target.click(timeout=CLICK_TIMEOUT_MS)
        return "clicked"
    except PlaywrightError:
        if doc_url(page.url) != before:
            return "clicked"  # it took the page elsewhere: a second, scripted click would navigate twice
        try:
            await target.evaluate("el => el.click()", timeout=500)
            return "scripted"
        except PlaywrightError:
            return None


async def _settle_round(page, recipe, network: NetworkWatch | None, wait_s: float) -> int:
    """Wait until the round's clicks have done their work; the page's change count then."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(min(AFTER_CLICK_S, wait_s))
    while True:
        try:
            quiet_ms, changes = await _post_js(page, recipe, "settled")
        except PlaywrightError:  # a click is taking the page elsewhere; the caller goes back
            await asyncio.sleep(0.2)
            return -1
        loading = network.loading() if network is not None else False
        if (quiet_ms >= QUIET_S * 1000 and not loading) or loop.time() - start >= wait_s:
            return changes
        await asyncio.sleep(0.05)


SIZE_JS = "() => [document.documentElement.scrollHeight, (document.body && document.body.innerText || '').length]"


async def expand_post(page, capture: PageCapture, recipe, budget: Budget, network: NetworkWatch | None = None,
                      max_rounds: int | None = None, scroll_down: ScrollDown | None = None) -> dict:
    """Click every "see more" and collapsed-replies control until none is left; returns what was done.

    Sets `capture.post` to the expansion's record (`read_post` adds the rest) and warns when controls
    remain. Each round clicks every control not clicked before, then waits for what they load. A control
    still there after its click (a "more comments" button that stays) is clicked again, alone, in a
    later round: if that hides what it showed (a toggle that keeps its label), it is clicked once more
    to show it again and left alone. A control whose click changed nothing is not clicked again; one
    whose click led to another page is not either, and the browser goes back to the post. When no
    control is left, `scroll_down(seconds)` (if given) scrolls to the end, for comments that load as
    they come into view; the controls that brings are clicked too.
    """
    loop = asyncio.get_running_loop()
    run = _Run(page, capture, recipe, budget, network, loop.time() + budget.share(EXPAND_SHARE))
    max_rounds = max_rounds or MAX_ROUNDS
    started = loop.time()
    scrolled_at = None  # the page's change count after the last scroll to the end
    while True:
        if run.rounds and await _post_js(page, recipe, "covered"):  # a pop-up the last clicks brought
            await steps.dismiss_popups(page, capture, recipe)
        found = await _find(page, recipe, run.away)
        todo = [c for c in found["controls"] if c["state"] == "clickable"]
        if not todo and scroll_down is not None and found["mutations"] != scrolled_at and not run.over():
            await scroll_down(max(0.5, run.end - loop.time()))
            found = await _find(page, recipe, run.away)
            todo = [c for c in found["controls"] if c["state"] == "clickable"]
            scrolled_at = found["mutations"]
        if not todo:
            stopped = "done"
            break
        if run.rounds >= max_rounds:
            stopped = "max rounds"
            break
        if run.over():
            stopped = "time budget"
            break
        run.rounds += 1
        fresh = [c for c in todo if c["id"] not in run.seen]
        if fresh:
            await run.click_all(fresh, found["mutations"])
        else:
            await run.click_again(todo)
    remaining = [c["label"] for c in found["controls"]]
    expanded = {"clicks": run.clicks, "rounds": run.rounds, "stopped_by": stopped,
                "seconds": round(loop.time() - started, 2), "clicked": dict(run.clicked.most_common(MAX_LISTED))}
    capture.post = {"url": capture.requested_url, "expanded": expanded, "complete": not remaining,
                    "remaining": remaining[:MAX_LISTED]}
    if remaining:
        capture.warnings.append(incomplete_warning(expanded, remaining))
    log.info("%s: expanded the post with %d clicks in %d rounds (%s)%s", capture.page_id, run.clicks, run.rounds,
             stopped, f"; {len(remaining)} control(s) left" if remaining else "")
    return expanded


@dataclass
class _Run:
    """One post's expansion: its clicks so far and the controls it has learnt about."""

    page: object
    capture: PageCapture
    recipe: object
    budget: Budget
    network: NetworkWatch | None
    end: float
    rounds: int = 0
    clicks: int = 0
    clicked: Counter = field(default_factory=Counter)  # label -> clicks
    seen: set = field(default_factory=set)  # ids of controls clicked before (ids restart with the document)
    away: list = field(default_factory=list)  # labels of controls that led to another page
    home: str = ""

    def __post_init__(self) -> None:
        self.home = doc_url(self.page.url)

    def over(self) -> bool:
        return asyncio.get_running_loop().time() >= self.end

    def wait_s(self) -> float:
        """Even at the end of the budget a click gets its time: a control that has just been replaced must
        not look like the last one gone."""
        return min(ROUND_WAIT_S, max(AFTER_CLICK_S + QUIET_S, self.end - asyncio.get_running_loop().time()))

    async def click(self, control: dict) -> str | None:
        how = await _click(self.page, control["id"])
        if how is not None:
            self.clicks += 1
            self.clicked[control["label"]] += 1
            self.seen.add(control["id"])
        return how

    async def left(self, label: str) -> bool:
        """Did a click lead away from the post? Then back to it, and that control is not clicked again."""
        if doc_url(self.page.url) == self.home:
            return False
        await _go_back(self.page, self.capture, self.home, label, self.budget)
        self.away.append(label)
        self.seen.clear()
        return True

    async def click_all(self, controls: list[dict], changes_before: int) -> None:
        """Click each control, then wait once for what they all load."""
        done_ids, covered = [], False
        for control in controls:
            if self.over():
                break
            how = await self.click(control)
            if how is None:
                continue
            covered = covered or how == "scripted"
            done_ids.append(control["id"])
            if await self.left(control["label"]):
                return
        changes = await _settle_round(self.page, self.recipe, self.network, self.wait_s())
        if await self.left("(a control clicked in this round)"):  # a navigation that began late
            return
        if done_ids and changes == changes_before:  # nothing happened: do not click them again
            await _post_js(self.page, self.recipe, "mark", ids=done_ids, mark="dead")
        if covered:  # something lay over a control: a pop-up the clicks brought, say; away with it
            await steps.dismiss_popups(self.page, self.capture, self.recipe)

    async def click_again(self, controls: list[dict]) -> None:
        """Controls clicked before and still there: one at a time, watching that the page does not shrink."""
        for control in controls:
            if self.over():
                return
            size = await self.page.evaluate(SIZE_JS)
            _, changes_before = await _post_js(self.page, self.recipe, "settled")
            if await self.click(control) is None:
                continue
            if await self.left(control["label"]):
                return
            changes = await _settle_round(self.page, self.recipe, self.network, self.wait_s())
            if await self.left(control["label"]):
                return
            if changes == changes_before:
                await _post_js(self.page, self.recipe, "mark", ids=[control["id"]], mark="dead")
                continue
            after = await self.page.evaluate(SIZE_JS)
            if after[0] < size[0] or after[1] < size[1]:  # it hid what it had shown: a toggle
                log.info("%s: %r hides what it shows; clicked it once more and left it", self.capture.page_id,
                         control["label"])
                if await self.click(control) is not None:
                    await _settle_round(self.page, self.recipe, self.network, self.wait_s())
                await _post_js(self.page, self.recipe, "mark", ids=[control["id"]], mark="done")


async def _find(page, recipe, away: list[str]) -> dict:
    """The controls on the page now; once more after a moment if the page was between documents."""
    try:
        return await _post_js(page, recipe, "find", skip=away)
    except PlaywrightError:
        try:
            await page.wait_for_load_state("domcontentloaded", timeout=5000)
        except PlaywrightError:
            pass
        return await _post_js(page, recipe, "find", skip=away)


async def _go_back(page, capture: PageCapture, home: str, label: str, budget: Budget) -> None:
    """A click led away from the post: go back to it (reloading it if going back does not reach it)."""
    capture.warnings.append(f"clicking {label!r} led away from the post to {page.url}; went back and did not "
                            "click it again")
    timeout = max(1000.0, budget.share(0.2) * 1000)
    try:
        await page.go_back(wait_until="domcontentloaded", timeout=timeout)
    except PlaywrightError:
        pass
    if doc_url(page.url) != home:
        await page.goto(home, wait_until="domcontentloaded", timeout=timeout)


async def read_post(page, capture: PageCapture, recipe) -> None:
    """The post's permalink, author name and time as shown, beside what `expand_post` recorded."""
    facts = await _post_js(page, recipe, "read")
    expansion = capture.post or {"url": capture.requested_url, "expanded": None, "complete": None,
                                 "remaining": []}
    capture.post = {
        "url": capture.requested_url,
        "permalink": permalink(facts, page.url),
        "author": facts["author"],
        "shown_time": facts["shownTime"],
        "shown_datetime": facts["shownDatetime"],
        "expanded": expansion["expanded"],
        "complete": expansion["complete"],
        "remaining": expansion["remaining"],
    }
    if not facts["author"]:
        capture.warnings.append("no author name was found on the post")
    if not facts["shownTime"] and not facts["shownDatetime"]:
        capture.warnings.append("no time was found on the post")
