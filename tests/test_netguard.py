"""The private-address guard: the address rules, the SOCKS5 proxy with a resolver the test controls,
real Chromium through it, and the CLI against a real /etc/hosts entry.

Linux routes all of 127.0.0.0/8 to lo, so "public" servers listen on 127.0.0.1 and "intranet" ones on
127.0.0.2; the proxy gets a test policy that treats exactly 127.0.0.1 as public (the real policy is
tested on its own). Intranet servers count every TCP connection and UDP datagram: the guard is right
only if they see none at all.
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Self

import pytest
from conftest import register_yaml
from PIL import Image

from archiver.capture import CaptureSettings, capture_pages
from archiver.capture.batch import worth_retrying
from archiver.capture.browser import CHROMIUM_ARGS
from archiver.capture.netguard import MAX_WARNED_HOSTS, NetGuard
from archiver.capture.tiles import stack
from archiver.models import PageCapture
from archiver.register import Register
from archiver.register.addresses import address_kind
from archiver.register.rules import address_warnings

PUBLIC = ipaddress.ip_address("127.0.0.1")
INTRANET = "127.0.0.2"
SETTING = "(capture.allow_private_networks is false)"


def public_policy(ip) -> str | None:
    """The real rules, except that 127.0.0.1 stands in for the internet."""
    return None if ip == PUBLIC else address_kind(ip)


class Names:
    """A resolver the test scripts: each name's answers in turn (the last one repeats); every call counted."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self._lock = threading.Lock()

    async def resolve(self, host: str, port: int) -> list[str]:
        with self._lock:
            turn = self.calls.count(host)
            self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = self.answers[host]
        return answers[min(turn, len(answers) - 1)]

    def asked(self) -> set[str]:
        with self._lock:
            return set(self.calls)


class Counter:
    """A TCP listener that counts connections and closes them, or echoes when `echo`."""

    def __init__(self, host: str, port: int = 0, echo: bool = False) -> None:
        self.host, self.port, self.echo, self.hits = host, port, echo, 0

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        self.hits += 1
        while self.echo and (data := await reader.read(65536)):
            writer.write(data)
            await writer.drain()
        writer.close()


