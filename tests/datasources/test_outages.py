"""Telling a database outage from a wrong statement: the first is answered 503 UNAVAILABLE, the second not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from datasources.store.database import create_engine, is_outage
from tests.e2e.tcp_proxy import free_port

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


async def test_a_database_that_refuses_connections_is_an_outage() -> None:
    engine = create_engine(f"postgresql+asyncpg://leerpoort@127.0.0.1:{free_port()}/leerpoort")
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the driver decides the type; is_outage judges
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_outage(raised.value)


async def test_a_wrong_statement_is_not_an_outage(engine: AsyncEngine) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - each engine raises its own ProgrammingError
        async with engine.connect() as connection:
            await connection.execute(text("SELECT * FROM no_such_table"))
    assert not is_outage(raised.value)
    assert not is_outage(ValueError("an error of the hub itself"))
