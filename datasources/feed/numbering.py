"""Event numbers: one counter row that a writer updates inside the transaction of the change itself.

On PostgreSQL the row lock makes writers take numbers in commit order, on SQLite writers are serialised
anyway, so a reader never passes an event that later commits with a lower number (ARCHITECTURE.md). The
same row remembers how far retention has pruned (`pruned_through`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from datasources.store.tables import CHANGE_COUNTER

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


async def ensure_counter(connection: AsyncConnection) -> None:
    """Create the counter row if this database has none yet (a no-op when it exists)."""
    values = {"id": 1, "last_seq": 0, "pruned_through": 0}
    if connection.dialect.name == "postgresql":
        await connection.execute(pg_insert(CHANGE_COUNTER).values(**values).on_conflict_do_nothing())
    else:
        await connection.execute(sqlite_insert(CHANGE_COUNTER).values(**values).on_conflict_do_nothing())


async def take_numbers(connection: AsyncConnection, count: int) -> int:
    """Reserve `count` numbers in this transaction; returns the first. The counter row stays locked until
    the transaction ends, which is what keeps the feed in commit order."""
    await ensure_counter(connection)
    last = await connection.scalar(
        update(CHANGE_COUNTER)
        .where(CHANGE_COUNTER.c.id == 1)
        .values(last_seq=CHANGE_COUNTER.c.last_seq + count)
        .returning(CHANGE_COUNTER.c.last_seq)
    )
    return int(last or 0) - count + 1


async def current_seq(connection: AsyncConnection) -> int:
    """The highest number handed out so far (a consent's feed starts after it)."""
    await ensure_counter(connection)
    return int(
        await connection.scalar(select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1)) or 0
    )


async def hold_position(connection: AsyncConnection) -> int:
    """The highest number handed out so far, with the counter row locked for the rest of the transaction:
    every event this transaction records comes after it, and no other writer can number one in between
    (so a change of scope can be placed exactly between the events before and after it)."""
    return await take_numbers(connection, 0) - 1
