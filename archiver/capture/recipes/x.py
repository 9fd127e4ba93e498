"""X (Twitter): the bottom "don't miss what's happening" bar, the login sheet, tweets as articles."""

from archiver.capture.recipes.generic import RECIPE as GENERIC

RECIPE = GENERIC.extend(
    "x",
    login_url="https://x.com/i/flow/login",
    session_cookies=("auth_token",),
    login_paths=(r"^/i/flow/login(?:[/.]|$)", r"^/login(?:[/.]|$)", r"^/i/flow/signup(?:[/.]|$)"),
    post_selectors=('[data-testid="tweet"]', "article"),
    consent_reject_texts=("Avvisa valfria cookies", "Refuse non-essential cookies"),
    close_selectors=('[data-testid="app-bar-close"]', '[data-testid="xMigrationBottomBar"]'),
    remove_selectors=('[data-testid="BottomBar"]', '#layers [data-testid="sheetDialog"]'),
    unavailable_texts=("Kontot finns inte", "Det här kontot finns inte", "This account doesn’t exist",
                       "Account suspended", "Kontot har stängts av"),
    expand_texts=("Visa ytterligare svar*", "Show additional replies*", "Show probable spam"),
    post_author_selectors=('[data-testid="User-Name"]',),
)
