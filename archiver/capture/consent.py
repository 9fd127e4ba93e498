"""Answering cookie-consent dialogs: DuckDuckGo's autoconsent first, our own texts for the rest.

Autoconsent knows hundreds of consent platforms and is kept up to date upstream; it runs in every
frame from the first byte and opts out by itself. Dialogs it does not know (a municipality's own
banner, a platform's home-made one) are found by the recipe's Swedish and English texts, in every
frame and open shadow root, preferring "reject optional" over "accept". Either way the answer is
recorded, because an archivist must be able to tell what the capture agreed to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from playwright.async_api import Error as PlaywrightError

from archiver.capture.inpage import script

log = logging.getLogger(__name__)

BUSY = {"cmpDetected", "openPopupDetected", "runningOptOut", "runningOptIn"}
CLICK_TIMEOUT_MS = 2000
GONE_WAIT_S = 3.0  # how long a pressed control may take to leave with its dialog (fading out: 1 s for Osano's)
GONE_JS = """el => {
    if (!el.isConnected) return true;
    for (let p = el; p; p = p.parentElement || (p.getRootNode() && p.getRootNode().host)) {
        const s = getComputedStyle(p);
        if (s.display === 'none' || s.visibility === 'hidden' || parseFloat(s.opacity) < 0.01) return true;  // faded out fully
    }
    const r = el.getBoundingClientRect();
    return r.width < 2 || r.height < 2;
}"""
AUTOCONSENT_CONFIG = {
    "enabled": True,
    "autoAction": "optOut",
    "disabledCmps": [],
    "enablePrehide": True,
    "enableCosmeticRules": True,
    "detectRetries": 6,
    # Our init script runs in the page's own world, so a rule's check of the page's globals is called there
    # at once instead of as a message to us and an evaluate back (two round trips through the driver).
    "isMainWorld": True,
    # Every key, always: the library takes this object whole, and a key left out is not false but
    # undefined, which its detection loop reads as "log every step" (a console message per rule checked,
    # each serialised by Chromium for the driver: about 130 ms of a renderer's time per page).
    "logs": {"lifecycle": False, "rulesteps": False, "detectionsteps": False, "evals": False, "errors": False,
             "messages": False, "waits": False},
}
INIT_JS = """a => window.autoconsentReceiveMessage(
    {type: 'initResp', config: a.config, rules: {autoconsent: JSON.parse(a.rules)}})"""


def in_page(name: str) -> str:
    """An in-page script with the shared helpers in scope."""
    return f"(() => {{ {script('common.js')}\nreturn ({script(name).strip()}); }})()"


@dataclass(frozen=True)
class _Library:
    bundle: str
    version: str
    generic_rules: tuple[dict, ...]
    site_rules: tuple[tuple[re.Pattern | None, dict], ...]
    cosmetic: frozenset[str]  # rules that "opt out" by hiding the dialog with CSS, not by answering it


@lru_cache(maxsize=64)
def _rules_for(url: str) -> str:
    """The rules that can apply in a frame at `url`, as JSON: the generic ones and this site's.

    Two thirds of the rule set is site-specific; leaving out other sites' rules cuts what every
    frame parses by about three quarters.
    """
    library = _autoconsent()
    return json.dumps([*library.generic_rules,
                       *(rule for pattern, rule in library.site_rules if pattern is None or pattern.search(url))])


def _compile(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a JavaScript-only construct: let the library decide in the page


@cache
def _autoconsent() -> _Library | None:
    try:
        import duckduckgo_autoconsent as ac
    except ImportError:
        log.warning("duckduckgo-autoconsent is not installed; only the built-in consent texts are used")
        return None
    rules = json.loads(ac.rules_json())
    pattern = lambda rule: (rule.get("runContext") or {}).get("urlPattern")
    return _Library(ac.bundle(), ac.__version__, tuple(r for r in rules if not pattern(r)),
                    tuple((_compile(pattern(r)), r) for r in rules if pattern(r)),
                    frozenset(r["name"] for r in rules if r.get("cosmetic")))


def autoconsent_version() -> str | None:
    found = _autoconsent()
    return found.version if found else None


@dataclass
class Autoconsent:
    """Autoconsent wired into one browser context: it reports to us through an exposed binding."""

    events: list[dict] = field(default_factory=list)
    reported: int = 0  # events already handed to the capture
    lifecycle: dict[str, str] = field(default_factory=dict)  # frame URL → latest lifecycle state

    async def install(self, context) -> bool:
        found = _autoconsent()
        if found is None:
            return False
        await context.expose_binding("autoconsentSendMessage", self._on_message)
        await context.add_init_script(script=found.bundle)
        return True

    async def _on_message(self, source, message: dict) -> None:
        frame = source["frame"]
        kind = message.get("type")
        try:
            if kind == "init":
                if frame.url.startswith("about:"):
                    return  # the empty document a new page starts with
                # The rules travel as one JSON string: serialising them as objects blocks our event loop.
                await frame.evaluate(INIT_JS, {"config": AUTOCONSENT_CONFIG,
                                               "rules": _rules_for(frame.url)})
            elif kind == "eval":
                try:
                    result = bool(await frame.evaluate(message["code"]))
                except PlaywrightError:
                    result = False
                await frame.evaluate("m => window.autoconsentReceiveMessage(m)",
                                     {"type": "evalResp", "id": message["id"], "result": result})
            elif kind == "report":
                self.lifecycle[message.get("url", frame.url)] = message.get("state", {}).get("lifecycle", "")
            elif kind in ("optOutResult", "autoconsentDone", "popupFound", "autoconsentError"):
                self.events.append({key: message.get(key) for key in ("type", "cmp", "result", "url")})
        except PlaywrightError as exc:  # the frame navigated or closed while we answered
            log.debug("autoconsent message %s not answered: %s", kind, exc)

    def busy(self) -> bool:
        return any(state in BUSY for state in self.lifecycle.values())

    async def settle(self, budget_s: float) -> None:
        """Give a running opt-out time to finish; costs nothing when no consent platform was found."""
        loop = asyncio.get_running_loop()
        end = loop.time() + budget_s
        while self.busy() and loop.time() < end:
            await asyncio.sleep(0.1)

    def opted_out(self) -> bool:
        """Whether autoconsent has opted out of some dialog in this context (its dialog may still be leaving)."""
        return any(e["type"] == "optOutResult" and e.get("result") for e in self.events)

    def answered(self) -> list[dict]:
        """Opt-outs done since last asked. A cosmetic rule's is a dialog hidden, not answered, and says so."""
        new, self.reported = self.events[self.reported:], len(self.events)
        done = [e for e in new if e["type"] == "optOutResult" and e.get("result")]
        library = _autoconsent()
        cosmetic = library.cosmetic if library else frozenset()
        return [{"kind": "consent", "how": "removed", "label": f"hidden by autoconsent's cosmetic rule ({e['cmp']})",
                 "frame": e.get("url")} if e["cmp"] in cosmetic else
                {"kind": "consent", "how": "autoconsent", "label": f"opted out ({e['cmp']})", "frame": e.get("url")}
                for e in done]


