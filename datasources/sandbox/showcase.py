"""What a fresh sandbox shows first: whether the hub is still empty, and whom its ready tokens are for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from datasources.store.tables import PARTNERS, SCHOOLS, STAFF_ACCOUNTS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class Showcase:
    """The subjects of the sandbox's ready tokens; None where the hub has none (yet)."""

    #: The client id of the first publisher registered.
    publisher_client_id: str | None
    #: The code of the first school, which the demo coordinator coordinates.
    school_code: str | None
    #: The demo coordinator's account, once made.
    coordinator_account_id: int | None


async def is_empty(engine: AsyncEngine) -> bool:
    """Whether the database holds no school yet (a fresh sandbox)."""
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(SCHOOLS))).scalar_one()
    return int(count) == 0


async def subjects(engine: AsyncEngine, coordinator_email: str) -> Showcase:
    """The first publisher, the first school, and the account of the demo coordinator with this e-mail."""
    async with engine.connect() as connection:
        publisher = (
            await connection.execute(
                select(PARTNERS.c.client_id)
                .where(PARTNERS.c.kind == "PUBLISHER")
                .order_by(PARTNERS.c.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        school = (
            await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id).limit(1))
        ).scalar_one_or_none()
        account = (
            await connection.execute(
                select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == coordinator_email)
            )
        ).scalar_one_or_none()
    return Showcase(publisher_client_id=publisher, school_code=school, coordinator_account_id=account)
