"""Hostile callers over HTTP (issue 9): each is refused with the documented error code, nothing changes,
and nothing answers 500.

In process, through httpx's ASGI transport, on both engines; the bodies that must not be read past
their cap go to a real server in tests/e2e/test_bodies.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from auth.tokens import mint_token
from datasources.access.signing_keys import load_keyset
from resolvers.accounts import register_partner
from server import create_app
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.usefixtures("world")


async def _token(engine: AsyncEngine, settings: Settings, subject: str, scope: str) -> str:
    keyset = await load_keyset(engine, now=settings.now())
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=subject,
        scopes=[scope],
        lifetime=dt.timedelta(minutes=5),
        now=settings.now(),
    )


async def _partner_token(engine: AsyncEngine, settings: Settings, name: str = "Uitgeverij Vreemd") -> str:
    credentials = await register_partner(
        engine, name=name, kind="PUBLISHER", categories=[], eck_chain=False, now=settings.now()
    )
    return await _token(engine, settings, f"partner:{credentials.client_id}", "partner")


@contextlib.asynccontextmanager
async def _production_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    production = Settings(
        DATABASE_URL=settings.database_url,
        LEERPOORT_DATA_DIR=settings.data_dir,
        LEERPOORT_MODE="production",
        LEERPOORT_PSEUDONYM_KEY="a-real-secret-for-the-e2e-production-test",
    )
    app = create_app(production)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


def _code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    code: str = body["errors"][0]["extensions"]["code"]
    return code


# --- 11. the schema is not read in production, however the selection is dressed up -------------------------

SCHEMA_READINGS = {
    "root": "{ _service { sdl } }",
    "alias": "{ schema: _service { sdl } }",
    "fragment": "query { ...Sdl } fragment Sdl on Query { _service { sdl } }",
    "inline-fragment": "{ ... on Query { _service { sdl } } }",
    "untyped-inline-fragment": "{ ... { _service { sdl } } }",
    "nested-fragments": (
        "{ ...A } fragment A on Query { ... on Query { ...B } } fragment B on Query { _service { sdl } }"
    ),
}


@pytest.mark.parametrize("query", SCHEMA_READINGS.values(), ids=SCHEMA_READINGS.keys())
async def test_a_partner_in_production_cannot_read_the_sdl_through_fragments(
    engine: AsyncEngine, settings: Settings, query: str
) -> None:
    token = await _partner_token(engine, settings)
    async with _production_client(settings) as client:
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 403
    assert _code(response) == "FORBIDDEN"
    assert "sdl" not in response.text.lower().replace("published sdl", "")