async def _press_marked(frame, attribute: str):
    """Click the control consent.js marked; the element, or None if it could not be pressed.

    An element handle, not a locator: a control that vanishes (its dialog answered meanwhile by
    autoconsent) fails at once instead of being waited for.
    """
    try:
        target = await frame.query_selector(f"[{attribute}]")
    except PlaywrightError:
        return None
    if target is None:
        return None
    before = frame.url

    def left() -> bool:  # the frame went away or to another page with the answer: the click landed
        return frame.is_detached() or frame.url != before

    try:
        await target.click(timeout=CLICK_TIMEOUT_MS)
    except PlaywrightError:
        if left():
            return target
        try:
            if await target.evaluate(GONE_JS):
                return target  # gone with its dialog: the click landed before the wait for it ran out
            await target.evaluate("el => el.click()")
        except PlaywrightError as exc:
            # A consent page whose form posts and redirects back: under load the click's own wait can fail
            # while the navigation it started is on its way, and then the frame's document is replaced.
            navigated = "context was destroyed" in str(exc) or "navigat" in str(exc).lower()
            return target if left() or navigated else None
    try:
        await target.evaluate(f"el => el.removeAttribute('{attribute}')")
    except PlaywrightError:
        pass  # the control left with its dialog, or the frame navigated
    return target


