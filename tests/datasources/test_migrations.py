"""The migrations build exactly the tables the code declares, on both engines."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlmodel import SQLModel

from datasources.store.database import alembic_config, migrate
from datasources.store.tables import CONSENTS
from tests.schema.conftest import TODAY
from tests.schema.test_feed import new_board, new_partner, new_school, now_on

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings


async def test_migrated_database_matches_the_declared_tables(engine: AsyncEngine) -> None:
    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_receipts_granted_before_name_the_role_and_the_school_instead_of_the_account(
    engine: AsyncEngine, settings: Settings
) -> None:
    school_id, code = await new_school(engine, await new_board(engine))
    partner_id, _ = await new_partner(engine)
    async with engine.begin() as connection:
        await connection.execute(
            insert(CONSENTS),
            [
                {
                    "school_id": school_id,
                    "partner_id": partner_id,
                    "categories": ["SCHOOL_BASIC"],
                    "granted_by": granted_by,
                    "granted_at": now_on(TODAY),
                    "revoked_at": None if granted_by == "staff:17" else now_on(TODAY),
                    "policy_version": "2026-1",
                }
                for granted_by in ("staff:2", "staff:17", "seed")
            ],
        )
    # Back to before the receipts' migration (the tables stay), and up again: it rewrites the old receipts.
    await asyncio.to_thread(command.downgrade, alembic_config(settings.database_url), "0008_receipt_labels-1")
    await asyncio.to_thread(migrate, settings.database_url)

    async with engine.connect() as connection:
        labels = (await connection.execute(select(CONSENTS.c.granted_by).order_by(CONSENTS.c.id))).scalars()
        assert list(labels) == [f"ICT-coördinator, Feedschool {code}"] * 2 + ["seed"]
