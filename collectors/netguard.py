"""Where a hostile server may not point osint: the investigator's own network.

A platform (a Mastodon instance run by the operation under study, a t.me page, an API) hands out
the media, avatar and link-preview URLs osint then fetches, and may redirect anywhere. A URL or a
redirect to loopback, a private range, link-local (``169.254.169.254``, where cloud metadata
services answer) or any other non-public address, or a scheme other than http(s) (``file:``,
``gopher:``), is refused before a byte is sent, after DNS resolution and after every redirect.
The one exception: the networks the platform's own base URL is on (the replay server and the demo
on 127.0.0.1, an instance inside a team's private network) are allowed, and only those.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from osint.errors import CollectError

Resolver = Callable[[str, int], Iterable[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_WHY = {
    "loopback": "a loopback address (this machine)",
    "link-local": "a link-local address (cloud metadata services answer there)",
    "private": "a private-network address (the investigator's own network)",
    "reserved": "a reserved, multicast or unspecified address",
}


class AddressRefused(CollectError):
    """A URL osint will not fetch: a non-public address or a scheme other than http(s)."""


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def address_class(address: IPAddress) -> str | None:
    """``loopback``, ``link-local``, ``private`` or ``reserved``; None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_unspecified or address.is_reserved:
        return "reserved"
    if address.is_private or not address.is_global:
        return "private"
    return None


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return None


class NetworkGuard:
    """Checks every URL before it is fetched; ``allow_network_of`` the platform's base URL."""

    def __init__(self, resolve: Resolver = system_resolve) -> None:
        self.resolve = resolve
        self.allowed: set[str] = set()  # address classes the platform itself lives on
        self._cache: dict[tuple[str, int], list[str]] = {}
        self._trusted: list[str] = []  # base URLs not resolved yet (resolved on first check)

    def trust(self, base_url: str) -> None:
        """Allow the networks of ``base_url`` (a configured platform URL), resolved when needed."""
        self._trusted.append(base_url)

    def allow_network_of(self, base_url: str) -> None:
        """Allow the address classes of the platform's own base URL (tests, demo, team LANs)."""
        parts = urlsplit(base_url)
        if not parts.hostname:
            return
        for address in self._addresses(parts.hostname, parts.port or _port(parts.scheme)):
            kind = address_class(address)
            if kind is not None:
                self.allowed.add(kind)

    def check(self, url: str) -> None:
        """AddressRefused when ``url`` points where osint must not go (see the module docstring)."""
        while self._trusted:
            self.allow_network_of(self._trusted.pop())
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise AddressRefused(
                f"refused to fetch {url[:200]}: the scheme {scheme or '(none)'!r} is not http(s)",
                hint="a platform handed out or redirected to this URL; osint fetches only web URLs",
            )
        host = parts.hostname or ""
        try:
            port = parts.port or _port(scheme)
        except ValueError:
            port = _port(scheme)
        for address in self._addresses(host, port):
            kind = address_class(address)
            if kind is not None and kind not in self.allowed:
                shown = f"{host} is" if _parse(host) else f"{host} resolves to {address},"
                raise AddressRefused(
                    f"refused to fetch {url[:200]}: {shown} {_WHY[kind]}",
                    hint="a platform handed out or redirected to this URL; osint fetches such "
                    "addresses only when the platform's own base URL is on them",
                )

    def _addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = _parse(host)
        if literal is not None:
            return [literal]
        key = (host.lower(), port)
        if key not in self._cache:
            self._cache[key] = list(self.resolve(host, port))
        # a name that does not resolve cannot be fetched either: the connection reports it
        return [a for a in (_parse(v) for v in self._cache[key]) if a is not None]


def _port(scheme: str) -> int:
    return 443 if scheme == "https" else 80
