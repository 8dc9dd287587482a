"""The per-request reader: one database connection for one GraphQL request, shared by its loaders.

Loaders of one request dispatch their batches concurrently; a connection runs one statement at a time,
so statements queue on a lock. One connection per request also bounds how many a single request can hold.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.sql import Executable


#: A result row of any width (SQLAlchemy types rows by their column tuple).
AnyRow: TypeAlias = "Row[*tuple[Any, ...]]"


class Reader:
    """Runs read statements for one request on one lazily opened connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
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
            if self._connection is None:
                self._connection = await self._engine.connect()
            result = await self._connection.execute(statement, parameters)
            return result.all()

    def disclose(self, school_ids: Iterable[int]) -> None:
        """Count records of these schools as read (one id per record)."""
        self.disclosed.update(school_ids)

    def disclose_counts(self, counts: Mapping[int, int]) -> None:
        """Count this many records of each school as read."""
        self.disclosed.update(counts)

    async def close(self, write: tuple[Executable, Sequence[Mapping[str, Any]]] | None = None) -> None:
        """Give the connection back to the pool, ending its transaction: rolled back, or, given a `write`
        (a statement and its rows: the disclosure audit), committed with that write. The audit so costs a
        request no second connection, pool check and transaction; the write is committed before this
        returns, so before the request's answer leaves."""
        async with self._lock:
            try:
                if write is not None:
                    if self._connection is None:
                        self._connection = await self._engine.connect()
                    statement, rows = write
                    await self._connection.execute(statement, rows)
                    await self._connection.commit()
            finally:
                if self._connection is not None:
                    await self._connection.close()
                    self._connection = None
