"""OneRoster as an attacker reads it: nothing the same partner's graph does not show, however it asks.

The graph shows a school's current pupils and staff (not next year's new pupils before their first day, nor
leavers after their last), its current groups (the last school year its LAS sent while this year's file is
missing), and a substitute's groups only until the last day of the substitution. OneRoster is the same
scope in another shape, so its users, classes and enrollments, over REST and in the bulk export, are exactly
the graph's. Filters and sorts on withheld fields, hostile values and extreme pages reveal nothing either.
Both engines.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import insert, select, update

from datasources.access import consent_lifecycle
from datasources.store.calendar import first_day, last_day, previous_school_year, school_year_of
from datasources.store.tables import (
    BOARDS,
    GROUP_STAFF,
    GROUPS,
    SCHOOL_YEARS,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)
from tests.e2e.test_oneroster import (
    World,
    _all,
    _get,
    _graph,
    _inner,
    _read_zip,
    partners,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.test_oneroster import Partner

__all__ = ["partners"]  # the fixture, imported so that pytest finds it here

EXPORT = "/ims/oneroster/v1p2/export/{code}.zip"
GRAPH_MEMBERS = """query($code: String!) { school(code: $code) {
    students(first: 1000) { edges { node { id } } }
    staff(first: 1000) { edges { node { id } } }
    groups(first: 40) { edges { node { id
        students(first: 40) { edges { node { id } } }
        staff(first: 40) { edges { node { id } } } } } } } }"""


async def _graph_view(client: httpx.AsyncClient, partner: Partner, code: str) -> dict[str, set[Any]]:
    """The partner's graph of a school: its users, classes and memberships (by the ids inside global ids)."""
    school = (await _graph(client, partner, GRAPH_MEMBERS, code=code))["school"]
    groups = [edge["node"] for edge in school["groups"]["edges"]]
    return {
        "students": {_inner(edge["node"]["id"]) for edge in school["students"]["edges"]},
        "staff": {_inner(edge["node"]["id"]) for edge in school["staff"]["edges"]},
        "classes": {_inner(group["id"]) for group in groups},
        "enrollments": {
            (_inner(group["id"]), _inner(edge["node"]["id"]))
            for group in groups
            for kind in ("students", "staff")
            for edge in group[kind]["edges"]
        },
    }


async def _rest_view(client: httpx.AsyncClient, partner: Partner) -> dict[str, set[Any]]:
    users = await _all(client, "/users", partner, "users")
    return {
        "students": {u["sourcedId"] for u in users if u["roles"][0]["role"] == "student"},
        "staff": {u["sourcedId"] for u in users if u["roles"][0]["role"] != "student"},
        "classes": {c["sourcedId"] for c in await _all(client, "/classes", partner, "classes")},
        "enrollments": {
            (e["class"]["sourcedId"], e["user"]["sourcedId"])
            for e in await _all(client, "/enrollments", partner, "enrollments")
        },
    }


async def _export_view(client: httpx.AsyncClient, partner: Partner, code: str) -> dict[str, set[Any]]:
    response = await client.get(EXPORT.format(code=code), headers=partner.headers)
    assert response.status_code == 200, response.text
    files = _read_zip(response.content)
    roles = {row[3]: row[5] for row in files.get("roles.csv", [[]])[1:]}
    return {
        "students": {row[0] for row in files["users.csv"][1:] if roles[row[0]] == "student"},
        "staff": {row[0] for row in files["users.csv"][1:] if roles[row[0]] != "student"},
        "classes": {row[0] for row in files.get("classes.csv", [[]])[1:]},
        "enrollments": {(row[3], row[5]) for row in files.get("enrollments.csv", [[]])[1:]},
    }


