"""Roles the LAS does not deliver, given and taken by a school's coordinator: hand roles on staff members,
hand-given group links (a substitute's groups until a date), staff members added by hand, and coordinators.

Everything here survives re-imports: an import keeps a member's roles, never removes a member whose source
is "hub", and keeps the group links whose `role` is set (`hand_staff_links` in datasources.imports.state).
A school always keeps at least one active coordinator: an active staff account that holds the coordinator
role there, either as an account role (the helpdesk's bootstrap) or as the role of an activated staff member
of the school with that account's e-mail address.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Final

from sqlalchemy import and_, delete, insert, select, update

from datasources.access.accounts import normalise_email
from datasources.access.viewer_facts import COORDINATOR
from datasources.store.tables import (
    GROUP_STAFF,
    GROUPS,
    PERSONS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
)
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: The roles only a coordinator gives; TEACHER comes from the LAS alone.
HAND_ROLES: Final = frozenset(
    {
        "ICT_COORDINATOR",
        "INTERNAL_SUPERVISOR",
        "REMEDIAL_TEACHER",
        "INTERN",
        "SUBSTITUTE",
        "SUPPORT_STAFF",
    }
)
#: The source of a staff member added in the hub (an import's members are "las").
HUB_SOURCE: Final = "hub"


async def staff_school(engine: AsyncEngine, staff_id: int) -> int | None:
    """The school of a staff member (any viewer's permission is decided on it), or None if unknown."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(STAFF_MEMBERS.c.school_id).where(STAFF_MEMBERS.c.id == staff_id)
        )
    return None if found is None else int(found)


async def group_schools(engine: AsyncEngine, group_ids: Sequence[int]) -> dict[int, int]:
    """The school of each known group among `group_ids`."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(GROUPS.c.id, GROUPS.c.school_id).where(GROUPS.c.id.in_(list(group_ids)))
        )
        return {row.id: row.school_id for row in rows}


def _check_role(role: str) -> None:
    if role not in HAND_ROLES:
        raise BadUserInput(f"{role} comes from the LAS and cannot be given or taken by hand")


async def add_role(
    engine: AsyncEngine, staff_id: int, role: str, *, group_ids: Sequence[int], until: dt.date | None
) -> None:
    """Give a staff member a hand role and, with it, these groups (until `until`, inclusive)."""
    _check_role(role)
    async with engine.begin() as connection:
        roles = await _roles(connection, staff_id)
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == staff_id).values(roles=sorted({*roles, role}))
        )
        for group_id in dict.fromkeys(group_ids):
            link = and_(GROUP_STAFF.c.group_id == group_id, GROUP_STAFF.c.staff_id == staff_id)
            existing = (await connection.execute(select(GROUP_STAFF.c.role).where(link))).one_or_none()
            if existing is None:
                await connection.execute(
                    insert(GROUP_STAFF).values(group_id=group_id, staff_id=staff_id, role=role, until=until)
                )
            elif existing.role is not None:
                # A hand link given again takes the new role and last day; a LAS link stays the LAS's.
                await connection.execute(update(GROUP_STAFF).where(link).values(role=role, until=until))


async def remove_role(engine: AsyncEngine, staff_id: int, role: str) -> None:
    """Take a hand role from a staff member, with the groups given with it. Refused (CONFLICT, nothing
    changed) when it would leave the school without an active coordinator."""
    _check_role(role)
    async with engine.begin() as connection:
        member = (
            await connection.execute(
                select(STAFF_MEMBERS.c.school_id, STAFF_MEMBERS.c.roles, STAFF_MEMBERS.c.email).where(
                    STAFF_MEMBERS.c.id == staff_id
                )
            )
        ).one()
        if role not in member.roles:
            raise BadUserInput(f"the staff member does not have the role {role}")
        await connection.execute(
            update(STAFF_MEMBERS)
            .where(STAFF_MEMBERS.c.id == staff_id)
            .values(roles=[kept for kept in member.roles if kept != role])
        )
        await connection.execute(
            delete(GROUP_STAFF).where(GROUP_STAFF.c.staff_id == staff_id, GROUP_STAFF.c.role == role)
        )
        if role == COORDINATOR:
            if member.email:
                account = select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == member.email)
                await connection.execute(
                    delete(STAFF_ACCOUNT_ROLES).where(
                        STAFF_ACCOUNT_ROLES.c.account_id.in_(account.scalar_subquery()),
                        STAFF_ACCOUNT_ROLES.c.school_id == member.school_id,
                        STAFF_ACCOUNT_ROLES.c.role == COORDINATOR,
                    )
                )
            if not await active_coordinators(connection, member.school_id):
                # Raising rolls the transaction back: the role and the links stay as they were.
                raise Conflict(
                    "a school keeps at least one active coordinator: make someone else coordinator first"
                )


async def add_member(
    engine: AsyncEngine,
    school_id: int,
    *,
    first_name: str | None,
    prefix: str | None,
    last_name: str,
    email: str | None,
    roles: Sequence[str],
    now: dt.datetime,
) -> int:
    """Add a staff member the LAS does not know (an intern, a support worker); no import removes them.
    Inactive until the account is activated, like every member. Returns the member's id."""
    for role in roles:
        _check_role(role)
    if not last_name.strip():
        raise BadUserInput("a staff member needs a last name")
    address = normalise_email(email) if email else None
    async with engine.begin() as connection:
        if address is not None:
            taken = await connection.scalar(
                select(STAFF_MEMBERS.c.id).where(
                    STAFF_MEMBERS.c.school_id == school_id, STAFF_MEMBERS.c.email == address
                )
            )
            if taken is not None:
                raise Conflict(f"{address} is already a staff member of this school")
        # A new identity: someone the LAS never delivered has no keys to be recognised by.
        person_id = await connection.scalar(insert(PERSONS).values(created_at=now).returning(PERSONS.c.id))
        inserted = await connection.execute(
            insert(STAFF_MEMBERS)
            .values(
                person_id=person_id,
                school_id=school_id,
                # Never an LAS key (those never start with "~"), so no file matches or removes it by key.
                las_key=f"~hub~{secrets.token_hex(8)}",
                first_name=(first_name or "").strip() or None,
                prefix=(prefix or "").strip() or None,
                last_name=last_name.strip(),
                email=address,
                roles=sorted(set(roles)),
                las_roles=[],
                active=False,
                source=HUB_SOURCE,
            )
            .returning(STAFF_MEMBERS.c.id)
        )
        return int(inserted.scalar_one())


