"""School networks: whether a request comes from inside a school or from home, and who sent it.

Pure code, no I/O. A school registers the address ranges its network leaves the internet from; a sign-in
or launch from one of them is at school (`SCHOOL`), anything else is at home (`HOME`), which decides what a
student may open (DOMAIN.md, "Single sign-on"). Behind a reverse proxy the peer is the proxy: only a proxy
the operator named (`LEERPOORT_TRUSTED_PROXIES`) may say, in `X-Forwarded-For`, who the client is.
"""

from __future__ import annotations

import enum
import ipaddress
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The widest range a school may register: a /16 holds 65,536 addresses, more than any school network
#: leaves the internet from; wider would make half a city "at school".
WIDEST_IPV4_PREFIX: Final = 16
#: IPv6: a /48 is what one site is given; a school registers its site, not its provider's block.
WIDEST_IPV6_PREFIX: Final = 48


class NetworkContext(enum.Enum):
    """Where a sign-in or launch happens, as partners read it in the id_token's `context`."""

    SCHOOL = "SCHOOL"
    HOME = "HOME"


class NotASchoolNetwork(ValueError):  # noqa: N818 - reads as the verdict: not a school network
    """The text is not a range a school may register; the message says why, for a person."""


def school_network(text: str) -> IPNetwork:
    """The range in `text` ("192.0.2.0/24", "2001:db8:12::/48", or a single address), refused when it is
    not a CIDR, has bits set past its prefix (a typo, usually: "192.0.2.7/24" means 192.0.2.0/24 or
    192.0.2.7), or is wider than a school's network can be."""
    stripped = text.strip()
    if not stripped or len(stripped) > 64:
        raise NotASchoolNetwork("a network range is written as a CIDR, such as 192.0.2.0/24")
    try:
        network = ipaddress.ip_network(stripped, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(stripped, strict=False)
        except ValueError:
            raise NotASchoolNetwork(
                f"{stripped!r} is not a CIDR range (write it as, for example, 192.0.2.0/24)"
            ) from None
        raise NotASchoolNetwork(
            f"{stripped!r} has address bits set past its prefix: did you mean {loose}?"
        ) from None
    widest = WIDEST_IPV4_PREFIX if network.version == 4 else WIDEST_IPV6_PREFIX
    if network.prefixlen < widest:
        raise NotASchoolNetwork(
            f"{network} is wider than a school's network may be (at most /{widest} for IPv{network.version})"
        )
    if network.is_unspecified or network.is_multicast:
        raise NotASchoolNetwork(f"{network} is not a range a school's network leaves the internet from")
    return network


def host_network(address: str) -> IPNetwork:
    """The one-address range of `address` (a dynamic address recorded by the school's update command)."""
    parsed = ipaddress.ip_address(address)
    return ipaddress.ip_network(f"{parsed}/{parsed.max_prefixlen}")


def parse_address(text: str) -> IPAddress | None:
    """An address, or None for anything that is not one (an unknown peer, a malformed header)."""
    try:
        parsed = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket ("::ffff:192.0.2.7") is that IPv4 client.
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def network_context(address: str, networks: Iterable[IPNetwork]) -> NetworkContext:
    """`SCHOOL` when `address` lies in one of the school's registered ranges, else `HOME` (also for an
    address that cannot be read: once a school has told where it is, being there must be shown).

    A school that registered no range yet has not told the hub where it is: everything counts as at
    school there, as before networks existed, so that no school's pupils lose their school-only products
    on the day this arrived; registering its ranges is what makes home tell apart (the README says so)."""
    ranges = list(networks)
    if not ranges:
        return NetworkContext.SCHOOL
    parsed = parse_address(address)
    if parsed is None:
        return NetworkContext.HOME
    return (
        NetworkContext.SCHOOL
        if any(parsed.version == network.version and parsed in network for network in ranges)
        else NetworkContext.HOME
    )


def trusted_proxies(texts: Sequence[str]) -> tuple[IPNetwork, ...]:
    """The proxies named in `LEERPOORT_TRUSTED_PROXIES` (addresses or ranges); raises ValueError on one
    that is not (the settings refuse to start with it)."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts if text.strip())


def client_address(peer: str, forwarded_for: Sequence[str], proxies: Sequence[IPNetwork]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy, in which case the last
    address in `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address it
    received from, so everything left of the first untrusted hop may be forged by the client)."""
    if not proxies or not _in_any(peer, proxies):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if parse_address(hop) is None:
            # A malformed hop: nothing left of it can be trusted, and neither can it; keep the proxy's.
            return peer
        if not _in_any(hop, proxies):
            return str(parse_address(hop))
    return peer


def _in_any(address: str, networks: Sequence[IPNetwork]) -> bool:
    parsed = parse_address(address)
    return parsed is not None and any(
        parsed.version == network.version and parsed in network for network in networks
    )
