"""School networks over HTTP with real tokens: a coordinator registers the ranges that count as "at
school", a school's update command keeps a dynamic address current with its network token (through a
trusted proxy, and as the real command against a real server), and nobody else reads or moves them."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import sys
from typing import TYPE_CHECKING, Any

import pytest
import uvicorn

from auth.networks import NetworkContext
from datasources.access.accounts import school_id_by_code
from resolvers import admin, school_networks
from server import create_app
from tests.e2e.conftest import run_cli_in_process
from tests.e2e.test_hostile import _partner_token
from tests.e2e.test_staff_roles import CODE, COORDINATOR, NOW, OTHER_CODE, _school, hub_at

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.test_staff_roles import Hub

NETWORKS = (
    "query($c: String!) { school(code: $c) { networks { cidr dynamic } networkTokens { label revokedAt } } }"
)
ADD = "mutation($c: String!, $r: String!) { addSchoolNetwork(schoolCode: $c, cidr: $r) { cidr dynamic } }"
REMOVE = "mutation($c: String!, $r: String!) { removeSchoolNetwork(schoolCode: $c, cidr: $r) }"
CREATE_TOKEN = """mutation($c: String!, $l: String!) {
    createNetworkToken(schoolCode: $c, label: $l) { token networkToken { id label } } }"""
REVOKE_TOKEN = """mutation($c: String!, $t: ID!) {
    revokeNetworkToken(schoolCode: $c, networkTokenId: $t) { revokedAt } }"""


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def _networks(hub: Hub, token: str, code: str = CODE) -> list[dict[str, Any]]:
    return list((await hub.graphql(NETWORKS, {"c": code}, token))["data"]["school"]["networks"])


async def test_a_coordinator_registers_and_removes_the_schools_ranges(settings: Settings) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        added = await hub.graphql(ADD, {"c": CODE, "r": " 192.0.2.0/24 "}, coordinator)
        assert added["data"]["addSchoolNetwork"] == {"cidr": "192.0.2.0/24", "dynamic": False}
        await hub.graphql(ADD, {"c": CODE, "r": "2001:db8:12::/48"}, coordinator)
        # Registering a range the school has changes nothing.
        await hub.graphql(ADD, {"c": CODE, "r": "192.0.2.0/24"}, coordinator)
        assert await _networks(hub, coordinator) == [
            {"cidr": "192.0.2.0/24", "dynamic": False},
            {"cidr": "2001:db8:12::/48", "dynamic": False},
        ]
        # The operator (the helpdesk) reads them but does not change them.
        operator = await admin.operator_token(hub.settings)
        assert len(await _networks(hub, operator)) == 2
        assert _code(await hub.graphql(ADD, {"c": CODE, "r": "198.51.100.0/24"}, operator)) == "FORBIDDEN"
        removed = await hub.graphql(REMOVE, {"c": CODE, "r": "2001:DB8:12::/48"}, coordinator)
        assert removed["data"]["removeSchoolNetwork"] == "2001:DB8:12::/48"
        assert await _networks(hub, coordinator) == [{"cidr": "192.0.2.0/24", "dynamic": False}]
        missing = await hub.graphql(REMOVE, {"c": CODE, "r": "198.51.100.0/24"}, coordinator)
        assert _code(missing) == "NOT_FOUND"


@pytest.mark.parametrize(
    ("cidr", "says"),
    [
        ("not a range", "not a CIDR"),
        ("192.0.2.7/24", "did you mean 192.0.2.0/24"),
        ("10.0.0.0/8", "wider than"),
        ("2001:db8::/32", "wider than"),
    ],
)
async def test_what_is_not_a_school_range_is_refused_and_nothing_is_registered(
    settings: Settings, cidr: str, says: str
) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(ADD, {"c": CODE, "r": cidr}, coordinator)
        assert _code(refused) == "BAD_USER_INPUT"
        assert says in refused["errors"][0]["message"]
        assert await _networks(hub, coordinator) == []


async def test_another_schools_coordinator_and_partners_neither_read_nor_change_the_ranges(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        await hub.graphql(ADD, {"c": CODE, "r": "192.0.2.0/24"}, coordinator)
        other = await hub.sign_in(f"{OTHER_CODE.lower()}-{COORDINATOR}")
        assert _code(await hub.graphql(ADD, {"c": CODE, "r": "198.51.100.0/24"}, other)) == "FORBIDDEN"
        assert _code(await hub.graphql(REMOVE, {"c": CODE, "r": "192.0.2.0/24"}, other)) == "FORBIDDEN"
        assert _code(await hub.graphql(CREATE_TOKEN, {"c": CODE, "l": "x"}, other)) == "FORBIDDEN"
        # An unknown school answers as one that is not yours.
        assert _code(await hub.graphql(ADD, {"c": "00XX00", "r": "198.51.100.0/24"}, other)) == "FORBIDDEN"
        partner = await _partner_token(engine, hub.settings)
        assert _code(await hub.graphql(ADD, {"c": CODE, "r": "198.51.100.0/24"}, partner)) == "FORBIDDEN"
        operator = await admin.operator_token(hub.settings)
        # The operator sees every school; its networkTokens (the coordinator's own) stay hidden from it.
        school = (await hub.graphql(NETWORKS, {"c": CODE}, operator))["data"]["school"]
        assert school == {"networks": [{"cidr": "192.0.2.0/24", "dynamic": False}], "networkTokens": None}
        assert await _networks(hub, coordinator) == [{"cidr": "192.0.2.0/24", "dynamic": False}]


@contextlib.asynccontextmanager
async def _behind_a_proxy(settings: Settings) -> AsyncIterator[Hub]:
    # The test client's peer is 127.0.0.1: as the hub's reverse proxy, it names the client.
    async with hub_at(settings.model_copy(update={"trusted_proxies": "127.0.0.1"}), NOW) as hub:
        yield hub


async def _update(hub: Hub, token: str, client: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    if client is not None:
        headers["X-Forwarded-For"] = client
    answer = await hub.client.post("/school-network/update", headers=headers)
    return answer.status_code, answer.json()


async def test_the_update_command_keeps_a_dynamic_address_current_with_the_schools_token(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with _behind_a_proxy(settings) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        created = (await hub.graphql(CREATE_TOKEN, {"c": CODE, "l": "router kelder"}, coordinator))["data"]
        token = created["createNetworkToken"]["token"]
        assert token.startswith("lpnet_")
        assert await _update(hub, token, "203.0.113.9") == (200, {"cidr": "203.0.113.9/32"})
        assert await _networks(hub, coordinator) == [{"cidr": "203.0.113.9/32", "dynamic": True}]
        school_id = await school_id_by_code(engine, CODE)
        assert school_id is not None
        assert await school_networks.context_at(engine, school_id, "203.0.113.9") is NetworkContext.SCHOOL
        # The line got a new address: the old one is no longer at school.
        assert await _update(hub, token, "198.51.100.77") == (200, {"cidr": "198.51.100.77/32"})
        assert await _networks(hub, coordinator) == [{"cidr": "198.51.100.77/32", "dynamic": True}]
        assert await school_networks.context_at(engine, school_id, "203.0.113.9") is NetworkContext.HOME
        # The school's token names only that school: the other school has no range.
        other = await hub.sign_in(f"{OTHER_CODE.lower()}-{COORDINATOR}")
        assert await _networks(hub, other, OTHER_CODE) == []
        # A revoked token stops working, and what it recorded no longer counts.
        revoked = await hub.graphql(
            REVOKE_TOKEN, {"c": CODE, "t": created["createNetworkToken"]["networkToken"]["id"]}, coordinator
        )
        assert revoked["data"]["revokeNetworkToken"]["revokedAt"] is not None
        status, body = await _update(hub, token, "198.51.100.78")
        assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
        assert await _networks(hub, coordinator) == []


async def test_forged_tokens_and_forwarded_headers_from_strangers_move_nothing(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        created = (await hub.graphql(CREATE_TOKEN, {"c": CODE, "l": "router"}, coordinator))["data"]
        token = created["createNetworkToken"]["token"]
        # Without trusted proxies the header is ignored: the address is the peer's own.
        assert await _update(hub, token, "192.0.2.55") == (200, {"cidr": "127.0.0.1/32"})
        for forged in ("lpnet_" + "A" * 43, "not-a-network-token", await admin.operator_token(hub.settings)):
            status, body = await _update(hub, forged, None)
            assert (status, body["error"]["code"]) == (401, "UNAUTHENTICATED")
        answer = await hub.client.post("/school-network/update")
        assert answer.status_code == 401
        # One school's coordinator cannot revoke another school's token, even knowing its id.
        other = await hub.sign_in(f"{OTHER_CODE.lower()}-{COORDINATOR}")
        token_id = created["createNetworkToken"]["networkToken"]["id"]
        refused = await hub.graphql(REVOKE_TOKEN, {"c": OTHER_CODE, "t": token_id}, other)
        assert _code(refused) == "BAD_USER_INPUT"
        assert await _networks(hub, coordinator) == [{"cidr": "127.0.0.1/32", "dynamic": True}]
        empty_label = await hub.graphql(CREATE_TOKEN, {"c": CODE, "l": "  "}, coordinator)
        assert _code(empty_label) == "BAD_USER_INPUT"
        tokens = (await hub.graphql(NETWORKS, {"c": CODE}, coordinator))["data"]["school"]["networkTokens"]
        assert tokens == [{"label": "router", "revokedAt": None}]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def _command(settings: Settings, folder: Path, url: str, stdin: str) -> tuple[int, str, str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        result = run_cli_in_process("school-network", "update", "--url", url, settings=settings, cwd=folder)
    return result.returncode, result.stdout, result.stderr


async def test_the_real_command_reports_the_address_to_a_real_server(
    settings: Settings, tmp_path: Path
) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        created = (await hub.graphql(CREATE_TOKEN, {"c": CODE, "l": "taakplanner"}, coordinator))["data"]
        token = created["createNetworkToken"]["token"]
    async with _served(settings) as url:
        code, out, err = await asyncio.to_thread(_command, settings, tmp_path, url, token + "\n")
        assert (code, json.loads(out), err) == (0, {"cidr": "127.0.0.1/32"}, "")
        code, out, err = await asyncio.to_thread(_command, settings, tmp_path, url + "/", "lpnet_wrong\n")
        assert code == 2
        assert out == ""
        assert "the hub refused the update: the network token is unknown or revoked (UNAUTHENTICATED)" in err
        code, _, err = await asyncio.to_thread(_command, settings, tmp_path, url, "")
        assert code == 2
        assert "network token on standard input" in err
    code, _, err = await asyncio.to_thread(_command, settings, tmp_path, "ftp://hub.example", token)
    assert code == 2
    assert "--url must be the hub's http(s) address" in err