async def socks_connect(proxy_port: int, host: str, port: int):
    """A SOCKS5 client's CONNECT by name (as Chromium sends it): the reply code and the open streams."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    name = host.encode()
    writer.write(b"\x05\x01\x00\x03" + bytes((len(name),)) + name + struct.pack("!H", port))
    reply = await reader.readexactly(10)
    assert reply[0] == 5
    return reply[1], reader, writer


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 20))


# The address rules.

@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("127.0.0.2", "loopback"), ("10.1.2.3", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "non-public"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("::1", "loopback"), ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"), ("fe80::1", "link-local"),
    ("fc00::1", "private"), ("fec0::1", "site-local"), ("ff02::1", "multicast"), ("::127.0.0.1", "reserved"),
    ("2002:7f00:1::", "loopback"), ("64:ff9b::a9fe:a9fe", "link-local"),
])
def test_address_kind_names_every_non_public_address(address, kind):
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "193.180.0.1", "2606:4700::1111", "64:ff9b::808:808",
                                     "::ffff:8.8.8.8", "2002:808:808::1"])
def test_public_addresses_are_allowed(address):
    assert address_kind(ipaddress.ip_address(address)) is None


# The proxy, without a browser.

@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "::ffff:127.0.0.1",
                                     "fe80::1", "0.0.0.0"])
def test_a_name_resolving_to_a_non_public_address_is_refused_before_any_connection(address):
    async def go():
        names = Names({"target.test": [[address]]})
        async with Counter("127.0.0.1") as local, NetGuard(names.resolve) as guard:
            by_name, *_ = await socks_connect(guard.port, "target.test", local.port)
            literally, *_ = await socks_connect(guard.port, address, local.port)
            return by_name, literally, names.calls, local.hits, guard
    by_name, literally, calls, hits, guard = run(go())
    assert by_name == literally == 0x02  # "connection not allowed by ruleset"
    assert calls == ["target.test"]  # a literal address is judged as it is, without the resolver
    assert hits == 0 and guard.connections == 0  # 0.0.0.0 and ::ffff:127.0.0.1 would reach 127.0.0.1
    kind = address_kind(ipaddress.ip_address(address))
    article = "an" if kind == "unspecified" else "a"
    assert guard.refused["target.test"].describe() == f"target.test resolves to {address}, {article} {kind} address"
    assert guard.refused[address].describe() == f"{address} is {article} {kind} address"


def test_a_public_address_is_relayed_byte_for_byte_and_resolved_once_per_connection():
    payload = os.urandom(1024 * 1024)

    async def go():
        names = Names({"www.kommun.test": [["127.0.0.1"]]})
        async with Counter("127.0.0.1", echo=True) as public, NetGuard(names.resolve, public_policy) as guard:
            echoed = []
            for _ in range(3):
                reply, reader, writer = await socks_connect(guard.port, "www.kommun.test", public.port)
                assert reply == 0x00
                sent = asyncio.create_task(_send_all(writer, payload))
                echoed.append(await reader.readexactly(len(payload)))
                await sent
                writer.write_eof()  # our end is passed on: the echo server ends, and so does the relay
                assert await reader.read() == b""
                writer.close()
            return echoed, names.calls, guard.connections
    echoed, calls, connections = run(go())
    assert all(e == payload for e in echoed)
    assert calls == ["www.kommun.test"] * 3 and connections == 3


async def _send_all(writer, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def test_rebinding_never_reaches_the_private_address():
    async def go():
        names = Names({"rebind.test": [["127.0.0.1"], [INTRANET]]})  # public first, private after
        public = await Counter("127.0.0.1").__aenter__()
        try:
            async with Counter(INTRANET, public.port) as intranet, NetGuard(names.resolve, public_policy) as guard:
                first, *_ = await socks_connect(guard.port, "rebind.test", public.port)
                await asyncio.sleep(0.05)
                later = [(await socks_connect(guard.port, "rebind.test", public.port))[0] for _ in range(3)]
                return first, later, public.hits, intranet.hits, guard
        finally:
            await public.__aexit__()
    first, later, public_hits, intranet_hits, guard = run(go())
    assert first == 0x00 and public_hits == 1
    assert later == [0x02] * 3 and intranet_hits == 0
    assert guard.refused["rebind.test"].address == INTRANET


def test_one_private_answer_among_public_ones_refuses_the_name():
    async def go():
        names = Names({"mixed.test": [["127.0.0.1", INTRANET]]})
        async with Counter("127.0.0.1") as public, NetGuard(names.resolve, public_policy) as guard:
            reply, *_ = await socks_connect(guard.port, "mixed.test", public.port)
            return reply, public.hits
    assert run(go()) == (0x02, 0)


def test_what_is_not_the_policy_is_reported_as_an_ordinary_error():
    async def go():
        names = Names({"closed.test": [["127.0.0.1"]]})
        async with Counter("127.0.0.1") as gone:
            port = gone.port  # closed again below: nothing listens there any more
        async with NetGuard(names.resolve, public_policy) as guard:
            missing, *_ = await socks_connect(guard.port, "nowhere.test", 80)
            closed, *_ = await socks_connect(guard.port, "closed.test", port)
            reader, writer = await asyncio.open_connection("127.0.0.1", guard.port)
            writer.write(b"\x05\x01\x00\x05\x03\x00\x01\x7f\x00\x00\x01\x00\x50")  # UDP ASSOCIATE
            udp = await reader.readexactly(12)
            reader, writer = await asyncio.open_connection("127.0.0.1", guard.port)
            writer.write(b"\x05\x01\x02")  # username/password only
            auth = await reader.readexactly(2)
            return missing, closed, udp, auth, guard
    missing, closed, udp, auth, guard = run(go())
    assert (missing, closed) == (0x04, 0x05)
    assert udp[:2] == b"\x05\x00" and udp[2:4] == b"\x05\x07"  # no auth needed; command not supported
    assert auth == b"\x05\xff"
    message, failure = guard.failure_for("net::ERR_SOCKS_CONNECTION_FAILED at http://nowhere.test/")
    assert failure == "error" and message.startswith("nowhere.test does not resolve")
    assert guard.failure_for("net::ERR_CONNECTION_REFUSED at http://x.test/") is None
    assert guard.refused == {} and guard.warnings() == []


def test_warnings_name_each_blocked_host_once_up_to_a_cap_and_not_the_page_itself():
    hosts = [f"h{i}.test" for i in range(MAX_WARNED_HOSTS + 3)]

    async def go():
        names = Names({host: [[f"10.0.0.{i + 1}"]] for i, host in enumerate(hosts)})
        async with NetGuard(names.resolve) as guard:
            for host in hosts + hosts[:2]:
                assert (await socks_connect(guard.port, host, 80))[0] == 0x02
            return guard
    guard = run(go())
    message, failure = guard.failure_for(f"Page.goto: net::ERR_SOCKS_CONNECTION_FAILED at http://{hosts[0]}/")
    assert (message, failure) == (f"h0.test resolves to 10.0.0.1, a private address: refused {SETTING}", "blocked")
    warnings = guard.warnings()
    assert len(warnings) == MAX_WARNED_HOSTS + 1
    assert warnings[0] == f"blocked requests to h1.test, which resolves to 10.0.0.2, a private address {SETTING}"
    assert warnings[-1] == f"blocked requests to 2 more host(s) on non-public addresses {SETTING}"


def test_a_blocked_page_is_not_retried():
    blocked = PageCapture("p", "generic", "http://kommun-intranat.test/", failure="blocked", error="refused")
    assert not worth_retrying(blocked)


# `pages check`: names resolved at once, within a bound.

def test_pages_check_warns_of_names_resolving_to_private_addresses_within_a_short_bound():
    answers = {"intranet.test": ["8.8.8.8", "10.0.0.5"], "public.test": ["8.8.8.8"], "hosts.test": ["::1"]}
    asked = []
    released = threading.Event()

    def resolve(host: str) -> list[str]:
        asked.append(host)
        if host == "slow.test":  # a DNS server that does not answer; waiting for it would show as a warning
            released.wait(30)
            return ["10.0.0.9"]
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[host]

    urls = ["http://intranet.test/a", "https://public.test/", "http://slow.test/", "https://www.facebook.com/x",
            "http://hosts.test:8080/", "http://intranet.test/b", "https://8.8.8.8/"]
    pages = [{"id": f"p{i}", "platform": "generic", "url": url} for i, url in enumerate(urls)]
    register = Register(organisation="X", pages=pages)
    warnings = address_warnings(register, resolve, timeout_s=0.5)
    released.set()
    assert [(w.page_id, w.message) for w in warnings] == [
        ("p0", f"intranet.test resolves to 10.0.0.5, a private address: captures will refuse it {SETTING}"),
        ("p4", f"hosts.test resolves to ::1, a loopback address: captures will refuse it {SETTING}"),
        ("p5", f"intranet.test resolves to 10.0.0.5, a private address: captures will refuse it {SETTING}"),
    ]
    assert sorted(asked) == ["hosts.test", "intranet.test", "public.test", "slow.test", "www.facebook.com"]
    assert "8.8.8.8" not in asked  # an address needs no resolving
    allowed = Register(organisation="X", capture={"allow_private_networks": True}, pages=pages)
    assert address_warnings(allowed, resolve) == []


# Real Chromium through the guard.

def png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), rgb).save(out, "PNG")
    return out.getvalue()


RED, BLUE = png((255, 0, 0)), png((0, 0, 255))
# Names the public page makes Chromium ask for; /hold.png answers only once the guard has seen them all,
# which holds the page's load event (and so the capture) until every one of them has been tried.
ASKED_BEFORE_LOAD = {"img-intranat.test", "metadata.test", "redirect-img-intranat.test", "frame-intranat.test",
                     "fetch-intranat.test", "ws-intranat.test", "sw-intranat.test", "turn-intranat.test",
                     "beacon-intranat.test", "events-intranat.test"}
INTRANET_NAMES = {name: [[INTRANET]] for name in ASKED_BEFORE_LOAD - {"metadata.test"}} | {
    "www.kommun.test": [["127.0.0.1"]], "kommun-intranat.test": [[INTRANET]],
    "redirect-intranat.test": [[INTRANET]], "metadata.test": [["169.254.169.254"]],
    "preconnect-intranat.test": [[INTRANET]], "rebind.test": [["127.0.0.1"], [INTRANET]],
}


def public_page(port: int) -> str:
    at = f"intranat.test:{port}"
    return f"""<!doctype html><html lang="sv"><head><meta charset="utf-8"><title>Kommunen</title>
