"""Mergers and splits over real HTTP: a running server (uvicorn in its own process), the operator's
mutations with a real token, and two partners reading with their own tokens before and after; the
`school` commands as a program, with their exit codes."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select, update

from auth.categories import DataCategory
from auth.policy import operator_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.store.tables import BOARDS, SCHOOLS
from tests.e2e.conftest import run_cli
from tests.e2e.test_server import database_url, server  # noqa: F401 - the fixtures this module uses

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings
    from tests.e2e.test_server import RunningServer

PEOPLE = (
    "{ schools(first: 10) { edges { node { code"
    " students(first: 100) { edges { node { id pseudonym } } }"
    " staff(first: 100) { edges { node { id pseudonym } } } } } } }"
)
NODE = (
    "query($id: ID!) { node(id: $id) { id ... on Student { pseudonym } ... on StaffMember { pseudonym } } }"
)
FEED = (
    "query($after: String) { changes(after: $after, first: 1000) { edges { node { kind entityType entityId"
    " schoolCode } } pageInfo { endCursor } } }"
)


@pytest.fixture
def hub(server: RunningServer) -> RunningServer:  # noqa: F811 - the fixture imported above
    """The running server (test_server's fixture, on the seeded SQLite database)."""
    return server


def _graphql(hub: RunningServer, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    with httpx.Client(base_url=hub.base_url, trust_env=False, timeout=30.0) as client:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def _partner(hub: RunningServer, operator: str, name: str) -> tuple[int, str, str]:
    """A partner registered over HTTP: (row id, its global id, a token from the token endpoint)."""
    created = _graphql(
        hub,
        operator,
        "mutation($name: String!, $categories: [DataCategory!]!) { createPartner(name: $name, kind:"
        " PUBLISHER, declaredCategories: $categories) { partner { id } clientId clientSecret } }",
        {"name": name, "categories": [category.name for category in DataCategory]},
    )["createPartner"]
    basic = base64.b64encode(f"{created['clientId']}:{created['clientSecret']}".encode()).decode()
    with httpx.Client(base_url=hub.base_url, trust_env=False, timeout=30.0) as client:
        response = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
    assert response.status_code == 200, response.text
    global_id = created["partner"]["id"]
    row_id = int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1])
    return row_id, global_id, response.json()["access_token"]


def _people(hub: RunningServer, token: str) -> dict[str, tuple[str, str]]:
    """id → (pseudonym, school code) of every student and staff member the partner reads."""
    found = {}
    for edge in _graphql(hub, token, PEOPLE)["schools"]["edges"]:
        school = edge["node"]
        for connection in ("students", "staff"):
            for item in school[connection]["edges"]:
                found[item["node"]["id"]] = (item["node"]["pseudonym"], school["code"])
    return found


