"""The counters of the credential rate limits, in the database (`credential_attempts`).

Why the database and not Redis or process memory: the limits must hold however many worker processes
serve (`--workers 2`), and a counter in one process's memory is only that process's count. The database
is the one thing every worker, and the command line, already shares, on SQLite and PostgreSQL alike, so
`python server.py` needs no extra service and the sandbox runs as before; Redis would be a second
service to run, secure and monitor for a few writes a minute (sign-ins and token requests are rare
next to reads: a token lasts 15 minutes, a staff token 8 hours). A failed attempt is one small row
under each of its keys; rows past the window are deleted as new attempts arrive.

An attempt is *reserved* (its rows committed) before it is counted and before the secret is checked:
each of several concurrent attempts, in whatever process, then counts all those committed before it
and itself, so no more than the limit are ever checked within a window (concurrent attempts may count
each other and both be refused: the error is on the safe side). A refused attempt and a successful one
take their rows back (`release`), so only checked failures count, and a key's rows stay at about its limit
however hard it is hammered.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from datasources.store.tables import CREDENTIAL_ATTEMPTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine


async def reserve(
    engine: AsyncEngine, keys: Sequence[str], *, now: dt.datetime, expired_before: dt.datetime
) -> list[int]:
    """Count an attempt under each of `keys` at `now` (committed on return); returns its row ids. Rows
    from before `expired_before` (past every window) are deleted in the same transaction."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(CREDENTIAL_ATTEMPTS).where(CREDENTIAL_ATTEMPTS.c.attempted_at < expired_before)
        )
        inserted = await connection.execute(
            insert(CREDENTIAL_ATTEMPTS)
            .values([{"key": key, "attempted_at": now} for key in keys])
            .returning(CREDENTIAL_ATTEMPTS.c.id)
        )
        return [int(row_id) for row_id in inserted.scalars()]


async def recent_failures(
    engine: AsyncEngine, keys: Sequence[str], *, since: dt.datetime, excluding: Sequence[int]
) -> dict[str, list[dt.datetime]]:
    """The times of the attempts counted under each key after `since`, other than `excluding`'s rows
    (the asking attempt's own)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(CREDENTIAL_ATTEMPTS.c.key, CREDENTIAL_ATTEMPTS.c.attempted_at).where(
                CREDENTIAL_ATTEMPTS.c.key.in_(keys),
                CREDENTIAL_ATTEMPTS.c.attempted_at > since,
                CREDENTIAL_ATTEMPTS.c.id.not_in(excluding),
            )
        )
        found: dict[str, list[dt.datetime]] = defaultdict(list)
        for row in rows:
            found[row.key].append(row.attempted_at)
    return dict(found)


async def release(engine: AsyncEngine, attempt: Sequence[int]) -> None:
    """Take back an attempt's rows: it succeeded, or it was refused without being checked."""
    async with engine.begin() as connection:
        await connection.execute(delete(CREDENTIAL_ATTEMPTS).where(CREDENTIAL_ATTEMPTS.c.id.in_(attempt)))
