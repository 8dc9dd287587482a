"""`me` through the schema: nested fields load in batches, so the statements do not grow with the groups."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from auth.policy import empty_scope
from auth.viewer import Viewer, ViewerKind
from datasources.store.tables import GROUP_STAFF, GROUPS, STAFF_ACCOUNTS, STAFF_MEMBERS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from tests.schema.conftest import Run, StatementCounter

ME = "{ me { kind school { code } groups { name role students { lastName } } products { name launchUrl } } }"


async def _teacher(engine: AsyncEngine, groups: int) -> Viewer:
    """An activated teacher of the seeded world's first school, linked to `groups` of its groups."""
    async with engine.begin() as connection:
        member = (
            await connection.execute(
                select(STAFF_MEMBERS.c.id, STAFF_MEMBERS.c.school_id).order_by(STAFF_MEMBERS.c.id)
            )
        ).first()
        assert member is not None
        email = f"teacher{groups}@me.example"
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == member.id).values(email=email, active=True)
        )
        group_ids = (
            await connection.scalars(
                select(GROUPS.c.id)
                .where(GROUPS.c.school_id == member.school_id)
                .order_by(GROUPS.c.id)
                .limit(groups)
            )
        ).all()
        await connection.execute(delete(GROUP_STAFF).where(GROUP_STAFF.c.staff_id == member.id))
        await connection.execute(
            insert(GROUP_STAFF), [{"group_id": group, "staff_id": member.id} for group in group_ids]
        )
        account = await connection.scalar(
            insert(STAFF_ACCOUNTS)
            .values(
                email=email,
                password_hash="-",
                active=True,
                created_at=dt.datetime.now(dt.UTC),
                created_by="t",
            )
            .returning(STAFF_ACCOUNTS.c.id)
        )
    return Viewer(ViewerKind.STAFF, str(account), frozenset({"staff"}))


async def test_me_reads_a_fixed_number_of_statements_however_many_groups(
    engine: AsyncEngine, world: SeedSummary, run: Run, count_statements: Any
) -> None:
    del world
    counts = []
    for groups in (1, 3):
        viewer = await _teacher(engine, groups)
        counter: StatementCounter = count_statements()
        result = await run(ME, scope=empty_scope(viewer))
        assert result["errors"] == []
        assert len(result["data"]["me"]["groups"]) == groups
        assert all(group["students"] for group in result["data"]["me"]["groups"])
        counts.append(len(counter.statements))
    # The memberships, schools, groups, the groups' students (one batch for every group) and the launch
    # rule's reads (couplings, products with their partners, consents, schools): the same for any count.
    assert counts == [9, 9]


async def test_a_viewer_without_a_self_reads_nothing_for_me(
    engine: AsyncEngine, world: SeedSummary, run: Run, count_statements: Any
) -> None:
    del world, engine
    for kind in (ViewerKind.PARTNER, ViewerKind.OPERATOR, ViewerKind.LAS):
        counter: StatementCounter = count_statements()
        result = await run(ME, scope=empty_scope(Viewer(kind, "x")))
        assert result == {"data": {"me": None}, "errors": []}
        assert counter.statements == []
