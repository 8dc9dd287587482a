"""The change signal: how a process notices that the change feed moved, and where a poll cycle may read to.

One task per process reads the feed's counter (`change_counter.last_seq`, one row by primary key) every
200 ms and wakes the waiting subscriptions when it moved. Changes committed by other worker processes or
by the command line are therefore noticed within one interval, with one cheap query per process however
many subscriptions are open. The same task publishes the changes that fall due on a date (a school
year's groups on 1 August), so that waiting subscriptions receive them on that date without any other
change happening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

from sqlalchemy import select

from datasources.feed import schedule
from datasources.store.tables import CHANGE_COUNTER

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.store.reader import Reader
    from settings import Settings

logger = logging.getLogger("leerpoort.subscriptions")

#: How often each process reads the feed's counter: delivery comes well within a second.
POLL_INTERVAL_SECONDS: Final = 0.2
#: How often the signal publishes changes that fell due on a date (a school year's groups on 1 August).
PUBLISH_DUE_INTERVAL_SECONDS: Final = 1.0

#: A plain read of the counter row: `numbering.current_seq` would first insert it, which is a write that
#: waits for an import holding the row (PostgreSQL) or for SQLite's write lock.
_LAST_SEQ = select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1)


async def counter_value(reader: Reader) -> int:
    """The feed's counter, read on a request's reader: every event numbered up to it has committed (writers
    number their events under the counter row in the transaction that makes the change)."""
    rows = await reader.rows(_LAST_SEQ)
    return int(rows[0].last_seq) if rows else 0


async def _last_seq(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(_LAST_SEQ) or 0)


class ChangeSignal:
    """Tells this process's subscriptions that the feed moved (one per process, in the lifespan state).

    It starts polling with the first subscription and stops when the application shuts down. It also
    publishes changes that fall due on a date, so that waiting subscriptions receive them on that date
    without any other change happening.
    """

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        """A signal on the feed of `engine`'s database; `settings` gives the hub's date."""
        self._engine = engine
        self._settings = settings
        self._last: int | None = None
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def moved_past(self, seen: int) -> None:
        """Return once the counter is beyond `seen` (the first call starts the polling)."""
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="leerpoort-change-signal")
        while self._last is None or self._last <= seen:
            await self._moved.wait()

    async def close(self) -> None:
        """Stop polling (the application shuts down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _update(self, value: int) -> None:
        if value != self._last:
            self._last = value
            # Wake every waiter at once and give later ones a fresh event to wait on.
            self._moved.set()
            self._moved = asyncio.Event()

    async def _poll(self) -> None:
        ticks_per_publish = max(1, round(PUBLISH_DUE_INTERVAL_SECONDS / POLL_INTERVAL_SECONDS))
        tick = 0
        while True:
            try:
                if tick % ticks_per_publish == 0:
                    now = self._settings.now()
                    await schedule.publish_due(self._engine, now.date(), now)
                self._update(await _last_seq(self._engine))
            except Exception as error:
                # The type only: a driver's message may quote statement parameters.
                logger.warning("reading the change counter failed: %s", type(error).__name__)
            tick += 1
            await asyncio.sleep(POLL_INTERVAL_SECONDS)


__all__ = ["POLL_INTERVAL_SECONDS", "PUBLISH_DUE_INTERVAL_SECONDS", "ChangeSignal", "counter_value"]
