"""What a platform adds to the shared capture script: selectors, texts and session facts.

A recipe holds data only; the steps in `archiver.capture.script` read it. Texts are matched
case-insensitively against a control's visible text or `aria-label`, Swedish first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Recipe:
    platform: str
    # Where `archiver login PLATFORM` opens, and cookies whose presence means a signed-in session.
    login_url: str | None = None
    session_cookies: tuple[str, ...] = ()
    # Final-URL path patterns (regular expressions) that mean "this is a login page, not the account".
    login_paths: tuple[str, ...] = ()
    # Elements that are one post each; counted for `max_posts` and for login/unavailable checks.
    post_selectors: tuple[str, ...] = ()
    # Consent: site-specific controls, then the shared "reject optional" and "accept" texts. "Save my choices"
    # (`consent_save_texts`) counts as a refusal only while nothing optional in its dialog is ticked, so it is
    # tried after every reject text and before any accept text. `consent_strong_words` say a layer is a cookie
    # dialog (not a login pop-up that links to a privacy policy): one that cannot be answered is a warning.
    consent_reject_selectors: tuple[str, ...] = ()
    consent_reject_texts: tuple[str, ...] = ()
    consent_save_texts: tuple[str, ...] = ()
    consent_accept_texts: tuple[str, ...] = ()
    consent_context_words: tuple[str, ...] = ()
    consent_strong_words: tuple[str, ...] = ()
    # Pop-ups and login walls that appear later: their close controls.
    close_selectors: tuple[str, ...] = ()
    close_labels: tuple[str, ...] = ()
    close_texts: tuple[str, ...] = ()
    # Banners to take away wherever they sit (e.g. "open in the app", "log in to see more" bars).
    remove_selectors: tuple[str, ...] = ()
    banner_texts: tuple[str, ...] = ()
    # Texts that mean the account or content does not exist (or is not available).
    unavailable_texts: tuple[str, ...] = ()
    # Texts that mean the page asks the visitor to log in instead of showing the account.
    login_texts: tuple[str, ...] = ()
    # Single posts (`capture_post`): controls that show more of a post or its comments, clicked until none
    # remain. Texts match a control's whole label; "#" stands for a number, "*" for any words. Controls a
    # selector finds need no text. A label holding one of `expand_never_words` (that its text does not
    # itself hold) is never clicked: hide, like, reply, share, translate.
    expand_texts: tuple[str, ...] = ()
    expand_selectors: tuple[str, ...] = ()
    expand_never_words: tuple[str, ...] = ()
    # The post's author name and time as shown, first match inside the post (its `post_selectors`).
    post_author_selectors: tuple[str, ...] = ()
    post_time_selectors: tuple[str, ...] = ()
    notes: str = field(default="", compare=False)

    def extend(self, platform: str, **more: tuple[str, ...] | str | None) -> Recipe:
        """A platform recipe: the shared texts plus its own, its own placed first."""
        merged: dict = {"platform": platform}
        for name, value in more.items():
            current = getattr(self, name)
            merged[name] = tuple(dict.fromkeys((*value, *current))) if isinstance(current, tuple) else value
        return replace(self, **merged)

    def as_js(self) -> dict:
        """The parts the in-page scripts read."""
        return {
            "postSelectors": list(self.post_selectors),
            "consentRejectSelectors": list(self.consent_reject_selectors),
            "consentRejectTexts": list(self.consent_reject_texts),
            "consentSaveTexts": list(self.consent_save_texts),
            "consentAcceptTexts": list(self.consent_accept_texts),
            "consentContextWords": list(self.consent_context_words),
            "consentStrongWords": list(self.consent_strong_words),
            "closeSelectors": list(self.close_selectors),
            "closeLabels": list(self.close_labels),
            "closeTexts": list(self.close_texts),
            "removeSelectors": list(self.remove_selectors),
            "bannerTexts": list(self.banner_texts),
            "unavailableTexts": list(self.unavailable_texts),
            "loginTexts": list(self.login_texts),
            "expandTexts": list(self.expand_texts),
            "expandSelectors": list(self.expand_selectors),
            "expandNeverWords": list(self.expand_never_words),
            "postAuthorSelectors": list(self.post_author_selectors),
            "postTimeSelectors": list(self.post_time_selectors),
        }
