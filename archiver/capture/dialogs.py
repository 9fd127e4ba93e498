"""The capture script's dialog steps: consent answered, pop-ups closed or hidden, and what they left undone.

A consent dialog is answered, never merely hidden, whatever it looks like: the pop-up step hands one it meets
to the consent step, and one that cannot be answered is a warning the registrar sees. A consent manager
loaded late is waited for by events (a DOM change) within a deadline after `load`, and the wait ends as
soon as the page has nothing coming that could bring one. Once anything is dismissed, what it left on the
page (scroll locks, blur or dim filters, `inert`, `aria-hidden`) is undone and recorded in `dismissed`.
"""

from __future__ import annotations

import asyncio
import logging

from playwright.async_api import Error as PlaywrightError

from archiver.capture.consent import Autoconsent, answer_with_texts, in_page
from archiver.capture.network import FEED_REQUEST_TYPES
from archiver.models import PageCapture

log = logging.getLogger(__name__)

CONSENT_BUDGET_S = 4.0
LATE_CONSENT_S = 3.0  # a consent manager loaded late (async, by a tag manager) shows its dialog this soon after `load`
LATE_WAKE_S = 0.25  # the longest the late wait sleeps between looks, when the DOM does not change
QUIET_S = 0.3  # no DOM change for this long, no timer of the page's due, nothing loading: nothing is coming


async def answer_consent(page, capture: PageCapture, recipe, autoconsent: Autoconsent | None, budget,
                         network=None) -> None:
    """Answer any consent dialog; with `network` (the page's NetworkWatch), also one a late manager shows."""
    known = len(capture.dismissed)
    if autoconsent is not None:
        await autoconsent.settle(budget.share(0.1, CONSENT_BUDGET_S))
        capture.dismissed.extend(autoconsent.answered())
    pressed = await answer_with_texts(page, recipe, autoconsent=autoconsent, settle_s=CONSENT_BUDGET_S,
                                      refused=_refused(capture))
    if autoconsent is not None:
        capture.dismissed.extend(autoconsent.answered())
    answered_before = any(d["kind"] == "consent" for d in capture.dismissed)
    if not pressed and not answered_before and network is not None:
        pressed = await _wait_for_late_consent(page, capture, recipe, autoconsent, budget, network)
    _record_answers(capture, pressed)
    if any(d["kind"] == "consent" for d in capture.dismissed[known:]):
        await undo_leftovers(page, capture, recipe)
    capture.final_url = page.url


def _refused(capture: PageCapture) -> bool:
    return any(d["kind"] == "consent" and (d["how"] == "autoconsent" or d.get("choice") == "reject")
               for d in capture.dismissed)


def _record_answers(capture: PageCapture, pressed: list[dict]) -> None:
    capture.dismissed.extend(pressed)
    accepted = [p["label"] for p in pressed if p["choice"] == "accept"]
    if accepted:
        capture.warnings.append(f"a consent dialog offered no way to refuse optional cookies; pressed «{accepted[0]}»")


