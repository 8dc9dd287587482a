"""Subscriptions over a real WebSocket: the server as its own uvicorn process, changes made by this one.

A partner subscribes to `changes` over `graphql-transport-ws` at `WS /graphql`; this test process writes
to the same database as another program would (an import, a consent decision) and watches what arrives:
exactly the query's events, within a second of the commit, nothing outside the partner's grants, and
after a revoke the LEFT_SCOPE events and then nothing more of that school. Tokens are refused with 4401
at `connection_init` and close the connection with 4401 when they expire. Both engines.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from auth.categories import DataCategory
from auth.identifiers import PartnerIdentifiers
from auth.policy import operator_scope
from auth.tokens import PARTNER_TOKEN_LIFETIME, mint_token
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle, persisted_operations
from datasources.access.signing_keys import load_keyset
from datasources.feed import events, recording
from datasources.store.tables import BOARDS, DISCLOSURES, SCHOOLS, STUDENTS
from resolvers.accounts import register_partner
from tests.e2e.conftest import process_environment

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from settings import Settings

STARTUP_TIMEOUT_SECONDS = 30.0
#: The promise: a committed change reaches a subscriber within this time.
DELIVERY_SECONDS = 1.0
#: How long a test waits for a message it expects before it fails (never for one it must not get). Generous:
#: on a loaded two-core machine (two test workers, each with its own hub process) ten seconds were once
#: not enough for a completed subscription's place to come back.
PATIENCE_SECONDS = 20.0
PROTOCOL = Subprotocol("graphql-transport-ws")
GRANTED = [DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME]
SUBSCRIPTION = """subscription Feed($after: String) { changes(after: $after) {
    cursor kind entityType entityId schoolCode lostCategories
    node { __typename ... on Student { firstName } } } }"""
FEED_QUERY = """query($after: String) { changes(after: $after, first: 1000) {
    edges { node { cursor kind entityType entityId schoolCode } } pageInfo { endCursor hasNextPage } } }"""


@dataclass(frozen=True)
class Server:
    """The hub served by uvicorn on a free loopback port."""

    base_url: str
    ws_url: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def server(world: SeedSummary, settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """`uvicorn server:create_app --factory` on the seeded database; stopped afterwards."""
    port = _free_port()
    log = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "server:create_app", "--factory"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=process_environment(settings),
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{base_url}/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not become healthy:\n{log.read_text()}")
                time.sleep(0.1)
        yield Server(base_url, f"ws://127.0.0.1:{port}/graphql")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the world: a partner with consent at two schools --------------------------------------------------


@dataclass(frozen=True)
class Partner:
    """A registered partner, its token, and two schools that granted it students' names."""

    id: int
    client_id: str
    token: str
    schools: tuple[tuple[int, str], ...]


async def _signed_schools(engine: AsyncEngine) -> list[tuple[int, str]]:
    """(id, code) of schools whose board signed the data processing agreement (partners may read them)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(SCHOOLS.c.id, SCHOOLS.c.code)
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(BOARDS.c.dpa_signed_at.is_not(None))
            .order_by(SCHOOLS.c.id)
        )
        return [(row[0], row[1]) for row in rows]


async def _partner_token(
    engine: AsyncEngine, settings: Settings, client_id: str, lifetime: dt.timedelta
) -> str:
    keyset = await load_keyset(engine, now=settings.now())
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=f"partner:{client_id}",
        scopes=["partner"],
        lifetime=lifetime,
        now=dt.datetime.now(dt.UTC),
    )


_OPERATOR = operator_scope(Viewer(ViewerKind.OPERATOR, "helpdesk"))


@pytest.fixture
async def partner(engine: AsyncEngine, settings: Settings, world: SeedSummary) -> Partner:
    """A new publisher whose consent at two schools covers students and their names."""
    credentials = await register_partner(
        engine,
        name="Uitgeverij Live",
        kind="PUBLISHER",
        categories=GRANTED,
        eck_chain=False,
        now=settings.now(),
    )
    schools = (await _signed_schools(engine))[:2]
    assert len(schools) == 2, "the seeded world needs two schools of boards that signed the DPA"
    for school_id, _code in schools:
        await consent_lifecycle.grant(
            engine,
            _OPERATOR,
            school_id=school_id,
            partner_id=credentials.partner_id,
            # As `grantable` stores a grant: the school's own basic data comes with any consent.
            categories=[DataCategory.SCHOOL_BASIC, *GRANTED],
            now=settings.now(),
        )
    token = await _partner_token(engine, settings, credentials.client_id, PARTNER_TOKEN_LIFETIME)
    return Partner(credentials.partner_id, credentials.client_id, token, tuple(schools))


async def _students(engine: AsyncEngine, school_id: int) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(STUDENTS.c.id).where(STUDENTS.c.school_id == school_id).order_by(STUDENTS.c.id)
        )
        return [row[0] for row in rows]


async def _record(engine: AsyncEngine, *entries: events.ChangeEntry) -> float:
    """Record changes in their own transaction, as an import does; the monotonic time of the commit."""
    async with engine.begin() as connection:
        await recording.record(connection, entries, dt.datetime.now(dt.UTC))
    return time.monotonic()


def _renamed(school_id: int, student_id: int, category: str = "STUDENT_NAME") -> events.ChangeEntry:
    return events.ChangeEntry(school_id, "Student", student_id, events.UPDATED, (category,))


async def _disclosed(engine: AsyncEngine, partner_id: int, operation_name: str) -> set[int]:
    """The schools of the partner's disclosure rows for an operation; waits briefly, as the server writes
    them when a poll cycle ends."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(DISCLOSURES.c.school_id).where(
                    DISCLOSURES.c.partner_id == partner_id, DISCLOSURES.c.operation_name == operation_name
                )
            )
            schools = {row[0] for row in rows}
        if schools or time.monotonic() > deadline:
            return schools
        await asyncio.sleep(0.1)


