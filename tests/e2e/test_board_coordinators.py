"""Board coordinators (bovenschools) over HTTP with real tokens: the operator makes one for all or chosen
schools of a board, and it reads a board-wide overview of exactly the schools it manages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from auth.credentials import hash_secret
from datasources.store.tables import STAFF_ACCOUNTS
from resolvers import admin, registry_commands
from tests.e2e.test_staff_roles import (
    CODE,
    COORDINATOR,
    NOW,
    OTHER_CODE,
    PASSWORD,
    SIGN_IN,
    _school,
    hub_at,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

BOARD = "99999"
ELSEWHERE = "98ZZ00"  # a school of another board
EMAIL = "bovenschools@bestuur.example"
ADD = """mutation($b: String!, $e: String!, $s: [String!]) {
    addBoardCoordinator(boardNumber: $b, email: $e, schoolCodes: $s) { number } }"""
OVERVIEW = """query($b: String!) { board(number: $b) { number schools(first: 20) { edges { node { code
    staff(first: 5) { edges { node { lastName } } } } } } } }"""
ROLE = "mutation($s: ID!) { addStaffRole(staffId: $s, role: INTERN) { roles } }"


async def _password(engine: AsyncEngine, email: str) -> None:
    """The board coordinator chose a password (what activation or a password reset leaves behind)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(STAFF_ACCOUNTS)
            .where(STAFF_ACCOUNTS.c.email == email)
            .values(password_hash=hash_secret(PASSWORD))
        )


def _codes(body: dict[str, Any]) -> list[str]:
    board = body["data"]["board"]
    return sorted(edge["node"]["code"] for edge in board["schools"]["edges"])


async def test_a_board_coordinator_oversees_the_chosen_schools_of_its_board(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    await registry_commands.add_location(settings, ELSEWHERE, "Elders", "99998")
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        made = await hub.graphql(ADD, {"b": BOARD, "e": EMAIL, "s": [CODE]}, operator)
        assert made["data"]["addBoardCoordinator"]["number"] == BOARD
        await _password(engine, EMAIL)
        token = await hub.sign_in(EMAIL)
        assert _codes(await hub.graphql(OVERVIEW, {"b": BOARD}, token)) == [CODE]
        assert (await hub.graphql(OVERVIEW, {"b": "99998"}, token))["data"]["board"] is None
        # It manages its chosen school as its coordinator would: a role there is its to give ...
        staff = (await hub.staff(token))["staff"]["Kok"]
        assert (await hub.graphql(ROLE, {"s": staff["id"]}, token))["data"]["addStaffRole"]["roles"] == [
            "INTERN",
            "TEACHER",
        ]
        # ... and not at the board's other school, which the operator did not choose.
        other = (await hub.staff(operator, OTHER_CODE))["staff"]["Kok"]
        refused = await hub.graphql(ROLE, {"s": other["id"]}, token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # Given again without a choice: every school of the board.
        await hub.graphql(ADD, {"b": BOARD, "e": EMAIL, "s": None}, operator)
        assert _codes(await hub.graphql(OVERVIEW, {"b": BOARD}, token)) == [CODE, OTHER_CODE]
        # The operator reads every board's overview.
        assert _codes(await hub.graphql(OVERVIEW, {"b": "99998"}, operator)) == [ELSEWHERE]


async def test_only_the_operator_makes_board_coordinators_of_its_boards_schools(settings: Settings) -> None:
    await _school(settings)
    await registry_commands.add_location(settings, ELSEWHERE, "Elders", "99998")
    async with hub_at(settings, NOW) as hub:
        coordinator = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(ADD, {"b": BOARD, "e": EMAIL, "s": None}, coordinator)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # A school coordinator does not read its board's overview either.
        assert (await hub.graphql(OVERVIEW, {"b": BOARD}, coordinator))["data"]["board"] is None
        operator = await admin.operator_token(hub.settings)
        foreign = await hub.graphql(ADD, {"b": BOARD, "e": EMAIL, "s": [CODE, ELSEWHERE]}, operator)
        assert foreign["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert ELSEWHERE in foreign["errors"][0]["message"]
        unknown = await hub.graphql(ADD, {"b": "12345", "e": EMAIL, "s": None}, operator)
        assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        # Nothing was made: the address has no account to sign in with.
        response = await hub.client.post(
            "/graphql", json={"query": SIGN_IN, "variables": {"e": EMAIL, "p": PASSWORD}}
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
