"""Fixtures shared by the whole suite: a clean, migrated database per test on both engines.

The PostgreSQL run needs `LEERPOORT_TEST_POSTGRES_URL` (an admin URL such as
`postgresql://postgres@127.0.0.1:5432/test`); the suite creates a fresh database there for the run and
drops it afterwards. Without it, or when the server does not answer, the PostgreSQL half is skipped and
the skip reason says so; under CI (`CI=true`) an unreachable server fails the run instead.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import datasources.store.tables  # noqa: F401 - registers the tables
from datasources.store.database import create_engine, migrate
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from sqlalchemy.ext.asyncio import AsyncEngine

ENGINES = ("sqlite", "postgresql")
_PG_ENV = "LEERPOORT_TEST_POSTGRES_URL"


def _asyncpg_url(url: str, database: str) -> str:
    base = url.replace("postgresql://", "postgresql+asyncpg://", 1).replace(
        "postgres://", "postgresql+asyncpg://", 1
    )
    return base.rsplit("/", 1)[0] + "/" + database


async def _admin_execute(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (dropped afterwards), migrated once."""
    admin = os.environ.get(_PG_ENV)
    if not admin:
        pytest.skip(f"PostgreSQL run SKIPPED: {_PG_ENV} is not set")
    admin_url = _asyncpg_url(admin, admin.rsplit("/", 1)[1] or "postgres")
    name = f"leerpoort_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as error:
        message = f"PostgreSQL run SKIPPED: cannot create a database at {admin}: {type(error).__name__}"
        if os.environ.get("CI"):
            pytest.fail(message.replace("SKIPPED", "FAILED"))
        pytest.skip(message)
    url = _asyncpg_url(admin, name)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(_admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a clean, migrated database, once per engine."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "leerpoort.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    asyncio.run(_truncate_all(url))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Sandbox settings pointing at the test's clean database."""
    return Settings(DATABASE_URL=database_url, LEERPOORT_DATA_DIR=tmp_path / "data")


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database, disposed afterwards."""
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()
