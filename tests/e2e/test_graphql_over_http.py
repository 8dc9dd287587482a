"""GraphQL over HTTP, fully (issue 16, part 3): GET runs queries, never mutations; a POST must say what it
sends; the 401 challenge follows RFC 6750; and graphql-http's own audit passes every check, for the sandbox
operator and for a partner in production, against a real uvicorn server.

The audit is the npm package `graphql-http` (pinned in tests/federation/package.json), driven by
tests/federation/audit.mjs; like the federation check it is skipped locally without Node.js, and fails on CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.e2e.conftest import process_environment, run_cli, sqlite_copy
from tests.e2e.test_hostile import _partner_token, _production_client
from tests.e2e.test_server import _free_port, _wait_until_healthy
from tests.schema.test_federation import COMPOSER_DIR

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

pytestmark = pytest.mark.usefixtures("world")

GRAPHQL_RESPONSE = "application/graphql-response+json"


def _get(query: str, **parameters: str) -> str:
    return "/graphql?" + urllib.parse.urlencode({"query": query, **parameters})


# --- GET ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_get_runs_a_query_for_a_client_that_asks_for_json(
    app_client: httpx.AsyncClient, operator_token: str, accept: str
) -> None:
    response = await app_client.get(
        _get(
            "query Who($skip: Boolean!) { viewer @skip(if: $skip) { kind } }",
            variables='{"skip": false}',
            operationName="Who",
        ),
        headers={"Authorization": f"Bearer {operator_token}", "Accept": accept},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(accept)
    assert response.json() == {"data": {"viewer": {"kind": "OPERATOR"}}}


async def test_get_never_runs_a_mutation(app_client: httpx.AsyncClient, operator_token: str) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Accept": "application/json"}
    mutation = "mutation { rotateSigningKey { kid } } query Q { __typename }"

    refused = await app_client.get(_get(mutation, operationName="__typename_is_not_it"), headers=headers)
    named = await app_client.get(
        _get("mutation M { __typename } query Q { __typename }", operationName="M"), headers=headers
    )
    sibling = await app_client.get(
        _get("mutation M { __typename } query Q { __typename }", operationName="Q"), headers=headers
    )

    assert refused.status_code == 400  # no such operation: execution's own answer
    assert named.status_code == 405
    assert named.headers["allow"] == "POST"
    assert named.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sibling.status_code == 200
    assert sibling.json() == {"data": {"__typename": "Query"}}


async def test_a_browser_still_gets_the_explorer_on_get(app_client: httpx.AsyncClient) -> None:
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    response = await app_client.get("/graphql", headers={"Accept": browser})

    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_get_refuses_unknown_parameters_and_long_query_strings(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}", "Accept": "application/json"}
    padding = "#" + "x" * 40_000 + "\n"

    misspelt = await app_client.get(_get("{ __typename }", operationname="Q"), headers=headers)
    long_with_token = await app_client.get(_get(padding + "{ __typename }"), headers=headers)
    long_anonymous = await app_client.get(
        _get("#" + "x" * 17_000 + "\n{ __typename }"), headers={"Accept": "application/json"}
    )

    assert misspelt.status_code == 400
    assert "operationname" in misspelt.json()["errors"][0]["message"]
    assert long_with_token.status_code == 414
    assert long_with_token.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert long_anonymous.status_code == 401


# --- POST and the challenge -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/plain"])
async def test_a_post_that_does_not_say_it_sends_json_is_415(
    app_client: httpx.AsyncClient, operator_token: str, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {operator_token}"} | (
        {"Content-Type": content_type} if content_type else {}
    )
    response = await app_client.post("/graphql", content=b'{"query": "{ __typename }"}', headers=headers)

    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_401_challenge_says_invalid_token_only_when_a_token_was_sent(
    app_client: httpx.AsyncClient,
) -> None:
    query = {"query": "{ viewer { kind } }"}

    missing = await app_client.post("/graphql", json=query)
    invalid = await app_client.post("/graphql", json=query, headers={"Authorization": "Bearer not-a-token"})
    missing_get = await app_client.get(_get("{ viewer { kind } }"), headers={"Accept": "application/json"})

    assert missing.status_code == invalid.status_code == missing_get.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="leerpoort"'
    assert missing_get.headers["www-authenticate"] == 'Bearer realm="leerpoort"'
    assert invalid.headers["www-authenticate"] == 'Bearer realm="leerpoort", error="invalid_token"'


async def test_a_partner_in_production_may_look_up_a_type_but_not_download_the_schema(
    engine: AsyncEngine, settings: Settings
) -> None:
    token = await _partner_token(engine, settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with _production_client(settings) as client:
        one_type = await client.post(
            "/graphql", json={"query": '{ __type(name: "School") { name } }'}, headers=headers
        )
        whole = await client.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers
        )

    assert one_type.json() == {"data": {"__type": {"name": "School"}}}
    assert whole.status_code == 403


# --- graphql-http's audit against a real server ---------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A uvicorn process on the test's SQLite database, and its environment for commands."""

    base_url: str
    environment: dict[str, str]
    folder: Path
    log: Path


