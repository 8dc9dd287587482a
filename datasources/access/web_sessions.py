"""Browser sessions: stored by the hash of their cookie, looked up, ended; and whether their person may
still come in (an account disabled or removed since ends every session of it on its next request)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, insert, or_, select, update

from datasources.access import home_logins
from datasources.store.tables import SCHOOLS, STAFF_ACCOUNTS, STUDENT_LOGINS, STUDENTS, WEB_SESSIONS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

#: The subject kinds a session may hold (ViewerKind values).
STAFF = "staff"
STUDENT = "student"


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
    """The session stored under this cookie hash, ended or not (the caller judges)."""
    async with engine.connect() as connection:
        found = await connection.execute(select(WEB_SESSIONS).where(WEB_SESSIONS.c.token_hash == token_hash))
        row = found.one_or_none()
    if row is None:
        return None
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
    )


async def end_session(engine: AsyncEngine, session_id: int, *, at: dt.datetime) -> None:
    """Mark a session ended (kept for the record; its cookie opens nothing any more)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(WEB_SESSIONS)
            .where(WEB_SESSIONS.c.id == session_id, WEB_SESSIONS.c.ended_at.is_(None))
            .values(ended_at=at)
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
