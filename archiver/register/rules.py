"""What the municipality's rules ask of the register beyond a valid file, and which URLs a post may have.

Warnings (`pages check`) never stop a run: a badly named page is still the organisation's page and is
still captured (and a host that resolves to a private address is refused by the capture's guard anyway). A post URL outside the registered accounts' platforms is refused outright: `archiver post`
captures the organisation's own posts, never an arbitrary address.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.errors import BadInputError
from archiver.register.addresses import address_kind, address_phrase, is_private_host, literal_address
from archiver.register.schema import PageEntry, Register

log = logging.getLogger(__name__)

RESOLVE_BOUND_S = 1.5  # `pages check` waits this long in all for the register's names to resolve

# Hosts a platform serves its pages and posts from; a registered page admits posts on all of its family.
PLATFORM_HOSTS = {
    "facebook": ("facebook.com", "www.facebook.com", "m.facebook.com", "web.facebook.com", "fb.com"),
    "instagram": ("instagram.com", "www.instagram.com"),
    "x": ("x.com", "www.x.com", "mobile.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com"),
    "youtube": ("youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"),
    "linkedin": ("linkedin.com", "www.linkedin.com"),
    "tiktok": ("tiktok.com", "www.tiktok.com", "m.tiktok.com"),
}


class AmbiguousPostError(BadInputError):
    """The post URL's host has several registered pages and its path names none of them."""

    def __init__(self, host: str, candidates: list[str]):
        self.host, self.candidates = host, candidates
        super().__init__(f"the post URL does not show which registered account on {host} it belongs to; "
                         f"name it with --page ({', '.join(candidates)})")


