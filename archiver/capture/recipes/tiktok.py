"""TikTok: the cookie banner (inside a shadow root, which the script searches), the login modal, videos as item containers."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "tiktok",
    login_url="https://www.tiktok.com/login",
    session_cookies=("sessionid",),
    login_paths=(r"^/login(?:[/.]|$)",),
    post_selectors=('[data-e2e="user-post-item"]', "article"),
    close_selectors=('[data-e2e="modal-close-inner-button"]',),
    unavailable_texts=("Det gick inte att hitta det här kontot", "Couldn't find this account"),
    post_author_selectors=('[data-e2e="browse-username"]', '[data-e2e="video-author-uniqueid"]'),
)
