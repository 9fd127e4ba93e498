"""LinkedIn: the authwall instead of the page, the sign-in modal, posts as feed updates."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "linkedin",
    login_url="https://www.linkedin.com/login",
    session_cookies=("li_at",),
    login_paths=(r"^/authwall(?:[/.]|$)", r"^/login(?:[/.]|$)", r"^/uas/login(?:[/.]|$)", r"^/checkpoint(?:[/.]|$)"),
    post_selectors=(".feed-shared-update-v2", "[data-urn^='urn:li:activity']", "article"),
    consent_reject_selectors=('button[action-type="DENY"]',),
    close_selectors=(".modal__dismiss", ".contextual-sign-in-modal__modal-dismiss", 'button[aria-label="Dismiss"]'),
    remove_selectors=(".top-level-modal-container",),
    unavailable_texts=("Den här sidan finns inte", "This page doesn’t exist"),
    expand_texts=("mer", "more", "see more"),  # "…mer", "…see more"
    expand_selectors=(".feed-shared-inline-show-more-text__see-more-less-toggle",
                      ".comments-comments-list__load-more-comments-button", ".show-prev-replies"),
    post_author_selectors=(".update-components-actor__name", ".update-components-actor__title"),
    post_time_selectors=(".update-components-actor__sub-description",),
)
