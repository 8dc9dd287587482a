"""Recording changes: the events of a change, numbered and written in the transaction that makes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert

from datasources.feed.numbering import take_numbers
from datasources.store.tables import CHANGE_EVENTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.feed.events import ChangeEntry


async def record(connection: AsyncConnection, entries: Sequence[ChangeEntry], now: dt.datetime) -> None:
    """Record changes in the caller's transaction, numbered in order."""
    if not entries:
        return
    first = await take_numbers(connection, len(entries))
    await connection.execute(
        insert(CHANGE_EVENTS),
        [
            {
                "seq": first + index,
                "occurred_at": now,
                "school_id": entry.school_id,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "person_id": entry.person_id,
                "kind": entry.kind,
                "partner_id": entry.partner_id,
                "categories": list(entry.categories),
            }
            for index, entry in enumerate(entries)
        ],
    )
