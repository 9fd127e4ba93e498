"""The private-address guard: a SOCKS5 proxy in our own process, one per guarded browser context.

Chromium hands a socks5 proxy the host NAME and resolves nothing itself, so the proxy is the one place
where a name becomes an address. It resolves the name once, refuses the connection (reply 0x02, "not
allowed by ruleset") when any address is not public (`archiver.register.addresses.address_kind`), and
otherwise connects to exactly the address it checked and relays bytes. A name that re-resolves to an
intranet address between the check and the connection (DNS rebinding) cannot slip in: there is no
second resolution. Chromium fails a refused request with net::ERR_SOCKS_CONNECTION_FAILED; the guard
remembers what it refused so the capture can say which host and address it was.

The relay runs on the capture's own event loop (a thread of its own was no faster: the GIL is shared
either way) and costs about 1 ms of CPU per MB relayed; README, "The private-address guard", has the
figures.
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
CHUNK = 256 * 1024
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
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

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
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=CHUNK)
        log.debug("address guard listening on 127.0.0.1:%d", self.port)
        return self

    async def close(self) -> None:
        """Stop listening and cut every relayed connection (the context using them is closed)."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        upstream = None
        try:
            upstream = await self._open(reader, writer)
            if upstream is None:
                return
            await self._reply(writer, SUCCEEDED)
            self.connections += 1
            self._writers.add(upstream[1])
            await _relay(reader, writer, *upstream)
        except OSError as exc:
            log.debug("address guard: connection ended: %s", exc)
        except asyncio.CancelledError:
            # `close` cancels what is left; ending quietly spares Python 3.11's start_server callback,
            # which logs a cancelled handler as an error.
            pass
        finally:
            for end in (writer, upstream[1] if upstream else None):
                if end is not None:
                    self._writers.discard(end)
                    end.close()
            self._tasks.discard(task)

    async def _open(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        """The handshake and the checked connection; None when refused (the client is told) or abandoned."""
        try:
            async with asyncio.timeout(self.handshake_timeout_s):
                host, port = await self._handshake(reader, writer)
        except (TimeoutError, asyncio.IncompleteReadError, _HangUp):
            return None  # not a browser, or one that gave up before asking
        except _Refused as refused:
            await self._reply(writer, refused.reply)
            return None
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await self._connect(host, port)
        except _Refused as refused:
            code = refused.reply
        except TimeoutError:
            self._note_unreachable(host, f"{host} port {port} did not answer within {self.connect_timeout_s:g} s")
            code = HOST_UNREACHABLE
        await self._reply(writer, code)
        return None

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int]:
        """RFC 1928 without authentication: the greeting, then a CONNECT request; returns its host and port."""
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != SOCKS_VERSION or NO_AUTH not in methods:
            writer.write(bytes((SOCKS_VERSION, NO_ACCEPTABLE_METHOD)))
            raise _HangUp
        writer.write(bytes((SOCKS_VERSION, NO_AUTH)))
        version, command, _reserved, kind = await reader.readexactly(4)
        if kind == ATYP_IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == ATYP_IPV6:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif kind == ATYP_NAME:
            (length,) = await reader.readexactly(1)
            try:
                host = (await reader.readexactly(length)).decode("ascii")
            except UnicodeDecodeError:
                raise _Refused(GENERAL_FAILURE, "host name is not ASCII") from None
        else:
            raise _Refused(ADDRESS_TYPE_NOT_SUPPORTED, f"address type {kind}")
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if version != SOCKS_VERSION or command != CONNECT:
            raise _Refused(COMMAND_NOT_SUPPORTED, f"command {command}")  # UDP ASSOCIATE, BIND
        return host, port

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
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
        for ip in answers:
            try:
                return await asyncio.open_connection(str(ip), port, limit=CHUNK)
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

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
        """A CONNECT reply; the bound address is not ours to tell and Chromium does not read it."""
        writer.write(bytes((SOCKS_VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0)))
        await writer.drain()


async def _relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter,
                 upstream_reader: asyncio.StreamReader, upstream_writer: asyncio.StreamWriter) -> None:
    """Copy both ways until both ends have finished; a reset on either side ends both."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            client_writer.transport.abort()
            upstream_writer.transport.abort()

    await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))
