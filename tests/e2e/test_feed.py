"""The change feed end to end: real tokens over HTTP on the real application, a LAS pushing imports, a
coordinator granting, narrowing and revoking, and the hub's clock moved from outside (LEERPOORT_NOW)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from datasources.school_files.edexml_writer import write_edexml
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.tables import SCHOOLS
from resolvers import admin
from server import create_app

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

PASSWORD = "a-long-coordinator-password"
FEED = """query($after: String) { changes(after: $after, first: 1000) {
    edges { node { cursor kind entityType entityId schoolCode lostCategories
        node { __typename ... on Student { id firstName yearLevel } ... on Group { id name schoolYear }
               ... on School { id grantedCategories } } } }
    pageInfo { hasNextPage endCursor } } }"""


def roster(code: str, year: str = "2026-2027", *, first_name: str = "Sem", students: int = 4) -> SchoolFile:
    """A school file: two groups, `students` students, one teacher."""
    groups = (
        ImportedGroup("A", "Groep 3a", "3", composite=False),
        ImportedGroup("B", "Groep 4a", "4", False),
    )
    people = tuple(
        ImportedStudent(
            key=f"S{index}",
            eck_id=None,
            first_name=f"{first_name}{index}",
            prefix=None,
            last_name="Visser",
            initials="S",
            date_of_birth=dt.date(2019, 3, 1) + dt.timedelta(days=index),
            year_level="3" if index % 2 else "4",
            main_group="A" if index % 2 else "B",
            composite_groups=(),
        )
        for index in range(students)
    )
    staff = (ImportedStaff("M1", None, "Els", None, "Kok", "els@school.example", ("LRK",), ("A", "B")),)
    return SchoolFile(code[:4], code[4:], year, None, groups, people, staff, source="test")


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, token: str
) -> dict[str, Any]:
    """A GraphQL request with a bearer token; the JSON body."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    """An access token from the token endpoint (client credentials, HTTP Basic)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class Hub:
    """The people around one school, each with a real token: operator, LAS, coordinator and a partner."""

    def __init__(
        self, client: httpx.AsyncClient, code: str, tokens: dict[str, str], partner: dict[str, Any]
    ) -> None:
        self.client, self.code, self.tokens = client, code, tokens
        #: The partner's id and client credentials, as `createPartner` returned them.
        self.partner = partner
        self.partner_id: str = partner["partner"]["id"]

    async def push(self, school: SchoolFile) -> None:
        """The LAS pushes a school file (removals confirmed)."""
        response = await self.client.post(
            "/las/edex",
            content=write_edexml(school),
            params={"confirm": "true"},
            headers={"Authorization": f"Bearer {self.tokens['las']}", "Content-Type": "application/xml"},
        )
        assert response.status_code == 200, response.text

    async def grant(self, *categories: str) -> None:
        """The coordinator grants exactly these categories."""
        granted = await graphql(
            self.client,
            """mutation($code: String!, $partner: ID!, $categories: [DataCategory!]!) { grantConsent(
                schoolCode: $code, partnerId: $partner, categories: $categories) { categories } }""",
            {"code": self.code, "partner": self.partner_id, "categories": list(categories)},
            token=self.tokens["coordinator"],
        )
        assert "errors" not in granted, granted

    async def revoke(self) -> None:
        """The coordinator revokes the consent."""
        revoked = await graphql(
            self.client,
            """mutation($code: String!, $partner: ID!) {
                revokeConsent(schoolCode: $code, partnerId: $partner) { revokedAt } }""",
            {"code": self.code, "partner": self.partner_id},
            token=self.tokens["coordinator"],
        )
        assert "errors" not in revoked, revoked

    async def feed(
        self, after: str | None = None, *, client: httpx.AsyncClient | None = None, token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The partner's events after a cursor, and the end cursor."""
        body = await graphql(
            client or self.client, FEED, {"after": after}, token=token or self.tokens["partner"]
        )
        assert "errors" not in body, body
        page = body["data"]["changes"]
        assert page["pageInfo"]["hasNextPage"] is False
        return [edge["node"] for edge in page["edges"]], page["pageInfo"]["endCursor"]


async def _hub(
    client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, operator_token: str
) -> Hub:
    async with engine.connect() as connection:
        code = str(
            (await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))).scalar_one()
        )
    board = await graphql(
        client,
        "query($c: String!) { school(code: $c) { board { number } } }",
        {"c": code},
        token=operator_token,
    )
    signed = await graphql(
        client,
        """mutation($board: String!) { recordDpaSignature(boardNumber: $board, signedBy: "J. de Wit",
            chamberOfCommerceNumber: "12345678", version: "2026") { number } }""",
        {"board": board["data"]["school"]["board"]["number"]},
        token=operator_token,
    )
    assert "errors" not in signed, signed
    las = await admin.create_las_client(settings, "ParnasSys", [code])
    created_body = await graphql(
        client,
        """mutation { createPartner(name: "Uitgeverij Feed", kind: PUBLISHER,
            declaredCategories: [STUDENT_BASIC, STUDENT_NAME, GROUP_BASIC]) {
            partner { id } clientId clientSecret } }""",
        token=operator_token,
    )
    created = created_body["data"]["createPartner"]
    await admin.add_school_coordinator(settings, code, "ict@feed.example", PASSWORD)
    signed_in = await client.post(
        "/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { token } }",
            "variables": {"e": "ict@feed.example", "p": PASSWORD},
        },
    )
    tokens = {
        "operator": operator_token,
        "las": await client_token(client, las["client_id"], las["client_secret"]),
        "partner": await client_token(client, created["clientId"], created["clientSecret"]),
        "coordinator": signed_in.json()["data"]["signIn"]["token"],
    }
    hub = Hub(client, code, tokens, created)
    await hub.push(roster(code))
    return hub