#: What production needs: a real pseudonym key (the suite's placeholder is refused outside the sandbox).
PRODUCTION = {"LEERPOORT_MODE": "production", "LEERPOORT_PSEUDONYM_KEY": "e2e-audit-pseudonym-key-0123456789"}


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the server runs as its own process on a copy of the migrated template."""
    return sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture(params=["sandbox", "production"])
def served(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Served]:
    """`uvicorn server:create_app --factory` in the sandbox or in production mode; stopped afterwards."""
    environment = process_environment(settings, **(PRODUCTION if request.param == "production" else {}))
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - the interpreter running this suite, fixed arguments
            [sys.executable, "-m", "uvicorn", "server:create_app", "--factory", "--port", str(port)],
            env=environment,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(process, base_url, log)
        yield Served(base_url, environment, tmp_path, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _token_of(served: Served) -> str:
    """The sandbox operator's token, or in production a partner's, granted by the token endpoint."""
    if served.environment.get("LEERPOORT_MODE") != "production":
        completed = run_cli("token", "operator", environment=served.environment, cwd=served.folder)
        assert completed.returncode == 0, completed.stderr
        return completed.stdout.strip()
    created = run_cli(
        "partner", "create", "Uitgeverij Audit", "--kind", "publisher",
        environment=served.environment, cwd=served.folder,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    partner = json.loads(created.stdout)
    granted = httpx.post(
        f"{served.base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(partner["client_id"], partner["client_secret"]),
        timeout=10.0,
    )
    assert granted.status_code == 200, granted.text
    token: str = granted.json()["access_token"]
    return token


def _audit(url: str, token: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None or not (COMPOSER_DIR / "node_modules" / "graphql-http").is_dir():
        if os.environ.get("CI"):
            pytest.fail("graphql-http's audit cannot run on CI: Node.js or the npm package is missing")
        pytest.skip("graphql-http's audit skipped: needs Node.js and `npm ci` in tests/federation")
    completed = subprocess.run(  # noqa: S603 - our own driver, fixed arguments
        [node, "audit.mjs", url],
        env={**os.environ, "LEERPOORT_AUDIT_TOKEN": token},
        cwd=COMPOSER_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


def test_graphql_https_audit_passes_every_check(served: Served) -> None:
    results = _audit(f"{served.base_url}/graphql", _token_of(served))

    not_ok = [result for result in results if result["status"] != "ok"]
    assert len(results) > 50, "the audit ran too few checks"
    assert not not_ok, json.dumps(not_ok, indent=2) + "\n" + served.log.read_text()[-3000:]


async def test_an_answer_is_compact_utf8_json_with_its_keys_in_order(
    app_client: httpx.AsyncClient, operator_token: str
) -> None:
    # The answer's bytes are what `json.dumps` would give, compact and unescaped (they are written by
    # orjson since issue 14's sixth step): a client that hashes or diffs answers sees no change.
    headers = {"Authorization": f"Bearer {operator_token}"}
    refused = await app_client.post(
        "/graphql",
        json={
            "query": "query Q($c: Int) { schools(first: $c) { pageInfo { hasNextPage } } }",
            "variables": {"c": "Ærø 🍎"},
        },
        headers=headers,
    )
    ran = await app_client.post(
        "/graphql", json={"query": "{ b: __typename a: __typename }"}, headers=headers
    )

    assert "Ærø 🍎" in refused.content.decode("utf-8")
    for answer in (refused, ran):
        expected = json.dumps(answer.json(), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        assert answer.content == expected.encode("utf-8")
    assert list(ran.json()["data"]) == ["b", "a"]
