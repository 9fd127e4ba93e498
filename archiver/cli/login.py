"""`archiver login PLATFORM`: a person signs in once in a visible browser; captures reuse the saved session."""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from archiver.capture import find_browser, launch_browser
from archiver.capture.recipes import recipe_for
from archiver.capture.session import (
    load_session_file,
    record_session,
    session_expires,
    session_file,
    sessions_dir,
)
from archiver.errors import BadInputError, ConfigurationError
from archiver.register.schema import PLATFORMS

log = logging.getLogger(__name__)

EXPIRY_WARNING = timedelta(days=14)  # `--check` still exits 0, but says so on stderr


def has_display(env=None, platform: str = sys.platform) -> bool:
    """A window can be shown: always on macOS and Windows, on Linux/BSD when X11 or Wayland is there."""
    env = os.environ if env is None else env
    if platform == "darwin" or platform.startswith("win"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def _no_display_message(platform: str, path: Path) -> str:
    return (
        f"`archiver login {platform}` opens a browser window to sign in, and there is no display here "
        "(neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
        "Either connect with `ssh -X` so the window opens on your desktop, and run it again; or sign in on a "
        "desktop machine where archiver is installed:\n"
        f"  archiver login {platform}      # prints where it saved the session file\n"
        f"and copy that file here, for the user that runs the captures, to {path} with mode 0600 "
        "(a session file that others can read is not used), e.g. from the desktop machine:\n"
        f'  ssh THIS-HOST "umask 077 && mkdir -p {shlex.quote(str(path.parent))} && '
        f'cat > {shlex.quote(str(path))}" < SAVED-FILE'
    )


async def wait_for_enter_or_close(page) -> None:
    """Done when the person presses Enter in the terminal, or closes every window of the browser."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def finish(_=None) -> None:
        if not done.done():
            done.set_result(None)

    def read_stdin() -> None:
        try:
            line = sys.stdin.readline()
        except (OSError, ValueError):
            return
        if line:  # at end of input (no terminal) only closing the window ends the wait
            loop.call_soon_threadsafe(finish)

    def page_closed(_) -> None:
        if not page.context.pages:
            finish()

    def watch(new_page) -> None:
        new_page.on("close", page_closed)

    context = page.context
    for open_page in context.pages:
        watch(open_page)
    context.on("page", watch)
    if context.browser is not None:
        context.browser.on("disconnected", finish)
    # A daemon thread, not the loop's executor: a blocked read must not keep the process alive at exit.
    if sys.stdin is not None and not sys.stdin.closed:
        threading.Thread(target=read_stdin, name="login-enter", daemon=True).start()
    await done


def _check(platform: str, path: Path) -> int:
    recipe = recipe_for(platform)
    session = load_session_file(platform, path, recipe, datetime.now(UTC))
    if session is None:
        click.echo(f"archiver: no saved {platform} session at {path}; run `archiver login {platform}`", err=True)
        return 1
    if session.problem:
        click.echo(f"archiver: {session.problem}", err=True)
        return 1
    expires = session_expires(session.state, recipe)
    until = f", signed in until {expires:%Y-%m-%d %H:%M} UTC" if expires else ""
    click.echo(f"{platform}: the saved session {path} is usable{until}")
    if expires and expires - datetime.now(UTC) < EXPIRY_WARNING:
        click.echo(f"archiver: warning: the {platform} session expires within {EXPIRY_WARNING.days} days; "
                   f"run `archiver login {platform}` before then", err=True)
    return 0


@click.command()
@click.argument("platform", type=click.Choice(PLATFORMS))
@click.option("--url", help="Open this page to sign in instead of the platform's login page.")
@click.option("--file", "file_path", type=click.Path(dir_okay=False),
              help="Save (or check) the session here instead of the sessions folder.")
@click.option("--check", is_flag=True,
              help="Only say whether the saved session is usable (exit 0) or why not (exit 1); no browser.")
@click.pass_context
def login(ctx: click.Context, platform: str, url: str | None, file_path: str | None, check: bool) -> None:
    """Sign in to PLATFORM with the archiving account in a browser window and save the session.

    Captures of PLATFORM's pages then use it. The session is saved, with mode 0600, to PLATFORM.json in
    $ARCHIVER_SESSIONS_DIR, else $XDG_STATE_HOME/archiver/sessions, else ~/.local/state/archiver/sessions.
    """
    recipe = recipe_for(platform)
    path = Path(file_path) if file_path else session_file(platform, sessions_dir())
    if check:
        if url:
            raise BadInputError("--url has no meaning with --check")
        ctx.exit(_check(platform, path))
    if not recipe.session_cookies:
        raise BadInputError(f"archiver cannot tell when a {platform} session is signed in; "
                            f"login is for {', '.join(p for p in PLATFORMS if recipe_for(p).session_cookies)}")
    if not has_display():
        raise ConfigurationError(_no_display_message(platform, path.absolute()))
    choice = find_browser()
    start = url or recipe.login_url

    async def wait(page) -> None:
        click.echo(
            f"A browser window shows {start}.\n"
            f"Sign in to {platform} there with the municipality's archiving account (not a personal one), "
            "and answer any security check.\n"
            "Then press Enter here (or close the browser window) to save the session.", err=True)
        await wait_for_enter_or_close(page)

    async def go():
        async with launch_browser(choice, headless=False) as browser:
            return await record_session(browser, recipe, path, wait, url=url)

    session = asyncio.run(go())
    click.echo(f"saved the {platform} session to {session.path} (mode 0600)")
    expires = session_expires(session.state, recipe)
    if expires:
        click.echo(f"it lasts until {expires:%Y-%m-%d %H:%M} UTC unless {platform} ends it earlier; "
                   f"`archiver login {platform} --check` tells whether it still does", err=True)