<link rel="preconnect" href="http://preconnect-{at}"><link rel="dns-prefetch" href="//dns-{at}">
<style>body{{margin:0;background:#fff}} img,iframe{{display:block;width:100px;height:100px;border:0;margin:4px}}</style>
</head><body><h1>Välkommen</h1>
<img src="http://img-{at}/a.png"><img src="http://metadata.test/latest/meta-data.png">
<img src="http://169.254.169.254/latest/b.png"><img src="/to-intranat-image">
<iframe src="http://frame-{at}/"></iframe><img src="/hold.png">
<script>
fetch("http://fetch-{at}/data").catch(() => {{}});
new WebSocket("ws://ws-{at}/socket");
navigator.sendBeacon("http://beacon-{at}/b", "x");
new EventSource("http://events-{at}/stream");
for (const url of ["https://{INTRANET}:{port}/wt", "https://wt-{at}/wt"]) {{  // QUIC: UDP, if anything
  new WebTransport(url).ready.catch(() => {{}});
}}
navigator.serviceWorker.register("/sw.js");
const rtc = new RTCPeerConnection({{iceServers: [{{urls: "stun:{INTRANET}:{port}"}},
  {{urls: "turn:turn-{at}?transport=tcp", username: "u", credential: "p"}}]}});
rtc.createDataChannel("x");
rtc.createOffer().then(offer => rtc.setLocalDescription(offer));
</script></body></html>"""


class _Public(BaseHTTPRequestHandler):
    """HTTP/1.0: one connection per request, so every image of the rebinding page is resolved anew."""

    server: _PublicServer

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        if self.path == "/public.html":
            self._send(200, "text/html; charset=utf-8", public_page(port).encode())
        elif self.path == "/rebind.html":
            self._send(200, "text/html", ('<body style="margin:0">' + "".join(
                f'<img src="http://rebind.test:{port}/blue.png?{i}" style="display:block">' for i in range(2))
                + "</body>").encode())
        elif self.path == "/sw.js":
            self._send(200, "text/javascript", (
                "self.addEventListener('install', e => e.waitUntil("
                f"fetch('http://sw-intranat.test:{port}/from-worker').catch(() => 0)));").encode())
        elif self.path == "/hold.png":
            deadline = time.monotonic() + 10
            while not ASKED_BEFORE_LOAD <= self.server.names.asked() and time.monotonic() < deadline:
                time.sleep(0.02)
            self._send(200, "image/png", BLUE)
        elif self.path.startswith("/blue.png"):
            self._send(200, "image/png", BLUE)
        elif self.path == "/to-intranat":
            self._redirect(f"http://redirect-intranat.test:{port}/")
        elif self.path == "/to-intranat-image":
            self._redirect(f"http://redirect-img-intranat.test:{port}/c.png")
        else:
            self._send(404, "text/plain", b"not here")

    def _send(self, code: int, kind: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class _PublicServer(ThreadingHTTPServer):
    daemon_threads = True
    names: Names


class _IntranetServer(ThreadingHTTPServer):
    """Red for every path, so anything that got through would show; counts every accepted connection."""

    daemon_threads = True
    hits = 0

    def verify_request(self, request, client_address) -> bool:
        self.hits += 1
        return True


class _Red(_Public):
    def do_GET(self) -> None:
        self._send(200, "image/png", RED)


def _serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture(scope="module")
def servers():
    """The public site on 127.0.0.1:P and the intranet on 127.0.0.2:P (TCP and UDP), one port for both."""
    for _ in range(10):
        public = _PublicServer(("127.0.0.1", 0), _Public)
        port = public.server_address[1]
        try:
            intranet = _IntranetServer((INTRANET, port), _Red)
        except OSError as exc:
            public.server_close()
            error = exc
            continue
        break
    else:
        pytest.fail(f"cannot listen on {INTRANET} beside 127.0.0.1 on one port (Linux routes 127.0.0.0/8 to lo): "
                    f"{error}")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((INTRANET, port))
    udp.settimeout(0)
    for server in (public, intranet):
        _serve(server)
    yield public, intranet, udp
    for server in (public, intranet):
        server.shutdown()
        server.server_close()
    udp.close()


def datagrams(udp: socket.socket) -> int:
    count = 0
    while True:
        try:
            udp.recv(65536)
        except BlockingIOError:
            return count
        count += 1


def page(page_id: str, url: str):
    return SimpleNamespace(id=page_id, platform="generic", url=url, owner=None, name=None)


@pytest.fixture(scope="module")
def guarded(servers, browser_choice):
    """One run of four pages through the guard: a public page full of intranet requests, a page on the
    intranet, a page redirecting there, and a page whose image host rebinds from public to private."""
    from playwright.async_api import async_playwright

    public, intranet, udp = servers
    port = public.server_address[1]
    names = Names(INTRANET_NAMES)
    public.names = names
    site = f"http://www.kommun.test:{port}"
    pages = [page("public", f"{site}/public.html"), page("intranat", f"http://kommun-intranat.test:{port}/"),
             page("redirect", f"{site}/to-intranat"), page("rebind", f"{site}/rebind.html")]
    settings = CaptureSettings(allow_private_networks=False, timeout_s=30, attempts=1,
                               net_guard=partial(NetGuard, names.resolve, public_policy))
    # The one flag beyond production's: service workers need a secure context, which plain http is not.
    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={site}"]

    async def go():
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=browser_choice.executable, args=args)
            try:
                return await capture_pages(browser, pages, settings)
            finally:
                await browser.close()
    captures = {c.page_id: c for c in asyncio.run(go())}
    return captures, names, intranet.hits, datagrams(udp)


@pytest.mark.browser
def test_the_intranet_receives_nothing_at_all(guarded):
    _captures, names, tcp_hits, udp_datagrams = guarded
    assert ASKED_BEFORE_LOAD <= names.asked()  # every kind of request was made, through the guard
    assert tcp_hits == 0 and udp_datagrams == 0
    assert "dns-intranat.test" not in names.asked()  # Chromium leaves names to a socks5 proxy, and prefetches none
    assert "wt-intranat.test" not in names.asked()  # WebTransport fails through a proxy before asking it


@pytest.mark.browser
def test_a_public_page_is_captured_with_a_warning_per_blocked_host_and_none_of_their_pixels(guarded):
    captures, *_ = guarded
    public = captures["public"]
    assert public.ok, public.error
    blocked = {w.split(",")[0].removeprefix("blocked requests to ") for w in public.warnings if SETTING in w}
    # Chromium may or may not preconnect; if it does, the guard refuses that too.
    assert blocked - {"preconnect-intranat.test"} == ASKED_BEFORE_LOAD | {"169.254.169.254"}
    assert (f"blocked requests to metadata.test, which resolves to 169.254.169.254, a link-local address "
            f"{SETTING}") in public.warnings
    assert f"blocked requests to 169.254.169.254, which is a link-local address {SETTING}" in public.warnings
    colours = {rgb for _, rgb in stack([Image.open(io.BytesIO(t.png)).convert("RGB")
                                        for t in public.tiles]).getcolors(1 << 22)}
    assert (0, 0, 255) in colours and (255, 0, 0) not in colours


@pytest.mark.browser
def test_a_page_on_the_intranet_fails_as_blocked_and_the_others_are_still_captured(guarded):
    captures, *_ = guarded
    intranat, redirect = captures["intranat"], captures["redirect"]
    assert intranat.failure == "blocked" and intranat.tiles == []
    assert intranat.error == f"kommun-intranat.test resolves to {INTRANET}, a loopback address: refused {SETTING}"
    assert redirect.failure == "blocked"
    assert redirect.error.endswith(f"/to-intranat redirected to redirect-intranat.test; redirect-intranat.test "
                                   f"resolves to {INTRANET}, a loopback address: refused {SETTING}")
    assert not any("kommun-intranat.test" in w for w in intranat.warnings)  # the error says it already
    assert captures["public"].ok and captures["rebind"].ok


@pytest.mark.browser
def test_a_name_rebinding_to_the_intranet_is_refused_after_its_public_answer(guarded):
    captures, names, tcp_hits, _ = guarded
    rebind = captures["rebind"]
    assert rebind.ok, rebind.error
    assert names.calls.count("rebind.test") >= 2  # once per connection: the first public, the next private
    assert f"blocked requests to rebind.test, which resolves to {INTRANET}, a loopback address {SETTING}" in \
        rebind.warnings
    colours = {rgb for _, rgb in stack([Image.open(io.BytesIO(t.png)).convert("RGB")
                                        for t in rebind.tiles]).getcolors(1 << 22)}
    assert (0, 0, 255) in colours and tcp_hits == 0


# The CLI with a real /etc/hosts entry, in a private mount namespace.

def _namespaced(hosts: Path, *args: str, registry: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts),
                           sys.executable, "-m", "archiver", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ARCHIVER_REGISTRY": str(registry)}, check=False)


@pytest.fixture(scope="module")
def hosts_file(tmp_path_factory):
    hosts = tmp_path_factory.mktemp("hosts") / "hosts"
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 kommun-intranat.test\n")
    script = 'mount --bind "$0" /etc/hosts && getent hosts kommun-intranat.test'
    probe = subprocess.run(["unshare", "-m", "sh", "-c", script, str(hosts)], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot bind-mount a test /etc/hosts in a private mount namespace (needs root and "
                    f"unshare): {probe.stderr.strip() or probe.returncode}")
    return hosts


@pytest.mark.browser
def test_cli_refuses_a_name_that_etc_hosts_points_at_loopback(hosts_file, tmp_path):
    server = _IntranetServer(("127.0.0.1", 0), _Red)
    _serve(server)
    try:
        port = server.server_address[1]
        registry = tmp_path / "pages.yaml"
        text = register_yaml([{"id": "intranat", "url": f"http://kommun-intranat.test:{port}/"}],
                             tmp_path / "store", allow_private=False)
        registry.write_text(text, encoding="utf-8")
        entry_line = 1 + text.splitlines().index("  - id: intranat")  # the page's entry
        check = _namespaced(hosts_file, "pages", "check", registry=registry)
        assert check.returncode == 0, check.stderr
        assert (f"{registry}:{entry_line}: pages.intranat: kommun-intranat.test resolves to 127.0.0.1, a loopback address: "
                f"captures will refuse it {SETTING}") in check.stderr
        result = _namespaced(hosts_file, "run", "--json", registry=registry)
        assert result.returncode == 1, result.stderr
        (entry,) = json.loads(result.stdout)["pages"]
        assert entry["status"] == "failed" and entry["failure"] == "blocked"
        assert entry["error"] == f"kommun-intranat.test resolves to 127.0.0.1, a loopback address: refused {SETTING}"
        assert server.hits == 0
    finally:
        server.shutdown()
        server.server_close()
