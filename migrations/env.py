"""Alembic environment: runs the migrations through the same async drivers as the hub."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alembic import context
from sqlmodel import SQLModel

import datasources.store.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from datasources.store.database import create_engine

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # The policy stamp's deferred triggers (0021) would otherwise leave an event pending for every
            # row a migration changes, and PostgreSQL refuses to ALTER a table with pending trigger
            # events: a run that mends rows of one of those tables and then alters it would fail (found
            # by the attacker review). Nothing else runs while the hub migrates.
            connection.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
        context.run_migrations()


async def _run_async() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `python server.py migrate`")
asyncio.run(_run_async())
