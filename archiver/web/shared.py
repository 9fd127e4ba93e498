"""What every area of the web page shares: the app's Services and job runner, audit, cookies, CSRF.

Nothing here holds state: the Services, the JobRunner and the login throttle live in `app.extensions`
and the app's settings in `app.config`, both set by `create_app`; these helpers read them through
`current_app` during a request.
"""

from __future__ import annotations

import hmac
import logging

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from archiver.store.local import check_bundle_id
from archiver.web.words import ERROR_TEXTS

log = logging.getLogger(__name__)

SESSION_COOKIE = "archiver_session"
LOGIN_CSRF_COOKIE = "archiver_login_csrf"
CSRF_FIELD = "csrf_token"
MAX_DNR = 100

# Keys in app.extensions and app.config, set by create_app.
SERVICES = "archiver"
JOBS = "archiver_jobs"
LOGIN_THROTTLE = "archiver_login_throttle"
SECURE_COOKIES = "ARCHIVER_SECURE_COOKIES"
SESSION_LIFETIME = "ARCHIVER_SESSION_LIFETIME"


class Refused(HTTPException):
    """An HTTP error with a Swedish explanation for the person."""

    def __init__(self, code: int, text: str | None = None):
        super().__init__(description=text or ERROR_TEXTS.get(code, ""))
        self.code = code


def current_services():
    """The app's `Services` (register, store, catalog), built once by create_app."""
    return current_app.extensions[SERVICES]


def current_jobs():
    """The app's `JobRunner` for snapshots and posts asked for on the page."""
    return current_app.extensions[JOBS]


def accounts_of():
    """This organisation's accounts: its catalog, which the accounts functions keep to its users."""
    return current_services().catalog


def cookie_secure() -> bool:
    return current_app.config[SECURE_COOKIES] or request.is_secure


def set_cookie(response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=cookie_secure(), httponly=True,
                        samesite="Strict" if name == LOGIN_CSRF_COOKIE else "Lax")


def audit(action: str, bundle_id: str | None = None, detail: dict | None = None) -> None:
    """An audit entry by the logged-in person."""
    current_services().catalog.audit(g.session.user.name, action, bundle_id, detail)


def csrf_ok(expected: str | None) -> bool:
    given = request.form.get(CSRF_FIELD, "")
    return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def bundle_row(bundle_id: str) -> dict:
    """The catalog's row of a bundle; the id is checked before any store or catalog access."""
    return current_services().catalog.get_bundle(check_bundle_id(bundle_id))
