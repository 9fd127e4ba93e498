"""Signed-in sessions: recorded in real Chromium against a loopback login site, kept private, checked offline."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import secrets
import stat
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import run_cli

from archiver.capture import launch_browser
from archiver.capture import session as session_module
from archiver.capture.recipes.instagram import RECIPE as INSTAGRAM
from archiver.capture.session import (
    NotSignedInError,
    load_session,
    record_session,
    save_state,
    session_file,
    session_problem,
    sessions_dir,
)
from archiver.demo.server import send_html
from archiver.errors import BadInputError

ACCOUNT = "/goteborg-like/"
LOGIN = "/accounts/login/"
COOKIE_LIFETIME_S = 90 * 24 * 3600
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


# --- the fixture login site -------------------------------------------------------------------------------

class LoginSite:
    """An Instagram-like site: a login form that sets `sessionid`, and an account only signed-in visitors see.

    The demo server answers GET only, so the form submits with GET to /accounts/login/submit/.
    """

    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.lock = threading.Lock()

    def login_page(self, req) -> None:
        send_html(req, 200,
                  '<!doctype html><html lang="sv"><meta charset="utf-8"><title>Logga in</title>'
                  '<form action="/accounts/login/submit/" method="get">'
                  '<input id="username" name="username" autocomplete="username">'
                  '<input id="password" name="password" type="password">'
                  '<button type="submit">Logga in</button></form></html>')

    def submit(self, req) -> None:
        query = parse_qs(urlsplit(req.path).query)
        if query.get("username") != ["arkiv@goteborg.example"] or query.get("password") != ["rätt lösenord"]:
            self._redirect(req, LOGIN + "?fel=1")
            return
        token = secrets.token_hex(16)
        with self.lock:
            self.tokens.add(token)
        self._redirect(req, ACCOUNT, f"sessionid={token}; Max-Age={COOKIE_LIFETIME_S}; Path=/; HttpOnly; "
                                     "SameSite=Lax")

    def account(self, req) -> None:
        cookie = SimpleCookie(req.headers.get("Cookie", ""))
        token = cookie["sessionid"].value if "sessionid" in cookie else None
        with self.lock:
            signed_in = token in self.tokens
        if not signed_in:
            self._redirect(req, LOGIN + "?next=" + ACCOUNT)
            return
        posts = "".join(f"<article><p>Inlägg {i} från Göteborgs Stad</p></article>" for i in range(1, 4))
        send_html(req, 200, '<!doctype html><html lang="sv"><meta charset="utf-8"><title>goteborg-like</title>'
                            f"<h1>Göteborgs Stad</h1>{posts}</html>")

    @staticmethod
    def _redirect(req, location: str, set_cookie: str | None = None) -> None:
        req.send_response(302)
        req.send_header("Location", location)
        if set_cookie:
            req.send_header("Set-Cookie", set_cookie)
        req.send_header("Content-Length", "0")
        req.end_headers()

    def routes(self) -> dict:
        return {LOGIN: self.login_page, LOGIN + "submit/": self.submit, ACCOUNT: self.account}


@pytest.fixture(scope="module")
def login_site(tmp_path_factory):
    from archiver.demo.server import serve_directory

    fixture = LoginSite()
    with serve_directory(tmp_path_factory.mktemp("login-site"), routes=fixture.routes()) as base_url:
        yield base_url


@pytest.fixture
def recipe(login_site):
    return dataclasses.replace(INSTAGRAM, login_url=login_site + LOGIN)


async def sign_in(page) -> None:
    """What a person does in the window: fill in the form and submit it."""
    await page.fill("#username", "arkiv@goteborg.example")
    await page.fill("#password", "rätt lösenord")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**{ACCOUNT}")


async def do_nothing(page) -> None:
    return None


def record(browser_choice, recipe, path: Path, wait_for_user):
    async def go():
        async with launch_browser(browser_choice) as browser:
            return await record_session(browser, recipe, path, wait_for_user)
    return asyncio.run(go())


def open_account(browser_choice, base_url: str, storage_state) -> tuple[str, int]:
    """The final URL and number of posts a fresh context sees at the account page with `storage_state`."""
    async def go():
        async with launch_browser(browser_choice) as browser:
            context = await browser.new_context(storage_state=storage_state)
            try:
                page = await context.new_page()
                await page.goto(base_url + ACCOUNT)
                return page.url, await page.locator("article").count()
            finally:
                await context.close()
    return asyncio.run(go())


def cookie(name: str = "sessionid", expires: float = -1, value: str = "abc123") -> dict:
    return {"name": name, "value": value, "domain": "127.0.0.1", "path": "/", "expires": expires,
            "httpOnly": True, "secure": False, "sameSite": "Lax"}


def state_with(*cookies: dict) -> dict:
    return {"cookies": list(cookies), "origins": []}


# --- recording a session in real Chromium --------------------------------------------------------------------

@pytest.mark.browser
def test_recorded_session_is_private_and_signs_a_fresh_browser_in(browser_choice, recipe, login_site, tmp_path):
    path = tmp_path / "sessions" / "instagram.json"
    saved = record(browser_choice, recipe, path, sign_in)

    assert saved.problem is None and saved.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    state = json.loads(path.read_text(encoding="utf-8"))
    [sessionid] = [c for c in state["cookies"] if c["name"] == "sessionid"]
    assert sessionid["value"] and sessionid["domain"] == "127.0.0.1"
    lifetime = sessionid["expires"] - datetime.now(UTC).timestamp()
    assert COOKIE_LIFETIME_S - 600 < lifetime <= COOKIE_LIFETIME_S
    assert not list(path.parent.glob(".*.tmp"))

    loaded = load_session("instagram", path.parent, recipe, datetime.now(UTC))
    assert loaded is not None and loaded.problem is None and loaded.state == state

    # The saved state is what a capture context needs: the account, not the login page.
    url, posts = open_account(browser_choice, login_site, str(path))
    assert urlsplit(url).path == ACCOUNT and posts == 3
    url, posts = open_account(browser_choice, login_site, None)
    assert urlsplit(url).path == LOGIN and posts == 0


@pytest.mark.browser
def test_not_signing_in_saves_nothing_and_keeps_the_old_file(browser_choice, recipe, tmp_path):
    path = tmp_path / "instagram.json"
    with pytest.raises(NotSignedInError, match="nothing was saved") as raised:
        record(browser_choice, recipe, path, do_nothing)
    assert isinstance(raised.value, BadInputError) and raised.value.exit_code == 2
    assert not path.exists()

    save_state(state_with(cookie(expires=(NOW - timedelta(days=1)).timestamp())), path)
    before = path.read_bytes()
    with pytest.raises(NotSignedInError):
        record(browser_choice, recipe, path, do_nothing)
    assert path.read_bytes() == before


# --- deciding whether a saved session is usable ---------------------------------------------------------------

def test_usable_session_has_no_problem():
    future = (NOW + timedelta(days=30)).timestamp()
    assert session_problem(state_with(cookie(expires=future)), INSTAGRAM, NOW) is None
    assert session_problem(state_with(cookie(expires=-1)), INSTAGRAM, NOW) is None  # lasts the browser session


def test_expired_sign_in_cookie_is_a_problem():
    expired = datetime(2026, 1, 15, 8, 0, tzinfo=UTC).timestamp()
    problem = session_problem(state_with(cookie(expires=expired)), INSTAGRAM, NOW)
    assert problem is not None
    assert "expired on 2026-01-15" in problem and "`archiver login instagram`" in problem


def test_missing_sign_in_cookie_is_a_problem():
    for state in (state_with(), state_with(cookie(name="csrftoken")), state_with(cookie(value=""))):
        problem = session_problem(state, INSTAGRAM, NOW)
        assert problem is not None and "no signed-in cookie (sessionid)" in problem
        assert "`archiver login instagram`" in problem
    assert "not a browser storage state" in session_problem({"cookies": "x"}, INSTAGRAM, NOW)


def test_facebook_problem_names_its_cookies():
    from archiver.capture.recipes.facebook import RECIPE as FACEBOOK

    problem = session_problem(state_with(cookie()), FACEBOOK, NOW)
    assert "c_user" in problem and "`archiver login facebook`" in problem


def test_load_session_reports_problems_instead_of_raising(tmp_path):
    assert load_session("instagram", tmp_path, INSTAGRAM, NOW) is None

    path = session_file("instagram", tmp_path)
    assert path == tmp_path / "instagram.json"
    path.write_text("{not json", encoding="utf-8")
    path.chmod(0o600)
    bad = load_session("instagram", tmp_path, INSTAGRAM, NOW)
    assert bad.problem and "not a saved session" in bad.problem and "archiver login instagram" in bad.problem

    save_state(state_with(cookie(name="csrftoken")), path)
    assert "no signed-in cookie (sessionid)" in load_session("instagram", tmp_path, INSTAGRAM, NOW).problem

    save_state(state_with(cookie(expires=(NOW - timedelta(hours=1)).timestamp())), path)
    assert "expired" in load_session("instagram", tmp_path, INSTAGRAM, NOW).problem


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_file_others_can_read_is_not_used(tmp_path):
    path = session_file("instagram", tmp_path)
    save_state(state_with(cookie(expires=(NOW + timedelta(days=1)).timestamp())), path)
    assert load_session("instagram", tmp_path, INSTAGRAM, NOW).problem is None
    path.chmod(0o644)
    session = load_session("instagram", tmp_path, INSTAGRAM, NOW)
    assert session.problem is not None and session.state == {}
    assert "mode 0644" in session.problem and f"chmod 600 {path}" in session.problem
    path.chmod(0o640)
    assert "group" in load_session("instagram", tmp_path, INSTAGRAM, NOW).problem


# --- where and how the file is written -----------------------------------------------------------------------

def test_sessions_dir_order():
    assert sessions_dir({"ARCHIVER_SESSIONS_DIR": "/srv/s", "XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/srv/s")
    assert sessions_dir({"XDG_STATE_HOME": "/x", "HOME": "/h"}) == Path("/x/archiver/sessions")
    assert sessions_dir({"XDG_STATE_HOME": "relative", "HOME": "/h"}) == Path("/h/.local/state/archiver/sessions")
    assert sessions_dir({"HOME": "/h"}) == Path("/h/.local/state/archiver/sessions")
    with pytest.raises(BadInputError):
        session_file("../etc/passwd", Path("/tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_save_state_is_private_from_the_first_byte(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def checking_replace(src, dst):
        seen.append((Path(src).name, stat.S_IMODE(os.stat(src).st_mode)))
        real_replace(src, dst)

    monkeypatch.setattr(session_module.os, "replace", checking_replace)
    old_umask = os.umask(0)  # the most permissive umask must not widen anything
    try:
        path = tmp_path / "new" / "instagram.json"
        save_state(state_with(cookie()), path)
        save_state(state_with(cookie(value="second")), path)
    finally:
        os.umask(old_umask)
    assert [mode for _, mode in seen] == [0o600, 0o600]
    assert all(re.fullmatch(r"\.instagram\.json\.[0-9a-f]+\.tmp", name) for name, _ in seen)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text(encoding="utf-8"))["cookies"][0]["value"] == "second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["instagram.json"]


# --- the command line -------------------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="a display is assumed there")
def test_login_without_a_display_exits_2_and_says_how(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("ARCHIVER_SESSIONS_DIR", str(tmp_path))
    result = run_cli("login", "instagram")
    assert result.returncode == 2, result.stderr
    assert "no display" in result.stderr and "desktop" in result.stderr
    assert f"to {tmp_path / 'instagram.json'} with mode 0600" in result.stderr and "umask 077" in result.stderr
    assert result.stdout == "" and not list(tmp_path.iterdir())


def test_login_check_exit_codes(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVER_SESSIONS_DIR", str(tmp_path))
    path = tmp_path / "instagram.json"

    missing = run_cli("login", "instagram", "--check")
    assert missing.returncode == 1 and "archiver login instagram" in missing.stderr

    good_until = datetime.now(UTC) + timedelta(days=30)
    save_state(state_with(cookie(expires=good_until.timestamp())), path)
    good = run_cli("login", "instagram", "--check")
    assert good.returncode == 0, good.stderr
    assert "usable" in good.stdout and f"{good_until:%Y-%m-%d}" in good.stdout
    assert "warning" not in good.stderr

    save_state(state_with(cookie(expires=(datetime.now(UTC) + timedelta(days=3)).timestamp())), path)
    soon = run_cli("login", "instagram", "--check")
    assert soon.returncode == 0 and "usable" in soon.stdout
    assert "expires within 14 days" in soon.stderr

    save_state(state_with(cookie(expires=datetime(2026, 1, 15, tzinfo=UTC).timestamp())), path)
    expired = run_cli("login", "instagram", "--check")
    assert expired.returncode == 1
    assert "expired on 2026-01-15" in expired.stderr and "`archiver login instagram`" in expired.stderr

    other = tmp_path / "elsewhere.json"
    save_state(state_with(cookie(expires=good_until.timestamp())), other)
    other.chmod(0o644)
    loose = run_cli("login", "instagram", "--check", "--file", str(other))
    assert loose.returncode == 1 and "chmod 600" in loose.stderr


def test_login_refuses_a_platform_without_sign_in(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVER_SESSIONS_DIR", str(tmp_path))
    assert run_cli("login", "generic").returncode == 2
    assert run_cli("login", "myspace").returncode == 2


@pytest.mark.browser
def test_captures_use_the_saved_session_and_report_one_that_no_longer_works(browser_choice, recipe, login_site,
                                                                            tmp_path):
    """Signed in: the account is captured. Logged out by the site, or expired: failed, never a login page."""
    from types import SimpleNamespace

    from archiver.capture import CaptureSettings, capture_pages

    signed_in, forgotten, expired, anonymous = (tmp_path / name for name in ("in", "forgotten", "expired", "none"))
    record(browser_choice, recipe, session_file("instagram", signed_in), sign_in)
    state = json.loads(session_file("instagram", signed_in).read_text(encoding="utf-8"))
    for cookie_ in state["cookies"]:
        cookie_["value"] = "a-token-the-site-has-forgotten"
    save_state(state, session_file("instagram", forgotten))
    for cookie_ in state["cookies"]:
        cookie_["expires"] = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    save_state(state, session_file("instagram", expired))
    anonymous.mkdir()
    page = SimpleNamespace(id="goteborg", platform="instagram", url=login_site + ACCOUNT, owner=None, name=None)

    async def capture_with(directory: Path):
        settings = CaptureSettings(allow_private_networks=True, timeout_s=20, sessions_dir=str(directory))
        async with launch_browser(browser_choice) as browser:
            (result,) = await capture_pages(browser, [page], settings)
        return result

    ok = asyncio.run(capture_with(signed_in))
    assert ok.ok, ok.error
    assert ok.session == str(session_file("instagram", signed_in)) and ok.posts == 3
    assert urlsplit(ok.final_url).path == ACCOUNT

    logged_out = asyncio.run(capture_with(forgotten))
    assert (logged_out.status, logged_out.failure) == ("failed", "session_expired") and not logged_out.tiles
    assert "archiver login instagram" in logged_out.error

    too_old = asyncio.run(capture_with(expired))
    assert too_old.failure == "session_expired" and "expired on 2025-01-01" in too_old.error

    no_session = asyncio.run(capture_with(anonymous))
    assert no_session.failure == "login_wall" and no_session.session is None
