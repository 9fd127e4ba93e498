"""`archiver serve` and `archiver users ...`: the web page and its accounts."""

from __future__ import annotations

import getpass
import logging
import sys

import click

from archiver.cli.common import Services, echo_json, pass_services
from archiver.errors import BadInputError

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a reverse proxy that terminates https.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark cookies Secure (set this when users reach the page over https through a proxy).")
@click.option("--trusted-proxy", metavar="ADDR",
              help="Address of a reverse proxy whose X-Forwarded-Proto/-For headers are believed (then https "
              "through it makes cookies Secure and the log shows the client's address).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads serving requests.")
@click.option("--demo", is_flag=True,
              help="Try it offline: serve the demo site on 127.0.0.1 and use a demo register (store: output/), "
              "with demo accounts whose new passwords are printed. Only on a loopback address.")
@pass_services
def serve(services: Services, host: str, port: int, secure_cookies: bool, trusted_proxy: str | None,
          threads: int, demo: bool) -> None:
    """Serve the web page for communicators and the registrar (waitress, server-rendered pages)."""
    if demo:
        _serve_demo(host, port, threads)
        return
    services.register  # noqa: B018 - a bad register fails here, before the server starts
    _serve(services, host, port, secure_cookies, trusted_proxy, threads)


DEMO_ACCOUNTS = (("kommunikator", "communicator"), ("registrator", "registrar"), ("admin", "admin"))


def _serve_demo(host: str, port: int, threads: int) -> None:
    """The web page over the offline demo site, with fresh passwords for its demo accounts each start."""
    import secrets
    import tempfile
    from pathlib import Path

    from archiver.demo import SITE_DIR, demo_register_yaml, serve_directory
    from archiver.web import accounts

    if not _is_loopback(host):
        raise BadInputError("--demo creates accounts with printed passwords: it listens only on a loopback "
                            "address (e.g. --host 127.0.0.1)")
    with serve_directory(SITE_DIR) as site, tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "demo-pages.yaml"
        registry.write_text(demo_register_yaml(site, str(Path("output").resolve())), encoding="utf-8")
        services = Services(registry)
        engine = services.catalog  # its accounts: the organisation's
        click.echo(f"demo site: {site}/  (a post to try: {site}/inlagg.html)")
        for name, role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            if accounts.get_user(engine, name) is None:
                accounts.add_user(engine, name, role, password)
            else:
                accounts.set_password(engine, name, password)
            click.echo(f"demo account: {name:<13} password {password}  ({accounts.ROLE_NAMES[role]})")
        click.echo(f"open http://{host}:{port}/ and log in; Ctrl-C stops")
        _serve(services, host, port, False, None, threads)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(services: Services, host: str, port: int, secure_cookies: bool, trusted_proxy: str | None,
           threads: int) -> None:
    from waitress import serve as waitress_serve

    from archiver.web import create_app

    app = create_app(services, secure_cookies=secure_cookies)
    if not _has_users(services):
        log.warning("no web accounts yet: add one with `archiver users add NAME --role admin`")
    log.info("serving the web page on http://%s:%d/", host, port)
    proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
             "clear_untrusted_proxy_headers": True} if trusted_proxy else {}
    waitress_serve(app, host=host, port=port, threads=threads, ident="archiver", **proxy)


def _has_users(services: Services) -> bool:
    from archiver.web import accounts

    return bool(accounts.list_users(services.catalog))


@click.group()
def users() -> None:
    """Accounts of the web page (roles: communicator, registrar, admin)."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["communicator", "registrar", "admin"]),
              help="communicator: snapshots and posts; registrar: verify, register, retention marks; admin: users.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_services
def users_add(services: Services, name: str, role: str, password_stdin: bool) -> None:
    """Add a web account; the password is stored only as an argon2id hash."""
    from archiver.web import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    accounts.check_new_user(name, role, password)
    accounts.add_user(services.catalog, name, role, password)
    services.catalog.audit(f"cli:{getpass.getuser()}", "user.added", None, {"name": name, "role": role})
    click.echo(f"added {name} ({role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@pass_services
def users_list(services: Services, as_json: bool) -> None:
    """List the web accounts."""
    from archiver.web import accounts

    found = accounts.list_users(services.catalog)
    if as_json:
        echo_json([{"name": u.name, "role": u.role, "created_at": u.created_at, "disabled_at": u.disabled_at}
                   for u in found])
        return
    for u in found:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        click.echo(f"{u.name}\t{u.role}\t{state}")


@users.command("disable")
@click.argument("name")
@pass_services
def users_disable(services: Services, name: str) -> None:
    """Disable a web account and end its sessions (the account stays, for the audit trail)."""
    from archiver.web import accounts

    if not name.strip():
        raise BadInputError("NAME must not be empty")
    accounts.disable_user(services.catalog, name)
    services.catalog.audit(f"cli:{getpass.getuser()}", "user.disabled", None, {"name": name})
    click.echo(f"disabled {name}")
