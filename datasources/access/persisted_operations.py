"""Persisted operations in the database: documents registered under their SHA-256 (automatic persisted
queries), and the optional allow-list of operations per partner.

The database, because every worker must know a document one of them registered (a client registers once,
then sends the hash to whichever worker its load balancer picks). A document never changes under its
hash, so each worker also keeps the documents it has read in a small memory cache, and a registration
that races another one for the same hash is simply a no-op.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from datasources.store.tables import OPERATION_ALLOW_LISTS, PARTNERS, PERSISTED_QUERIES

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection

    from sqlalchemy.ext.asyncio import AsyncEngine

#: Documents each process keeps in memory (a partner repeats a few dozen; this is plenty).
CACHED_DOCUMENTS: Final = 1024


class _DocumentCache:
    """An LRU of hash → document for one engine (documents are immutable, so it is never invalidated)."""

    def __init__(self) -> None:
        self.documents: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        document = self.documents.get(sha256)
        if document is not None:
            self.documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> None:
        self.documents[sha256] = document
        self.documents.move_to_end(sha256)
        while len(self.documents) > CACHED_DOCUMENTS:
            self.documents.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[AsyncEngine, _DocumentCache] = weakref.WeakKeyDictionary()


def _cache_of(engine: AsyncEngine) -> _DocumentCache:
    """The memory cache of the database behind `engine` (one a process, gone with the engine)."""
    return _CACHES.setdefault(engine, _DocumentCache())


async def document(engine: AsyncEngine, sha256: str) -> str | None:
    """The document registered under `sha256`, or None when none is."""
    cache = _cache_of(engine)
    cached = cache.get(sha256)
    if cached is not None:
        return cached
    async with engine.connect() as connection:
        found = (
            await connection.execute(
                select(PERSISTED_QUERIES.c.query).where(PERSISTED_QUERIES.c.sha256 == sha256)
            )
        ).scalar_one_or_none()
    if found is not None:
        cache.put(sha256, found)
    return found


async def register(engine: AsyncEngine, sha256: str, query: str, *, now: dt.datetime) -> None:
    """Store `query` under `sha256` (which the caller checked is its hash); already stored is fine."""
    if await document(engine, sha256) is not None:
        return
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(PERSISTED_QUERIES).values(sha256=sha256, query=query, registered_at=now)
            )
    except IntegrityError:
        pass  # another worker registered the same document first
    _cache_of(engine).put(sha256, query)


async def set_allow_list(engine: AsyncEngine, partner_id: int, hashes: Collection[str]) -> bool:
    """Replace a partner's allow-list with `hashes` (an empty collection removes the list: the partner
    may run any operation again); False when there is no such partner."""
    async with engine.begin() as connection:
        exists = (
            await connection.execute(select(PARTNERS.c.id).where(PARTNERS.c.id == partner_id))
        ).scalar_one_or_none()
        if exists is None:
            return False
        await connection.execute(
            delete(OPERATION_ALLOW_LISTS).where(OPERATION_ALLOW_LISTS.c.partner_id == partner_id)
        )
        if hashes:
            await connection.execute(
                insert(OPERATION_ALLOW_LISTS),
                [{"partner_id": partner_id, "sha256": sha256} for sha256 in sorted(set(hashes))],
            )
    return True


__all__ = ["CACHED_DOCUMENTS", "document", "register", "set_allow_list"]