async def active_coordinators(connection: AsyncConnection, school_id: int) -> set[int]:
    """The active accounts that coordinate the school (by an account role, or as a staff member of the
    school with the coordinator role and the account's e-mail address)."""
    by_account = await connection.scalars(
        select(STAFF_ACCOUNTS.c.id)
        .join(STAFF_ACCOUNT_ROLES, STAFF_ACCOUNT_ROLES.c.account_id == STAFF_ACCOUNTS.c.id)
        .where(
            STAFF_ACCOUNTS.c.active.is_(True),
            STAFF_ACCOUNT_ROLES.c.school_id == school_id,
            STAFF_ACCOUNT_ROLES.c.role == COORDINATOR,
        )
    )
    found = set(by_account)
    members = await connection.execute(
        select(STAFF_ACCOUNTS.c.id, STAFF_MEMBERS.c.roles)
        .join(STAFF_MEMBERS, STAFF_MEMBERS.c.email == STAFF_ACCOUNTS.c.email)
        .where(
            STAFF_ACCOUNTS.c.active.is_(True),
            STAFF_MEMBERS.c.active.is_(True),
            STAFF_MEMBERS.c.school_id == school_id,
        )
    )
    # Roles are a JSON list: filtered here, the same way on both engines.
    found.update(row.id for row in members if COORDINATOR in row.roles)
    return found


async def _roles(connection: AsyncConnection, staff_id: int) -> list[str]:
    roles = await connection.scalar(select(STAFF_MEMBERS.c.roles).where(STAFF_MEMBERS.c.id == staff_id))
    if roles is None:
        raise BadUserInput("no staff member with this id")
    return list(roles)


__all__ = [
    "HAND_ROLES",
    "HUB_SOURCE",
    "active_coordinators",
    "add_member",
    "add_role",
    "group_schools",
    "remove_role",
    "staff_school",
]
