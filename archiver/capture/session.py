"""Signed-in sessions: recorded once by a person in a visible browser, kept in a private file, reused by captures.

A session file is Playwright's storage state (`{"cookies": [...], "origins": [...]}`) as JSON, so a capture
can pass it straight to `browser.new_context(storage_state=...)`. It is as good as the account's password
while it lasts, so it is written with mode 0600 from the moment it exists, in a 0700 folder, and a file
that others can read is refused rather than used.

Whether a session is usable is decided from the file alone, without a browser or the network: one of the
platform's sign-in cookies (`Recipe.session_cookies`) must be there and must not have expired. A platform
can still end a session early (a password change, a security check); the capture sees that as a login page.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from archiver.errors import BadInputError
from archiver.fileio import fsync_dir, write_atomic

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
_PLATFORM_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class NotSignedInError(BadInputError):
    """`archiver login` ended without a signed-in session (or the browser was gone); nothing was saved."""


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """ARCHIVER_SESSIONS_DIR, else $XDG_STATE_HOME/archiver/sessions, else ~/.local/state/archiver/sessions."""
    env = os.environ if env is None else env
    override = env.get("ARCHIVER_SESSIONS_DIR")
    if override:
        return Path(override).expanduser()
    state_home = env.get("XDG_STATE_HOME")
    if state_home and Path(state_home).is_absolute():  # the XDG spec says to ignore relative values
        return Path(state_home) / "archiver" / "sessions"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "archiver" / "sessions"


def session_file(platform: str, directory: Path) -> Path:
    if not _PLATFORM_NAME.fullmatch(platform):
        raise BadInputError(f"not a platform name: {platform!r}")
    return Path(directory) / f"{platform}.json"


def save_state(state: dict, path: Path) -> None:
    """Write `state` to `path` atomically; the file is 0600 from creation on, its folder 0700 if made here."""
    path = Path(path)
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    write_atomic(path, json.dumps(state, ensure_ascii=False, indent=2).encode("utf-8"), FILE_MODE, exact_mode=True)
    fsync_dir(path.parent)
    log.debug("saved session state to %s", path)


@dataclass(frozen=True)
class Session:
    platform: str
    path: Path
    state: dict
    problem: str | None  # why it cannot be used; None when it can

    @property
    def usable(self) -> bool:
        return self.problem is None


def _login_hint(platform: str) -> str:
    return f"run `archiver login {platform}`"


def _utc(moment: datetime) -> datetime:
    """Aware datetimes as they are; naive ones are taken to be UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _sign_in_cookies(state: dict, recipe) -> list[dict]:
    cookies = state.get("cookies") if isinstance(state, dict) else None
    if not isinstance(cookies, list):
        return []
    return [c for c in cookies
            if isinstance(c, dict) and c.get("name") in recipe.session_cookies and c.get("value")]


def session_expires(state: dict, recipe) -> datetime | None:
    """When the first of the sign-in cookies expires; None if none is there or they last the browser session."""
    expiries = [float(c["expires"]) for c in _sign_in_cookies(state, recipe)
                if isinstance(c.get("expires"), int | float) and c["expires"] > 0]
    return datetime.fromtimestamp(min(expiries), UTC) if expiries else None


def session_problem(state: dict, recipe, now: datetime, where: str = "the saved session") -> str | None:
    """Why `state` is not a usable signed-in session for `recipe`'s platform, or None if it is."""
    platform = recipe.platform
    if not recipe.session_cookies:
        return f"archiver does not know how a signed-in {platform} session looks (no sign-in cookies)"
    if not isinstance(state, dict) or not isinstance(state.get("cookies"), list):
        return f"{where} is not a browser storage state (no cookie list); {_login_hint(platform)}"
    if not _sign_in_cookies(state, recipe):
        names = " or ".join(recipe.session_cookies)
        return f"no signed-in cookie ({names}) in {where}: {_login_hint(platform)}"
    expires = session_expires(state, recipe)
    if expires is not None and expires < _utc(now):
        return (f"the saved {platform} session expired on {_when(expires.timestamp())}; "
                f"{_login_hint(platform)}")
    return None


