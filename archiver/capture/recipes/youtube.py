"""YouTube: Google's consent page or dialog (ytd-consent-bulk-v2), then channel videos as grid items."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "youtube",
    login_url="https://accounts.google.com/ServiceLogin?service=youtube",
    session_cookies=("SAPISID", "LOGIN_INFO"),
    login_paths=(r"^/ServiceLogin(?:[/.]|$)", r"^/signin(?:[/.]|$)"),
    post_selectors=("ytd-rich-item-renderer", "ytd-grid-video-renderer", "ytd-video-renderer"),
    consent_reject_selectors=('button[aria-label^="Avvisa"]', 'button[aria-label^="Reject"]',
                              'form[action*="consent"] button[value="0"]'),
    remove_selectors=("ytd-mealbar-promo-renderer", "tp-yt-paper-dialog#dialog"),
    unavailable_texts=("Den här kanalen finns inte", "This channel doesn't exist", "This channel does not exist"),
    expand_texts=("mer", "more"),  # "…mer" under the description
    expand_selectors=("ytd-text-inline-expander #expand", "ytd-comment-replies-renderer #more-replies",
                      "ytd-continuation-item-renderer button"),
    post_author_selectors=("ytd-video-owner-renderer #channel-name", "#owner #channel-name"),
)
