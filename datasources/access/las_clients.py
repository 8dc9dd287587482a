"""LAS clients (the school administration systems that push imports) and schools' coupling state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from datasources.access.accounts import StoredSecret
from datasources.store.tables import LAS_CLIENT_SCHOOLS, LAS_CLIENTS, SCHOOLS
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine


async def create_las_client(
    engine: AsyncEngine,
    *,
    name: str,
    client_id: str,
    secret_hash: str,
    school_codes: Sequence[str],
    now: dt.datetime,
) -> int:
    """Register a LAS client for the schools with these codes (all must exist); returns its id."""
    codes = sorted({code.strip().upper() for code in school_codes if code.strip()})
    if not name.strip() or not codes:
        raise BadUserInput("a LAS client needs a name and at least one school code")
    try:
        async with engine.begin() as connection:
            found = {
                row.code: row.id
                for row in await connection.execute(
                    select(SCHOOLS.c.code, SCHOOLS.c.id).where(SCHOOLS.c.code.in_(codes))
                )
            }
            if missing := [code for code in codes if code not in found]:
                raise BadUserInput(f"unknown school code(s): {', '.join(missing)}")
            inserted = await connection.execute(
                insert(LAS_CLIENTS)
                .values(
                    name=name.strip(), client_id=client_id, client_secret_hash=secret_hash, created_at=now
                )
                .returning(LAS_CLIENTS.c.id)
            )
            las_id = int(inserted.scalar_one())
            await connection.execute(
                insert(LAS_CLIENT_SCHOOLS),
                [{"las_client_id": las_id, "school_id": found[code]} for code in codes],
            )
    except IntegrityError:
        raise Conflict("a client with this id exists; try again") from None
    return las_id


async def las_secret(engine: AsyncEngine, client_id: str) -> StoredSecret | None:
    """The LAS client registered under `client_id` and its secret hash."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(LAS_CLIENTS.c.id, LAS_CLIENTS.c.client_secret_hash).where(
                    LAS_CLIENTS.c.client_id == client_id
                )
            )
        ).one_or_none()
    return None if row is None else StoredSecret(subject_id=row.id, secret_hash=row.client_secret_hash)


async def las_school_ids(engine: AsyncEngine, client_id: str) -> frozenset[int]:
    """The schools a LAS client serves (none for an unknown client)."""
    async with engine.connect() as connection:
        school_ids = await connection.scalars(
            select(LAS_CLIENT_SCHOOLS.c.school_id)
            .join(LAS_CLIENTS, LAS_CLIENTS.c.id == LAS_CLIENT_SCHOOLS.c.las_client_id)
            .where(LAS_CLIENTS.c.client_id == client_id)
        )
        return frozenset(school_ids)


async def coupling_suspended(engine: AsyncEngine, school_id: int) -> bool:
    """Whether the school's automatic LAS coupling is suspended (pushes are then refused)."""
    async with engine.connect() as connection:
        return bool(
            await connection.scalar(select(SCHOOLS.c.las_coupling_suspended).where(SCHOOLS.c.id == school_id))
        )


async def set_coupling_suspended(engine: AsyncEngine, school_id: int, suspended: bool) -> None:
    """Suspend or resume a school's automatic LAS coupling."""
    async with engine.begin() as connection:
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(las_coupling_suspended=suspended)
        )
