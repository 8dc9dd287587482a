"""A coordinator's staff administration over HTTP with real tokens: hand roles, a substitute's groups until
a date, hand-added members, other coordinators; all of it survives re-imports of the same file."""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import insert, update

from auth.credentials import hash_secret
from datasources.store.tables import STAFF_ACCOUNTS, STAFF_MEMBERS
from resolvers import admin, registry_commands
from server import create_app
from tests.e2e.test_imports import school_file

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

CODE = "99ZZ00"
OTHER_CODE = "99ZZ01"
YEAR = "2026-2027"
NOW = dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
PASSWORD = "a-long-coordinator-password"
COORDINATOR = "coordinator@school.example"
SIGN_IN = "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }"
STAFF = """query($c: String!) { school(code: $c) {
    staff(first: 50) { edges { node { id lastName email roles active groups { name } } } }
    groups(first: 50) { edges { node { id name staff(first: 50) { edges { node { lastName } } } } } } } }"""
ADD_ROLE = """mutation($s: ID!, $r: StaffRole!, $g: [ID!], $u: Date) {
    addStaffRole(staffId: $s, role: $r, groupIds: $g, until: $u) { id roles groups { name } } }"""
REMOVE_ROLE = "mutation($s: ID!, $r: StaffRole!) { removeStaffRole(staffId: $s, role: $r) { id roles } }"
ADD_MEMBER = """mutation($c: String!, $e: String) {
    addStaffMember(schoolCode: $c, firstName: "Bo", lastName: "Bakker", email: $e, roles: [SUBSTITUTE]) {
        id lastName roles active } }"""


class Hub:
    """The application on a clock set from outside (LEERPOORT_NOW), reached over HTTP."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client, self.settings = client, settings

    async def graphql(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        return body

    async def sign_in(self, email: str) -> str:
        response = await self.client.post(
            "/graphql", json={"query": SIGN_IN, "variables": {"e": email, "p": PASSWORD}}
        )
        return str(response.json()["data"]["signIn"]["token"])

    async def staff(self, token: str, code: str = CODE) -> dict[str, Any]:
        school = (await self.graphql(STAFF, {"c": code}, token))["data"]["school"]
        return {
            "staff": {edge["node"]["lastName"]: edge["node"] for edge in school["staff"]["edges"]},
            "groups": {
                edge["node"]["name"]: {
                    "id": edge["node"]["id"],
                    "staff": sorted(member["node"]["lastName"] for member in edge["node"]["staff"]["edges"]),
                }
                for edge in school["groups"]["edges"]
            },
        }


@asynccontextmanager
async def hub_at(settings: Settings, now: dt.datetime) -> AsyncIterator[Hub]:
    at = settings.model_copy(update={"now_override": now})
    app = create_app(at)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield Hub(client, at)


async def _school(settings: Settings, code: str = CODE) -> None:
    """A managed location with the test file imported and a bootstrapped coordinator."""
    at = settings.model_copy(update={"now_override": NOW})
    await registry_commands.add_location(at, code, f"School {code}", "99999")
    await _import(at, code)
    await admin.add_school_coordinator(at, code, f"{code.lower()}-{COORDINATOR}", PASSWORD)


async def _import(settings: Settings, code: str = CODE) -> None:
    at = settings.model_copy(update={"now_override": NOW})
    report = await admin.import_file(at, lambda: school_file(code, YEAR), dry_run=False, confirm=True)
    assert not report.held


async def _account(engine: AsyncEngine, email: str) -> None:
    """An activated account for a staff member's address (what activation leaves behind)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.email == email).values(active=True)
        )
        await connection.execute(
            insert(STAFF_ACCOUNTS).values(
                email=email,
                password_hash=hash_secret(PASSWORD),
                active=True,
                created_at=NOW,
                created_by="test",
            )
        )


async def test_hand_roles_groups_and_members_survive_a_reimport_of_the_same_file(settings: Settings) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        before = await hub.staff(token)
        teacher = before["staff"]["Kok"]
        assert teacher["roles"] == ["TEACHER"]
        intern = await hub.graphql(ADD_ROLE, {"s": teacher["id"], "r": "INTERN"}, token)
        assert intern["data"]["addStaffRole"]["roles"] == ["INTERN", "TEACHER"]
        added = await hub.graphql(ADD_MEMBER, {"c": CODE, "e": "Bo@School.example"}, token)
        member = added["data"]["addStaffMember"]
        assert member["roles"] == ["SUBSTITUTE"]
        assert member["active"] is False  # until the account is activated
        group = before["groups"]["Groep 1a"]["id"]
        given = await hub.graphql(
            ADD_ROLE, {"s": member["id"], "r": "SUBSTITUTE", "g": [group], "u": "2026-12-11"}, token
        )
        assert given["data"]["addStaffRole"]["groups"] == [{"name": "Groep 1a"}]

    await _import(settings)  # the same file again

    async with hub_at(settings, NOW) as hub:
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        after = await hub.staff(token)
        assert after["staff"]["Kok"]["roles"] == ["INTERN", "TEACHER"]
        assert after["staff"]["Bakker"]["email"] == "bo@school.example"
        assert after["staff"]["Bakker"]["groups"] == [{"name": "Groep 1a"}]
        assert after["groups"]["Groep 1a"]["staff"] == ["Bakker", "Kok"]
        assert after["groups"]["Groep 2a"]["staff"] == ["Kok"]