def _permission_problem(path: Path, mode: int) -> str | None:
    if mode & 0o077 == 0:
        return None
    who = " and ".join(w for w, bits in (("group", 0o070), ("others", 0o007)) if mode & bits)
    return (f"{path} has mode {stat.S_IMODE(mode):04o}: {who} on this machine can read or change the signed-in "
            f"session in it, so it is not used; run `chmod 600 {path}` (and sign in again with "
            f"`archiver login` if others may have copied it)")


def load_session(platform: str, directory: Path, recipe, now: datetime) -> Session | None:
    """The saved session for `platform`, None if there is no file; a file that cannot be used has `problem` set."""
    return load_session_file(platform, session_file(platform, directory), recipe, now)


def load_session_file(platform: str, path: Path, recipe, now: datetime) -> Session | None:
    """`load_session` for a file given by its path (`archiver login --file`)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Session(platform, path, {}, f"cannot read {path}: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        return Session(platform, path, {}, f"{path} is not a file")
    if os.name == "posix":
        problem = _permission_problem(path, info.st_mode)
        if problem:
            return Session(platform, path, {}, problem)
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return Session(platform, path, {}, f"cannot read {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Session(platform, path, {}, f"{path} is not a saved session ({exc}); {_login_hint(platform)}")
    if not isinstance(state, dict):
        return Session(platform, path, {}, f"{path} is not a saved session (not a JSON object); "
                                           f"{_login_hint(platform)}")
    return Session(platform, path, state, session_problem(state, recipe, now, where=str(path)))


async def record_session(browser, recipe, path: Path, wait_for_user: Callable[[object], Awaitable[object]],
                         url: str | None = None) -> Session:
    """Open the login page in a fresh context, let the person sign in, and save the session if they did.

    `wait_for_user(page)` returns when the person is done (the CLI waits for Enter or the window closing).
    Raises NotSignedInError, saving nothing and leaving any earlier file as it was, when no sign-in cookie
    was set.
    """
    start = url or recipe.login_url
    if not start:
        raise BadInputError(f"no login page is known for {recipe.platform}; give one with --url")
    from playwright.async_api import Error as PlaywrightError

    context = await browser.new_context(no_viewport=True, locale="sv-SE", timezone_id="Europe/Stockholm")
    try:
        page = await context.new_page()
        log.info("opening %s", start)
        try:
            await page.goto(start, wait_until="domcontentloaded")
        except PlaywrightError as exc:  # the person sees the browser's error page and can still go on
            log.warning("could not open %s: %s", start, str(exc).splitlines()[0])
        await wait_for_user(page)
        try:
            state = await context.storage_state()
        except PlaywrightError as exc:
            raise NotSignedInError(
                "the browser was closed before the session could be read, so nothing was saved; "
                "run it again and press Enter in the terminal when you are signed in") from exc
    finally:
        with contextlib.suppress(PlaywrightError):
            await context.close()
    if not _sign_in_cookies(state, recipe):
        raise NotSignedInError(
            f"not signed in to {recipe.platform} (the browser has no {' or '.join(recipe.session_cookies)} "
            f"cookie after {urlsplit(start).hostname or start}), so nothing was saved; sign in with the "
            "archiving account before pressing Enter")
    problem = session_problem(state, recipe, datetime.now(UTC), where="the browser")
    if problem:
        raise NotSignedInError(f"{problem}; nothing was saved")
    save_state(state, path)
    names = ", ".join(c["name"] for c in _sign_in_cookies(state, recipe))
    log.info("saved the signed-in %s session (%s) to %s", recipe.platform, names, path)
    return Session(recipe.platform, Path(path), state, None)