async def test_a_partner_follows_a_school_through_grant_import_narrowing_and_revoke(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    assert (await hub.feed())[0] == []  # no consent, no feed

    await hub.grant("STUDENT_BASIC", "GROUP_BASIC")
    events, cursor = await hub.feed()
    assert [(e["kind"], e["entityType"]) for e in events] == [("ENTERED_SCOPE", "School")] + [
        ("ENTERED_SCOPE", "Group")
    ] * 2 + [("ENTERED_SCOPE", "Student")] * 4
    students = await graphql(
        app_client,
        "query($c: String!) { school(code: $c) { students { edges { node { id } } } } }",
        {"c": hub.code},
        token=hub.tokens["partner"],
    )
    assert {edge["node"]["id"] for edge in students["data"]["school"]["students"]["edges"]} == {
        e["entityId"] for e in events if e["entityType"] == "Student"
    }

    # New first names are not granted: not in the feed. A student who leaves is.
    await hub.push(roster(hub.code, first_name="Noor"))
    assert (await hub.feed(cursor))[0] == []
    await hub.push(roster(hub.code, first_name="Noor", students=3))
    events, cursor = await hub.feed(cursor)
    assert [(e["kind"], e["entityType"]) for e in events] == [("DELETED", "Student")]

    await hub.grant("STUDENT_BASIC")
    events, cursor = await hub.feed(cursor)
    assert [(e["kind"], e["entityType"], e["lostCategories"]) for e in events] == [
        ("LEFT_SCOPE", "School", ["GROUP_BASIC"]),
        ("UPDATED", "School", []),
        ("LEFT_SCOPE", "Group", ["GROUP_BASIC"]),
        ("LEFT_SCOPE", "Group", ["GROUP_BASIC"]),
        # The students stay, but their main group and groups no longer show: their new state.
        ("UPDATED", "Student", []),
        ("UPDATED", "Student", []),
        ("UPDATED", "Student", []),
    ]
    assert events[1]["node"]["grantedCategories"] == ["SCHOOL_BASIC", "STUDENT_BASIC"]
    assert {event["node"]["__typename"] for event in events[4:]} == {"Student"}

    await hub.revoke()
    events, cursor = await hub.feed(cursor)
    assert [(e["kind"], e["entityType"]) for e in events] == [("LEFT_SCOPE", "School")] + [
        ("LEFT_SCOPE", "Student")
    ] * 3
    await hub.push(roster(hub.code, students=6))
    assert (await hub.feed(cursor))[0] == []  # nothing more of that school

    acknowledged = await graphql(
        app_client,
        "mutation($c: String!) { acknowledgeDeletion(schoolCode: $c) { throughCursor } }",
        {"c": hub.code},
        token=hub.tokens["partner"],
    )
    assert acknowledged["data"]["acknowledgeDeletion"]["throughCursor"] == events[-1]["cursor"]
    confirmations = await graphql(
        app_client,
        """query($c: String!) { school(code: $c) { deletionConfirmations {
            partner { name } confirmed } } }""",
        {"c": hub.code},
        token=hub.tokens["coordinator"],
    )
    assert confirmations["data"]["school"]["deletionConfirmations"] == [
        {"partner": {"name": "Uitgeverij Feed"}, "confirmed": True}
    ]


async def test_a_malformed_cursor_is_bad_user_input_over_http(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    body = await graphql(app_client, FEED, {"after": "bm9wZQ"}, token=hub.tokens["partner"])
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]


@contextlib.asynccontextmanager
async def app_at(settings: Settings, now: dt.datetime) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the application on the test's database with the hub's clock set from outside."""
    app = create_app(settings.model_copy(update={"now_override": now}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


async def test_next_years_groups_reach_the_feed_on_their_effective_date_and_not_before(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    await hub.grant("STUDENT_BASIC", "GROUP_BASIC")
    _, cursor = await hub.feed()
    await hub.push(roster(hub.code, "2027-2028"))
    assert (await hub.feed(cursor))[0] == []
    for moment, expected in (
        (dt.datetime(2027, 7, 31, 23, 0, tzinfo=dt.UTC), []),
        (
            dt.datetime(2027, 8, 1, 6, 0, tzinfo=dt.UTC),
            [("DELETED", "Group")] * 2 + [("UPDATED", "Student")] * 4 + [("CREATED", "Group")] * 2,
        ),
    ):
        async with app_at(settings, moment) as client:
            # A token minted on that clock, as a partner's integration test against the sandbox gets one.
            token = await client_token(client, hub.partner["clientId"], hub.partner["clientSecret"])
            events, cursor = await hub.feed(cursor, client=client, token=token)
            assert sorted((e["kind"], e["entityType"]) for e in events) == sorted(expected)
    created = [e["node"] for e in events if e["kind"] == "CREATED"]
    assert {(node["name"], node["schoolYear"]) for node in created} == {
        ("Groep 3a", "2027-2028"),
        ("Groep 4a", "2027-2028"),
    }


async def test_pruning_past_the_retention_period_sends_an_old_cursor_to_resync(
    app_client: httpx.AsyncClient,
    world: SeedSummary,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
) -> None:
    hub = await _hub(app_client, engine, settings, operator_token)
    await hub.grant("STUDENT_BASIC")
    events, cursor = await hub.feed()
    assert events
    kept = await admin.prune_feed(settings)
    assert kept["pruned"] == 0  # nothing is 90 days old yet
    later = settings.model_copy(update={"now_override": settings.now() + dt.timedelta(days=91)})
    pruned = await admin.prune_feed(later)
    assert pruned["pruned"] >= len(events)
    assert pruned["retention_days"] == 90
    body = await graphql(app_client, FEED, {"after": events[0]["cursor"]}, token=hub.tokens["partner"])
    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]
    assert "resync" in body["errors"][0]["message"]
    # The cursor of the newest event is still good: nothing was lost after it.
    assert (await hub.feed(cursor))[0] == []
    assert (await admin.prune_feed(settings, days=1))["pruned"] == 0
