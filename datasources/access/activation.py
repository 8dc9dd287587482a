"""One-time account links: activating an imported staff member's account, and resetting a password.

A link's token is random (256 bits) and only its SHA-256 is stored (`account_links`), so a copy of the
database opens no account. A link works once: redeeming it sets `used_at` with a conditional update, so two
concurrent uses cannot both succeed. An activation link is tied to the staff member *and* the address it
was sent to: an import that changes the address or removes the member deletes it
(`datasources.imports.account_access`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from datasources.access import mail_queue
from datasources.store.tables import (
    ACCOUNT_LINKS,
    SCHOOLS,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
)
from errors import RefusedInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

ACTIVATION = "activation"
RESET = "reset"


@dataclass(frozen=True, slots=True)
class Invitee:
    """An inactive staff member with an address, to be sent an activation link."""

    staff_member_id: int
    email: str
    first_name: str | None
    prefix: str | None
    last_name: str
    school_name: str


@dataclass(frozen=True, slots=True)
class QueuedLink:
    """A link to store (its token's hash) and the message that carries it."""

    token_hash: str
    email: str
    message: str
    staff_member_id: int | None = None
    account_id: int | None = None


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """Who a redeemed link let in: the account, and the names the password policy checks against."""

    account_id: int
    email: str
    names: tuple[str | None, ...]


async def inactive_members(
    engine: AsyncEngine, school_id: int, staff_member_ids: Sequence[int] | None
) -> list[Invitee]:
    """The school's inactive staff members with an e-mail address: all of them, or only those of
    `staff_member_ids` (ids of other schools are simply not found)."""
    query = (
        select(
            STAFF_MEMBERS.c.id,
            STAFF_MEMBERS.c.email,
            STAFF_MEMBERS.c.first_name,
            STAFF_MEMBERS.c.prefix,
            STAFF_MEMBERS.c.last_name,
            SCHOOLS.c.name,
        )
        .join(SCHOOLS, SCHOOLS.c.id == STAFF_MEMBERS.c.school_id)
        .where(
            STAFF_MEMBERS.c.school_id == school_id,
            STAFF_MEMBERS.c.active.is_(False),
            STAFF_MEMBERS.c.email.is_not(None),
        )
        .order_by(STAFF_MEMBERS.c.id)
    )
    if staff_member_ids is not None:
        query = query.where(STAFF_MEMBERS.c.id.in_(staff_member_ids))
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [Invitee(row[0], row[1], row[2], row[3], row[4], row[5]) for row in rows if row[1]]


async def queue_links(
    engine: AsyncEngine, purpose: str, links: Sequence[QueuedLink], *, now: dt.datetime, valid: dt.timedelta
) -> int:
    """Store the links and queue their messages in one transaction; returns how many were queued."""
    if not links:
        return 0
    async with engine.begin() as connection:
        await connection.execute(
            insert(ACCOUNT_LINKS),
            [
                {
                    "token_hash": link.token_hash,
                    "purpose": purpose,
                    "staff_member_id": link.staff_member_id,
                    "account_id": link.account_id,
                    "email": link.email,
                    "created_at": now,
                    "expires_at": now + valid,
                }
                for link in links
            ],
        )
        for link in links:
            await mail_queue.enqueue(connection, link.email, link.message, now=now)
    return len(links)


async def resettable_account(engine: AsyncEngine, email: str) -> int | None:
    """The id of the active account that signs in with this (normalised) address, or None."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(STAFF_ACCOUNTS.c.id).where(
                STAFF_ACCOUNTS.c.email == email, STAFF_ACCOUNTS.c.active.is_(True)
            )
        )
        return found.scalar_one_or_none()


def _usable(link: Row[Any] | None, purpose: str, now: dt.datetime) -> Row[Any]:
    """The link if it still works; refused with a stable reason when it does not."""
    if link is None or link.purpose != purpose:
        raise RefusedInput("this link is not valid (any more); ask for a new one", "LINK_INVALID")
    if link.used_at is not None:
        raise RefusedInput("this link was used already; ask for a new one", "LINK_USED")
    if link.expires_at <= now:
        raise RefusedInput("this link has expired; ask for a new one", "LINK_EXPIRED")
    return link


async def _find(connection: AsyncConnection, token_hash: str) -> Row[Any] | None:
    found = await connection.execute(select(ACCOUNT_LINKS).where(ACCOUNT_LINKS.c.token_hash == token_hash))
    return found.one_or_none()


async def _take(connection: AsyncConnection, token_hash: str, purpose: str, now: dt.datetime) -> Row[Any]:
    """The link behind `token_hash`, marked used; refused with a stable reason when it no longer works."""
    link = _usable(await _find(connection, token_hash), purpose, now)
    taken = await connection.execute(
        update(ACCOUNT_LINKS)
        .where(ACCOUNT_LINKS.c.id == link.id, ACCOUNT_LINKS.c.used_at.is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:
        raise RefusedInput("this link was used already; ask for a new one", "LINK_USED")
    return link


async def link_holder(engine: AsyncEngine, token_hash: str, purpose: str, *, now: dt.datetime) -> LinkHolder:
    """Who the link would let in (for the password policy), without using it; refused like `redeem`."""
    async with engine.connect() as connection:
        link = _usable(await _find(connection, token_hash), purpose, now)
        names: tuple[str | None, ...] = ()
        if link.staff_member_id is not None:
            member = (
                await connection.execute(
                    select(
                        STAFF_MEMBERS.c.first_name, STAFF_MEMBERS.c.prefix, STAFF_MEMBERS.c.last_name
                    ).where(STAFF_MEMBERS.c.id == link.staff_member_id)
                )
            ).one_or_none()
            names = () if member is None else (member[0], member[1], member[2])
    return LinkHolder(account_id=link.account_id or 0, email=link.email, names=names)


async def activate(engine: AsyncEngine, token_hash: str, password_hash: str, *, now: dt.datetime) -> int:
    """Redeem an activation link: the staff member becomes active and its account (by the address the
    link went to) gets this password, created if there is none. Returns the account id."""
    async with engine.begin() as connection:
        link = await _take(connection, token_hash, ACTIVATION, now)
        member_id, address = link.staff_member_id, link.email
        member = (
            await connection.execute(select(STAFF_MEMBERS.c.email).where(STAFF_MEMBERS.c.id == member_id))
        ).one_or_none()
        if member is None or member.email != address:
            raise RefusedInput("this link is not valid (any more); ask for a new one", "LINK_INVALID")
        account_id = (
            await connection.execute(select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == address))
        ).scalar_one_or_none()
        if account_id is None:
            account_id = (
                await connection.execute(
                    insert(STAFF_ACCOUNTS)
                    .values(
                        email=address,
                        password_hash=password_hash,
                        active=True,
                        created_at=now,
                        created_by="activation",
                    )
                    .returning(STAFF_ACCOUNTS.c.id)
                )
            ).scalar_one()
        else:
            await connection.execute(
                update(STAFF_ACCOUNTS)
                .where(STAFF_ACCOUNTS.c.id == account_id)
                # An account a network provider's assertion made (assertion_only) is activated now.
                .values(password_hash=password_hash, active=True, assertion_only=False)
            )
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == member_id).values(active=True)
        )
        # The member's other open invitations are spent with this one.
        await connection.execute(
            update(ACCOUNT_LINKS)
            .where(ACCOUNT_LINKS.c.staff_member_id == member_id, ACCOUNT_LINKS.c.used_at.is_(None))
            .values(used_at=now)
        )
    return int(account_id)


async def reset_password(
    engine: AsyncEngine, token_hash: str, password_hash: str, *, now: dt.datetime
) -> int:
    """Redeem a reset link: the (still active) account gets this password. Returns the account id."""
    async with engine.begin() as connection:
        link = await _take(connection, token_hash, RESET, now)
        account_id = link.account_id
        changed = await connection.execute(
            update(STAFF_ACCOUNTS)
            .where(STAFF_ACCOUNTS.c.id == account_id, STAFF_ACCOUNTS.c.active.is_(True))
            .values(password_hash=password_hash)
        )
        if changed.rowcount != 1:
            raise RefusedInput("this link is not valid (any more); ask for a new one", "LINK_INVALID")
        await connection.execute(
            update(ACCOUNT_LINKS)
            .where(ACCOUNT_LINKS.c.account_id == account_id, ACCOUNT_LINKS.c.used_at.is_(None))
            .values(used_at=now)
        )
    return int(account_id)
