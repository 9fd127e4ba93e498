"""Sign-in: the login form, logging in (throttled) and out."""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable

from flask import Blueprint, current_app, make_response, redirect, render_template, request, url_for

from archiver.web import accounts
from archiver.web.shared import (
    LOGIN_CSRF_COOKIE,
    LOGIN_THROTTLE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Refused,
    accounts_of,
    audit,
    cookie_secure,
    csrf_ok,
    current_services,
    set_cookie,
)

log = logging.getLogger(__name__)

bp = Blueprint("signin", __name__)

LOGIN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_FAILED_LOGINS = 10  # per user name and client address within LOGIN_WINDOW_S, then refused until they age out
LOGIN_WINDOW_S = 15 * 60


def safe_next(target: str | None) -> str | None:
    """Only a local path may be the place to go after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


class LoginThrottle:
    """Recent failed logins by (user name, client address). Keyed by address too, so guessing from one
    machine cannot lock the person out from their own. One per app, shared by the server's threads."""

    def __init__(self, limit: int = MAX_FAILED_LOGINS, window_s: float = LOGIN_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        self.limit, self.window_s, self.clock, self.max_keys = limit, window_s, clock, max_keys
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str, address: str | None) -> tuple[str, str]:
        return name.casefold(), address or ""

    def _count(self, name: str, address: str | None, add: bool) -> int:
        now = self.clock()
        key = self._key(name, address)
        with self._lock:
            if len(self._failures) > self.max_keys:  # a flood of names: forget all rather than grow
                self._failures.clear()
            times = [t for t in self._failures.get(key, ()) if now - t < self.window_s]
            if add:
                times.append(now)
            self._failures[key] = times
            return len(times)

    def blocked(self, name: str, address: str | None) -> bool:
        return self._count(name, address, add=False) >= self.limit

    def failed(self, name: str, address: str | None) -> None:
        self._count(name, address, add=True)

    def succeeded(self, name: str, address: str | None) -> None:
        with self._lock:
            self._failures.pop(self._key(name, address), None)


def login_page(error: str | None = None, status: int = 200, name: str = ""):
    # Reused while the browser has one: a second tab, or the favicon's redirect to this page, must not
    # invalidate the form already shown.
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not LOGIN_TOKEN.match(token):
        token = secrets.token_urlsafe(32)
    response = make_response((render_template(
        "login.html", error=error, login_csrf=token, name=name,
        next=safe_next(request.values.get("next")) or ""), status))
    set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@bp.get("/login")
def login():
    return login_page()


@bp.post("/login")
def login_post():
    if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise Refused(403, "Inloggningsformuläret saknar en giltig säkerhetstoken (CSRF). "
                           "Ladda om sidan och försök igen.")
    catalog, throttle = current_services().catalog, current_app.extensions[LOGIN_THROTTLE]
    name, address = request.form.get("name", "").strip()[:80], request.remote_addr
    if throttle.blocked(name, address):
        catalog.audit(name or "(tomt)", "login.failed", None, {"remote": address, "error": "för många försök"})
        return login_page("För många misslyckade inloggningar för det här kontot. Vänta en kvart och "
                          "försök igen.", 429, name)
    user = accounts.authenticate(accounts_of(), name, request.form.get("password", ""))
    if user is None:
        throttle.failed(name, address)
        catalog.audit(name or "(tomt)", "login.failed", None, {"remote": address})
        return login_page("Fel användarnamn eller lösenord, eller kontot är inaktiverat.", 401, name)
    throttle.succeeded(name, address)
    accounts.end_session(accounts_of(), request.cookies.get(SESSION_COOKIE))
    lifetime = current_app.config[SESSION_LIFETIME]
    token, _session = accounts.create_session(accounts_of(), user.name, lifetime=lifetime)
    catalog.audit(user.name, "login", None, {"remote": address})
    response = redirect(safe_next(request.form.get("next")) or url_for("overview.overview"))
    set_cookie(response, SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@bp.post("/logout")
def logout():
    accounts.end_session(accounts_of(), request.cookies.get(SESSION_COOKIE))
    audit("logout")
    response = redirect(url_for("signin.login"))
    response.delete_cookie(SESSION_COOKIE, path="/", secure=cookie_secure(), httponly=True, samesite="Lax")
    return response
