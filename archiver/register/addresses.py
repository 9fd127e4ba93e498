"""Which network addresses a capture may reach: one definition for the register check and the capture's guard.

The register refuses hosts that are private as written (`is_private_host`, no DNS); while capturing, the
address guard (`archiver.capture.netguard`) applies `address_kind` to every address a name resolves to.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_IPV4_PART = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: a public IPv4 address in its last 32 bits


def address_kind(ip: IPAddress) -> str | None:
    """None for a public address; else what the address is ("loopback", "private", "link-local", ...).

    IPv4 addresses carried in IPv6 (::ffff:a.b.c.d, 6to4, NAT64) are judged by the IPv4 address, so
    ::ffff:127.0.0.1 is loopback and a NAT64 network's 64:ff9b::8.8.8.8 is public.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return address_kind(ip.ipv4_mapped)
        if ip in _NAT64:
            return address_kind(ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF))
        if ip.sixtofour is not None and (kind := address_kind(ip.sixtofour)):
            return kind
        if ip.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return "site-local"
    for kind, test in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                       ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("private", ip.is_private), ("non-public", not ip.is_global)):
        if test:
            return kind
    return None


def spelled(ip: IPAddress) -> str:
    """The address as people write it: ::ffff:127.0.0.1, not Python 3.11's ::ffff:7f00:1."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def address_phrase(host: str, address: str, kind: str) -> str:
    """What `host` is, for messages: 'resolves to 10.0.0.5, a private address' or, for an address, 'is a
    link-local address'."""
    article = "an" if kind[0] in "aeiou" else "a"
    if literal_address(host) is not None:
        return f"is {article} {kind} address"
    return f"resolves to {address}, {article} {kind} address"


def _ipv4_as_browser_reads_it(host: str) -> ipaddress.IPv4Address | None:
    """Parse forms such as 127.1, 0x7f.0.0.1 or 2130706433, which browsers treat as IPv4."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    if not all(_IPV4_PART.fullmatch(part) for part in parts):
        return None
    numbers = []
    for part in parts:
        if part[:2] == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part, 10))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address `host` spells, in any form a browser reads as one (`[::1]`, `127.1`); None for a name."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return _ipv4_as_browser_reads_it(host)


def is_private_host(host: str) -> bool:
    """True if `host` names this machine or a non-public network; decided without DNS."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    ip = literal_address(name.split("%")[0])
    return ip is not None and address_kind(ip) is not None
