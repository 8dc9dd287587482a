"""The per-request reader (datasources.store.reader): connections handed out first come first served, and
never one that nobody gives back."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from datasources.store.database import reader_capacity
from datasources.store.reader import Reader, ReaderClosedError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

SELECT_ONE = text("SELECT 1")


async def _all_slots_free(engine: AsyncEngine, capacity: int) -> bool:
    """Whether `capacity` readers can each hold a connection at once, none waiting."""
    readers = [Reader(engine) for _ in range(capacity)]
    try:
        await asyncio.wait_for(asyncio.gather(*(reader.rows(SELECT_ONE) for reader in readers)), 3)
    except TimeoutError:
        return False
    finally:
        for reader in readers:
            await reader.close()
    return True


async def test_a_closed_reader_refuses_statements_and_holds_no_connection(engine: AsyncEngine) -> None:
    capacity = reader_capacity(engine)
    assert capacity is not None
    # What a loader's batch does when its request was cancelled while the batch waited: it reads on the
    # request's reader after the request closed it. Done more often than there are slots.
    for _ in range(capacity + 2):
        reader = Reader(engine)
        await reader.rows(SELECT_ONE)
        await reader.close()
        with pytest.raises(ReaderClosedError):
            await reader.rows(SELECT_ONE)

    assert await _all_slots_free(engine, capacity)


async def test_readers_beyond_the_capacity_are_served_in_the_order_they_asked(engine: AsyncEngine) -> None:
    capacity = reader_capacity(engine)
    assert capacity is not None
    holders = [Reader(engine) for _ in range(capacity)]
    for holder in holders:
        await holder.rows(SELECT_ONE)
    served: asyncio.Queue[int] = asyncio.Queue()
    finish = asyncio.Event()

    async def wait_and_read(number: int) -> None:
        reader = Reader(engine)
        try:
            await reader.rows(SELECT_ONE)
            served.put_nowait(number)
            await finish.wait()  # keeps its slot: only the holders give slots back
        finally:
            await reader.close()

    waiting = []
    for number in range(3):
        waiting.append(asyncio.create_task(wait_and_read(number)))
        await asyncio.sleep(0.01)  # each asks before the next
    assert served.empty()  # every slot is taken
    # One slot given back at a time: each goes to the reader that has waited longest.
    order = []
    for holder in holders[:3]:
        await holder.close()
        order.append(await asyncio.wait_for(served.get(), 5))
    finish.set()
    for holder in holders[3:]:
        await holder.close()
    await asyncio.wait_for(asyncio.gather(*waiting), 5)

    assert order == [0, 1, 2], order
    assert await _all_slots_free(engine, capacity)
