"""The disclosure audit is written once per request: by the request pipeline's close, for a GraphQL request
over HTTP and for each poll cycle of a subscription, and also when a request's body fails.

HTTP goes through the real application; the subscription runs in process on the schema with the context
the WebSocket handler gives it (tests/e2e/test_subscriptions.py covers the socket itself).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from auth.categories import DataCategory
from auth.policy import operator_scope
from auth.tokens import PARTNER_TOKEN_LIFETIME, mint_token
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.access.signing_keys import load_keyset
from datasources.feed.signal import ChangeSignal
from datasources.store.tables import BOARDS, DISCLOSURES, SCHOOLS
from errors import Unauthenticated
from resolvers.accounts import register_partner
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema.assembly import build_schema
from schema.subscriptions import SubscriptionContext

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

GRANTED = [DataCategory.SCHOOL_BASIC, DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME]
#: Two schools with five students each: 2 x (1 + 5) records.
READ = """query Read { schools { edges { node { code
    students(first: 5) { edges { node { firstName } } } } } } }"""
FEED = (
    """subscription Feed { changes { cursor entityType node { __typename ... on Student { firstName } } } }"""
)
FEED_QUERY = "{ changes(first: 1000) { edges { node { entityType } } } }"


@dataclass(frozen=True)
class Partner:
    """A publisher with a consent at two schools, its viewer and a token."""

    id: int
    viewer: Viewer
    token: str
    school_ids: tuple[int, int]


@pytest.fixture
async def partner(engine: AsyncEngine, settings: Settings, world: SeedSummary) -> Partner:
    """A new publisher granted students' names at the first two schools whose board signed the DPA."""
    now = settings.now()
    credentials = await register_partner(
        engine, name="Uitgeverij Audit", kind="PUBLISHER", categories=GRANTED, eck_chain=False, now=now
    )
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(SCHOOLS.c.id)
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(BOARDS.c.dpa_signed_at.is_not(None))
            .order_by(SCHOOLS.c.id)
            .limit(2)
        )
        first, second = (row.id for row in rows)
    for school_id in (first, second):
        await consent_lifecycle.grant(
            engine,
            operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk")),
            school_id=school_id,
            partner_id=credentials.partner_id,
            categories=GRANTED,
            now=now,
        )
    token = mint_token(
        await load_keyset(engine, now=now),
        issuer=settings.issuer,
        subject=f"partner:{credentials.client_id}",
        scopes=["partner"],
        lifetime=PARTNER_TOKEN_LIFETIME,
        now=now,
    )
    viewer = Viewer(ViewerKind.PARTNER, credentials.client_id)
    return Partner(credentials.partner_id, viewer, token, (first, second))


async def _audit(engine: AsyncEngine, partner_id: int) -> list[tuple[int, str | None, int]]:
    """The partner's disclosure rows: (school, operation, records), in the order they were written."""
    d = DISCLOSURES.c
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(d.school_id, d.operation_name, d.records).where(d.partner_id == partner_id).order_by(d.id)
        )
        return [(row.school_id, row.operation_name, row.records) for row in rows]


async def _post(
    client: httpx.AsyncClient, query: str, token: str, operation_name: str | None = None
) -> dict[str, Any]:
    # The audit names the operation the request asked for in `operationName`.
    response = await client.post(
        "/graphql",
        json={"query": query, "operationName": operation_name},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def test_each_http_request_of_a_partner_is_audited_once_per_school_it_read(
    app_client: httpx.AsyncClient, engine: AsyncEngine, partner: Partner
) -> None:
    first, second = partner.school_ids

    body = await _post(app_client, READ, partner.token, "Read")
    assert len(body["data"]["schools"]["edges"]) == 2
    assert await _audit(engine, partner.id) == [(first, "Read", 6), (second, "Read", 6)]

    await _post(app_client, READ, partner.token, "Read")
    assert await _audit(engine, partner.id) == [(first, "Read", 6), (second, "Read", 6)] * 2


async def test_a_subscription_cycle_is_audited_once_per_school_when_it_closes(
    app_client: httpx.AsyncClient, engine: AsyncEngine, settings: Settings, partner: Partner
) -> None:
    first, second = partner.school_ids
    queried = await _post(app_client, FEED_QUERY, partner.token)
    # Nothing but the query's own school rows is audited yet: the feed lists entities, not their records.
    before = await _audit(engine, partner.id)
    expected = [edge["node"] for edge in queried["data"]["changes"]["edges"]]
    # Every event's node is a record handed to the partner: its schools and their students.
    assert {event["entityType"] for event in expected} == {"School", "Student"}
    assert 0 < len(expected) < 100, "the replay must fit in one poll cycle (CYCLE_EVENTS)"
    services = Services(settings, engine, Keys(engine, settings))
    signal = ChangeSignal(engine, settings)
    context = SubscriptionContext(services, partner.viewer, signal)
    stream = await build_schema(settings).subscribe(FEED, context_value=context, operation_name="Feed")
    assert not isinstance(stream, Exception), stream
    assert hasattr(stream, "__anext__"), stream
    try:
        events = [await anext(stream) for _ in expected]
        # The cycle is still open while its events are delivered: nothing is written before it closes.
        assert await _audit(engine, partner.id) == before
    finally:
        await stream.aclose()
        await signal.close()

    assert all(not event.errors for event in events)
    written = (await _audit(engine, partner.id))[len(before) :]
    assert sorted(school for school, _operation, _records in written) == [first, second]
    assert {operation for _school, operation, _records in written} == {"Feed"}
    assert sum(records for _school, _operation, records in written) == len(expected)
    assert context.cycle is None


async def test_a_request_whose_body_fails_still_records_its_disclosures_once_and_gives_back_its_connection(
    engine: AsyncEngine, settings: Settings, partner: Partner
) -> None:
    first, second = partner.school_ids
    services = Services(settings, engine, Keys(engine, settings))
    checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]

    async def read_then_fail() -> None:
        async with open_request(services, partner.viewer, operation_name="Broken") as context:
            assert context.scope.partner_id == partner.id
            await context.reader.rows(select(SCHOOLS.c.id).limit(1))  # holds a connection
            context.reader.disclose([first, first, second])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        await read_then_fail()

    assert engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
    assert await _audit(engine, partner.id) == [(first, "Broken", 2), (second, "Broken", 1)]


async def test_a_request_of_a_partner_that_no_longer_exists_is_refused_as_it_opens(
    engine: AsyncEngine, settings: Settings, world: SeedSummary
) -> None:
    services = Services(settings, engine, Keys(engine, settings))
    checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]

    async def open_for_a_removed_partner() -> None:
        async with open_request(services, Viewer(ViewerKind.PARTNER, "gone"), now=dt.datetime.now(dt.UTC)):
            pytest.fail("a context was opened for a partner that does not exist")

    with pytest.raises(Unauthenticated, match="partner is not registered"):
        await open_for_a_removed_partner()

    assert engine.pool.checkedout() == checked_out  # type: ignore[attr-defined]
