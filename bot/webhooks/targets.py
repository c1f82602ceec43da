"""Where a webhook may point: http(s) URLs only, and, for installations that need SSRF
protection (QUORUM_WEBHOOK_ALLOW_PRIVATE=false), only hosts whose every address is
public. The check runs when a webhook is added and again on each send, where the
connection goes to the very address that was checked (`GuardedBackend`), so a name
that resolves to a public address for the check and to 10.0.0.1 for the connection
(DNS rebinding) still cannot reach the private network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import SplitResult, urlsplit

import httpcore

MAX_URL_CHARS = 2048
SCHEMES = ("http", "https")
# getaddrinfo's signature; tests pass their own to name hosts without a DNS server.
Resolver = Callable[..., list[tuple[Any, ...]]]


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for a person."""


def parse_target(url: str) -> SplitResult:
    """The URL's parts, or TargetRefused when it is not an absolute http(s) URL."""
    text = url.strip()
    if not text:
        raise TargetRefused("the URL is empty")
    if len(text) > MAX_URL_CHARS:
        raise TargetRefused(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  # raises ValueError on a port that is not a number
    except ValueError as exc:
        raise TargetRefused(f"{url!r} is not a URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise TargetRefused(
            f"{url!r} is not an http or https URL (scheme {parts.scheme or 'missing'!r})"
        )
    if not parts.hostname:
        raise TargetRefused(f"{url!r} names no host")
    return parts


def address_problem(address: str) -> str | None:
    """What `address` is when it is not a public unicast address ("a loopback address",
    "a private address", …), or None when it is one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by it: ::ffff:127.0.0.1,
        # 6to4 (2002:a00:1:: is 10.0.0.1) and Teredo (its client address).
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if wrapped is not None:
            ip = wrapped
    for test, name in (
        (ip.is_loopback, "a loopback"),
        (ip.is_link_local, "a link-local"),
        (ip.is_multicast, "a multicast"),
        (ip.is_unspecified, "an unspecified"),
        (ip.is_reserved, "a reserved"),
        (ip.is_private, "a private"),
        (not ip.is_global, "a non-public"),
    ):
        if test:
            return f"{name} address"
    return None


def resolve(host: str, port: int, resolver: Resolver = socket.getaddrinfo) -> list[str]:
    """Every address `host` resolves to, in the resolver's order (an IP stays itself)."""
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"{host} cannot be resolved ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TargetRefused(f"{host} resolves to no address")
    return addresses


def public_addresses(host: str, port: int, resolver: Resolver = socket.getaddrinfo) -> list[str]:
    """The addresses of `host`, all public, or TargetRefused naming the first that is not:
    one private address among public ones refuses the host (which one a connection would
    use is not ours to choose)."""
    addresses = resolve(host, port, resolver)
    for address in addresses:
        problem = address_problem(address)
        if problem:
            where = f"{address} is" if host == address else f"{host} resolves to {address},"
            raise TargetRefused(
                f"{where} {problem}: QUORUM_WEBHOOK_ALLOW_PRIVATE=false refuses loopback, "
                "private, link-local, multicast and reserved addresses"
            )
    return addresses


def check_target(url: str, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> str:
    """The URL, stripped, when a webhook may be added for it; TargetRefused says why not.
    Without `allow_private` the host is resolved now and must be public."""
    parts = parse_target(url)
    if not allow_private:
        assert parts.hostname is not None  # parse_target refuses a URL without one
        default = 443 if parts.scheme.lower() == "https" else 80
        public_addresses(parts.hostname, parts.port or default, resolver)
    return url.strip()


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket layer, connecting only to public addresses: the host is resolved
    here, every address checked, and the socket opened to a checked one, so what was
    checked is what is reached. TLS still verifies the certificate against the host name
    (httpcore passes it as the server name)."""

    def __init__(self, resolver: Resolver = socket.getaddrinfo) -> None:
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = public_addresses(host, port, self.resolver)
        except TargetRefused as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout, local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # public_addresses returns at least one address
        raise failure
