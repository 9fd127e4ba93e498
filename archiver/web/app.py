"""The web page (`archiver serve`): server-rendered Swedish pages over the same `Services` as the CLI.

Security in one place: `guard` runs before every request. Only the login page and the CSS are public;
everything else needs a live server-side session, a role listed for its route in `ROUTE_ROLES`, and on
POST the session's CSRF token. A route missing from the table is refused for everyone.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from flask import Flask, g, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import HTTPException

from archiver import retention as retention_plan
from archiver.bundle import manifest as manifest_io
from archiver.errors import ArchiverError, BadInputError, BusyError, NotFoundError
from archiver.models import PostRequest, utcnow
from archiver.register.rules import AmbiguousPostError, allowed_hosts, page_for_post
from archiver.store.local import check_bundle_id
from archiver.web import accounts, thumbs
from archiver.web.jobs import JobRunner
from archiver.web.words import (
    ACTION_NAMES,
    BUSY_TEXT,
    ERROR_TEXTS,
    ERROR_TITLES,
    JOB_STATE_NAMES,
    KIND_NAMES,
    LOCAL_TZ,
    NOTICES,
    PAGE_STATUS_NAMES,
    PLATFORM_NAMES,
    POST_CLASS_NAMES,
    POST_CLASS_SHORT,
    RETENTION_RULES,
    RUN_STATUS_NAMES,
    check_text,
    detail_text,
    local_time,
    reason_text,
)

log = logging.getLogger(__name__)

SESSION_COOKIE = "archiver_session"
LOGIN_CSRF_COOKIE = "archiver_login_csrf"
CSRF_FIELD = "csrf_token"
LOGIN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")
MAX_FAILED_LOGINS = 10  # per user name and client address within LOGIN_WINDOW_S, then refused until they age out
LOGIN_WINDOW_S = 15 * 60
MAX_REASON = 500
MAX_DNR = 100

ALL_ROLES = frozenset(accounts.ROLES)
COMMUNICATOR = frozenset({"communicator"})
REGISTRAR = frozenset({"registrar"})
ADMIN = frozenset({"admin"})
READERS = frozenset({"communicator", "registrar"})

# Routes anyone may reach, without a session.
PUBLIC_ENDPOINTS = frozenset({"login", "login_post", "static"})
# Every other route, by Flask endpoint, and the roles allowed on it. Not listed: refused for everyone.
ROUTE_ROLES: dict[str, frozenset[str]] = {
    "overview": ALL_ROLES,
    "logout": ALL_ROLES,
    "snapshot_form": COMMUNICATOR,
    "snapshot_start": COMMUNICATOR,
    "job": COMMUNICATOR,
    "post_form": COMMUNICATOR,
    "post_start": COMMUNICATOR,
    "post_done": REGISTRAR,
    "retention": REGISTRAR,
    "post_release": REGISTRAR,
    "bundles": READERS,
    "bundle": READERS,
    "thumbnail": READERS,
    "download_pdf": READERS,
    "download_manifest": READERS,
    "verify": REGISTRAR,
    "register": REGISTRAR,
    "users": ADMIN,
    "users_add": ADMIN,
    "users_disable": ADMIN,
}

CSP = ("default-src 'self'; img-src 'self'; style-src 'self'; script-src 'none'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

class Refused(HTTPException):
    """An HTTP error with a Swedish explanation for the person."""

    def __init__(self, code: int, text: str | None = None):
        super().__init__(description=text or ERROR_TEXTS.get(code, ""))
        self.code = code


def _safe_next(target: str | None) -> str | None:
    """Only a local path may be the place to go after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def create_app(services, *, secure_cookies: bool = False, session_lifetime: timedelta = accounts.SESSION_LIFETIME,
               runner: JobRunner | None = None) -> Flask:
    services.register, services.store, services.catalog  # noqa: B018 - built once, before threads share them
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["archiver"] = services
    runner = runner or JobRunner(services)
    app.extensions["archiver_jobs"] = runner

    def engine():
        return services.catalog.engine

    def cookie_secure() -> bool:
        return secure_cookies or request.is_secure

    def set_cookie(response, name: str, value: str, max_age: int | None) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/", secure=cookie_secure(), httponly=True,
                            samesite="Strict" if name == LOGIN_CSRF_COOKIE else "Lax")

    def audit(action: str, bundle_id: str | None = None, detail: dict | None = None, actor: str | None = None):
        services.catalog.audit(actor or g.session.user.name, action, bundle_id, detail)

    def csrf_ok(expected: str | None) -> bool:
        given = request.form.get(CSRF_FIELD, "")
        return bool(expected) and bool(given) and hmac.compare_digest(given.encode(), expected.encode())

    @app.before_request
    def guard():
        g.session = None
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        session = accounts.get_session(engine(), request.cookies.get(SESSION_COOKIE))
        if session is None:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("login", next=_safe_next(request.full_path.rstrip("?"))))
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
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
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

    # --- login and logout ------------------------------------------------------------------------------

    def login_page(error: str | None = None, status: int = 200, name: str = ""):
        # Reused while the browser has one: a second tab, or the favicon's redirect to this page, must not
        # invalidate the form already shown.
        token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not LOGIN_TOKEN.match(token):
            token = secrets.token_urlsafe(32)
        response = app.make_response((render_template(
            "login.html", error=error, login_csrf=token, name=name,
            next=_safe_next(request.values.get("next")) or ""), status))
        set_cookie(response, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    @app.get("/login")
    def login():
        return login_page()

    # (user name, client address) → times of recent failed logins. Keyed by address too, so guessing from
    # one machine cannot lock the person out from their own.
    failures: dict[tuple[str, str], list[float]] = {}
    failures_lock = threading.Lock()

    def failure_key(name: str) -> tuple[str, str]:
        return name.casefold(), request.remote_addr or ""

    def recent_failures(name: str, add: bool = False) -> int:
        now = clock.monotonic()
        key = failure_key(name)
        with failures_lock:
            if len(failures) > 10_000:
                failures.clear()
            times = [t for t in failures.get(key, ()) if now - t < LOGIN_WINDOW_S]
            if add:
                times.append(now)
            failures[key] = times
            return len(times)

    @app.post("/login")
    def login_post():
        if not csrf_ok(request.cookies.get(LOGIN_CSRF_COOKIE)):
            raise Refused(403, "Inloggningsformuläret saknar en giltig säkerhetstoken (CSRF). "
                               "Ladda om sidan och försök igen.")
        name = request.form.get("name", "").strip()[:80]
        if recent_failures(name) >= MAX_FAILED_LOGINS:
            services.catalog.audit(name or "(tomt)", "login.failed", None,
                                   {"remote": request.remote_addr, "error": "för många försök"})
            return login_page("För många misslyckade inloggningar för det här kontot. Vänta en kvart och "
                              "försök igen.", 429, name)
        user = accounts.authenticate(engine(), name, request.form.get("password", ""))
        if user is None:
            recent_failures(name, add=True)
            services.catalog.audit(name or "(tomt)", "login.failed", None,
                                   {"remote": request.remote_addr})
            return login_page("Fel användarnamn eller lösenord, eller kontot är inaktiverat.", 401, name)
        with failures_lock:
            failures.pop(failure_key(name), None)
        accounts.end_session(engine(), request.cookies.get(SESSION_COOKIE))
        token, _session = accounts.create_session(engine(), user.name, lifetime=session_lifetime)
        services.catalog.audit(user.name, "login", None, {"remote": request.remote_addr})
        response = redirect(_safe_next(request.form.get("next")) or url_for("overview"))
        set_cookie(response, SESSION_COOKIE, token, max_age=int(session_lifetime.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout")
    def logout():
        accounts.end_session(engine(), request.cookies.get(SESSION_COOKIE))
        audit("logout")
        response = redirect(url_for("login"))
        response.delete_cookie(SESSION_COOKIE, path="/", secure=cookie_secure(), httponly=True, samesite="Lax")
        return response

    # --- overview -------------------------------------------------------------------------------------

    def last_captures() -> dict[str, dict]:
        last: dict[str, dict] = {}
        for row in services.catalog.list_bundles():
            for page in row["pages"]:
                page_id = page["page_id"].split(".", 1)[0]
                when = page["capture_start"] or row["created_at"]
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                if page_id not in last or when >= last[page_id]["when"]:
                    last[page_id] = {"when": when, "status": page["status"], "error": page["error"],
                                     "bundle_id": row["id"]}
        return last

    def next_run() -> dict:
        register = services.register
        status = services.due()
        if status.last_started is None:
            text = "Nu – ingen fullständig schemalagd körning har gjorts ännu"
        elif status.due and status.next_due and status.next_due < utcnow() - timedelta(minutes=1):
            text = f"Nu – förföll {local_time(status.next_due)}"
        elif status.due:
            text = "Nu – sidor har lagts till sedan den senaste schemalagda körningen"
        else:
            text = local_time(status.next_due)
        from apscheduler.triggers.cron import CronTrigger

        now = datetime.now(LOCAL_TZ)
        # The scheduler reads the cron in the machine's local time zone; shown here in Swedish time.
        fire = CronTrigger.from_crontab(register.schedule.cron).get_next_fire_time(None, now)
        return {"due": status.due, "text": text, "last": status.last_started,
                "interval": register.schedule.interval_months, "cron_next": fire}

    @app.get("/")
    def overview():
        return render_template("overview.html", pages=services.register.pages, last=last_captures(),
                               next_run=next_run())

    # --- snapshots ------------------------------------------------------------------------------------

    def snapshot_page(error: str | None = None, status: int = 200, page_id: str = "", reason: str = ""):
        return render_template("snapshot.html", pages=services.register.pages, error=error,
                               page_id=page_id, reason=reason, jobs=runner.recent()), status

    @app.get("/snapshot")
    def snapshot_form():
        return snapshot_page(page_id=request.args.get("page", ""))

    @app.post("/snapshot")
    def snapshot_start():
        page_id = request.form.get("page", "")
        reason = " ".join(request.form.get("reason", "").split())
        if page_id not in {p.id for p in services.register.pages}:
            return snapshot_page("Välj en av de registrerade sidorna.", 400, "", reason)
        if not reason:
            return snapshot_page("Skriv varför ögonblicksbilden tas (orsak).", 400, page_id, reason)
        if len(reason) > MAX_REASON:
            return snapshot_page(f"Orsaken får vara högst {MAX_REASON} tecken.", 400, page_id, reason)
        try:
            job = runner.start(page_id, reason, g.session.user.name)
        except BusyError:
            return snapshot_page(BUSY_TEXT, 409, page_id, reason)
        audit("snapshot.requested", None, {"page": page_id, "reason": reason, "job": job.id})
        return redirect(url_for("job", job_id=job.id), code=303)

    @app.get("/snapshot/jobs/<job_id>")
    def job(job_id: str):
        found = runner.get(job_id) if JOB_ID.match(job_id) else None
        if found is None:
            raise Refused(404, "Det finns ingen sådan körning (körningar glöms när servern startas om; "
                               "färdiga paket finns under Paket).")
        return render_template("job.html", job=found)

    # --- single posts ---------------------------------------------------------------------------------

    def post_page(error: str | None = None, status: int = 200, **values):
        return render_template("post.html", pages=services.register.pages, error=error, v=values,
                               hosts=allowed_hosts(services.register), classes=POST_CLASS_NAMES,
                               jobs=[j for j in runner.recent() if j.kind == "post"]), status

    @app.get("/post")
    def post_form():
        return post_page()

    @app.post("/post")
    def post_start():
        form = request.form
        values = {key: " ".join(form.get(key, "").split()) for key in ("url", "post_class", "reason", "dnr", "page")}
        if values["post_class"] not in POST_CLASS_NAMES:
            return post_page("Välj vilken sorts inlägg det är (klass).", 400, **values)
        if not values["reason"]:
            return post_page("Skriv varför inlägget sparas (orsak).", 400, **values)
        if len(values["reason"]) > MAX_REASON or len(values["dnr"]) > MAX_DNR or len(values["url"]) > 2000:
            return post_page("Något fält är för långt.", 400, **values)
        try:
            page = page_for_post(services.register, values["url"], values["page"] or None)
        except AmbiguousPostError as exc:
            return post_page("Adressen visar inte vilken av kommunens sidor inlägget hör till. Välj sidan i listan "
                             f"”Sida inlägget hör till” ({', '.join(exc.candidates)}).", 400, **values)
        except BadInputError as exc:
            return post_page("Adressen godtas inte: den måste gå till ett inlägg på en av kommunens registrerade "
                             f"sidor. ({exc})", 400, **values)
        post = PostRequest(url=values["url"], post_class=values["post_class"], reason=values["reason"],
                           requested_by=g.session.user.name, dnr=values["dnr"] or None)
        try:
            job = runner.start_post(post, page.id)
        except BusyError:
            return post_page(BUSY_TEXT, 409, **values)
        audit("post.requested", None, {"url": post.url, "class": post.post_class, "page": page.id, "job": job.id})
        return redirect(url_for("job", job_id=job.id), code=303)

    @app.get("/gallring")
    def retention():
        decisions = sorted(retention_plan.plan(services.catalog, services.store),
                           key=lambda d: (not d.cull, d.created_at))
        return render_template("retention.html", decisions=decisions, rules=RETENTION_RULES)

    def mark(bundle_id: str, state: str, notice: str):
        row = bundle_row(bundle_id)
        try:
            services.catalog.mark_post(row["id"], state, g.session.user.name, utcnow())
        except BadInputError as exc:
            log.warning("marking %s %s refused: %s", row["id"], state, exc)
            return bundle_page(row["id"], "Det går inte för det här paketet (fel klass eller redan gjort).", 400)
        return redirect(url_for("bundle", bundle_id=row["id"], klart=notice, _anchor="gallring"), code=303)

    @app.post("/bundles/<bundle_id>/done")
    def post_done(bundle_id: str):
        return mark(bundle_id, "done", "utford")

    @app.post("/bundles/<bundle_id>/release")
    def post_release(bundle_id: str):
        return mark(bundle_id, "released", "frigjord")

    # --- bundles --------------------------------------------------------------------------------------

    def bundle_row(bundle_id: str) -> dict:
        return services.catalog.get_bundle(check_bundle_id(bundle_id))

    def manifest_of(row: dict) -> dict | None:
        try:
            return manifest_io.load(services.store.path(row["id"], manifest_io.MANIFEST_NAME))
        except (ArchiverError, OSError, ValueError):
            log.warning("cannot read the manifest of %s", row["id"])
            return None

    def captured_pages(manifest: dict | None) -> list[dict]:
        """Each captured page of a manifest with the PDF page numbers of its tiles."""
        if manifest is None:
            return []
        found = []
        for page in manifest.get("pages", []):
            span = page.get("pdf_pages")
            if page.get("status") == "ok" and span:
                found.append({"key": page.get("key", page.get("id")), "url": page.get("requested_url"),
                              "pdf_pages": list(range(span[0], span[1] + 1))})
        return found

    def parse_day(value: str, field: str, errors: list[str]) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.append(f"{field}: skriv datumet som ÅÅÅÅ-MM-DD.")
            return None

    @app.get("/bundles")
    def bundles():
        args = request.args
        errors: list[str] = []
        start = parse_day(args.get("from", ""), "Från", errors)
        end = parse_day(args.get("to", ""), "Till", errors)
        page_id, text = args.get("page", ""), args.get("q", "").strip()
        kind, registered = args.get("kind", ""), args.get("registered", "")
        rows = services.catalog.list_bundles()
        all_page_ids = sorted({p.id for p in services.register.pages}
                              | {pg["page_id"].split(".", 1)[0] for r in rows for pg in r["pages"]})
        selected = []
        for row in reversed(rows):
            created = row["created_at"].astimezone(LOCAL_TZ)
            if start and created < datetime.combine(start, time.min, LOCAL_TZ):
                continue
            if end and created >= datetime.combine(end + timedelta(days=1), time.min, LOCAL_TZ):
                continue
            if page_id and page_id not in {pg["page_id"].split(".", 1)[0] for pg in row["pages"]}:
                continue
            if text and text.casefold() not in reason_text(row["reason"]).casefold():
                continue
            if kind and row["kind"] != kind:
                continue
            if registered == "ja" and not row["registrations"]:
                continue
            if registered == "nej" and row["registrations"]:
                continue
            selected.append(row)
        shown = selected[:200]
        thumbs_by_bundle = {row["id"]: captured_pages(manifest_of(row)) for row in shown}
        return render_template("bundles.html", rows=shown, total=len(selected), thumbs=thumbs_by_bundle,
                               errors=errors, page_ids=all_page_ids,
                               f={"from": args.get("from", ""), "to": args.get("to", ""), "page": page_id,
                                  "q": text, "kind": kind, "registered": registered})

    def bundle_page(bundle_id: str, error: str | None = None, status: int = 200, dnr: str = ""):
        row = bundle_row(bundle_id)
        trail = services.catalog.audit_log(bundle_id=row["id"], limit=200)
        verified = next((e for e in trail if e["action"] == "bundle.verified" and isinstance(e["detail"], dict)),
                        None)
        notice = NOTICES.get(request.args.get("klart", ""))
        return render_template("bundle.html", b=row, pages=captured_pages(manifest_of(row)), trail=trail,
                               verified=verified, error=error, notice=notice, dnr=dnr), status

    @app.get("/bundles/<bundle_id>")
    def bundle(bundle_id: str):
        return bundle_page(bundle_id)

    @app.get("/bundles/<bundle_id>/thumbs/<int:page_no>.png")
    def thumbnail(bundle_id: str, page_no: int):
        row = bundle_row(bundle_id)
        path = thumbs.page_thumbnail(services.store, row["id"], row["pdf_name"], page_no)
        return send_file(path, mimetype="image/png", max_age=0)

    def download(bundle_id: str, which: str):
        row = bundle_row(bundle_id)
        name = row["pdf_name"] if which == "pdf" else manifest_io.MANIFEST_NAME
        path = Path(services.store.path(row["id"], name))
        if request.method == "GET":  # a HEAD fetches nothing
            audit("bundle.downloaded", row["id"], {"file": name})
        return send_file(path, mimetype="application/pdf" if which == "pdf" else "application/json",
                         as_attachment=True, download_name=name, max_age=0, conditional=False, etag=False)

    @app.get("/bundles/<bundle_id>/pdf")
    def download_pdf(bundle_id: str):
        return download(bundle_id, "pdf")

    @app.get("/bundles/<bundle_id>/manifest.json")
    def download_manifest(bundle_id: str):
        return download(bundle_id, "manifest")

    @app.post("/bundles/<bundle_id>/verify")
    def verify(bundle_id: str):
        row = bundle_row(bundle_id)
        result = services.verify(row["id"])
        audit("bundle.verified", row["id"], {"ok": result.ok, "checks": [
            {"check": c.name, "ok": c.ok, "detail": c.detail} for c in result.checks]})
        return redirect(url_for("bundle", bundle_id=row["id"], klart="verifierad", _anchor="verifiering"),
                        code=303)

    @app.post("/bundles/<bundle_id>/register")
    def register(bundle_id: str):
        row = bundle_row(bundle_id)
        dnr = " ".join(request.form.get("dnr", "").split())
        if not dnr:
            return bundle_page(row["id"], "Skriv diarienumret.", 400)
        if len(dnr) > MAX_DNR:
            return bundle_page(row["id"], f"Diarienumret får vara högst {MAX_DNR} tecken.", 400, dnr)
        try:
            services.register_bundle(row["id"], dnr, g.session.user.name)
        except ArchiverError as exc:  # bad input, a damaged manifest, a locked catalog: said on the page
            log.warning("registering %s failed: %s", row["id"], exc)
            return bundle_page(row["id"], "Diarienumret kunde inte registreras.", 400, dnr)
        return redirect(url_for("bundle", bundle_id=row["id"], klart="registrerad", _anchor="diarienummer"),
                        code=303)

    # --- users ----------------------------------------------------------------------------------------

    def users_page(error: str | None = None, status: int = 200, name: str = "", role: str = ""):
        return render_template("users.html", users=accounts.list_users(engine()), roles=accounts.ROLES,
                               error=error, name=name, role=role, notice=NOTICES.get(request.args.get("klart", "")),
                               min_length=accounts.MIN_PASSWORD_LENGTH), status

    @app.get("/users")
    def users():
        return users_page()

    @app.post("/users")
    def users_add():
        name, role = request.form.get("name", "").strip(), request.form.get("role", "")
        password, again = request.form.get("password", ""), request.form.get("password2", "")
        if password != again:
            return users_page("Lösenorden är inte lika.", 400, name, role)
        if not accounts.NAME.match(name):
            return users_page("Användarnamnet får bara innehålla bokstäver, siffror och . _ @ - (högst 80 tecken).",
                              400, name, role)
        if role not in accounts.ROLES:
            return users_page("Välj en roll.", 400, name, role)
        if len(password) < accounts.MIN_PASSWORD_LENGTH:
            return users_page(f"Lösenordet måste ha minst {accounts.MIN_PASSWORD_LENGTH} tecken.", 400, name, role)
        try:
            accounts.add_user(engine(), name, role, password)
        except BadInputError:
            return users_page(f"Det finns redan en användare som heter {name}.", 400, name, role)
        audit("user.added", None, {"name": name, "role": role})
        return redirect(url_for("users", klart="tillagd"), code=303)

    @app.post("/users/<name>/disable")
    def users_disable(name: str):
        if name == g.session.user.name:
            return users_page("Du kan inte inaktivera ditt eget konto.", 400)
        try:
            accounts.disable_user(engine(), name)
        except NotFoundError:
            raise Refused(404, "Det finns ingen sådan användare.") from None
        audit("user.disabled", None, {"name": name})
        return redirect(url_for("users", klart="inaktiverad"), code=303)

    return app
