"""Browser sessions: stored by the hash of their cookie, looked up, ended; and whether their person may
still come in (an account disabled or removed since ends every session of it on its next request)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, insert, or_, select, update

from datasources.access import home_logins
from datasources.store.tables import (
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENT_LOGINS,
    STUDENTS,
    WEB_SESSIONS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: The subject kinds a session may hold (ViewerKind values).
STAFF = "staff"
STUDENT = "student"
#: `end_reason` of a session ended because a request came from another address than it started from, at
#: a school that binds sessions to their start address.
ADDRESS_CHANGED = "address_changed"


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session row as the resolvers read it (never the cookie's value, only what it opens)."""

    id: int
    subject_kind: str
    subject_id: str
    scopes: tuple[str, ...]
    csrf_token: str
    school_code: str | None
    address: str
    started_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    #: The network provider whose assertion started the session; None for a sign-in on the hub's pages.
    assertion_partner_id: int | None = None
    #: Whether the session's school binds sessions to their start address (`schools.sessions_bound`).
    bound_to_address: bool = False
    #: Why the hub ended it (ADDRESS_CHANGED), None for sign-out, expiry or a session still on.
    end_reason: str | None = None


async def create_session(
    engine: AsyncEngine,
    *,
    token_hash: str,
    subject_kind: str,
    subject_id: str,
    scopes: Sequence[str],
    csrf_token: str,
    school_code: str | None,
    address: str,
    started_at: dt.datetime,
    expires_at: dt.datetime,
    assertion_partner_id: int | None = None,
) -> int:
    """Store a new session under the hash of its cookie value (and the network provider whose assertion
    started it, if one did); returns its id."""
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(WEB_SESSIONS)
            .values(
                token_hash=token_hash,
                subject_kind=subject_kind,
                subject_id=subject_id,
                scopes=list(scopes),
                csrf_token=csrf_token,
                school_code=school_code,
                address=address[:64],
                started_at=started_at,
                expires_at=expires_at,
                assertion_partner_id=assertion_partner_id,
            )
            .returning(WEB_SESSIONS.c.id)
        )
        return int(inserted.scalar_one())


async def session_by_hash(engine: AsyncEngine, token_hash: str) -> StoredSession | None:
    """The session stored under this cookie hash, ended or not (the caller judges), with whether it is
    bound to its start address (`bound_to_address`, see `_staff_bound`)."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(WEB_SESSIONS, SCHOOLS.c.sessions_bound)
            .outerjoin(SCHOOLS, SCHOOLS.c.code == WEB_SESSIONS.c.school_code)
            .where(WEB_SESSIONS.c.token_hash == token_hash)
        )
        row = found.one_or_none()
        if row is None:
            return None
        bound = bool(row.sessions_bound)
        if not bound and row.ended_at is None and row.subject_kind == STAFF:
            bound = await _staff_bound(connection, row.subject_id)
    return StoredSession(
        id=row.id,
        subject_kind=row.subject_kind,
        subject_id=row.subject_id,
        scopes=tuple(row.scopes or ()),
        csrf_token=row.csrf_token,
        school_code=row.school_code,
        address=row.address,
        started_at=row.started_at,
        expires_at=row.expires_at,
        ended_at=row.ended_at,
        assertion_partner_id=row.assertion_partner_id,
        bound_to_address=bound,
        end_reason=row.end_reason,
    )


async def _staff_bound(connection: AsyncConnection, subject_id: str) -> bool:
    """Whether a staff account works at (a staff member with its address) or coordinates a school
    that binds sessions: a staff session names no school of its own, and a school that binds sessions
    wants that of every one of its staff, wherever else they also work."""
    if not subject_id.isascii() or not subject_id.isdigit():
        return False
    account_id = int(subject_id)
    bound = SCHOOLS.c.sessions_bound.is_(True)
    coordinated = (
        select(STAFF_ACCOUNT_ROLES.c.school_id)
        .join(SCHOOLS, SCHOOLS.c.id == STAFF_ACCOUNT_ROLES.c.school_id)
        .where(STAFF_ACCOUNT_ROLES.c.account_id == account_id, bound)
    )
    working = (
        select(STAFF_MEMBERS.c.school_id)
        .join(STAFF_ACCOUNTS, STAFF_ACCOUNTS.c.email == STAFF_MEMBERS.c.email)
        .join(SCHOOLS, SCHOOLS.c.id == STAFF_MEMBERS.c.school_id)
        # Inactive members count too: an assertion-only account's never activate, and binding more
        # sessions than needed only asks for a new sign-in.
        .where(STAFF_ACCOUNTS.c.id == account_id, bound)
    )
    found = await connection.scalar(select(exists(coordinated.union_all(working).subquery().select())))
    return bool(found)


async def end_session(
    engine: AsyncEngine, session_id: int, *, at: dt.datetime, reason: str | None = None
) -> None:
    """Mark a session ended (kept for the record; its cookie opens nothing any more), with the reason a
    page should tell (ADDRESS_CHANGED) if there is one."""
    async with engine.begin() as connection:
        await connection.execute(
            update(WEB_SESSIONS)
            .where(WEB_SESSIONS.c.id == session_id, WEB_SESSIONS.c.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason)
        )


async def set_sessions_bound(engine: AsyncEngine, school_id: int, enabled: bool) -> None:
    """Bind the school's sessions to their start address, or stop doing so."""
    async with engine.begin() as connection:
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(sessions_bound=enabled)
        )