async def answer_with_texts(page, recipe, rounds: int = 4, autoconsent: Autoconsent | None = None,
                            settle_s: float = 4.0, refused: bool = False) -> list[dict]:
    """Press the least-consenting choice any visible consent dialog offers, in any frame.

    A dialog that stays after a press is asked again without that control: a bulk "Tacka nej till alla"
    that only unticks is followed by its "Spara". Once something refused (here, or before: `refused`),
    "accept" is never pressed.
    A dialog autoconsent is busy with is left to it (for up to `settle_s`) before our texts look again.
    """
    pressed: list[dict] = []
    skip: list[str] = []
    url = page.url
    for _ in range(rounds):
        if page.url != url:  # the answer led to another page: its controls are new
            skip, url = [], page.url
        choice = await _find_choice(page, recipe, skip)
        if choice is not None and autoconsent is not None and autoconsent.busy():
            await autoconsent.settle(settle_s)
            choice = await _find_choice(page, recipe, skip)
        if choice is not None and not pressed and autoconsent is not None and autoconsent.opted_out():
            choice = await _left_by_autoconsent(page, recipe, skip)
        if choice is None:
            break
        frame, found = choice
        if found["choice"] == "accept" and (refused or any(p["choice"] == "reject" for p in pressed)):
            break  # the refusal stands; an "accept" left over must not undo it
        target = await _press_marked(frame, "data-archiver-consent")
        if target is None:
            log.info("consent control %r could not be pressed", found["label"])
            break
        entry = {"kind": "consent", "how": "clicked", "label": found["label"], "choice": found["choice"],
                 "frame": None if frame == page.main_frame else frame.url}
        if found.get("note"):
            entry["note"] = found["note"]
        pressed.append(entry)
        skip.append(found["label"])
        await _after_click(page, target)
        try:
            await target.dispose()
        except PlaywrightError:
            pass  # its page navigated: the handle is gone already
    return pressed


async def _left_by_autoconsent(page, recipe, skip: list[str]):
    """The dialog autoconsent opted out of may take a moment to go (a slow page, an animation): look again
    for up to GONE_WAIT_S before pressing it a second time; what is still there then is another dialog."""
    loop = asyncio.get_running_loop()
    end = loop.time() + GONE_WAIT_S
    choice = await _find_choice(page, recipe, skip)
    while choice is not None and loop.time() < end:
        await asyncio.sleep(0.25)
        choice = await _find_choice(page, recipe, skip)
    return choice


async def _find_choice(page, recipe, skip: list[str]):
    """The frame and control to press: any frame's "reject optional" before any frame's "accept"."""
    accept = None
    for frame in page.frames:
        try:
            found = await frame.evaluate(in_page("consent.js"), {"recipe": recipe.as_js(), "skip": skip})
        except PlaywrightError:
            continue  # detached or navigating frame
        if found and found["choice"] == "reject":
            return frame, found
        if found and accept is None:
            accept = frame, found
    return accept


async def _after_click(page, target) -> None:
    """A consent answer may close a dialog (often fading out), reload the page or post a form that
    redirects back: wait, within limits, until the pressed control is gone and the document is there."""
    loop = asyncio.get_running_loop()
    end = loop.time() + GONE_WAIT_S
    await asyncio.sleep(0.15)
    while loop.time() < end:
        try:
            if await target.evaluate(GONE_JS):
                break
        except PlaywrightError:
            break  # its frame navigated or closed: gone
        await asyncio.sleep(0.05)
    try:
        await page.wait_for_load_state("domcontentloaded", timeout=10_000)
    except PlaywrightError:
        pass
