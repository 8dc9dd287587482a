"""The PostgreSQL half's own machinery (tests/postgres.py): the probe the script asks, and the emptying
between tests that must leave a database as a fresh one is, rows gone and ids back at the start."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, insert, select
from sqlmodel import SQLModel

from datasources.store.tables import BOARDS, SCHOOLS
from tests import postgres

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


async def _new_boards(engine: AsyncEngine, *numbers: str) -> list[int]:
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(BOARDS)
            .values([{"number": number, "name": f"Board {number}"} for number in numbers])
            .returning(BOARDS.c.id)
        )
        return sorted(inserted.scalars())


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_emptying_the_database_removes_every_row_and_restarts_the_ids(
    database_url: str, engine: AsyncEngine
) -> None:
    first = await _new_boards(engine, "10001", "10002")
    school = {"brin": "99ZX", "name": "Testschool", "board_id": first[0], "source": "manual"}
    async with engine.begin() as connection:
        kept = await connection.execute(
            insert(SCHOOLS)
            .values(**school, location_code="00", code="99ZX00", instelling_ref="ref-0")
            .returning(SCHOOLS.c.id)
        )
        # A school merged into another refers to its own table: the emptying must cope with that too.
        await connection.execute(
            insert(SCHOOLS).values(
                **school,
                location_code="01",
                code="99ZX01",
                instelling_ref="ref-1",
                merged_into_id=kept.scalar_one(),
            )
        )

    tables = [table.name for table in SQLModel.metadata.sorted_tables]
    await asyncio.to_thread(postgres.empty_database, database_url, tables)

    async with engine.connect() as connection:
        for table in (BOARDS, SCHOOLS):
            assert (await connection.execute(select(func.count()).select_from(table))).scalar_one() == 0
    assert await _new_boards(engine, "10003", "10004") == first


def test_the_probe_names_a_silent_server_with_its_password_hidden(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on the loopback refuses at once: no server answers there (and one try is enough to know, where
    # under CI the probe would wait for a starting server).
    monkeypatch.delenv("CI", raising=False)
    status = postgres.main(["postgresql://tester:hunter2@127.0.0.1:1/test"])

    captured = capsys.readouterr()
    assert status == 1
    assert captured.out.strip() == "no server at postgresql://tester:***@127.0.0.1:1/test"
    assert "hunter2" not in captured.out + captured.err
    assert "ConnectionRefusedError" in captured.err
