"""Fetching a network provider's JWKS from its URL: a remote source of data, read with care.

The URL is one a partner chose, fetched from inside the hub's network, so it must not become a way to
reach what only the hub can reach (server-side request forgery: a cloud metadata service, a database
port, an intranet page). Hence:

- https only outside the sandbox; no credentials or fragment in the URL;
- the host is resolved once and *every* address it resolves to must be public (not loopback, private,
  link-local, multicast, reserved, unspecified, shared or documentation space), unless it is listed in
  `LEERPOORT_JWKS_ALLOWED_HOSTS` (a host name, an address or a range: tests and on-premises providers);
- the connection is made to the checked address itself (TLS still verifies the certificate for the host
  name), so a DNS answer that changes between the check and the connection (DNS rebinding) gains nothing;
- no redirects (a 3xx is a refusal: the URL registered is the one asked, and a redirect to a private
  address is not followed), a 64 kB cap read whatever `Content-Length` says, 5 s per socket operation and
  10 s for the whole fetch.

The stdlib client runs in a worker thread so that the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

#: A JWKS of a few keys is a few kB.
MAX_JWKS_BYTES: Final = 64 * 1024
#: Each connect, send and receive may take this long.
FETCH_TIMEOUT_SECONDS: Final = 5.0
#: The whole fetch (resolving, connecting, reading) may take this long: a server that trickles a byte
#: every few seconds does not hold a worker thread.
FETCH_DEADLINE_SECONDS: Final = 10.0
MAX_URL_LENGTH: Final = 2000
_CHUNK: Final = 8192

#: Stable reasons (`extensions.reason`) of a refused JWKS URL.
URL_REFUSED: Final = "JWKS_URL_REFUSED"
ADDRESS_REFUSED: Final = "JWKS_ADDRESS_REFUSED"
FETCH_FAILED: Final = "JWKS_FETCH_FAILED"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchFailed(Exception):  # noqa: N818 - the verdict: "fetch failed"
    """The JWKS URL did not give a JSON document; the message is short and safe to show, `reason` one of
    `ADDRESS_REFUSED` (the host is not a public address) or `FETCH_FAILED`."""

    def __init__(self, message: str, reason: str = FETCH_FAILED) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Where a JWKS may be fetched from besides public addresses: host names and address ranges
    (`LEERPOORT_JWKS_ALLOWED_HOSTS`), and the resolver (a test's stands in for DNS)."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_ranges: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolve: Callable[[str, int], Sequence[str]] | None = None

    @classmethod
    def of(
        cls, allowed: Sequence[str], resolve: Callable[[str, int], Sequence[str]] | None = None
    ) -> FetchPolicy:
        """The policy for the listed hosts and ranges (each a host name, an address or a CIDR range)."""
        hosts: set[str] = set()
        ranges: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in (text.strip() for text in allowed):
            if not entry:
                continue
            try:
                ranges.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(ranges), resolve)

    def allows(self, host: str, address: Address) -> bool:
        """Whether `address` (one that `host` resolved to) may be connected to."""
        if host.lower().rstrip(".") in self.allowed_hosts:
            return True
        if any(address in network for network in self.allowed_ranges):
            return True
        return public_address(address)


def public_address(address: Address) -> bool:
    """Whether an address is on the public internet: not loopback, private, link-local, multicast,
    reserved, unspecified, shared (100.64/10) or documentation space; an IPv4-mapped IPv6 address is
    judged as the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    return address.is_global


def check_jwks_url(url: str, *, https_only: bool) -> str:
    """The URL, trimmed, when it may be registered: http(s) (https only outside the sandbox), a host,
    no credentials, no fragment; `ValueError` otherwise."""
    candidate = url.strip()
    if not candidate or len(candidate) > MAX_URL_LENGTH:
        raise ValueError(f"a JWKS URL has 1 to {MAX_URL_LENGTH} characters")
    parsed = urllib.parse.urlsplit(candidate)
    allowed = ("https",) if https_only else ("https", "http")
    if parsed.scheme not in allowed or not parsed.hostname:
        raise ValueError(
            "a JWKS URL is an https:// address" if https_only else "a JWKS URL is an http(s) address"
        )
    if parsed.username or parsed.password or parsed.fragment:
        raise ValueError("a JWKS URL carries no credentials and no fragment")
    try:
        parsed.port  # noqa: B018 - a port that is not a number raises here, not at fetch time
    except ValueError:
        raise ValueError("a JWKS URL's port is a number") from None
    return candidate


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _checked_address(host: str, port: int, policy: FetchPolicy) -> str:
    """The address to connect to: the first that `host` resolves to, once every one is allowed."""
    try:
        literal: Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = list((policy.resolve or _system_resolve)(host, port))
        except (OSError, UnicodeError):
            raise FetchFailed("the JWKS URL's host could not be resolved") from None
    addresses: list[Address] = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            raise FetchFailed("the JWKS URL's host could not be resolved") from None
    if not addresses:
        raise FetchFailed("the JWKS URL's host could not be resolved")
    # Every address, not just the first: a resolver may hand the connection any of them.
    if not all(policy.allows(host, address) for address in addresses):
        raise FetchFailed(
            "the JWKS URL's host is not a public internet address (loopback, private, link-local,"
            " multicast and reserved addresses are refused)",
            ADDRESS_REFUSED,
        )
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a checked address, sending the URL's host name in `Host`."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a checked address whose certificate is verified for the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self._context = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._context)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def _fetch(url: str, policy: FetchPolicy) -> object:
    deadline = time.monotonic() + FETCH_DEADLINE_SECONDS
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    secure = parsed.scheme == "https"
    port = parsed.port or (443 if secure else 80)
    address = _checked_address(host, port, policy)
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    kind = _PinnedHTTPSConnection if secure else _PinnedHTTPConnection
    connection = kind(host, port, address, FETCH_TIMEOUT_SECONDS)
    answer: http.client.HTTPResponse | None = None
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        answer = connection.getresponse()
        if 300 <= answer.status < 400:
            raise FetchFailed("the JWKS URL redirects elsewhere; register the URL that answers")
        if answer.status != 200:
            raise FetchFailed(f"the JWKS URL answered HTTP {answer.status}")
        body = b""
        while len(body) <= MAX_JWKS_BYTES:
            if time.monotonic() > deadline:
                raise FetchFailed(f"the JWKS URL took longer than {FETCH_DEADLINE_SECONDS:g} s")
            chunk = answer.read1(_CHUNK)
            if not chunk:
                break
            body += chunk
    except (OSError, http.client.HTTPException, ValueError):
        raise FetchFailed("the JWKS URL could not be fetched") from None
    finally:
        if answer is not None:
            answer.close()
        connection.close()
    if len(body) > MAX_JWKS_BYTES:
        raise FetchFailed(f"the JWKS at the URL is larger than {MAX_JWKS_BYTES} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchFailed("the JWKS URL did not answer JSON") from None


async def fetch_jwks(url: str, policy: FetchPolicy) -> object:
    """The JSON document at a (checked) JWKS URL, from a host `policy` allows; `FetchFailed` when it
    cannot be had in time."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_fetch, url, policy), timeout=FETCH_DEADLINE_SECONDS + 1
        )
    except TimeoutError:
        raise FetchFailed(f"the JWKS URL took longer than {FETCH_DEADLINE_SECONDS:g} s") from None


__all__ = [
    "ADDRESS_REFUSED",
    "FETCH_FAILED",
    "MAX_JWKS_BYTES",
    "URL_REFUSED",
    "FetchFailed",
    "FetchPolicy",
    "check_jwks_url",
    "fetch_jwks",
    "public_address",
]
