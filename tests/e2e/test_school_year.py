"""The school year end to end: a LAS pushes next year's file in December, and the hub's clock is moved
from outside (LEERPOORT_NOW, the settings' `now`) across 1 August; the partner reads over HTTP with
tokens minted on that clock, the coordinator reads the school's warning."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from tests.e2e.test_feed import PASSWORD, _hub, app_at, client_token, graphql, roster

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings
    from tests.e2e.test_feed import Hub

STUDENTS = """query($c: String!) { school(code: $c) {
    students { edges { node { firstName mainGroup { schoolYear } } } }
    groups { edges { node { schoolYear } } } } }"""
WARNING = "query($c: String!) { school(code: $c) { schoolYearWarning } }"
JULY_31 = dt.datetime(2027, 7, 31, 23, 0, tzinfo=dt.UTC)
AUGUST_1 = dt.datetime(2027, 8, 1, 6, 0, tzinfo=dt.UTC)


async def _as_partner_at(
    hub: Hub, settings: Settings, moment: dt.datetime, cursor: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """What the partner's full read and its feed after `cursor` show with the hub's clock at `moment`."""
    async with app_at(settings, moment) as client:
        token = await client_token(client, hub.partner["clientId"], hub.partner["clientSecret"])
        school = await graphql(client, STUDENTS, {"c": hub.code}, token=token)
        events, cursor = await hub.feed(cursor, client=client, token=token)
    return school["data"]["school"], events, cursor


async def test_next_years_file_shows_its_new_pupil_and_drops_its_leaver_on_the_first_of_august(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    await hub.grant("STUDENT_BASIC", "STUDENT_NAME", "GROUP_BASIC")
    _, cursor = await hub.feed()
    # Next year: Sem0 has left (group 8), Sem4 is new.
    coming = roster(hub.code, "2027-2028", students=5)
    await hub.push(dataclasses.replace(coming, students=coming.students[1:]))
    assert (await hub.feed(cursor))[0] == []

    school, events, cursor = await _as_partner_at(hub, settings, JULY_31, cursor)
    names = {edge["node"]["firstName"] for edge in school["students"]["edges"]}
    assert names == {"Sem0", "Sem1", "Sem2", "Sem3"}
    assert events == []

    school, events, _ = await _as_partner_at(hub, settings, AUGUST_1, cursor)
    names = {edge["node"]["firstName"] for edge in school["students"]["edges"]}
    assert names == {"Sem1", "Sem2", "Sem3", "Sem4"}
    assert {edge["node"]["mainGroup"]["schoolYear"] for edge in school["students"]["edges"]} == {"2027-2028"}
    students = [
        (e["kind"], (e["node"] or {}).get("firstName")) for e in events if e["entityType"] == "Student"
    ]
    assert sorted(students, key=str) == sorted(
        [("CREATED", "Sem4"), ("DELETED", None), *[("UPDATED", f"Sem{index}") for index in (1, 2, 3)]],
        key=str,
    )


async def test_without_next_years_file_the_groups_stay_and_the_coordinator_is_warned(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    await hub.grant("STUDENT_BASIC", "STUDENT_NAME", "GROUP_BASIC")
    _, cursor = await hub.feed()

    school, events, _ = await _as_partner_at(hub, settings, AUGUST_1, cursor)
    assert [edge["node"]["schoolYear"] for edge in school["groups"]["edges"]] == ["2026-2027"] * 2
    assert len(school["students"]["edges"]) == 4
    assert events == []
    async with app_at(settings, AUGUST_1) as client:
        partner = await client_token(client, hub.partner["clientId"], hub.partner["clientSecret"])
        seen = await graphql(client, WARNING, {"c": hub.code}, token=partner)
        signed_in = await client.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }",
                "variables": {"e": "ict@feed.example", "p": PASSWORD},
            },
        )
        coordinator = signed_in.json()["data"]["signIn"]["token"]
        warned = await graphql(client, WARNING, {"c": hub.code}, token=coordinator)
    assert seen["data"]["school"]["schoolYearWarning"] is None
    warning = warned["data"]["school"]["schoolYearWarning"]
    assert "2027-2028" in warning
    assert "groups of 2026-2027 stay current" in warning
