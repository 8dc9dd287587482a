"""The published SDL over HTTP: both documents without a token, cacheable, current, and enough to build a
gateway's supergraph from when a partner in production may not introspect (issue 16, part 1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import graphql
import pytest

from tests.e2e.test_hostile import _partner_token, _production_client
from tests.schema.test_federation import PARTNER_SUBGRAPH, compose

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("path", "committed"),
    [("/schema.graphql", "schema.client.graphql"), ("/schema.federation.graphql", "schema.graphql")],
)
async def test_the_published_sdl_is_served_without_a_token_and_revalidates_by_etag(
    app_client: httpx.AsyncClient, path: str, committed: str
) -> None:
    response = await app_client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == (REPO_ROOT / committed).read_text(encoding="utf-8")
    assert "public" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = await app_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    changed = await app_client.get(path, headers={"If-None-Match": '"an-older-version"'})
    assert changed.status_code == 200


async def test_the_served_client_sdl_loads_in_graphql_core(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/schema.graphql")

    loaded = graphql.build_schema(response.text)
    assert loaded.query_type is not None
    assert "_entities" not in loaded.query_type.fields
    assert "schools" in loaded.query_type.fields


async def test_a_supergraph_composes_from_the_served_federation_sdl(app_client: httpx.AsyncClient) -> None:
    # What a gateway does in production instead of IntrospectAndCompose (README "Composing a supergraph").
    sdl = (await app_client.get("/schema.federation.graphql")).text

    result = compose([{"name": "leerpoort", "sdl": sdl}, {"name": "partner", "sdl": PARTNER_SUBGRAPH}])

    assert result["ok"], "\n".join(result["errors"])


async def test_the_production_refusal_of_introspection_names_the_published_urls(
    engine: AsyncEngine, settings: Settings
) -> None:
    token = await _partner_token(engine, settings)
    async with _production_client(settings) as client:
        refused = await client.post(
            "/graphql",
            json={"query": "{ __schema { types { name } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        message: str = refused.json()["errors"][0]["message"]
        urls = [word.strip("()") for word in message.split() if word.startswith(("http", "(http"))]
        assert refused.status_code == 403
        assert [url.removeprefix(settings.issuer) for url in urls] == [
            "/schema.graphql",
            "/schema.federation.graphql",
        ]
        for url in urls:  # the URLs it names are real, also in production, without a token
            assert (await client.get(url.removeprefix(settings.issuer))).status_code == 200
