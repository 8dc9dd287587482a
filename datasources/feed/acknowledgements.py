"""Deletion acknowledgements: a partner confirms it deleted what left its scope at a school, and the
school sees, per partner that lost scope, whether it did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from datasources.feed.events import LEFT_SCOPE
from datasources.store.tables import CHANGE_EVENTS, DELETION_ACKNOWLEDGEMENTS
from errors import BadUserInput

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.store.reader import Reader


@dataclass(frozen=True, slots=True)
class DeletionStatus:
    """Whether a partner confirmed deleting what left its scope at a school."""

    partner_id: int
    left_scope_at: dt.datetime
    confirmed_at: dt.datetime | None


async def acknowledge_deletion(
    engine: AsyncEngine, *, school_id: int, partner_id: int, now: dt.datetime
) -> int:
    """Record that the partner deleted everything that left its scope at the school so far; returns the
    feed position the confirmation covers."""
    async with engine.begin() as connection:
        through = await connection.scalar(
            select(func.max(CHANGE_EVENTS.c.seq)).where(
                CHANGE_EVENTS.c.school_id == school_id,
                CHANGE_EVENTS.c.partner_id == partner_id,
                CHANGE_EVENTS.c.kind == LEFT_SCOPE,
            )
        )
        if through is None:
            raise BadUserInput("nothing of this school has left your scope: there is nothing to confirm")
        await connection.execute(
            insert(DELETION_ACKNOWLEDGEMENTS).values(
                school_id=school_id, partner_id=partner_id, through_seq=through, acknowledged_at=now
            )
        )
    return int(through)


async def deletion_statuses(reader: Reader, school_id: int) -> list[DeletionStatus]:
    """Per partner that lost scope at the school: when, and whether (and when) it confirmed deleting."""
    e, a = CHANGE_EVENTS.c, DELETION_ACKNOWLEDGEMENTS.c
    left = (
        select(e.partner_id, func.max(e.seq).label("seq"), func.max(e.occurred_at).label("at"))
        .where(e.school_id == school_id, e.kind == LEFT_SCOPE, e.partner_id.is_not(None))
        .group_by(e.partner_id)
        .subquery()
    )
    acknowledged = (
        select(
            a.partner_id, func.max(a.through_seq).label("through"), func.max(a.acknowledged_at).label("at")
        )
        .where(a.school_id == school_id)
        .group_by(a.partner_id)
        .subquery()
    )
    rows = await reader.rows(
        select(
            left.c.partner_id,
            left.c.at.label("left_at"),
            left.c.seq.label("left_through"),
            acknowledged.c.through.label("confirmed_through"),
            acknowledged.c.at.label("confirmed_at"),
        )
        .outerjoin(acknowledged, acknowledged.c.partner_id == left.c.partner_id)
        .order_by(left.c.partner_id)
    )
    return [
        DeletionStatus(
            partner_id=row.partner_id,
            left_scope_at=_aware(row.left_at),
            confirmed_at=_aware(row.confirmed_at)
            if row.confirmed_through is not None and row.confirmed_through >= row.left_through
            else None,
        )
        for row in rows
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    # An aggregate loses the column's type on SQLite: its text comes back naive (it is UTC).
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
