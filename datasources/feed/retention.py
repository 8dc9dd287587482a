"""Retention: events older than the period the feed keeps are dropped, and the counter row remembers
how far, so that a cursor from before them is told to resync (`reading.feed_page`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from datasources.feed.numbering import ensure_counter
from datasources.store.tables import CHANGE_COUNTER, CHANGE_EVENTS

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine


async def prune(engine: AsyncEngine, older_than: dt.datetime) -> int:
    """Drop events older than the retention period; a cursor before them must then resync."""
    async with engine.begin() as connection:
        newest = await connection.scalar(
            select(CHANGE_EVENTS.c.seq)
            .where(CHANGE_EVENTS.c.occurred_at < older_than)
            .order_by(CHANGE_EVENTS.c.seq.desc())
            .limit(1)
        )
        if newest is None:
            return 0
        result = await connection.execute(delete(CHANGE_EVENTS).where(CHANGE_EVENTS.c.seq <= newest))
        await ensure_counter(connection)
        await connection.execute(
            update(CHANGE_COUNTER).where(CHANGE_COUNTER.c.id == 1).values(pruned_through=newest)
        )
        return int(result.rowcount or 0)
