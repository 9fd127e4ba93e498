"""Facebook: Meta's own consent dialog (div role=button), the login pop-up and bottom bar for visitors."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "facebook",
    login_url="https://www.facebook.com/login",
    session_cookies=("c_user", "xs"),
    login_paths=(r"^/login(?:[/.]|$)", r"^/checkpoint(?:[/.]|$)", r"^/recover(?:[/.]|$)"),
    post_selectors=("[role=article]", "[data-pagelet^=FeedUnit]"),
    consent_reject_selectors=('[data-cookiebanner="accept_only_essential_button"]',
                              '[aria-label="Avvisa valfria cookies"]', '[aria-label="Decline optional cookies"]'),
    close_selectors=('[aria-label="Stäng"][role=button]', '[aria-label="Close"][role=button]'),
    unavailable_texts=("Det här innehållet är inte tillgängligt just nu", "This content isn't available right now"),
    post_author_selectors=('[data-ad-rendering-role="profile_name"]', "h2 strong", "h3 strong"),
)
