"""Fixtures of the end-to-end suite: the real application over HTTP, a seeded world and real tokens.

The application is the one `create_app(settings)` builds, with its lifespan running, reached through
httpx's ASGI transport; the world is what `seed_world` writes into the test's clean database; tokens are
minted with the signing keys the application itself loads from that database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from auth.tokens import OPERATOR_TOKEN_LIFETIME, mint_token
from datasources.access.signing_keys import load_keyset
from datasources.registry.duo import read_registry
from datasources.sandbox.world import SeedSummary, seed_world
from server import create_app
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.key_material import KeySet
    from settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "server.py"
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
        registry=read_registry(DUO_FILE),
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


# --- processes: the command line and the server as separate programs ----------------------------------------

#: Generous for a cold interpreter on a busy machine; a command that takes longer is hanging.
CLI_TIMEOUT_SECONDS = 60


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a fresh copy of the migrated SQLite template in `folder`."""
    path = folder / "leerpoort.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


def process_environment(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment of a child process on the test's database: none of the caller's Leerpoort
    settings leak in, and the project is importable from any working directory."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEERPOORT_") and name != "DATABASE_URL"
    }
    environment.update(
        DATABASE_URL=settings.database_url,
        LEERPOORT_DATA_DIR=str(settings.data_dir),
        PYTHONPATH=str(REPO_ROOT),
        **overrides,
    )
    return environment


def run_cli(*arguments: str, environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python server.py ARGUMENTS` as an operator runs it, in `cwd` (so no `.env` of the repository
    is read), with its output captured."""
    return subprocess.run(  # noqa: S603 - our own script with fixed arguments
        [sys.executable, str(SERVER_SCRIPT), *arguments],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
        check=False,
    )
