"""Schools' registered networks, and the network tokens that keep a dynamic address current."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from datasources.store.tables import NETWORK_TOKENS, SCHOOL_NETWORKS
from errors import Conflict, NotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Row
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: A school registers a handful of ranges (a main building, an annexe, a dynamic line); far more is a
#: script gone wrong, and every sign-in at the school compares against the list.
MAX_NETWORKS_PER_SCHOOL = 50
#: Live network tokens per school: one per line or scheduler, with room for a rotation.
MAX_TOKENS_PER_SCHOOL = 10


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    """One registered range of a school."""

    school_id: int
    cidr: str
    #: Recorded by the school's update command (one address, replaced on every update).
    dynamic: bool
    added_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NetworkTokenRecord:
    """A school's network token, as its coordinator sees it (never the token itself)."""

    id: int
    school_id: int
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


_NETWORK_COLUMNS = (
    SCHOOL_NETWORKS.c.school_id,
    SCHOOL_NETWORKS.c.cidr,
    SCHOOL_NETWORKS.c.dynamic,
    SCHOOL_NETWORKS.c.added_at,
)
_TOKEN_COLUMNS = (
    NETWORK_TOKENS.c.id,
    NETWORK_TOKENS.c.school_id,
    NETWORK_TOKENS.c.label,
    NETWORK_TOKENS.c.created_at,
    NETWORK_TOKENS.c.revoked_at,
    NETWORK_TOKENS.c.last_used_at,
)


def _network(row: Row[Any, Any, Any, Any]) -> NetworkRecord:
    return NetworkRecord(
        school_id=row.school_id,
        cidr=row.cidr,
        dynamic=bool(row.dynamic),
        added_at=_aware(row.added_at),
    )


def _token(row: Row[Any, Any, Any, Any, Any, Any]) -> NetworkTokenRecord:
    return NetworkTokenRecord(
        id=row.id,
        school_id=row.school_id,
        label=row.label,
        created_at=_aware(row.created_at),
        revoked_at=None if row.revoked_at is None else _aware(row.revoked_at),
        last_used_at=None if row.last_used_at is None else _aware(row.last_used_at),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def networks_of_schools(
    engine: AsyncEngine, school_ids: Sequence[int]
) -> dict[int, list[NetworkRecord]]:
    """The registered ranges of each school, in the order of their ranges' text."""
    found: dict[int, list[NetworkRecord]] = {school_id: [] for school_id in school_ids}
    if not school_ids:
        return found
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(*_NETWORK_COLUMNS)
            .where(SCHOOL_NETWORKS.c.school_id.in_(list(school_ids)))
            .order_by(SCHOOL_NETWORKS.c.school_id, SCHOOL_NETWORKS.c.dynamic, SCHOOL_NETWORKS.c.cidr)
        )
        for row in rows:
            found[row.school_id].append(_network(row))
    return found


async def add_network(engine: AsyncEngine, school_id: int, cidr: str, *, now: dt.datetime) -> NetworkRecord:
    """Register `cidr` (already checked and normalised) for the school; registering a range the school
    has is a no-op that answers the range as it stands."""
    async with engine.begin() as connection:
        existing = await _network_row(connection, school_id, cidr)
        if existing is not None:
            return existing
        count = len(
            (
                await connection.execute(
                    select(SCHOOL_NETWORKS.c.id).where(SCHOOL_NETWORKS.c.school_id == school_id)
                )
            ).all()
        )
        if count >= MAX_NETWORKS_PER_SCHOOL:
            raise Conflict(
                f"a school registers at most {MAX_NETWORKS_PER_SCHOOL} network ranges; remove one first"
            )
        try:
            await connection.execute(
                insert(SCHOOL_NETWORKS).values(school_id=school_id, cidr=cidr, dynamic=False, added_at=now)
            )
        except IntegrityError:
            raise Conflict("this range was registered at the same moment; try again") from None
        return NetworkRecord(school_id=school_id, cidr=cidr, dynamic=False, added_at=now)


async def remove_network(engine: AsyncEngine, school_id: int, cidr: str) -> None:
    """Remove a registered range of the school (a dynamic one too: the next update records it anew)."""
    async with engine.begin() as connection:
        removed = await connection.execute(
            delete(SCHOOL_NETWORKS).where(
                SCHOOL_NETWORKS.c.school_id == school_id, SCHOOL_NETWORKS.c.cidr == cidr
            )
        )
    if not removed.rowcount:
        raise NotFound(f"the school has no registered network {cidr}")


