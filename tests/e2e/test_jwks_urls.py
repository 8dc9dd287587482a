"""A JWKS URL as an attacker would register it: one that points the hub at itself, at a cloud metadata
service or at a private network (directly, through a host name, or through a redirect) is refused with a
stable reason, the hub never connects there, and nothing is stored."""

from __future__ import annotations

import contextlib
import functools
import http.server
import ipaddress
import json
from typing import TYPE_CHECKING, Any

import pytest

from datasources.access.jwks_fetch import (
    ADDRESS_REFUSED,
    FetchFailed,
    FetchPolicy,
    fetch_jwks,
    public_address,
)
from tests.e2e.local_http import serving
from tests.e2e.test_network_assertions import READ_KEYS, REGISTER, _world

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings


@contextlib.contextmanager
def _server(answer: tuple[int, dict[str, str], bytes]) -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server giving every GET `answer` (status, headers, body); yields its port and the
    Host headers of the requests it received."""
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            status, headers, body = answer
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as port:
        yield port, hosts


def _jwks(world_key: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps({"keys": [world_key]}).encode()


async def test_urls_that_lead_inside_the_hubs_network_are_refused_and_never_asked(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub, provider = world.hub, world.provider
        before = await hub.graphql(READ_KEYS, {}, provider.token)
        with _server(_jwks(provider.public_jwk())) as (port, asked):
            for url in (
                f"http://127.0.0.1:{port}/jwks.json",
                f"http://localhost:{port}/jwks.json",  # a host name that resolves to loopback
                f"http://[::ffff:127.0.0.1]:{port}/jwks.json",  # loopback, IPv4-mapped
                f"http://0.0.0.0:{port}/jwks.json",
                "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
                "http://10.0.0.1/jwks.json",
                "http://[fd00::1]/jwks.json",
                "http://224.0.0.1/jwks.json",
            ):
                body = await hub.graphql(REGISTER, {"u": url}, provider.token)
                error = body["errors"][0]
                assert error["extensions"]["code"] == "BAD_USER_INPUT", url
                assert error["extensions"]["reason"] == ADDRESS_REFUSED, url
                assert "not a public internet address" in error["message"]
            assert asked == []  # the hub never connected to its own loopback
        assert await hub.graphql(READ_KEYS, {}, provider.token) == before


async def test_a_url_that_is_no_http_url_is_refused_with_its_reason(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with _world(settings, engine) as world:
        hub, provider = world.hub, world.provider
        before = await hub.graphql(READ_KEYS, {}, provider.token)
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/", "ftp://keys.example/", "http://:80/"):
            error = (await hub.graphql(REGISTER, {"u": url}, provider.token))["errors"][0]
            assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
                "BAD_USER_INPUT",
                "JWKS_URL_REFUSED",
            ), url
        assert await hub.graphql(READ_KEYS, {}, provider.token) == before


async def test_a_redirect_to_a_private_address_is_not_followed(
    settings: Settings, engine: AsyncEngine
) -> None:
    local = settings.model_copy(update={"jwks_allowed_hosts": "127.0.0.1"})
    async with _world(local, engine) as world:
        hub, provider = world.hub, world.provider
        before = await hub.graphql(READ_KEYS, {}, provider.token)
        with (
            _server(_jwks(provider.public_jwk())) as (inner, inner_asked),
            _server((302, {"Location": f"http://169.254.169.254:{inner}/"}, b"")) as (port, asked),
        ):
            error = (await hub.graphql(REGISTER, {"u": f"http://127.0.0.1:{port}/"}, provider.token))[
                "errors"
            ][0]
            assert error["extensions"]["reason"] == "JWKS_FETCH_FAILED"
            assert "redirects" in error["message"]
            assert len(asked) == 1
            assert inner_asked == []
        assert await hub.graphql(READ_KEYS, {}, provider.token) == before


async def test_an_oversized_answer_is_refused(settings: Settings, engine: AsyncEngine) -> None:
    local = settings.model_copy(update={"jwks_allowed_hosts": "127.0.0.0/8"})
    async with _world(local, engine) as world:
        hub, provider = world.hub, world.provider
        huge = json.dumps({"keys": [provider.public_jwk()], "pad": "x" * 100_000}).encode()
        with _server((200, {"Content-Type": "application/json"}, huge)) as (port, _asked):
            error = (await hub.graphql(REGISTER, {"u": f"http://127.0.0.1:{port}/"}, provider.token))[
                "errors"
            ][0]
        assert "larger than 65536 bytes" in error["message"]
        assert (await hub.graphql(READ_KEYS, {}, provider.token))["data"]["assertionKeys"]["jwksUrl"] is None


def _answering(answers: list[str], _host: str, _port: int) -> list[str]:
    """A resolver that gives `answers` for every host (what a hostile DNS zone can do)."""
    return answers


async def test_a_host_name_resolving_to_a_private_address_is_refused_whatever_else_it_resolves_to() -> None:
    for answers in (["10.1.2.3"], ["93.184.215.14", "10.1.2.3"], ["100.64.0.1"], ["::1"]):
        policy = FetchPolicy.of([], resolve=functools.partial(_answering, answers))
        with pytest.raises(FetchFailed) as refused:
            await fetch_jwks("https://keys.provider.example/jwks.json", policy)
        assert refused.value.reason == ADDRESS_REFUSED, answers


async def test_the_hub_connects_to_the_address_it_checked_not_to_a_second_lookup() -> None:
    """DNS rebinding: the first answer is checked, a later one would be private; only one lookup is made
    and the connection goes to the checked address, with the URL's host name in `Host`."""
    lookups: list[str] = []

    def rebinding(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]

    jwks = {"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "kid": "k"}
    with _server(_jwks(jwks)) as (port, asked):
        # Loopback stands in for the public address the first answer gives (allow-listed for the test).
        policy = FetchPolicy.of(["127.0.0.1/32"], resolve=rebinding)
        document = await fetch_jwks(f"http://keys.provider.example:{port}/jwks.json", policy)
    assert document == {"keys": [jwks]}
    assert lookups == ["keys.provider.example"]
    assert asked == [f"keys.provider.example:{port}"]


def test_public_addresses_are_told_from_the_others() -> None:
    for text in ("93.184.215.14", "2606:4700::1111"):
        assert public_address(ipaddress.ip_address(text)), text
    for text in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address judged, not bound
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "192.0.2.1",
    ):
        assert not public_address(ipaddress.ip_address(text)), text
