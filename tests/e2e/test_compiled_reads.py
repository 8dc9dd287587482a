"""The compiled read path over HTTP: a partner's full sync (the documents of `bench/graph.py`) answered by
the application with the compiled path on and off gives the same bytes and the same disclosure rows, and
a request it refuses (another partner's cursor, a forged one) gives the same error on both."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

import resolvers.schools
from datasources.store.tables import DISCLOSURES
from server import create_app
from tests.e2e.test_disclosures import partner  # noqa: F401 - `partner` is a fixture

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.e2e.test_disclosures import Partner

SYNC = (
    "query Sync($after: String, $inner: String) { schools(first: 4, after: $after) { edges { node { code"
    " students(first: 7, after: $inner) { edges { cursor node { id pseudonym firstName prefix lastName"
    " yearLevel mainGroup { name } } } pageInfo { hasNextPage endCursor } } } } pageInfo { hasNextPage"
    " endCursor } } }"
)
MORE = (
    "query More($code: String!, $inner: String) { school(code: $code) { students(first: 7, after: $inner)"
    " { edges { node { id pseudonym firstName lastName } } pageInfo { hasNextPage endCursor } } } }"
)


@pytest.fixture
async def general_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same application with the compiled read path off: the general executor answers everything."""
    app = create_app(settings.model_copy(update={"compiled_reads": False}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


async def _rows(engine: AsyncEngine, partner_id: int) -> list[tuple[int, str | None, int, list[str]]]:
    d = DISCLOSURES.c
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(d.school_id, d.operation_name, d.records, d.categories)
            .where(d.partner_id == partner_id)
            .order_by(d.id)
        )
        return [(row.school_id, row.operation_name, row.records, list(row.categories)) for row in rows]


async def test_a_full_sync_is_the_same_on_both_paths(
    app_client: httpx.AsyncClient,
    general_client: httpx.AsyncClient,
    engine: AsyncEngine,
    partner: Partner,  # noqa: F811 - the fixture imported above
) -> None:
    headers = {"Authorization": f"Bearer {partner.token}"}

    async def both(query: str, variables: dict[str, str | None], name: str) -> bytes:
        request = {"query": query, "variables": variables, "operationName": name}
        before = len(await _rows(engine, partner.id))
        fast = await app_client.post("/graphql", json=request, headers=headers)
        fast_rows = (await _rows(engine, partner.id))[before:]
        general = await general_client.post("/graphql", json=request, headers=headers)
        general_rows = (await _rows(engine, partner.id))[before + len(fast_rows) :]
        assert (fast.status_code, fast.content) == (general.status_code, general.content)
        assert fast_rows == general_rows
        return fast.content

    first = httpx.Response(200, content=await both(SYNC, {}, "Sync")).json()
    edges = first["data"]["schools"]["edges"]
    assert [edge["node"]["code"] for edge in edges]  # the partner sees its two schools
    for edge in edges:
        inner = edge["node"]["students"]["pageInfo"]["endCursor"]
        await both(MORE, {"code": edge["node"]["code"], "inner": inner}, "More")
        await both(SYNC, {"inner": inner}, "Sync")
    forged = httpx.Response(200, content=await both(SYNC, {"after": "forged"}, "Sync")).json()
    assert forged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    operator_cursor = "YzE6MQ"  # the hub's own readable cursor of key 1, as the operator gets it
    refused = httpx.Response(200, content=await both(SYNC, {"inner": operator_cursor}, "Sync")).json()
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_outage_during_a_compiled_read_answers_503_at_once_without_reading_again(
    app_client: httpx.AsyncClient,
    partner: Partner,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = 0

    async def gone(*_args: object) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionResetError("the database went away")  # what the driver raises: an outage

    monkeypatch.setattr(resolvers.schools, "schools_page", gone)
    response = await app_client.post(
        "/graphql",
        json={"query": SYNC, "variables": {}, "operationName": "Sync"},
        headers={"Authorization": f"Bearer {partner.token}"},
    )

    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    # The general path would only have met the same outage: it is not asked to read again.
    assert attempts == 1
