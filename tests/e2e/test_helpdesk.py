"""The helpdesk's work over HTTP with real tokens: school accounts opened only on a recorded signed request,
managed locations renamed and ended, and the boards still without a signed DPA."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from datasources.store.tables import ACCOUNT_REQUESTS, SCHOOLS, STAFF_ACCOUNT_ROLES, STAFF_ACCOUNTS
from resolvers import admin, registry_commands
from tests.e2e.test_staff_roles import CODE, COORDINATOR, NOW, SIGN_IN, _school, hub_at

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

NEW = "99ZY00"
DIGEST = hashlib.sha256(b"the signed request, as a PDF").hexdigest()
OPEN = """mutation($r: AccountRequestInput!) { createSchoolAccount(request: $r) {
    id school { code name } coordinatorEmail directorName documentSha256 receivedAt } }"""
RENAME = "mutation($c: String!, $n: String!) { renameLocation(code: $c, name: $n) { code name active } }"
END = "mutation($c: String!) { endLocation(code: $c) { code name active } }"
BOARDS = """query($s: Boolean) { boards(first: 50, dpaSigned: $s) { edges { node { number
    dataProcessingAgreement { signed } } } } }"""
SIGN_DPA = """mutation($b: String!) { recordDpaSignature(boardNumber: $b, signedBy: "J. de Wit",
    chamberOfCommerceNumber: "12345678", version: "2026-1") { number } }"""


def _request(**changes: str) -> dict[str, Any]:
    return {
        "boardName": "Stichting Proef",
        "boardNumber": "99999",
        "schoolName": "De Proefschool",
        "brin": NEW[:4],
        "locationCode": NEW[4:],
        "directorName": "A. Directeur",
        "coordinatorName": "C. Oordinator",
        "coordinatorEmail": "ICT@Proefschool.example",
        "documentSha256": DIGEST.upper(),
        "receivedAt": "2026-11-29T09:15:00+01:00",
    } | changes


async def _count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_school_account_opens_only_with_the_signed_request_recorded(
    settings: Settings, engine: AsyncEngine
) -> None:
    await registry_commands.add_location(settings, NEW, "De Proefschool", "99999")
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        opened = (await hub.graphql(OPEN, {"r": _request()}, operator))["data"]["createSchoolAccount"]
        assert opened["school"]["code"] == NEW
        assert opened["coordinatorEmail"] == "ict@proefschool.example"
        assert opened["documentSha256"] == DIGEST
        assert opened["directorName"] == "A. Directeur"
        async with engine.connect() as connection:
            recorded = (await connection.execute(select(ACCOUNT_REQUESTS))).one()
            role = (await connection.execute(select(STAFF_ACCOUNT_ROLES))).one()
        assert (recorded.board_number, recorded.brin, recorded.location_code) == ("99999", "99ZY", "00")
        assert recorded.coordinator_name == "C. Oordinator"
        assert recorded.recorded_by == "operator:helpdesk"
        assert role.role == "ICT_COORDINATOR"
        assert role.account_id == recorded.account_id
        # The coordinator has no password yet: nobody signs in with the account until its holder sets one.
        response = await hub.client.post(
            "/graphql", json={"query": SIGN_IN, "variables": {"e": "ict@proefschool.example", "p": "!unset"}}
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        again = await hub.graphql(OPEN, {"r": _request()}, operator)
        assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert await _count(engine, ACCOUNT_REQUESTS) == 1


async def test_a_request_that_is_incomplete_or_does_not_match_opens_nothing(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)  # a school with its own coordinator, for the coordinator's token
    await registry_commands.add_location(settings, NEW, "De Proefschool", "99999")
    accounts = await _count(engine, STAFF_ACCOUNTS)
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        bad = {
            "another board's school": _request(boardNumber="12345"),
            "no signed document": _request(documentSha256="not-a-hash"),
            "a document not yet arrived": _request(receivedAt="2026-12-24T09:00:00+01:00"),
            "no director": _request(directorName="  "),
            "a location the hub does not have": _request(brin="98ZY"),
            "no e-mail address": _request(coordinatorEmail="ict-at-school"),
        }
        for case, request in bad.items():
            refused = await hub.graphql(OPEN, {"r": request}, operator)
            assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", case
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        by_school = await hub.graphql(OPEN, {"r": _request()}, coordinator)
        assert by_school["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await _count(engine, ACCOUNT_REQUESTS) == 0
    assert await _count(engine, STAFF_ACCOUNTS) == accounts


async def test_the_operator_renames_and_ends_managed_locations_only(settings: Settings) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        renamed = await hub.graphql(RENAME, {"c": CODE.lower(), "n": "  Het   Nieuwe Kompas "}, operator)
        assert renamed["data"]["renameLocation"] == {
            "code": CODE,
            "name": "Het Nieuwe Kompas",
            "active": True,
        }
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(END, {"c": CODE}, coordinator)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        ended = await hub.graphql(END, {"c": CODE}, operator)
        assert ended["data"]["endLocation"] == {"code": CODE, "name": "Het Nieuwe Kompas", "active": False}
        twice = await hub.graphql(RENAME, {"c": CODE, "n": "Weer anders"}, operator)
        assert twice["errors"][0]["extensions"]["code"] == "CONFLICT"
        unknown = await hub.graphql(END, {"c": "97ZZ00"}, operator)
        assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_duo_location_is_not_renamed_by_hand(
    settings: Settings, engine: AsyncEngine, world: object
) -> None:
    del world  # seeded DUO locations
    async with engine.connect() as connection:
        duo = str(await connection.scalar(select(SCHOOLS.c.code).where(SCHOOLS.c.source == "duo").limit(1)))
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        refused = await hub.graphql(RENAME, {"c": duo, "n": "Iets anders"}, operator)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "DUO" in refused["errors"][0]["message"]


async def test_the_helpdesk_lists_the_boards_without_a_signed_dpa(settings: Settings) -> None:
    await _school(settings)
    await registry_commands.add_location(settings, "98ZZ00", "Elders", "99998")
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        await hub.graphql(SIGN_DPA, {"b": "99998"}, operator)

        async def numbers(signed: bool | None) -> list[str]:
            edges = (await hub.graphql(BOARDS, {"s": signed}, operator))["data"]["boards"]["edges"]
            return sorted(edge["node"]["number"] for edge in edges)

        assert await numbers(signed=False) == ["99999"]
        assert await numbers(signed=True) == ["99998"]
        assert await numbers(signed=None) == ["99998", "99999"]
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(BOARDS, {"s": False}, coordinator)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
