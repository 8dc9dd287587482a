"""Fixtures of the end-to-end suite: the real application over HTTP, a seeded world and real tokens.

The application is the one `create_app(settings)` builds, with its lifespan running, reached through
httpx's ASGI transport; the world is what `seed_world` writes into the test's clean database; tokens are
minted with the signing keys the application itself loads from that database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from auth.tokens import OPERATOR_TOKEN_LIFETIME, mint_token
from datasources.keys import load_keyset
from datasources.registry import read_registry
from datasources.seed import SeedSummary, seed_world
from server import create_app

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.keys import KeySet
    from settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_FILE = REPO_ROOT / "reference" / "duo" / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
OPERATOR_SUBJECT = "operator:helpdesk"
SEED_SCHOOLS = 3
SEED_STUDENTS_PER_SCHOOL = 20


def operator_token_at(keyset: KeySet, settings: Settings, now: dt.datetime) -> str:
    """An operator token signed with `keyset`, issued at `now` with the sandbox operator lifetime."""
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=OPERATOR_SUBJECT,
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=now,
    )


@pytest.fixture
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the application for the test's database, its lifespan running."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://leerpoort.test") as client,
    ):
        yield client


@pytest.fixture
async def world(engine: AsyncEngine, settings: Settings) -> SeedSummary:
    """A small seeded world: three schools of twenty students, the same every run."""
    return await seed_world(
        engine,
        registry=read_registry(REGISTRY_FILE),
        schools=SEED_SCHOOLS,
        students_per_school=SEED_STUDENTS_PER_SCHOOL,
        seed=7,
        today=settings.now().date(),
    )


@pytest.fixture
async def operator_token(engine: AsyncEngine, settings: Settings) -> str:
    """A helpdesk operator token signed with the keys the application loads from the database."""
    keyset = await load_keyset(engine, now=settings.now())
    return operator_token_at(keyset, settings, settings.now())
