"""The private-address guard: a SOCKS5 proxy in our own process, one per guarded browser context.

Chromium hands a socks5 proxy the host NAME and resolves nothing itself, so the proxy is the one place
where a name becomes an address. It resolves the name once, refuses the connection (reply 0x02, "not
allowed by ruleset") when any address is not public (`archiver.register.addresses.address_kind`), and
otherwise connects to exactly the address it checked and relays bytes. A name that re-resolves to an
intranet address between the check and the connection (DNS rebinding) cannot slip in: there is no
second resolution. Chromium fails a refused request with net::ERR_SOCKS_CONNECTION_FAILED; the guard
remembers what it refused so the capture can say which host and address it was.

The relay runs on the capture's own event loop as protocols (a thread of its own was no faster: the
GIL is shared either way); README, "The private-address guard", has what it costs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

from archiver.register.addresses import IPAddress, address_kind, address_phrase, literal_address, spelled

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]  # (host, port) -> addresses
Policy = Callable[[IPAddress], str | None]  # None: may be reached; else what the address is ("loopback")

SOCKS_VERSION = 5
NO_AUTH, NO_ACCEPTABLE_METHOD = 0x00, 0xFF
CONNECT = 1
ATYP_IPV4, ATYP_NAME, ATYP_IPV6 = 1, 3, 4
SUCCEEDED, GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE, CONNECTION_REFUSED = 0x00, 0x01, 0x02, 0x04, 0x05
COMMAND_NOT_SUPPORTED, ADDRESS_TYPE_NOT_SUPPORTED = 0x07, 0x08
MAX_RECORDED_HOSTS = 1000  # a page inventing host names cannot grow the records without bound
MAX_WARNED_HOSTS = 20  # blocked hosts named one by one in a page's warnings; the rest are counted
SETTING = "capture.allow_private_networks is false"
SOCKS_FAILED = "ERR_SOCKS_CONNECTION_FAILED"  # how Chromium reports any refusal of its socks proxy


@dataclass(frozen=True)
class Refusal:
    """A connection the guard refused: the name asked for and the non-public address it resolved to."""

    host: str
    port: int
    address: str
    kind: str

    def what(self) -> str:
        return address_phrase(self.host, self.address, self.kind)

    def describe(self) -> str:
        return f"{self.host} {self.what()}"


async def resolve_with_system(host: str, port: int) -> list[str]:
    """The operating system's answer (getaddrinfo: /etc/hosts, DNS) without blocking the event loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Refused(Exception):
    """Answer the CONNECT request with `reply` (not SUCCEEDED) and close."""

    def __init__(self, reply: int, reason: str) -> None:
        super().__init__(reason)
        self.reply = reply


class _HangUp(Exception):
    """Close without a reply: the client speaks something other than SOCKS5 without authentication."""


def parse_greeting(data: bytes | bytearray) -> int | None:
    """RFC 1928's greeting: its length once complete (None before); _HangUp unless it offers "no auth"."""
    if len(data) < 2 or len(data) < 2 + data[1]:
        return None
    if data[0] != SOCKS_VERSION or NO_AUTH not in data[2:2 + data[1]]:
        raise _HangUp
    return 2 + data[1]


def parse_request(data: bytes | bytearray) -> tuple[str, int, int] | None:
    """A CONNECT request as (host, port, its length) once complete (None before); _Refused for others."""
    if len(data) < 5:
        return None
    version, command, _reserved, kind = data[:4]
    if kind == ATYP_IPV4:
        start, end = 4, 8
    elif kind == ATYP_IPV6:
        start, end = 4, 20
    elif kind == ATYP_NAME:
        start, end = 5, 5 + data[4]
    else:
        raise _Refused(ADDRESS_TYPE_NOT_SUPPORTED, f"address type {kind}")
    if len(data) < end + 2:
        return None
    raw = bytes(data[start:end])
    if kind == ATYP_NAME:
        try:
            host = raw.decode("ascii")
        except UnicodeDecodeError:
            raise _Refused(GENERAL_FAILURE, "host name is not ASCII") from None
    else:
        host = str(ipaddress.ip_address(raw))
    if version != SOCKS_VERSION or command != CONNECT:
        raise _Refused(COMMAND_NOT_SUPPORTED, f"command {command}")  # UDP ASSOCIATE, BIND
    (port,) = struct.unpack("!H", data[end:end + 2])
    return host, port, end + 2