@dataclass(frozen=True)
class RegisterWarning:
    page_id: str
    line: int | None
    message: str

    def describe(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path
        return f"{where}: pages.{self.page_id}: {self.message}"


def facebook_short_name(url: str) -> str | None:
    """'https://www.facebook.com/goteneidrott/' -> 'goteneidrott'; None for profile.php?id=… and the like."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if not parts or parts[0].endswith(".php") or parts[0] in ("people", "pages", "groups"):
        return None
    return parts[0]


def register_warnings(register: Register) -> list[RegisterWarning]:
    """The rules' checks: Facebook short names follow `<prefix><verksamhet>`, and every page has an owner."""
    warnings = []
    rules = register.rules
    for page in register.pages:
        line = register.page_line(page.id)
        if page.platform == "facebook" and rules.facebook_prefix:
            prefix = rules.facebook_prefix.lower()
            name = facebook_short_name(page.url)
            if name is None:
                warnings.append(RegisterWarning(page.id, line, (
                    f"the Facebook page has no short name ({page.url}); the convention is "
                    f"facebook.com/{prefix}<verksamhet>")))
            elif not name.lower().startswith(prefix) or len(name) == len(prefix):
                warnings.append(RegisterWarning(page.id, line, (
                    f"the Facebook short name '{name}' does not follow the convention "
                    f"facebook.com/{prefix}<verksamhet> (rules.facebook_prefix)")))
        if rules.require_owner and not (page.owner or "").strip():
            warnings.append(RegisterWarning(page.id, line, "no named owner: set owner to the unit that answers "
                                                           "for the page"))
    return warnings


def system_addresses(host: str) -> list[str]:
    """The addresses the operating system gives for `host` (getaddrinfo: /etc/hosts, DNS)."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)))


def resolve_all(hosts: Iterable[str], resolve: Callable[[str], Sequence[str]],
                timeout_s: float) -> dict[str, Sequence[str]]:
    """Resolve every host at once, each on its own daemon thread, waiting `timeout_s` in all.

    A host still resolving then, or not resolving at all, is left out: getaddrinfo cannot be cancelled,
    and daemon threads let the command exit without waiting for a slow DNS server to give up.
    """
    answers: dict[str, Sequence[str]] = {}
    lock = threading.Lock()

    def one(host: str) -> None:
        try:
            found = resolve(host)
        except (OSError, UnicodeError) as exc:  # socket.gaierror; a label IDNA cannot encode
            log.debug("%s does not resolve: %s", host, exc)
            return
        with lock:
            answers[host] = found

    threads = [threading.Thread(target=one, args=(host,), name=f"resolve {host}", daemon=True)
               for host in dict.fromkeys(hosts)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.debug("%s did not resolve within %g s; not checked", thread.name.removeprefix("resolve "),
                      timeout_s)
    with lock:
        return dict(answers)


def address_warnings(register: Register, resolve: Callable[[str], Sequence[str]] = system_addresses,
                     timeout_s: float = RESOLVE_BOUND_S) -> list[RegisterWarning]:
    """Pages whose host NAME resolves to a non-public address, which captures will refuse.

    Only with `capture.allow_private_networks: false`; an address written in the URL is already an error
    of the register. Resolving is bounded by `timeout_s` in all, so `pages check` stays fast where DNS
    is slow or absent; a run does not need this check, since the capture's guard enforces the rule.
    """
    if register.capture.allow_private_networks:
        return []
    hosts = {page.id: (urlsplit(page.url).hostname or "") for page in register.pages}
    answers = resolve_all([h for h in hosts.values() if h and literal_address(h) is None], resolve, timeout_s)
    warnings = []
    for page in register.pages:
        host = hosts[page.id]
        for address in answers.get(host, ()):
            try:
                kind = address_kind(ipaddress.ip_address(address))
            except ValueError:
                continue
            if kind:
                warnings.append(RegisterWarning(page.id, register.page_line(page.id), (
                    f"{host} {address_phrase(host, address, kind)}: captures will refuse it "
                    "(capture.allow_private_networks is false)")))
                break
    return warnings


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _family(page: PageEntry) -> set[str]:
    own = _host(page.url)
    hosts = {own, own.removeprefix("www."), "www." + own.removeprefix("www.")}
    if own.removeprefix("www.") in PLATFORM_HOSTS.get(page.platform, ()):
        hosts |= set(PLATFORM_HOSTS[page.platform])
    return hosts


def allowed_hosts(register: Register) -> list[str]:
    """The hosts a post URL may have, for people: each registered page's host and its platform's others."""
    return sorted({host for page in register.pages for host in _family(page) if not host.startswith("www.")})


def page_for_post(register: Register, url: str, page_id: str | None = None) -> PageEntry:
    """The registered account a post URL belongs to; BadInputError (exit 2) for any other URL.

    The host must be one of a registered page's platform hosts (a post is never a free URL). Of the
    pages on that host, the one whose URL path the post's path starts with is chosen (x.com/gotene/status/1
    belongs to x.com/gotene); when none does and exactly one page is on that host, it is that page's
    (instagram.com/p/…); otherwise `page_id` must say which.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(f"{url!r} is not an http(s) URL of a post")
    if parts.username or parts.password:
        raise BadInputError(f"{url!r}: a post URL must not carry a user name or password")
    host = _host(url)
    if not register.capture.allow_private_networks and is_private_host(parts.hostname):
        raise BadInputError(f"{url!r} is on a private or loopback address, which captures refuse "
                            "(capture.allow_private_networks is false)")
    candidates = [page for page in register.pages if host in _family(page)]
    if not candidates:
        raise BadInputError(f"{host} is not the host of any page in the register; a post must be on the "
                            f"platform of a registered page ({', '.join(allowed_hosts(register))})")
    if page_id is not None:
        for page in candidates:
            if page.id == page_id:
                return page
        raise BadInputError(f"page '{page_id}' is not a registered page on {host}; pages there: "
                            f"{', '.join(p.id for p in candidates)}")
    path = parts.path.rstrip("/").lower() + "/"
    matches = [page for page in candidates
               if (own := urlsplit(page.url).path.rstrip("/").lower()) and path.startswith(own + "/")]
    if matches:
        return max(matches, key=lambda page: len(urlsplit(page.url).path.rstrip("/")))
    if len(candidates) == 1:
        return candidates[0]
    raise AmbiguousPostError(host, [p.id for p in candidates])