async def test_leavers_new_pupils_and_ended_substitutions_are_not_in_oneroster(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine, settings: Settings
) -> None:
    partner, (school_id, code) = partners.reader, partners.schools[0]
    before = await _graph_view(app_client, partner, code)
    today = settings.now().date()
    s, m, gm = STUDENTS.c, STAFF_MEMBERS.c, GROUP_STAFF.c
    async with engine.begin() as connection:
        pupils = (await connection.scalars(select(s.id).where(s.school_id == school_id).order_by(s.id))).all()
        # A pupil who left yesterday, and one who starts next month (a file for the coming year).
        await connection.execute(
            update(STUDENTS).where(s.id == pupils[0]).values(effective_until=today - dt.timedelta(days=1))
        )
        await connection.execute(
            update(STUDENTS).where(s.id == pupils[1]).values(effective_from=today + dt.timedelta(days=30))
        )
        # A staff member who left, and a substitute whose substitution ended yesterday.
        staff = (await connection.scalars(select(m.id).where(m.school_id == school_id).order_by(m.id))).all()
        await connection.execute(
            update(STAFF_MEMBERS).where(m.id == staff[0]).values(effective_until=today - dt.timedelta(days=1))
        )
        link = (
            await connection.execute(
                select(gm.group_id, gm.staff_id).where(gm.staff_id.in_(staff[1:])).order_by(gm.staff_id)
            )
        ).first()
        assert link is not None
        await connection.execute(
            update(GROUP_STAFF)
            .where(gm.group_id == link.group_id, gm.staff_id == link.staff_id)
            .values(role="SUBSTITUTE", until=today - dt.timedelta(days=1))
        )
    graph = await _graph_view(app_client, partner, code)
    assert len(graph["students"]) == len(before["students"]) - 2, (
        "the graph hides the leaver and the newcomer"
    )
    assert len(graph["staff"]) == len(before["staff"]) - 1
    assert len(graph["enrollments"]) < len(before["enrollments"])
    gone = before["students"] - graph["students"]

    rest = await _rest_view(app_client, partner)
    exported = await _export_view(app_client, partner, code)

    assert rest == graph
    assert exported == graph
    for sourced_id in gone:
        assert (await _get(app_client, f"/users/{sourced_id}", partner)).status_code == 404
        assert (
            await _all(
                app_client, "/enrollments", partner, "enrollments", filter=f"user.sourcedId='{sourced_id}'"
            )
            == []
        )


async def test_classes_are_the_graphs_while_the_las_has_not_sent_this_years_file(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine, settings: Settings
) -> None:
    partner, (school_id, code) = partners.reader, partners.schools[0]
    last_year = previous_school_year(school_year_of(settings.now().date()))
    async with engine.begin() as connection:
        await connection.execute(
            insert(SCHOOL_YEARS).values(
                name=last_year, starts_on=first_day(last_year), ends_on=last_day(last_year)
            )
        )
        # The school's groups are last year's: its LAS has not sent this year's file yet (1 August passed).
        await connection.execute(
            update(GROUPS)
            .where(GROUPS.c.school_id == school_id)
            .values(school_year=last_year, effective_from=first_day(last_year))
        )
    graph = await _graph_view(app_client, partner, code)
    assert graph["classes"], "the graph keeps the last known groups"

    assert await _rest_view(app_client, partner) == graph
    assert await _export_view(app_client, partner, code) == graph


