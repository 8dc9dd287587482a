"""Persisted operations (issue 16, part 4): automatic persisted queries as Apollo's clients speak them,
stored in the database, over POST and GET, and a partner's optional allow-list of operations."""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from datasources.store.tables import PERSISTED_QUERIES
from resolvers.accounts import register_partner
from schema.relay import to_global_id
from server import create_app
from tests.e2e.conftest import run_cli_beside_app, run_cli_in_process
from tests.e2e.test_hostile import _token

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

QUERY = "query Kind { viewer { kind } }"


def _sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(sha256: str, query: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256}}}
    return body | ({"query": query} if query is not None else {})


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_an_unknown_hash_is_not_found_then_registered_with_its_query_then_runs_alone(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}"}
    sha256 = _sha256(QUERY)

    missing = await app_client.post("/graphql", json=_persisted(sha256), headers=headers)
    registering = await app_client.post("/graphql", json=_persisted(sha256, QUERY), headers=headers)
    by_hash = await app_client.post("/graphql", json=_persisted(sha256), headers=headers)

    assert missing.status_code == 200
    assert _code(missing) == "PERSISTED_QUERY_NOT_FOUND"
    assert missing.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert "no-cache" in missing.headers["cache-control"]
    assert registering.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}
    assert by_hash.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