# --- the client side ------------------------------------------------------------------------------------


async def _receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(PATIENCE_SECONDS):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def _send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


@contextlib.asynccontextmanager
async def _socket(server: Server) -> AsyncIterator[ClientConnection]:
    # No cap on the client's queue of unread messages: with one (websockets' default is 16), a test that
    # reads one event of a replayed backlog and leaves makes the library stop reading the socket, so it
    # never sees the server's reply to its close frame and waits out its 10 s close timeout.
    async with connect(
        server.ws_url, subprotocols=[PROTOCOL], proxy=None, open_timeout=10, max_queue=None
    ) as ws:
        yield ws


@contextlib.asynccontextmanager
async def _connection(server: Server, token: str) -> AsyncIterator[ClientConnection]:
    """A connection acknowledged for `token`."""
    async with _socket(server) as ws:
        await _send(ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        assert await _receive(ws) == {"type": "connection_ack"}
        yield ws


async def _subscribe(
    ws: ClientConnection, operation_id: str, after: str | None = None, query: str = SUBSCRIPTION
) -> None:
    payload = {"query": query, "variables": {"after": after}}
    await _send(ws, {"id": operation_id, "type": "subscribe", "payload": payload})


async def _events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next `count` events of subscription "1"."""
    found = []
    for _ in range(count):
        message = await _receive(ws)
        assert (message["type"], message["id"]) == ("next", "1"), message
        assert "errors" not in message["payload"], message
        found.append(message["payload"]["data"]["changes"])
    return found


async def _events_until(ws: ClientConnection, school_code: str) -> list[dict[str, Any]]:
    """Events of subscription "1" up to and including the first one of `school_code` (a sentinel)."""
    found: list[dict[str, Any]] = []
    while not found or found[-1]["schoolCode"] != school_code:
        found += await _events(ws, 1)
    return found


async def _close_code(ws: ClientConnection) -> int | None:
    """The code the server closed the connection with (messages before it are skipped)."""
    async with asyncio.timeout(PATIENCE_SECONDS):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code


async def _feed(server: Server, token: str, after: str | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False, timeout=10.0) as client:
        response = await client.post(
            "/graphql",
            json={"query": FEED_QUERY, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    feed: dict[str, Any] = body["data"]["changes"]
    return feed


# --- delivery -------------------------------------------------------------------------------------------


async def test_a_subscription_replays_what_the_query_returns_then_delivers_a_new_change_within_a_second(
    server: Server, partner: Partner, engine: AsyncEngine
) -> None:
    (school_id, school_code), (other_id, _other_code) = partner.schools
    queried = await _feed(server, partner.token)
    expected = [edge["node"] for edge in queried["edges"]]
    assert not queried["pageInfo"]["hasNextPage"]
    assert {event["kind"] for event in expected} == {"ENTERED_SCOPE"}
    student = (await _students(engine, school_id))[0]
    not_consented = next(
        school for school, _code in await _signed_schools(engine) if school not in {school_id, other_id}
    )

    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "1")
        replayed = await _events(ws, len(expected))
        # Written by another program: a rename at a school without consent, a change of a category the
        # partner was not granted, then a rename it may see.
        unconsented_student = (await _students(engine, not_consented))[0]
        await _record(engine, _renamed(not_consented, unconsented_student))
        await _record(engine, _renamed(school_id, student, "STUDENT_DEMOGRAPHICS"))
        committed = await _record(engine, _renamed(school_id, student))
        [live] = await _events(ws, 1)
        delay = time.monotonic() - committed

    assert [{key: event[key] for key in expected[0]} for event in replayed] == expected
    assert live["kind"] == "UPDATED"
    assert live["entityType"] == "Student"
    assert live["schoolCode"] == school_code
    assert live["node"]["__typename"] == "Student"
    assert live["node"]["firstName"]
    assert delay < DELIVERY_SECONDS, f"delivered {delay:.3f} s after the commit"
    # The subscription delivered the same event the query now lists after the replay, and only that one.
    after_replay = await _feed(server, partner.token, queried["pageInfo"]["endCursor"])
    assert [edge["node"]["cursor"] for edge in after_replay["edges"]] == [live["cursor"]]
    # What the subscription disclosed (the students' names in each `node`) is in the audit trail.
    assert await _disclosed(engine, partner.id, "Feed") == {school_id, other_id}


async def test_a_narrowed_grant_stops_events_of_the_categories_it_took_away_at_once(
    server: Server, partner: Partner, engine: AsyncEngine, settings: Settings
) -> None:
    (school_id, school_code), (other_id, other_code) = partner.schools
    end = (await _feed(server, partner.token))["pageInfo"]["endCursor"]
    students = await _students(engine, school_id)

    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "1", after=end)
        await consent_lifecycle.grant(
            engine,
            _OPERATOR,
            school_id=school_id,
            partner_id=partner.id,
            categories=[DataCategory.SCHOOL_BASIC, DataCategory.STUDENT_BASIC],
            now=settings.now(),
        )
        # Names are no longer granted at the first school: its rename must not arrive, the other's must.
        await _record(engine, _renamed(school_id, students[0]))
        await _record(engine, _renamed(other_id, (await _students(engine, other_id))[0]))
        *narrowed, sentinel = await _events_until(ws, other_code)

    narrowed_students = [event for event in narrowed if event["entityType"] == "Student"]
    assert {event["schoolCode"] for event in narrowed} == {school_code}
    assert [event["kind"] for event in narrowed_students] == ["LEFT_SCOPE"] * len(students)
    assert all(event["lostCategories"] == ["STUDENT_NAME"] for event in narrowed_students)
    assert (sentinel["kind"], sentinel["entityType"]) == ("UPDATED", "Student")


async def test_a_revoke_delivers_its_left_scope_events_and_then_nothing_more_of_that_school(
    server: Server, partner: Partner, engine: AsyncEngine, settings: Settings
) -> None:
    (school_id, school_code), (other_id, other_code) = partner.schools
    end = (await _feed(server, partner.token))["pageInfo"]["endCursor"]
    students = await _students(engine, school_id)

    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "1", after=end)
        await consent_lifecycle.revoke(
            engine,
            _OPERATOR,
            school_id=school_id,
            partner_id=partner.id,
            now=settings.now(),
            revoked_by="staff:1",
        )
        # After the revoke: a rename at the revoked school, then one at the school still consenting.
        await _record(engine, _renamed(school_id, students[0]))
        await _record(engine, _renamed(other_id, (await _students(engine, other_id))[0]))
        *left, sentinel = await _events_until(ws, other_code)

    assert {(event["kind"], event["schoolCode"]) for event in left} == {("LEFT_SCOPE", school_code)}
    assert all(event["node"] is None for event in left)
    students_left = [event for event in left if event["entityType"] == "Student"]
    assert len(students_left) == len(students)
    assert all(event["lostCategories"] == ["STUDENT_BASIC", "STUDENT_NAME"] for event in students_left)
    assert [event["entityType"] for event in left if event["entityType"] != "Student"] == ["School"]
    assert (sentinel["kind"], sentinel["entityType"]) == ("UPDATED", "Student")


# --- tokens ---------------------------------------------------------------------------------------------


async def test_a_subscription_closes_with_4401_when_its_token_expires(
    server: Server, partner: Partner, engine: AsyncEngine, settings: Settings
) -> None:
    minted = time.monotonic()
    token = await _partner_token(engine, settings, partner.client_id, dt.timedelta(seconds=2))

    async with _connection(server, token) as ws:
        end = (await _feed(server, partner.token))["pageInfo"]["endCursor"]
        await _subscribe(ws, "1", after=end)
        code = await _close_code(ws)
        closed = time.monotonic() - minted

    assert code == 4401
    assert 1.0 <= closed < 3.5, f"closed {closed:.2f} s after a token of 2 s was minted"


@pytest.mark.parametrize(
    "payload",
    [None, {}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}],
    ids=["no-payload", "no-token", "malformed-token", "not-bearer"],
)
async def test_a_connection_without_a_valid_token_is_closed_with_4401_at_connection_init(
    server: Server, payload: dict[str, str] | None
) -> None:
    async with _socket(server) as ws:
        await _send(ws, {"type": "connection_init"} | ({"payload": payload} if payload is not None else {}))
        code = await _close_code(ws)

    assert code == 4401


async def test_a_forged_token_and_a_subscribe_before_connection_init_are_closed_with_4401(
    server: Server, partner: Partner
) -> None:
    header, claims, signature = partner.token.split(".")
    forged = f"{header}.{claims}.{signature[::-1]}"
    async with _socket(server) as ws:
        await _send(ws, {"type": "connection_init", "payload": {"Authorization": f"Bearer {forged}"}})
        forged_code = await _close_code(ws)
    async with _socket(server) as ws:
        await _subscribe(ws, "1")
        early_code = await _close_code(ws)

    assert forged_code == 4401
    assert early_code == 4401


async def test_a_client_that_does_not_speak_graphql_transport_ws_is_closed_with_4406(server: Server) -> None:
    async with connect(server.ws_url, proxy=None, open_timeout=10) as ws:  # offers no subprotocol
        code = await _close_code(ws)

    assert code == 4406


# --- limits and errors ----------------------------------------------------------------------------------


async def _error_code(ws: ClientConnection, operation_id: str) -> str:
    message = await _receive(ws)
    assert (message["type"], message["id"]) == ("error", operation_id), message
    code: str = message["payload"][0]["extensions"]["code"]
    return code


TOO_DEEP = """subscription { changes { node { ... on Student { mainGroup { students { edges { node {
    mainGroup { students { edges { node { mainGroup { name } } } } } } } } } } } } }"""
TOO_COSTLY = """subscription { changes { node { ... on School { students(first: 1000) { edges { node {
    mainGroup { students(first: 1000) { edges { node { id firstName lastName } } } } } } } } } } }"""
TOO_MANY_ALIASES = "subscription { changes { " + " ".join(f"a{n}: cursor" for n in range(21)) + " } }"


async def test_subscriptions_obey_the_query_limits_and_at_most_five_run_on_one_connection(
    server: Server, partner: Partner
) -> None:
    end = (await _feed(server, partner.token))["pageInfo"]["endCursor"]
    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "deep", query=TOO_DEEP)
        deep = await _error_code(ws, "deep")
        await _subscribe(ws, "costly", query=TOO_COSTLY)
        costly = await _error_code(ws, "costly")
        await _subscribe(ws, "aliases", query=TOO_MANY_ALIASES)
        aliases = await _error_code(ws, "aliases")
        await _subscribe(ws, "cursor", after="not-a-cursor")
        cursor = await _error_code(ws, "cursor")
        await _subscribe(ws, "query", query="{ viewer { kind } }")
        query = await _receive(ws)
        for number in range(5):
            await _subscribe(ws, f"live-{number}", after=end)
        await _subscribe(ws, "sixth", after=end)
        sixth = await _error_code(ws, "sixth")
        await _send(ws, {"type": "ping"})
        pong = await _receive(ws)

    assert (deep, costly, aliases) == ("LIMIT_EXCEEDED", "LIMIT_EXCEEDED", "LIMIT_EXCEEDED")
    assert cursor == "BAD_USER_INPUT"
    assert query["type"] == "error", "queries and mutations go over HTTP"
    assert sixth == "LIMIT_EXCEEDED"
    assert pong == {"type": "pong"}


async def test_a_las_client_is_refused_the_change_feed_with_forbidden(
    server: Server, engine: AsyncEngine, settings: Settings
) -> None:
    keyset = await load_keyset(engine, now=settings.now())
    token = mint_token(
        keyset,
        issuer=settings.issuer,
        subject="las:somelas",
        scopes=["las"],
        lifetime=dt.timedelta(minutes=5),
        now=dt.datetime.now(dt.UTC),
    )
    async with _connection(server, token) as ws:
        await _subscribe(ws, "1")
        code = await _error_code(ws, "1")

    assert code == "FORBIDDEN"


#: Each event's school with a page of 1,000 students (three fields each): cheap for one event, but over
#: HTTP a page of 1,000 such events costs 5,006,001 and is refused; as a subscription it cost 14.9 s of CPU.
SCHOOL_PAGE_PER_EVENT = """subscription { changes { cursor kind node { ... on School {
    students(first: 1000) { edges { node { id firstName lastName } } } } } } }"""


async def test_a_subscription_is_costed_per_event_of_a_poll_cycle_and_refused_before_any_work(
    server: Server, partner: Partner
) -> None:
    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "school-pages", query=SCHOOL_PAGE_PER_EVENT)
        refused = await _receive(ws)
        await _subscribe(ws, "1")
        replayed = await _events(ws, 1)

    assert (refused["type"], refused["id"]) == ("error", "school-pages")
    assert refused["payload"][0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
    assert refused["payload"][0]["message"].startswith(
        "the subscription costs 500,401 per poll cycle; the limit is 100,000"
    )
    assert replayed, "an everyday subscription on the same connection runs"


async def test_a_partner_holds_at_most_twenty_subscriptions_across_its_connections(
    server: Server, partner: Partner
) -> None:
    end = (await _feed(server, partner.token))["pageInfo"]["endCursor"]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(_connection(server, partner.token)) for _ in range(5)]
        for ws in sockets[:4]:
            for number in range(5):
                await _subscribe(ws, f"live-{number}", after=end)
        # Twenty are open; a fifth connection may not add one, whatever its own count.
        await _subscribe(sockets[4], "twenty-first", after=end)
        twenty_first = await _receive(sockets[4])
        # Completing one frees its place for another connection.
        await _send(sockets[0], {"id": "live-0", "type": "complete"})
        accepted = False
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not accepted and time.monotonic() < deadline:
            await _subscribe(sockets[4], "after-complete", after=end)
            await _send(sockets[4], {"type": "ping"})
            answer = await _receive(sockets[4])
            accepted = answer == {"type": "pong"}  # no error came before the pong: it runs
            if not accepted:
                await _receive(sockets[4])  # the pong after the error
                await asyncio.sleep(0.1)

    assert (twenty_first["type"], twenty_first["id"]) == ("error", "twenty-first")
    assert twenty_first["payload"][0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
    assert "at most 20 subscriptions" in twenty_first["payload"][0]["message"]
    assert accepted, "a completed subscription gives its place back"


async def test_a_subscription_refuses_a_cursor_that_was_not_given_to_this_partner(
    server: Server, partner: Partner, settings: Settings
) -> None:
    key = settings.pseudonym_key.get_secret_value().encode()
    # The same feed position as another partner, and as the hub's staff, are given it.
    another_partners = PartnerIdentifiers(partner.id + 1, key).cursor("feed", 1)
    the_hubs = base64.urlsafe_b64encode(b"c1:1").decode().rstrip("=")
    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "another", after=another_partners)
        another = await _error_code(ws, "another")
        await _subscribe(ws, "hub", after=the_hubs)
        hub = await _error_code(ws, "hub")

    assert (another, hub) == ("BAD_USER_INPUT", "BAD_USER_INPUT")


async def test_a_partner_with_an_allow_list_subscribes_only_to_the_operations_on_it(
    server: Server, partner: Partner, engine: AsyncEngine
) -> None:
    # The allow-list is the operator's limit on what a partner may run in production: over WebSocket too.
    allowed = hashlib.sha256(SUBSCRIPTION.encode()).hexdigest()
    assert await persisted_operations.set_allow_list(engine, partner.id, [allowed])
    other = SUBSCRIPTION.replace("firstName", "firstName lastName")
    async with _connection(server, partner.token) as ws:
        await _subscribe(ws, "other", query=other)
        refused = await _receive(ws)
        await _subscribe(ws, "1")
        replayed = await _events(ws, 1)

    assert (refused["type"], refused["id"]) == ("error", "other")
    assert refused["payload"][0]["extensions"] == {"code": "OPERATION_NOT_ALLOWED"}
    assert replayed, "the subscription on its list runs"