async def _wait_for_late_consent(page, capture: PageCapture, recipe, autoconsent: Autoconsent | None, budget,
                                 network) -> list[dict]:
    """Wait, waking on DOM changes, for a consent dialog until LATE_CONSENT_S after `load`.

    Ends at once when the page has nothing coming: no DOM change for QUIET_S, no short timer of its own
    pending and no request loading that could run code (a script, fetch, XHR, document). Costs nothing
    once the capture is past the deadline anyway.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    pressed: list[dict] = []
    reason = "deadline"
    known = len(capture.dismissed)
    while True:
        try:
            state = await page.evaluate("() => window.__archiverPending ? window.__archiverPending() : null")
        except PlaywrightError:
            break  # navigating; the next step looks again
        if state is None:
            reason = "no watch in this page"
            break
        # Before `load` (it may never come: one image that never arrives) the wait counts from its own start.
        since_load = state["sinceLoadMs"] / 1000 if state["sinceLoadMs"] >= 0 else loop.time() - started
        left = min(LATE_CONSENT_S - since_load, budget.share(0.1))
        if left <= 0:
            break
        # Only a request that runs code or brings a document can bring a dialog; an image or a font cannot.
        idle = state["timers"] == 0 and not network.loading(FEED_REQUEST_TYPES)
        quiet_left = QUIET_S - state["quietMs"] / 1000
        if idle and quiet_left <= 0:
            reason = "nothing pending"
            break
        # Wake on a DOM change, or when the quiet would be long enough if none comes (not a whole wake later).
        sleep = min(left, LATE_WAKE_S, quiet_left + 0.005) if idle else min(left, LATE_WAKE_S)
        try:
            await page.evaluate(in_page("waitchange.js"), {"ms": sleep * 1000})
        except PlaywrightError:
            break
        if autoconsent is not None and autoconsent.busy():
            await autoconsent.settle(budget.share(0.1, CONSENT_BUDGET_S))
            capture.dismissed.extend(autoconsent.answered())
        if any(d["kind"] == "consent" for d in capture.dismissed[known:]):
            reason = "answered by autoconsent"
            break
        pressed = await answer_with_texts(page, recipe, autoconsent=autoconsent, settle_s=CONSENT_BUDGET_S,
                                          refused=_refused(capture))
        if autoconsent is not None:
            capture.dismissed.extend(autoconsent.answered())
        if pressed:
            reason = "answered"
            break
    log.info("%s: waited %.2f s for a late consent dialog (%s)", capture.page_id, loop.time() - started, reason)
    return pressed


async def _overlays(page, recipe, act: str) -> dict:
    return await page.evaluate(in_page("overlays.js"), {"recipe": recipe.as_js(), "act": act})


async def dismiss_popups(page, capture: PageCapture, recipe) -> bool:
    """Answer a consent dialog among what covers the page; close the rest by their own close control, hide
    what has none; then undo what they left. A cookie dialog that could not be answered is a warning."""
    found = (await _overlays(page, recipe, "find"))["found"]
    if not found:
        return False
    # Whatever covers the page may be, or lie under, a consent dialog (klaro's backdrop is the blocker found,
    # its modal too full of text to count as a layer): the consent step looks first.
    pressed = await answer_with_texts(page, recipe, refused=_refused(capture))
    _record_answers(capture, pressed)
    if pressed:
        found = (await _overlays(page, recipe, "find"))["found"]
    for index, item in enumerate(found):
        if item["close"] is None:
            continue
        target = page.locator(f'[data-archiver-close="{index}"]').first
        try:
            await target.click(timeout=2000)
        except PlaywrightError:
            continue
        if item["consent"]:
            capture.warnings.append(f"a cookie dialog could not be answered; closed it with «{item['close']}»: "
                                    f"{item['label']}")
        entry = {"kind": item["kind"], "how": "clicked", "label": item["close"], "what": item["label"]}
        if item["consent"]:
            entry.update(kind="consent", choice="closed")
        capture.dismissed.append(entry)
    await asyncio.sleep(0.3)
    left = await _overlays(page, recipe, "hide")
    for item in left["found"]:
        if item["consent"]:
            capture.warnings.append(f"a cookie dialog could not be answered and was hidden: {item['label']}")
        capture.dismissed.append({"kind": "consent" if item["consent"] else item["kind"], "how": "removed",
                                  "label": item["label"]})
    await undo_leftovers(page, capture, recipe)
    return True


async def undo_leftovers(page, capture: PageCapture, recipe) -> None:
    """Undo what a dismissed dialog left on the page, and record each thing undone."""
    undone = await page.evaluate(in_page("undo.js"), {"recipe": recipe.as_js()})
    for what in undone:
        capture.dismissed.append({"kind": "leftover", "how": "undone", "label": what})
    if undone:
        log.info("%s: undid what a dialog left behind: %s", capture.page_id, "; ".join(undone))