async def test_the_graphql_response_type_gets_a_400_for_a_miss(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    response = await app_client.post(
        "/graphql",
        json=_persisted(_sha256("{ __typename }")),
        headers={"Authorization": f"Bearer {operator_token}", "Accept": "application/graphql-response+json"},
    )

    assert response.status_code == 400
    assert _code(response) == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize(
    ("extension", "query"),
    [
        ({"version": 1, "sha256Hash": "0" * 64}, QUERY),  # not its hash
        ({"version": 2, "sha256Hash": _sha256(QUERY)}, QUERY),
        ({"version": 1, "sha256Hash": "not-hex"}, None),
        ("a string", QUERY),
    ],
    ids=["wrong-hash", "version-2", "not-a-hash", "not-an-object"],
)
async def test_a_malformed_persisted_query_is_refused_and_registers_nothing(
    app_client: httpx.AsyncClient, operator_token: str, extension: Any, query: str | None
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}"}
    body: dict[str, Any] = {"extensions": {"persistedQuery": extension}} | ({"query": query} if query else {})

    refused = await app_client.post("/graphql", json=body, headers=headers)
    afterwards = await app_client.post("/graphql", json=_persisted("0" * 64), headers=headers)

    assert _code(refused) == "BAD_USER_INPUT"
    assert "data" not in refused.json()
    assert _code(afterwards) == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_invalid_document_is_not_registered(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}"}
    invalid = "{ noSuchField }"

    await app_client.post("/graphql", json=_persisted(_sha256(invalid), invalid), headers=headers)
    afterwards = await app_client.post("/graphql", json=_persisted(_sha256(invalid)), headers=headers)

    assert _code(afterwards) == "PERSISTED_QUERY_NOT_FOUND"


async def _other_worker(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


async def test_a_hash_registered_on_one_worker_runs_by_get_on_another(
    app_client: httpx.AsyncClient, operator_token: str, settings: Settings
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Accept": "application/json"}
    await app_client.post("/graphql", json=_persisted(_sha256(QUERY), QUERY), headers=headers)
    extensions = json.dumps(_persisted(_sha256(QUERY))["extensions"])

    async for other in _other_worker(settings):  # its own process state, the same database
        response = await other.get(
            "/graphql?" + urllib.parse.urlencode({"extensions": extensions}), headers=headers
        )

    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


async def _stored_documents(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(PERSISTED_QUERIES.c.query))).scalars())


@pytest.mark.parametrize(
    ("document", "with_token"),
    [
        # A password typed into the document (a literal, not a variable) must never be kept at rest.
        (
            'mutation { signIn(email: "els@school.example", password: "correct horse battery") { token } }',
            False,
        ),
        ("mutation Renamed { __typename }", True),
        # A document that also holds a mutation keeps its literals too, whichever operation ran.
        (
            'query Q { viewer { kind } } mutation M { signIn(email: "a@b.example", password: "secret") '
            "{ token } }",
            True,
        ),
        # Nobody without a token fills the table.
        ("{ announcements { title } }", False),
    ],
    ids=["sign-in", "mutation", "query-next-to-a-mutation", "anonymous-query"],
)
async def test_only_queries_of_a_signed_in_viewer_are_registered(
    app_client: httpx.AsyncClient, operator_token: str, engine: AsyncEngine, document: str, with_token: bool
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}"} if with_token else {}
    named = {"operationName": "Q"} if "query Q" in document else {}

    ran = await app_client.post(
        "/graphql", json=_persisted(_sha256(document), document) | named, headers=headers
    )

    assert "data" in ran.json(), ran.text  # it ran (a failed sign-in too: its field is null)
    assert await _stored_documents(engine) == []


async def test_a_persisted_mutation_is_not_found_on_get(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Accept": "application/json"}
    mutation = "mutation { __typename }"
    await app_client.post("/graphql", json=_persisted(_sha256(mutation), mutation), headers=headers)
    extensions = json.dumps(_persisted(_sha256(mutation))["extensions"])

    response = await app_client.get(
        "/graphql?" + urllib.parse.urlencode({"extensions": extensions}), headers=headers
    )

    assert response.status_code == 200
    assert _code(response) == "PERSISTED_QUERY_NOT_FOUND"


# --- a partner's allow-list -----------------------------------------------------------------------------


async def _partner(engine: AsyncEngine, settings: Settings) -> tuple[str, str]:
    """A partner's global id and a token of it."""
    credentials = await register_partner(
        engine, name="Uitgeverij Lijst", kind="PUBLISHER", categories=[], eck_chain=False, now=settings.now()
    )
    token = await _token(engine, settings, f"partner:{credentials.client_id}", "partner")
    return to_global_id("Partner", str(credentials.partner_id)), token


async def test_a_partner_with_an_allow_list_runs_only_the_operations_on_it(
    app_client: httpx.AsyncClient,
    engine: AsyncEngine,
    settings: Settings,
    operator_token: str,
    tmp_path: Path,
) -> None:
    partner_id, token = await _partner(engine, settings)
    headers = {"Authorization": f"Bearer {token}"}
    other = "query Other { viewer { kind subject } }"

    before = await app_client.post("/graphql", json={"query": other}, headers=headers)
    listed = await run_cli_beside_app(
        "partner", "allow-operations", partner_id, _sha256(QUERY), settings=settings, cwd=tmp_path
    )
    registered = await app_client.post("/graphql", json=_persisted(_sha256(QUERY), QUERY), headers=headers)
    by_hash = await app_client.post("/graphql", json=_persisted(_sha256(QUERY)), headers=headers)
    in_full = await app_client.post("/graphql", json={"query": QUERY}, headers=headers)
    refused = await app_client.post("/graphql", json={"query": other}, headers=headers)
    refused_by_hash = await app_client.post(
        "/graphql", json=_persisted(_sha256(other), other), headers=headers
    )
    operator = await app_client.post(
        "/graphql", json={"query": other}, headers={"Authorization": f"Bearer {operator_token}"}
    )
    cleared = await run_cli_beside_app(
        "partner", "allow-operations", partner_id, settings=settings, cwd=tmp_path
    )
    after_clearing = await app_client.post("/graphql", json={"query": other}, headers=headers)

    assert before.json()["data"]["viewer"]["kind"] == "PARTNER"
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"partner_id": partner_id, "allowed": [_sha256(QUERY)]}
    for allowed in (registered, by_hash, in_full):
        assert allowed.json() == {"data": {"viewer": {"kind": "PARTNER"}}}
    for response in (refused, refused_by_hash):
        assert response.status_code == 403
        assert _code(response) == "OPERATION_NOT_ALLOWED"
        assert "data" not in response.json()
    assert operator.json()["data"]["viewer"]["kind"] == "OPERATOR"
    assert json.loads(cleared.stdout) == {"partner_id": partner_id, "allowed": None}
    assert after_clearing.json()["data"]["viewer"]["kind"] == "PARTNER"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(("UGFydG5lcjo5OTk5", "a" * 64), "no partner"), (("UGFydG5lcjox", "ABC"), "not a SHA-256")],
    ids=["unknown-partner", "malformed-hash"],
)
def test_allow_operations_refuses_an_unknown_partner_or_a_malformed_hash(
    settings: Settings, tmp_path: Path, arguments: tuple[str, str], message: str
) -> None:
    result = run_cli_in_process("partner", "allow-operations", *arguments, settings=settings, cwd=tmp_path)

    assert result.returncode == 2
    assert message in result.stderr