async def _network_row(connection: AsyncConnection, school_id: int, cidr: str) -> NetworkRecord | None:
    row = (
        await connection.execute(
            select(*_NETWORK_COLUMNS).where(
                SCHOOL_NETWORKS.c.school_id == school_id, SCHOOL_NETWORKS.c.cidr == cidr
            )
        )
    ).one_or_none()
    return None if row is None else _network(row)


async def create_token(
    engine: AsyncEngine, school_id: int, *, label: str, token_sha256: str, now: dt.datetime
) -> NetworkTokenRecord:
    """Store a new network token (its hash) for the school."""
    async with engine.begin() as connection:
        live = len(
            (
                await connection.execute(
                    select(NETWORK_TOKENS.c.id).where(
                        NETWORK_TOKENS.c.school_id == school_id, NETWORK_TOKENS.c.revoked_at.is_(None)
                    )
                )
            ).all()
        )
        if live >= MAX_TOKENS_PER_SCHOOL:
            raise Conflict(
                f"a school holds at most {MAX_TOKENS_PER_SCHOOL} live network tokens; revoke one first"
            )
        token_id = (
            await connection.execute(
                insert(NETWORK_TOKENS)
                .values(school_id=school_id, token_sha256=token_sha256, label=label, created_at=now)
                .returning(NETWORK_TOKENS.c.id)
            )
        ).scalar_one()
    return NetworkTokenRecord(
        id=int(token_id), school_id=school_id, label=label, created_at=now, revoked_at=None, last_used_at=None
    )


async def tokens_of_school(engine: AsyncEngine, school_id: int) -> list[NetworkTokenRecord]:
    """The school's network tokens, live and revoked, newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(*_TOKEN_COLUMNS)
            .where(NETWORK_TOKENS.c.school_id == school_id)
            .order_by(NETWORK_TOKENS.c.id.desc())
        )
        return [_token(row) for row in rows]


async def token_school(engine: AsyncEngine, token_id: int) -> int | None:
    """The school a network token belongs to (None for an unknown id)."""
    async with engine.connect() as connection:
        school_id = await connection.scalar(
            select(NETWORK_TOKENS.c.school_id).where(NETWORK_TOKENS.c.id == token_id)
        )
    return None if school_id is None else int(school_id)


async def revoke_token(engine: AsyncEngine, token_id: int, *, now: dt.datetime) -> NetworkTokenRecord:
    """Revoke a network token; the dynamic range it recorded goes with it (the school's address is no
    longer vouched for). Revoking a revoked token answers it unchanged."""
    async with engine.begin() as connection:
        await connection.execute(
            update(NETWORK_TOKENS)
            .where(NETWORK_TOKENS.c.id == token_id, NETWORK_TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        await connection.execute(
            delete(SCHOOL_NETWORKS).where(SCHOOL_NETWORKS.c.network_token_id == token_id)
        )
        row = (
            await connection.execute(select(*_TOKEN_COLUMNS).where(NETWORK_TOKENS.c.id == token_id))
        ).one_or_none()
    if row is None:
        raise NotFound("no such network token")
    return _token(row)


async def record_dynamic_address(
    engine: AsyncEngine, token_sha256: str, cidr: str, *, now: dt.datetime
) -> int | None:
    """Replace the dynamic range that the live token with this hash recorded by `cidr`; the token's
    school id, or None when no live token has this hash (nothing is changed then)."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                select(NETWORK_TOKENS.c.id, NETWORK_TOKENS.c.school_id).where(
                    NETWORK_TOKENS.c.token_sha256 == token_sha256, NETWORK_TOKENS.c.revoked_at.is_(None)
                )
            )
        ).one_or_none()
        if row is None:
            return None
        await connection.execute(delete(SCHOOL_NETWORKS).where(SCHOOL_NETWORKS.c.network_token_id == row.id))
        # The same address registered by hand stays the coordinator's; the token then adds nothing.
        if await _network_row(connection, row.school_id, cidr) is None:
            await connection.execute(
                insert(SCHOOL_NETWORKS).values(
                    school_id=row.school_id, cidr=cidr, dynamic=True, network_token_id=row.id, added_at=now
                )
            )
        await connection.execute(
            update(NETWORK_TOKENS).where(NETWORK_TOKENS.c.id == row.id).values(last_used_at=now)
        )
    return int(row.school_id)