async def test_a_substitute_loses_the_groups_after_their_last_day(settings: Settings) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        before = await hub.staff(token)
        member = (await hub.graphql(ADD_MEMBER, {"c": CODE, "e": None}, token))["data"]["addStaffMember"]
        group = before["groups"]["Groep 2a"]["id"]
        await hub.graphql(
            ADD_ROLE, {"s": member["id"], "r": "SUBSTITUTE", "g": [group], "u": "2026-12-11"}, token
        )
    async with hub_at(settings, dt.datetime(2026, 12, 11, 16, tzinfo=dt.UTC)) as hub:
        last_day = await hub.staff(await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}"))
        assert last_day["groups"]["Groep 2a"]["staff"] == ["Bakker", "Kok"]
    async with hub_at(settings, dt.datetime(2026, 12, 12, 8, tzinfo=dt.UTC)) as hub:
        after = await hub.staff(await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}"))
        assert after["groups"]["Groep 2a"]["staff"] == ["Kok"]
        assert after["staff"]["Bakker"]["groups"] == []
        assert after["staff"]["Bakker"]["roles"] == ["SUBSTITUTE"]


async def test_a_coordinator_makes_another_one_and_the_last_one_cannot_be_removed(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        teacher = (await hub.staff(token))["staff"]["Kok"]
        made = await hub.graphql(ADD_ROLE, {"s": teacher["id"], "r": "ICT_COORDINATOR"}, token)
        assert made["data"]["addStaffRole"]["roles"] == ["ICT_COORDINATOR", "TEACHER"]
        # An account at the teacher's address, but the member is not activated: no coordinator yet.
        async with engine.begin() as connection:
            await connection.execute(
                insert(STAFF_ACCOUNTS).values(
                    email="els@school.example",
                    password_hash=hash_secret(PASSWORD),
                    active=True,
                    created_at=NOW,
                    created_by="test",
                )
            )
        unactivated = await hub.sign_in("els@school.example")
        assert (await hub.graphql(STAFF, {"c": CODE}, unactivated))["data"]["school"] is None
        async with engine.begin() as connection:  # the teacher activated their account
            await connection.execute(
                update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.email == "els@school.example").values(active=True)
            )
        teacher_token = await hub.sign_in("els@school.example")
        # The new coordinator reads and manages the school.
        assert (await hub.staff(teacher_token))["staff"]["Kok"]["roles"] == ["ICT_COORDINATOR", "TEACHER"]
        # The bootstrap account is disabled: the teacher is the school's last active coordinator.
        async with engine.begin() as connection:
            await connection.execute(
                update(STAFF_ACCOUNTS)
                .where(STAFF_ACCOUNTS.c.email == f"{CODE.lower()}-{COORDINATOR}")
                .values(active=False)
            )
        refused = await hub.graphql(REMOVE_ROLE, {"s": teacher["id"], "r": "ICT_COORDINATOR"}, teacher_token)
        assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert "at least one active coordinator" in refused["errors"][0]["message"]
        still = await hub.staff(teacher_token)
        assert still["staff"]["Kok"]["roles"] == ["ICT_COORDINATOR", "TEACHER"]


async def test_a_coordinator_steps_down_while_another_active_coordinator_remains(
    settings: Settings, engine: AsyncEngine
) -> None:
    await _school(settings)
    async with hub_at(settings, NOW) as hub:
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        teacher = (await hub.staff(token))["staff"]["Kok"]
        await hub.graphql(ADD_ROLE, {"s": teacher["id"], "r": "ICT_COORDINATOR"}, token)
        await _account(engine, "els@school.example")
        teacher_token = await hub.sign_in("els@school.example")
        removed = await hub.graphql(REMOVE_ROLE, {"s": teacher["id"], "r": "ICT_COORDINATOR"}, token)
        assert removed["data"]["removeStaffRole"]["roles"] == ["TEACHER"]
        # The teacher's token now manages nothing: the school is invisible to it.
        gone = await hub.graphql(STAFF, {"c": CODE}, teacher_token)
        assert gone["data"]["school"] is None


async def test_roles_on_a_person_of_another_school_and_teacher_by_hand_are_refused(
    settings: Settings,
) -> None:
    await _school(settings)
    await _school(settings, OTHER_CODE)
    async with hub_at(settings, NOW) as hub:
        operator = await admin.operator_token(hub.settings)
        other = (await hub.staff(operator, OTHER_CODE))["staff"]["Kok"]
        token = await hub.sign_in(f"{CODE.lower()}-{COORDINATOR}")
        refused = await hub.graphql(ADD_ROLE, {"s": other["id"], "r": "INTERN"}, token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        mine = await hub.staff(token)
        other_group = (await hub.staff(operator, OTHER_CODE))["groups"]["Groep 1a"]["id"]
        wrong_group = await hub.graphql(
            ADD_ROLE, {"s": mine["staff"]["Kok"]["id"], "r": "SUBSTITUTE", "g": [other_group]}, token
        )
        assert wrong_group["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        teacher = await hub.graphql(ADD_ROLE, {"s": mine["staff"]["Kok"]["id"], "r": "TEACHER"}, token)
        assert teacher["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        # The operator is no school's coordinator: it does not hand out the school's roles either.
        by_operator = await hub.graphql(ADD_ROLE, {"s": other["id"], "r": "INTERN"}, operator)
        assert by_operator["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        elsewhere = await hub.graphql(ADD_MEMBER, {"c": OTHER_CODE, "e": None}, token)
        assert elsewhere["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # Nothing changed at either school.
        assert (await hub.staff(operator, OTHER_CODE))["staff"]["Kok"]["roles"] == ["TEACHER"]
        assert (await hub.staff(operator, OTHER_CODE))["groups"]["Groep 1a"]["staff"] == ["Kok"]
        assert sorted((await hub.staff(token))["staff"]) == ["Kok"]
        assert (await hub.staff(token))["staff"]["Kok"]["roles"] == ["TEACHER"]
