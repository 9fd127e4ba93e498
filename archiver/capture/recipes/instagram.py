"""Instagram: Meta's consent dialog, the "log in to see more" modal after scrolling, the app banner."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "instagram",
    login_url="https://www.instagram.com/accounts/login/",
    session_cookies=("sessionid",),
    login_paths=(r"^/accounts/login(?:[/.]|$)", r"^/challenge(?:[/.]|$)"),
    post_selectors=("article", 'a[href*="/p/"]', 'a[href*="/reel/"]'),
    consent_reject_texts=("Avvisa valfria cookies", "Decline optional cookies"),
    close_selectors=('svg[aria-label="Stäng"]', 'svg[aria-label="Close"]'),
    unavailable_texts=("Sidan är tyvärr inte tillgänglig", "Sorry, this page isn't available."),
    expand_texts=("mer", "more"),  # "… mer" under a caption
)