class NetGuard:
    """A SOCKS5 proxy on 127.0.0.1 (a free port) that connects only to addresses `policy` allows.

    `resolve` and `policy` are parameters so tests can give names loopback addresses they control;
    by default the system resolves and `address_kind` decides. Use as `async with NetGuard() as guard`
    and pass `guard.proxy` to `browser.new_context(proxy=...)`.
    """

    def __init__(self, resolve: Resolver = resolve_with_system, policy: Policy = address_kind, *,
                 connect_timeout_s: float = 30.0, handshake_timeout_s: float = 10.0) -> None:
        self.resolve = resolve
        self.policy = policy
        self.connect_timeout_s = connect_timeout_s
        self.handshake_timeout_s = handshake_timeout_s
        self.refused: dict[str, Refusal] = {}  # host -> its first refusal, in the order they happened
        self.unreachable: dict[str, str] = {}  # host -> why it could not be reached (not the policy)
        self.connections = 0  # connections relayed to an allowed address
        self._explained: set[str] = set()  # hosts a page's failure already names
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the address guard is not started")
        return self._server.sockets[0].getsockname()[1]

    @property
    def proxy(self) -> dict[str, str]:
        """Playwright's `proxy` option for a context whose every connection goes through this guard."""
        return {"server": f"socks5://127.0.0.1:{self.port}"}

    async def start(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Client(self), "127.0.0.1", 0)
        log.debug("address guard listening on 127.0.0.1:%d", self.port)
        return self

    async def close(self) -> None:
        """Stop listening and cut every relayed connection (the context using them is closed)."""
        if self._server is None:
            return
        self._server.close()
        clients = list(self._clients)
        for client in clients:
            client.abort()
        await asyncio.gather(*(c.connecting for c in clients if c.connecting is not None), return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # What the capture reads back.

    def failure_for(self, error: str) -> tuple[str, str] | None:
        """For a navigation's error message, what the guard did as (message, failure kind); None if not ours.

        Chromium says net::ERR_SOCKS_CONNECTION_FAILED at the URL asked for, also when a redirect from it
        was what the guard refused; then the last refusal is the redirect's.
        """
        if SOCKS_FAILED not in error:
            return None
        found = re.search(r"\bat (\S+)", error)
        url = found.group(1) if found else "the page"
        host = (urlsplit(url).hostname or "") if found else ""
        refusal = self.refused.get(host)
        if refusal is None and host not in self.unreachable and self.refused:
            refusal = list(self.refused.values())[-1]
        if refusal is not None:
            self._explained.add(refusal.host)
            via = "" if refusal.host == host else f"{url} redirected to {refusal.host}; "
            return f"{via}{refusal.describe()}: refused ({SETTING})", "blocked"
        reason = self.unreachable.get(host) or next(reversed(self.unreachable.values()), None)
        return (reason, "error") if reason else None

    def warnings(self) -> list[str]:
        """One warning per blocked host that `failure_for` did not name, the first MAX_WARNED_HOSTS by name."""
        refusals = [r for r in self.refused.values() if r.host not in self._explained]
        lines = [f"blocked requests to {r.host}, which {r.what()} ({SETTING})" for r in refusals[:MAX_WARNED_HOSTS]]
        if len(refusals) > MAX_WARNED_HOSTS:
            lines.append(f"blocked requests to {len(refusals) - MAX_WARNED_HOSTS} more host(s) on "
                         f"non-public addresses ({SETTING})")
        return lines

    # The proxy.

    async def _checked_connection(self, host: str, port: int, protocol: Callable[[], asyncio.Protocol]):
        """Resolve once, refuse if any address is not public, else connect to one of exactly those addresses."""
        literal = literal_address(host)
        try:
            answers = [literal] if literal is not None else [
                ipaddress.ip_address(a) for a in await self.resolve(host, port)]
        except OSError as exc:  # socket.gaierror: the name does not resolve
            self._note_unreachable(host, f"{host} does not resolve ({exc.strerror or exc})")
            raise _Refused(HOST_UNREACHABLE, str(exc)) from None
        except ValueError as exc:
            self._note_unreachable(host, f"{host} resolved to something that is not an address ({exc})")
            raise _Refused(GENERAL_FAILURE, str(exc)) from None
        if not answers:
            self._note_unreachable(host, f"{host} resolves to no address")
            raise _Refused(HOST_UNREACHABLE, "no address")
        for ip in answers:
            if kind := self.policy(ip):
                refusal = Refusal(host, port, spelled(ip), kind)
                if host not in self.refused and len(self.refused) < MAX_RECORDED_HOSTS:
                    self.refused[host] = refusal
                    log.info("address guard: refused %s:%d: %s", host, port, refusal.describe())
                raise _Refused(NOT_ALLOWED, refusal.describe())
        error: OSError | None = None
        loop = asyncio.get_running_loop()
        for ip in answers:
            try:
                return await loop.create_connection(protocol, str(ip), port)
            except OSError as exc:
                error = exc
        reply = CONNECTION_REFUSED if isinstance(error, ConnectionRefusedError) else HOST_UNREACHABLE
        addresses = ", ".join(str(ip) for ip in answers)
        self._note_unreachable(host, f"could not connect to {host} port {port} ({addresses}): "
                                     f"{getattr(error, 'strerror', None) or error}")
        raise _Refused(reply, str(error))

    def _note_unreachable(self, host: str, reason: str) -> None:
        log.debug("address guard: %s", reason)
        if host in self.unreachable or len(self.unreachable) < MAX_RECORDED_HOSTS:
            self.unreachable[host] = reason


class _Client(asyncio.Protocol):
    """One connection from the browser: the SOCKS5 handshake, then bytes both ways with `_Upstream`.

    Protocols rather than streams: a chunk is written on as it arrives, in the callback that received
    it, with no task to wake, and each side's write buffer pauses the other side's reading.
    """

    def __init__(self, guard: NetGuard) -> None:
        self.guard = guard
        self.buffer = bytearray()
        self.greeted = False
        self.transport: asyncio.Transport | None = None
        self.upstream: asyncio.Transport | None = None
        self.connecting: asyncio.Task | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.ended = 0  # directions that have seen end of file

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.guard._clients.add(self)
        self.timer = asyncio.get_running_loop().call_later(self.guard.handshake_timeout_s, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
            return
        self.buffer += data
        try:
            if not self.greeted:
                length = parse_greeting(self.buffer)
                if length is None:
                    return
                del self.buffer[:length]
                self.greeted = True
                self.transport.write(bytes((SOCKS_VERSION, NO_AUTH)))
            if self.connecting is None and (request := parse_request(self.buffer)) is not None:
                host, port, length = request
                del self.buffer[:length]
                self.timer.cancel()
                self.transport.pause_reading()
                self.connecting = asyncio.get_running_loop().create_task(self._connect(host, port))
        except _HangUp:
            self.transport.write(bytes((SOCKS_VERSION, NO_ACCEPTABLE_METHOD)))
            self.transport.close()
        except _Refused as refused:
            self._reply(refused.reply)
            self.transport.close()

    async def _connect(self, host: str, port: int) -> None:
        guard = self.guard
        try:
            async with asyncio.timeout(guard.connect_timeout_s):
                transport, _ = await guard._checked_connection(host, port, lambda: _Upstream(self))
        except _Refused as refused:
            code = refused.reply
        except TimeoutError:
            guard._note_unreachable(host, f"{host} port {port} did not answer within {guard.connect_timeout_s:g} s")
            code = HOST_UNREACHABLE
        else:
            if self.transport.is_closing():  # the browser gave up meanwhile
                transport.close()
                return
            self.upstream = transport
            guard.connections += 1
            self._reply(SUCCEEDED)
            if self.buffer:  # sent before our reply; a SOCKS client should wait, but need not
                transport.write(bytes(self.buffer))
                self.buffer.clear()
            self.transport.resume_reading()
            return
        self._reply(code)
        self.transport.close()

    def _reply(self, code: int) -> None:
        """A CONNECT reply; the bound address is not ours to tell and Chromium does not read it."""
        self.transport.write(bytes((SOCKS_VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0)))

    def end_of(self, transport: asyncio.Transport, peer: asyncio.Transport | None) -> bool:
        """One direction has ended: pass the end on, and close both once both directions have."""
        self.ended += 1
        if peer is not None and peer.can_write_eof() and self.ended < 2:
            peer.write_eof()
            return True  # keep the other direction open
        transport.close()
        if peer is not None:
            peer.close()
        return False

    def eof_received(self) -> bool:
        return self.end_of(self.transport, self.upstream)

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard._clients.discard(self)
        if self.timer is not None:
            self.timer.cancel()
        if self.upstream is not None:
            self.upstream.close()
        elif self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()

    def pause_writing(self) -> None:  # the browser reads slower than upstream sends
        if self.upstream is not None:
            self.upstream.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.resume_reading()

    def abort(self) -> None:
        for transport in (self.transport, self.upstream):
            if transport is not None:
                transport.abort()
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()


class _Upstream(asyncio.Protocol):
    """The connection to the checked address: what it sends goes to the browser as it arrives."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client.transport.write(data)

    def eof_received(self) -> bool:
        return self.client.end_of(self.transport, self.client.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.transport.close()

    def pause_writing(self) -> None:  # upstream reads slower than the browser sends
        self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        self.client.transport.resume_reading()