def _feed(hub: RunningServer, token: str, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
    page = _graphql(hub, token, FEED, {"after": after})["changes"]
    return [edge["node"] for edge in page["edges"]], page["pageInfo"]["endCursor"]


async def _setup(engine: AsyncEngine, settings: Settings, partners: list[int]) -> list[tuple[int, str]]:
    """The seeded schools, their boards' DPA signed, each with consent (everything) for the partners."""
    async with engine.begin() as connection:
        await connection.execute(
            update(BOARDS).values(dpa_signed_at=settings.now(), dpa_signed_by="Directeur")
        )
        schools = [
            (row.id, row.code)
            for row in await connection.execute(
                select(SCHOOLS.c.id, SCHOOLS.c.code).where(SCHOOLS.c.active).order_by(SCHOOLS.c.code)
            )
        ]
    for school_id, _ in schools:
        for partner_id in partners:
            await consent_lifecycle.grant(
                engine,
                operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")),
                school_id=school_id,
                partner_id=partner_id,
                categories=frozenset(DataCategory),
                now=settings.now(),
                require_dpa=settings.dpa_required,
            )
    return schools


async def test_a_merger_and_a_split_over_http_keep_each_partners_ids_and_pseudonyms(
    hub: RunningServer, engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    operator = hub.cli("token", "operator")
    first_id, first_global, first = _partner(hub, operator, "Uitgeverij Een")
    second_id, _, second = _partner(hub, operator, "Uitgeverij Twee")
    schools = await _setup(engine, settings, [first_id, second_id])
    (_, a), (_, b), (_, c) = schools[:3]
    before = {token: _people(hub, token) for token in (first, second)}
    assert {code for _, code in before[first].values()} >= {a, b}

    report = _graphql(
        hub,
        operator,
        "mutation($s: [String!]!, $t: String!) { mergeSchools(sourceCodes: $s, targetCode: $t) {"
        " operation counts { kind count } consents { schoolCode outcome } } }",
        {"s": [a], "t": b},
    )["mergeSchools"]
    assert report["operation"] == "MERGE"

    for token in (first, second):
        after = _people(hub, token)
        assert {key: pseudonym for key, (pseudonym, _) in after.items()} == {
            key: pseudonym for key, (pseudonym, _) in before[token].items()
        }
        assert a not in {code for _, code in after.values()}
        moved = [key for key, (_, code) in before[token].items() if code == a]
        assert moved
        for key in moved:
            node = _graphql(hub, token, NODE, {"id": key})["node"]
            assert (node["id"], node["pseudonym"]) == (key, before[token][key][0])

    # A split of the merged school: one group moves to C, and only the first partner's consent is copied.
    _, second_cursor = _feed(hub, second, None)
    groups = _graphql(
        hub,
        operator,
        "query($c: String!) { school(code: $c) { groups(first: 100) { edges { node { id"
        " students(first: 100) { edges { node { id } } } } } } } }",
        {"c": b},
    )["school"]["groups"]["edges"]
    chosen = next(edge["node"]["id"] for edge in groups if edge["node"]["students"]["edges"])
    # C drops its consent of the second partner first, so only the copy decides what it reads there.
    await consent_lifecycle.revoke(
        engine, operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")), school_id=schools[2][0],
        partner_id=second_id, now=settings.now(), require_dpa=settings.dpa_required,
    )  # fmt: skip
    await consent_lifecycle.revoke(
        engine, operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")), school_id=schools[2][0],
        partner_id=first_id, now=settings.now(), require_dpa=settings.dpa_required,
    )  # fmt: skip
    _, second_cursor = _feed(hub, second, second_cursor)
    before_split = {token: _people(hub, token) for token in (first, second)}
    split = _graphql(
        hub,
        operator,
        "mutation($s: String!, $t: String!, $g: [ID!]!, $p: [ID!]) { splitSchool(sourceCode: $s, targetCode:"
        " $t, groupIds: $g, copyConsentsOf: $p) { counts { kind count } consents { schoolCode outcome } } }",
        {"s": b, "t": c, "g": [chosen], "p": [first_global]},
    )["splitSchool"]
    moved_students = {item["kind"]: item["count"] for item in split["counts"]}["students"]
    assert moved_students > 0
    after_first = _people(hub, first)
    moved_here = {
        key
        for key, (_, code) in after_first.items()
        if code == c and before_split[first].get(key, ("", ""))[1] == b
    }
    assert len(moved_here) >= moved_students
    for key in moved_here:
        assert before_split[first][key][0] == after_first[key][0], "the same id and pseudonym at C"
    events, _ = _feed(hub, second, second_cursor)
    left = {
        event["entityId"]
        for event in events
        if event["kind"] == "LEFT_SCOPE" and event["entityType"] == "Student"
    }
    assert len(left) == moved_students
    assert left <= set(before_split[second])
    assert not left & set(_people(hub, second))


async def test_the_school_commands_print_their_report_and_refuse_with_exit_code_2(
    hub: RunningServer, engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    async with engine.connect() as connection:
        codes = list(await connection.scalars(select(SCHOOLS.c.code).order_by(SCHOOLS.c.code)))
    dry = json.loads(hub.cli("school", "merge", codes[0], "--into", codes[1], "--dry-run"))
    assert (dry["operation"], dry["dry_run"], dry["school_codes"]) == ("MERGE", True, [codes[0], codes[1]])
    assert dry["counts"]["students"] > 0

    refused = run_cli(
        "school", "merge", codes[0], "--into", codes[0], environment=hub.environment, cwd=hub.folder
    )
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.strip() == f"error: cannot merge {codes[0]} into itself"

    merged = json.loads(hub.cli("school", "merge", codes[0], "--into", codes[1]))
    assert merged["dry_run"] is False
    assert merged["counts"] == dry["counts"]
    finished = json.loads(hub.cli("school", "finish", codes[1]))
    assert finished["operation"] == "FINISH"
    closed = json.loads(hub.cli("school", "close", codes[2]))
    assert closed["operation"] == "CLOSE"
    again = run_cli("school", "close", codes[2], environment=hub.environment, cwd=hub.folder)
    assert (again.returncode, again.stderr.strip()) == (2, f"error: {codes[2]} is closed already")
    assert json.loads(hub.cli("school", "purge-closed")) == {"purged": []}, "not before the retention period"