async def test_sorting_or_filtering_by_a_withheld_field_reveals_nothing_of_its_values(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner = partners.pseudonymous  # students' basics, no names
    unsorted = [u["sourcedId"] for u in await _all(app_client, "/students", partner, "users")]

    for order in ("asc", "desc"):
        by_name = await _all(app_client, "/students", partner, "users", sort="familyName", orderBy=order)
        assert [u["sourcedId"] for u in by_name] == unsorted, "the order of withheld names would tell them"
    for predicate in ("givenName>''", "givenName<'~'", "familyName!='x'", "givenName~''"):
        assert await _all(app_client, "/students", partner, "users", filter=predicate) == [], predicate
    page = await _get(app_client, "/students", partner, filter="givenName>''", limit=1)
    assert page.headers["X-Total-Count"] == "0", "nor does the count"


@pytest.mark.parametrize(
    "predicate",
    [
        "givenName='x'' OR ''1''=''1'",
        "givenName='x' OR 1=1",
        "givenName='x'; DROP TABLE students; --'",
        "givenName='x' OR givenName IS NOT NULL",
        "role='student') OR (1=1",
    ],
)
async def test_a_filter_that_tries_sql_is_refused_whole(
    app_client: httpx.AsyncClient, partners: World, predicate: str
) -> None:
    response = await _get(app_client, "/users", partners.reader, filter=predicate)

    assert response.status_code == 400, response.text
    assert response.json()["imsx_codeMajor"] == "failure"


async def test_sql_in_a_filters_value_is_only_a_value(app_client: httpx.AsyncClient, partners: World) -> None:
    partner = partners.reader
    everyone = await _all(app_client, "/users", partner, "users")

    for value in ("x; DROP TABLE students; --", "%", "_", "\\\\", 'x" OR "1"="1'):
        for op in ("=", "~", "!="):
            found = await _all(app_client, "/users", partner, "users", filter=f"givenName{op}'{value}'")
            expected = [
                u for u in everyone
                if (op == "=" and u["givenName"] == value)
                or (op == "~" and value.lower() in u["givenName"].lower())
                or (op == "!=" and u["givenName"] and u["givenName"] != value)
            ]  # fmt: skip
            assert [u["sourcedId"] for u in found] == [u["sourcedId"] for u in expected], (op, value)
    assert len(await _all(app_client, "/users", partner, "users")) == len(everyone)


async def test_extreme_pages_are_empty_or_refused_never_more_than_the_cap(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    partner = partners.reader
    total = len(await _all(app_client, "/users", partner, "users"))

    far = await _get(app_client, "/users", partner, offset=999_999_999)
    huge = await _get(app_client, "/users", partner, limit=999_999_999, offset=0)
    beyond = await _get(app_client, "/users", partner, offset=10**12)
    negative = await _get(app_client, "/users", partner, limit=-5)

    assert (far.status_code, far.json()["users"], far.headers["X-Total-Count"]) == (200, [], str(total))
    assert huge.status_code == 200
    assert len(huge.json()["users"]) == min(total, 1000)
    assert (beyond.status_code, negative.status_code) == (400, 400)


async def test_a_withdrawn_dpa_empties_every_collection_and_the_export(
    app_client: httpx.AsyncClient, partners: World, engine: AsyncEngine, settings: Settings
) -> None:
    partner, (school_id, code) = partners.reader, partners.schools[0]
    mine = (await _all(app_client, "/students", partner, "users"))[0]["sourcedId"]
    async with engine.connect() as connection:
        board = (
            await connection.execute(
                select(BOARDS.c.number)
                .join(SCHOOLS, SCHOOLS.c.board_id == BOARDS.c.id)
                .where(SCHOOLS.c.id == school_id)
            )
        ).scalar_one()
    await consent_lifecycle.withdraw_dpa_signature(engine, board_number=board, now=settings.now())

    for collection, key in (
        ("/orgs", "orgs"),
        ("/users", "users"),
        ("/classes", "classes"),
        ("/enrollments", "enrollments"),
    ):
        assert await _all(app_client, collection, partner, key) == [], collection
    assert (await _get(app_client, f"/users/{mine}", partner)).status_code == 404
    assert (await app_client.get(EXPORT.format(code=code), headers=partner.headers)).status_code == 404


async def test_answers_with_a_partners_data_are_never_kept_by_a_shared_cache(
    app_client: httpx.AsyncClient, partners: World
) -> None:
    # A CDN in front of the hub that keeps a GET by its URL would hand one partner's answer (children's
    # names) to whoever sends the same URL next: another partner, or nobody at all.
    partner = partners.reader
    code = partners.schools[0][1]
    students = "students(first: 5) { edges { node { firstName } } }"
    query = f"query($code: String!) {{ school(code: $code) {{ {students} }} }}"
    variables = json.dumps({"code": code})
    get = await app_client.get(
        "/graphql",
        params={"query": query, "variables": variables},
        headers={**partner.headers, "Accept": "application/json"},
    )
    post = await app_client.post(
        "/graphql", json={"query": query, "variables": {"code": code}}, headers=partner.headers
    )
    rest = await _get(app_client, "/students", partner)

    for response in (get, post, rest):
        assert response.status_code == 200, response.text
        directives = {part.strip() for part in response.headers.get("cache-control", "").split(",")}
        assert {"private", "no-store"} <= directives, response.request.url
        assert "authorization" in response.headers.get("vary", "").lower(), response.request.url
