"""The shared recipe: Swedish and English texts most consent dialogs, pop-ups and error pages use."""

from archiver.capture.recipes.base import Recipe

RECIPE = Recipe(
    platform="generic",
    login_paths=(r"/login(?:[/.]|$)", r"/log-in(?:[/.]|$)", r"/signin(?:[/.]|$)", r"/sign-in(?:[/.]|$)",
                 r"/accounts/login(?:[/.]|$)", r"/auth/login(?:[/.]|$)"),
    post_selectors=("article", "[role=article]"),
    consent_reject_texts=(
        "Avvisa valfria cookies", "Avvisa alla cookies", "Avvisa alla", "Neka alla", "Neka valfria cookies",
        "Endast nödvändiga cookies", "Endast nödvändiga", "Bara nödvändiga", "Tillåt endast nödvändiga cookies",
        "Använd endast nödvändiga cookies", "Acceptera endast nödvändiga", "Godkänn endast nödvändiga",
        "Fortsätt utan att godkänna", "Avvisa", "Neka",
        "Reject optional cookies", "Decline optional cookies", "Reject all cookies", "Reject all",
        "Decline all", "Refuse all", "Only allow essential cookies", "Allow essential cookies only",
        "Use necessary cookies only", "Only necessary cookies", "Necessary cookies only", "Only necessary",
        "Continue without accepting", "Reject", "Decline",
    ),
    consent_accept_texts=(
        "Acceptera alla cookies", "Acceptera alla", "Godkänn alla cookies", "Godkänn alla", "Tillåt alla cookies",
        "Tillåt alla", "Jag godkänner", "Acceptera", "Godkänn",
        "Accept all cookies", "Accept all", "Allow all cookies", "Allow all", "I agree", "I accept", "Accept",
        "Agree", "Got it", "OK",
    ),
    consent_context_words=("cookie", "kakor", "samtycke", "consent", "personuppgifter", "privacy",
                           "integritet", "gdpr", "tracking", "spårning"),
    close_labels=("Stäng", "Stäng dialogrutan", "Stäng fönstret", "Close", "Close dialog", "Dismiss", "Avfärda"),
    close_texts=("Stäng", "Inte nu", "Inte just nu", "Close", "Not now", "No thanks", "Nej tack", "×", "✕", "✖",
                 "X"),
    banner_texts=("Logga in", "Skapa konto", "Registrera dig", "Öppna appen", "Log in", "Sign up",
                  "Create new account", "Open app", "Open in app", "Get the app"),
    unavailable_texts=(
        "Det här innehållet är inte tillgängligt", "Innehållet är inte tillgängligt", "Sidan är inte tillgänglig",
        "Sidan finns inte", "Kontot finns inte", "Det här kontot finns inte", "Kontot har stängts av",
        "Videon är inte tillgänglig",
        "This content isn't available", "This content isn't available right now", "This page isn't available",
        "Sorry, this page isn't available", "This account doesn't exist", "This account doesn’t exist",
        "Account suspended", "This page doesn't exist", "This page doesn’t exist", "Page not found",
        "Couldn't find this account", "This video isn't available", "This video is unavailable",
        "Content unavailable",
    ),
    login_texts=("Logga in", "Log in", "Sign in", "Logga in för att fortsätta", "Log in to continue",
                 "Sign in to continue"),
)
