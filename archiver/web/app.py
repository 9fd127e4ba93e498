"""The web page (`archiver serve`): server-rendered Swedish pages over the same `Services` as the CLI.

Security in one place: `guard` runs before every request. Only the login page and the CSS are public;
everything else needs a live server-side session, a role listed for its route in `ROUTE_ROLES`, and on
POST the session's CSRF token. A route missing from the table is refused for everyone. The views live
in one blueprint per area (archiver/web/views/); this module builds the app and registers them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from archiver.errors import ArchiverError, NotFoundError
from archiver.web import accounts
from archiver.web.jobs import JobRunner
from archiver.web.shared import (
    CSRF_FIELD,
    JOBS,
    LOGIN_CSRF_COOKIE,
    LOGIN_THROTTLE,
    SECURE_COOKIES,
    SERVICES,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Refused,
    cookie_secure,
    csrf_ok,
)
from archiver.web.views import (
    bundles,
    capture,
    collected,
    compare,
    overview,
    replay,
    retention,
    signin,
    users,
)
from archiver.web.words import (
    ACTION_NAMES,
    ERROR_TEXTS,
    ERROR_TITLES,
    JOB_STATE_NAMES,
    KIND_NAMES,
    PAGE_STATUS_NAMES,
    PLATFORM_NAMES,
    POST_CLASS_NAMES,
    POST_CLASS_SHORT,
    RUN_STATUS_NAMES,
    check_text,
    detail_text,
    local_time,
    reason_text,
)

log = logging.getLogger(__name__)

__all__ = ["LOGIN_CSRF_COOKIE", "PUBLIC_ENDPOINTS", "ROUTE_ROLES", "SESSION_COOKIE", "create_app"]

ALL_ROLES = frozenset(accounts.ROLES)
COMMUNICATOR = frozenset({"communicator"})
REGISTRAR = frozenset({"registrar"})
ADMIN = frozenset({"admin"})
READERS = frozenset({"communicator", "registrar"})

# The blueprints, one per area, in the order their routes are registered.
BLUEPRINTS = (signin.bp, overview.bp, capture.bp, retention.bp, bundles.bp, compare.bp, collected.bp, replay.bp,
              users.bp)

# Routes anyone may reach, without a session.
# ReplayWeb.page's two scripts are published code, and a service worker's script is fetched without asking.
PUBLIC_ENDPOINTS = frozenset({"signin.login", "signin.login_post", "static", "replay.ui_js", "replay.sw_js",
                              "replay.frame"})
# Every other route, by Flask endpoint, and the roles allowed on it. Not listed: refused for everyone.
ROUTE_ROLES: dict[str, frozenset[str]] = {
    "overview.overview": ALL_ROLES,
    "signin.logout": ALL_ROLES,
    "capture.snapshot_form": COMMUNICATOR,
    "capture.snapshot_start": COMMUNICATOR,
    "capture.job": COMMUNICATOR,
    "capture.post_form": COMMUNICATOR,
    "capture.post_start": COMMUNICATOR,
    "retention.post_done": REGISTRAR,
    "retention.retention": REGISTRAR,
    "retention.post_release": REGISTRAR,
    "bundles.bundles": READERS,
    "bundles.bundle": READERS,
    "bundles.thumbnail": READERS,
    "bundles.download_pdf": READERS,
    "bundles.download_manifest": READERS,
    "replay.replay": READERS,  # the same roles as downloading a bundle: replay shows what the WACZ holds
    "replay.wacz_source": READERS,
    "replay.download_wacz": READERS,
    "compare.compare": READERS,  # a comparison reads two bundles, as downloading them does
    "compare.report": READERS,
    "collected.collected": READERS,  # removed items in it: the registrar only (views/collected.py)
    "bundles.verify": REGISTRAR,
    "bundles.register": REGISTRAR,
    "users.users": ADMIN,
    "users.users_add": ADMIN,
    "users.users_disable": ADMIN,
}

CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def create_app(services, *, secure_cookies: bool = False, session_lifetime: timedelta = accounts.SESSION_LIFETIME,
               runner: JobRunner | None = None) -> Flask:
    services.register, services.store, services.catalog  # noqa: B018 - built once, before threads share them
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.config.update({SECURE_COOKIES: secure_cookies, SESSION_LIFETIME: session_lifetime})
    app.extensions[SERVICES] = services
    app.extensions[JOBS] = runner or JobRunner(services)
    app.extensions[LOGIN_THROTTLE] = signin.LoginThrottle()
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.before_request
    def guard():
        g.session = None
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        session = accounts.get_session(services.catalog, request.cookies.get(SESSION_COOKIE))
        if session is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("signin.login", next=signin.safe_next(request.full_path.rstrip("?"))))
            raise Refused(403, "Du är inte inloggad. Logga in och försök igen.")
        g.session = session
        if request.endpoint is None:
            return None  # no such route: routing answers 404 or 405
        if session.user.role not in ROUTE_ROLES.get(request.endpoint, frozenset()):
            raise Refused(403)
        if request.method == "POST" and not csrf_ok(session.csrf_token):
            raise Refused(403, "Formuläret saknar en giltig säkerhetstoken (CSRF). Ladda om sidan och försök igen.")
        return None

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)  # the replay page sets its own
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
            response.headers["Pragma"] = "no-cache"
        if cookie_secure():
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.context_processor
    def common():
        session = g.get("session")
        return {"me": session.user if session else None, "csrf_token": session.csrf_token if session else "",
                "role_names": accounts.ROLE_NAMES, "allowed": lambda endpoint: bool(session) and
                session.user.role in ROUTE_ROLES.get(endpoint, frozenset()),
                "organisation": _organisation()}

    def _organisation() -> str:
        try:
            return services.register.organisation
        except ArchiverError:
            return ""

    app.jinja_env.filters["tid"] = local_time
    app.jinja_env.filters["tid_s"] = lambda v: local_time(v, with_seconds=True)
    app.jinja_env.filters["orsak"] = reason_text
    app.jinja_env.filters["detalj"] = detail_text
    app.jinja_env.filters["kontroll"] = check_text
    app.jinja_env.filters["plattform"] = lambda v: PLATFORM_NAMES.get(v, v)
    app.jinja_env.globals.update(KIND_NAMES=KIND_NAMES, RUN_STATUS_NAMES=RUN_STATUS_NAMES,
                                 PAGE_STATUS_NAMES=PAGE_STATUS_NAMES, JOB_STATE_NAMES=JOB_STATE_NAMES,
                                 ACTION_NAMES=ACTION_NAMES, CSRF_FIELD=CSRF_FIELD, POST_CLASS_NAMES=POST_CLASS_NAMES,
                                 POST_CLASS_SHORT=POST_CLASS_SHORT)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if code < 400:
            return exc  # a redirect raised by routing (e.g. a missing trailing slash)
        text = exc.description if isinstance(exc, Refused) else ERROR_TEXTS.get(code, "")
        return render_template("error.html", title=ERROR_TITLES.get(code, "Fel"), text=text, code=code), code

    @app.errorhandler(NotFoundError)
    def not_found(_exc):
        return render_template("error.html", title=ERROR_TITLES[404], text=ERROR_TEXTS[404], code=404), 404

    @app.errorhandler(Exception)
    def internal(exc: Exception):
        log.exception("web request failed: %s", exc)
        return render_template("error.html", title=ERROR_TITLES[500], text=ERROR_TEXTS[500], code=500), 500

    return app
