"""What a fresh sandbox shows first: an empty hub is seeded, and the ready tokens go to the showcase."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.access.accounts import add_coordinator
from datasources.registry.duo import read_registry
from datasources.sandbox import showcase
from datasources.sandbox.world import seed_world
from datasources.store.tables import SCHOOLS
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

NOW = dt.datetime(2026, 11, 29, 9, tzinfo=dt.UTC)
EMAIL = "coordinator@sandbox.example"


async def test_an_empty_hub_has_no_showcase(engine: AsyncEngine) -> None:
    assert await showcase.is_empty(engine)
    assert await showcase.subjects(engine, EMAIL) == showcase.Showcase(None, None, None)


async def test_a_seeded_hub_shows_the_first_publisher_and_school_and_then_its_coordinator(
    engine: AsyncEngine,
) -> None:
    registry = read_registry(DUO_FILE)[:3]
    await seed_world(engine, registry=registry, schools=3, students_per_school=2, seed=1, today=NOW.date())
    async with engine.connect() as connection:
        first_school = (await connection.scalars(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id))).first()

    assert not await showcase.is_empty(engine)
    before = await showcase.subjects(engine, EMAIL)
    assert before == showcase.Showcase("demo-noorderlicht", first_school, None)

    assert first_school is not None
    account = await add_coordinator(
        engine, school_code=first_school, email=EMAIL, password_hash="x", created_by="test", now=NOW
    )
    assert (await showcase.subjects(engine, EMAIL)).coordinator_account_id == account
    assert (await showcase.subjects(engine, "someone@else.example")).coordinator_account_id is None