async def sessions_bound(engine: AsyncEngine, school_id: int) -> bool:
    """Whether the school binds its sessions to their start address."""
    async with engine.connect() as connection:
        return bool(
            await connection.scalar(select(SCHOOLS.c.sessions_bound).where(SCHOOLS.c.id == school_id))
        )


async def subject_may_sign_in(
    engine: AsyncEngine, subject_kind: str, subject_id: str, *, by_assertion: bool = False
) -> bool:
    """Whether the person of a session may still come in: a staff account that exists and is active; a
    student whose login still exists at the school they are (still) a member of.

    A session a network provider's assertion started (`by_assertion`) vouches for the person itself, so
    it also accepts a staff account that is `assertion_only` (never activated, never disabled: the
    member stays inactive) and a student who is still a member of an open school without a login of
    their own. A disabled account (active and assertion_only both false) ends it all the same."""
    if not subject_id.isascii() or not subject_id.isdigit():
        return False
    identifier = int(subject_id)
    async with engine.connect() as connection:
        if subject_kind == STAFF:
            found = await connection.scalar(
                select(STAFF_ACCOUNTS.c.id).where(
                    STAFF_ACCOUNTS.c.id == identifier,
                    or_(STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only)
                    if by_assertion
                    else STAFF_ACCOUNTS.c.active.is_(True),
                )
            )
            return found is not None
        if subject_kind == STUDENT and by_assertion:
            member = await connection.scalar(
                select(STUDENTS.c.id)
                .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
                .where(STUDENTS.c.id == identifier, STUDENTS.c.active.is_(True), SCHOOLS.c.active.is_(True))
            )
            return member is not None
        if subject_kind == STUDENT:
            found = await connection.scalar(
                select(STUDENT_LOGINS.c.student_id)
                .join(
                    STUDENTS,
                    and_(
                        STUDENTS.c.id == STUDENT_LOGINS.c.student_id,
                        STUDENTS.c.school_id == STUDENT_LOGINS.c.school_id,
                    ),
                )
                .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
                .where(
                    STUDENT_LOGINS.c.student_id == identifier,
                    STUDENTS.c.active.is_(True),
                    SCHOOLS.c.active.is_(True),
                )
            )
            # A home login (activated by a parent) opens sessions too, while the school allows it.
            return found is not None or await home_logins.student_may_sign_in_at_home(connection, identifier)
    return False
