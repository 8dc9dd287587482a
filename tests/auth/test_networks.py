"""The pure rules of school networks: which ranges a school may register, whether an address is at
school or at home, and which client a request behind proxies comes from."""

from __future__ import annotations

import ipaddress

import pytest

from auth.networks import (
    NetworkContext,
    NotASchoolNetwork,
    client_address,
    host_network,
    network_context,
    school_network,
    trusted_proxies,
)


@pytest.mark.parametrize(
    ("written", "registered"),
    [
        ("192.0.2.0/24", "192.0.2.0/24"),
        (" 198.51.100.16/28 ", "198.51.100.16/28"),
        ("203.0.113.7", "203.0.113.7/32"),
        ("10.20.0.0/16", "10.20.0.0/16"),
        ("2001:db8:12::/48", "2001:db8:12::/48"),
        ("2001:DB8:12:34::/64", "2001:db8:12:34::/64"),
    ],
)
def test_a_school_registers_ranges_up_to_a_slash_16_normalised(written: str, registered: str) -> None:
    assert str(school_network(written)) == registered


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("", "CIDR"),
        ("school", "not a CIDR"),
        ("192.0.2.0/33", "not a CIDR"),
        ("192.0.2.300/24", "not a CIDR"),
        ("192.0.2.7/24", "did you mean 192.0.2.0/24"),
        ("10.0.0.0/8", "wider than"),
        ("0.0.0.0/0", "wider than"),
        ("2001:db8::/32", "wider than"),
        ("0.0.0.0", "not a range"),  # noqa: S104 - a range refused, nothing bound
        ("224.0.0.1", "not a range"),
        ("1" * 70, "CIDR"),
    ],
)
def test_what_is_not_a_school_network_is_refused_with_the_reason(written: str, says: str) -> None:
    with pytest.raises(NotASchoolNetwork, match=says):
        school_network(written)


def test_an_address_in_a_registered_range_is_at_school_and_any_other_at_home() -> None:
    ranges = [school_network("192.0.2.0/24"), school_network("2001:db8:12::/48"), host_network("203.0.113.9")]
    assert network_context("192.0.2.200", ranges) is NetworkContext.SCHOOL
    assert network_context("203.0.113.9", ranges) is NetworkContext.SCHOOL
    assert network_context("2001:db8:12:ff::1", ranges) is NetworkContext.SCHOOL
    # An IPv4 client seen through an IPv6 socket is that IPv4 client.
    assert network_context("::ffff:192.0.2.5", ranges) is NetworkContext.SCHOOL
    assert network_context("192.0.3.1", ranges) is NetworkContext.HOME
    assert network_context("203.0.113.10", ranges) is NetworkContext.HOME
    # Being at school must be shown: an unreadable or unknown address is at home.
    assert network_context("", ranges) is NetworkContext.HOME
    assert network_context("not-an-address", ranges) is NetworkContext.HOME
    # A school that registered no range has not said where it is: at school, as before networks existed.
    assert network_context("192.0.2.1", []) is NetworkContext.SCHOOL
    assert network_context("", []) is NetworkContext.SCHOOL


PROXIES = trusted_proxies(["127.0.0.1", "10.0.0.0/8"])


def test_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    # A client that is not a proxy cannot claim to be at school by sending the header itself.
    assert client_address("198.51.100.7", ["192.0.2.10"], PROXIES) == "198.51.100.7"
    assert client_address("127.0.0.1", ["192.0.2.10"], PROXIES) == "192.0.2.10"
    # No proxies configured: the peer, whatever the header says.
    assert client_address("127.0.0.1", ["192.0.2.10"], ()) == "127.0.0.1"
    assert client_address("127.0.0.1", [], PROXIES) == "127.0.0.1"


def test_the_client_is_the_last_hop_that_is_not_a_trusted_proxy() -> None:
    # The client forged "192.0.2.10" in front; the first proxy appended the real address it saw.
    assert client_address("127.0.0.1", ["192.0.2.10, 198.51.100.7, 10.1.2.3"], PROXIES) == "198.51.100.7"
    assert client_address("127.0.0.1", ["192.0.2.10", "198.51.100.7"], PROXIES) == "198.51.100.7"
    # A malformed hop: nothing at or before it is trusted, so the proxy's own address is used.
    assert client_address("127.0.0.1", ["192.0.2.10, garbage"], PROXIES) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.0.0.1, 10.0.0.2"], PROXIES) == "127.0.0.1"


def test_trusted_proxies_are_addresses_or_ranges() -> None:
    assert trusted_proxies([" 127.0.0.1 ", "", "10.0.0.0/8"]) == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )
    with pytest.raises(ValueError, match="does not appear"):
        trusted_proxies(["proxy.internal"])
