"""The per-request reader: one database connection for one GraphQL request, shared by its loaders.

Loaders of one request dispatch their batches concurrently; a connection runs one statement at a time,
so statements queue on a lock. One connection per request also bounds how many a single request can hold.

Readers take their connections in the order they asked for them: a reader first waits for one of the
engine's reader slots (`database.reader_capacity`, a first-come-first-served semaphore), and only then
takes a connection from the pool, which then always has one free. The pool's own queue is not fair under
load: a connection given back goes to whichever request asks next, and with more requests in flight than
connections a waiting request could lose that race again and again until it timed out (seen at 32
concurrent partner requests: most answered in half a second, some waited five and failed).
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import exc

from datasources.store.database import POOL_TIMEOUT_SECONDS, reader_capacity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.sql import Executable


#: A result row of any width (SQLAlchemy types rows by their column tuple).
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


#: Per engine: its reader slots and the event loop they belong to (a command's own loop gets its own).
_slots: weakref.WeakKeyDictionary[AsyncEngine, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _reader_slots(engine: AsyncEngine) -> asyncio.Semaphore | None:
    capacity = reader_capacity(engine)
    if capacity is None:
        return None
    loop = asyncio.get_running_loop()
    found = _slots.get(engine)
    if found is None or found[0] is not loop:
        found = (loop, asyncio.Semaphore(capacity))
        _slots[engine] = found
    return found[1]


class ReaderClosedError(RuntimeError):
    """A statement was sent to a reader after its request ended."""


class Reader:
    """Runs read statements for one request on one lazily opened connection; closing it is final."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._slot: asyncio.Semaphore | None = None
        self._closed = False
        self._lock = asyncio.Lock()
        #: Records read per school during this request, for the disclosure audit of partner reads.
        self.disclosed: Counter[int] = Counter()

    @property
    def engine(self) -> AsyncEngine:
        """The engine this reader reads from (for a read that needs a connection of its own)."""
        return self._engine

    async def rows(
        self, statement: Executable, parameters: Mapping[str, Any] | None = None
    ) -> Sequence[AnyRow]:
        """All rows of a read statement (with values for its named bind parameters)."""
        async with self._lock:
            if self._closed:
                # A loader's batch still running after its request ended (the request was cancelled while
                # the batch waited): it must not open a connection and take a slot that nobody gives back.
                raise ReaderClosedError("the request's reader is closed")
            connection = self._connection or await self._connect()
            try:
                result = await connection.execute(statement, parameters)
            except exc.DBAPIError as error:
                if error.connection_invalidated:
                    # The database went away under this connection: give it up, so that the request's
                    # next statement asks for another and fails (or succeeds) as an outage does.
                    await self._give_back()
                raise
            return result.all()

    def disclose(self, school_ids: Iterable[int]) -> None:
        """Count records of these schools as read (one id per record)."""
        self.disclosed.update(school_ids)

    def disclose_counts(self, counts: Mapping[int, int]) -> None:
        """Count this many records of each school as read."""
        self.disclosed.update(counts)

    async def close(self, write: tuple[Executable, list[dict[str, Any]]] | None = None) -> None:
        """Give the connection (and its slot) back; given a `write` (the disclosure audit: one statement
        and its rows), first run it on the same connection. The audit so costs a request no second
        connection, pool check and transaction; on this autocommitted connection it is durable when it
        returns, so before the request's answer leaves."""
        async with self._lock:
            self._closed = True
            try:
                if write is not None:
                    connection = self._connection or await self._connect()
                    transaction = connection.get_transaction()
                    if transaction is not None and not transaction.is_valid:
                        # A statement of the request failed: its transaction can only be rolled back.
                        await connection.rollback()
                    await connection.execute(*write)
                    await connection.commit()
            finally:
                await self._give_back()

    async def _give_back(self) -> None:
        try:
            if self._connection is not None:
                await self._connection.close()
        finally:
            self._connection = None
            if self._slot is not None:
                self._slot.release()
                self._slot = None

    async def _connect(self) -> AsyncConnection:
        slots = _reader_slots(self._engine)
        if slots is not None:
            try:
                # Not `asyncio.wait_for`: on Python 3.11 it can swallow a cancellation that arrives as the
                # slot is granted, and a completed subscription then kept running (and its place).
                async with asyncio.timeout(POOL_TIMEOUT_SECONDS):
                    await slots.acquire()
            except TimeoutError:
                # As the pool's own timeout, which `database.is_outage` answers with 503 UNAVAILABLE.
                raise exc.TimeoutError("every reader slot stayed in use") from None
            self._slot = slots
        try:
            connection = await self._engine.connect()
            # Each statement on its own (PostgreSQL's READ COMMITTED gives a statement its own snapshot
            # in a transaction too): no BEGIN and ROLLBACK round trips around a request's reads, and the
            # audit's one INSERT is durable when it returns.
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        except BaseException:
            if self._slot is not None:
                self._slot.release()
                self._slot = None
            raise
        return self._connection
