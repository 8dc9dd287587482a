"""Home login for students: the school's switch, the printed activation codes, the home logins parents
activate with them, and the links in mail to choose a new PIN."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from datasources.access import mail_queue
from datasources.store.tables import (
    GROUP_STUDENTS,
    HOME_ACTIVATION_CODES,
    HOME_LINKS,
    HOME_PIN_LINKS,
    SCHOOLS,
    STUDENTS,
)
from errors import Conflict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Select
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass(frozen=True, slots=True)
class CodeStudent:
    """A student of a group for whom an activation code is printed."""

    student_id: int
    first_name: str | None
    prefix: str | None
    last_name: str


@dataclass(frozen=True, slots=True)
class CodeHolder:
    """The student an unused, unexpired activation code belongs to, and the school's state."""

    code_id: int
    student_id: int
    first_name: str | None
    school_code: str
    school_name: str
    home_login: bool


@dataclass(frozen=True, slots=True)
class StoredHomeLink:
    """A student's home login as stored (the PIN only as its hash)."""

    id: int
    student_id: int
    username: str
    email: str
    pin_hash: str
    school_code: str
    home_login: bool
    student_active: bool


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def set_home_login(engine: AsyncEngine, school_id: int, enabled: bool) -> None:
    """Switch home login on or off for the school."""
    async with engine.begin() as connection:
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(home_login=enabled))


async def school_home_login(engine: AsyncEngine, school_id: int) -> bool:
    """Whether the school has home login on."""
    async with engine.connect() as connection:
        return bool(await connection.scalar(select(SCHOOLS.c.home_login).where(SCHOOLS.c.id == school_id)))


async def first_names(engine: AsyncEngine, student_ids: Sequence[int]) -> dict[int, str | None]:
    """The first names of these students (for the reminder mail: the parent knows which child is which)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(STUDENTS.c.id, STUDENTS.c.first_name).where(STUDENTS.c.id.in_(list(student_ids)))
        )
        return {row.id: row.first_name for row in rows}


async def group_students(engine: AsyncEngine, group_id: int) -> list[CodeStudent]:
    """The active students of a group, by name."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(STUDENTS.c.id, STUDENTS.c.first_name, STUDENTS.c.prefix, STUDENTS.c.last_name)
            .join(GROUP_STUDENTS, GROUP_STUDENTS.c.student_id == STUDENTS.c.id)
            .where(GROUP_STUDENTS.c.group_id == group_id, STUDENTS.c.active.is_(True))
            .order_by(STUDENTS.c.last_name, STUDENTS.c.first_name, STUDENTS.c.id)
        )
        return [CodeStudent(row.id, row.first_name, row.prefix, row.last_name) for row in rows]


async def replace_codes(
    engine: AsyncEngine,
    codes: Sequence[tuple[int, str]],
    *,
    now: dt.datetime,
    expires_at: dt.datetime,
    created_by: str,
) -> None:
    """Store new activation codes (student id, code hash), replacing each student's unused ones: only the
    newest printed code of a student works."""
    if not codes:
        return
    async with engine.begin() as connection:
        await connection.execute(
            delete(HOME_ACTIVATION_CODES).where(
                HOME_ACTIVATION_CODES.c.student_id.in_([student_id for student_id, _ in codes]),
                HOME_ACTIVATION_CODES.c.used_at.is_(None),
            )
        )
        await connection.execute(
            insert(HOME_ACTIVATION_CODES),
            [
                {
                    "code_hash": code_hash,
                    "student_id": student_id,
                    "created_at": now,
                    "expires_at": expires_at,
                    "created_by": created_by,
                }
                for student_id, code_hash in codes
            ],
        )


async def code_holder(engine: AsyncEngine, code_hash: str, *, now: dt.datetime) -> CodeHolder | None:
    """The student of an activation code that is unused and unexpired, with the school's state."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    HOME_ACTIVATION_CODES.c.id,
                    HOME_ACTIVATION_CODES.c.student_id,
                    HOME_ACTIVATION_CODES.c.expires_at,
                    HOME_ACTIVATION_CODES.c.used_at,
                    STUDENTS.c.first_name,
                    STUDENTS.c.active,
                    SCHOOLS.c.code,
                    SCHOOLS.c.name,
                    SCHOOLS.c.home_login,
                    SCHOOLS.c.active.label("school_active"),
                )
                .join(STUDENTS, STUDENTS.c.id == HOME_ACTIVATION_CODES.c.student_id)
                .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
                .where(HOME_ACTIVATION_CODES.c.code_hash == code_hash)
            )
        ).one_or_none()
    if (
        row is None
        or row.used_at is not None
        or _aware(row.expires_at) <= now
        or not row.active
        or not row.school_active
    ):
        return None
    return CodeHolder(
        code_id=row.id,
        student_id=row.student_id,
        first_name=row.first_name,
        school_code=row.code,
        school_name=row.name,
        home_login=bool(row.home_login),
    )


async def activate(
    engine: AsyncEngine,
    holder: CodeHolder,
    *,
    username: str,
    email: str,
    pin_hash: str,
    now: dt.datetime,
) -> str | None:
    """Use the code and store (or replace) the student's home login, in one transaction; the username
    (kept when the student had a home login already), or None when the code was used in the meantime
    (nothing changed then). `Conflict` when the chosen username was taken at the same moment."""
    async with engine.begin() as connection:
        used = await connection.execute(
            update(HOME_ACTIVATION_CODES)
            .where(HOME_ACTIVATION_CODES.c.id == holder.code_id, HOME_ACTIVATION_CODES.c.used_at.is_(None))
            .values(used_at=now)
        )
        if not used.rowcount:
            return None
        existing = await connection.scalar(
            select(HOME_LINKS.c.username).where(HOME_LINKS.c.student_id == holder.student_id)
        )
        try:
            if existing is not None:
                await connection.execute(
                    update(HOME_LINKS)
                    .where(HOME_LINKS.c.student_id == holder.student_id)
                    .values(email=email, pin_hash=pin_hash, activated_at=now)
                )
                return str(existing)
            await connection.execute(
                insert(HOME_LINKS).values(
                    student_id=holder.student_id,
                    username=username,
                    email=email,
                    pin_hash=pin_hash,
                    activated_at=now,
                )
            )
        except IntegrityError:
            raise Conflict("the username was taken at the same moment; try again") from None
    return username


async def username_taken(engine: AsyncEngine, username: str) -> bool:
    """Whether a home login has this username."""
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(HOME_LINKS.c.id).where(HOME_LINKS.c.username == username))
        ) is not None


def _link_query() -> Select[Any]:
    return (
        select(
            HOME_LINKS.c.id,
            HOME_LINKS.c.student_id,
            HOME_LINKS.c.username,
            HOME_LINKS.c.email,
            HOME_LINKS.c.pin_hash,
            SCHOOLS.c.code,
            SCHOOLS.c.home_login,
            (STUDENTS.c.active & SCHOOLS.c.active).label("student_active"),
        )
        .join(STUDENTS, STUDENTS.c.id == HOME_LINKS.c.student_id)
        .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
    )


def _stored(row: Any) -> StoredHomeLink:
    return StoredHomeLink(
        id=row.id,
        student_id=row.student_id,
        username=row.username,
        email=row.email,
        pin_hash=row.pin_hash,
        school_code=row.code,
        home_login=bool(row.home_login),
        student_active=bool(row.student_active),
    )


async def link_by_username(engine: AsyncEngine, username: str) -> StoredHomeLink | None:
    """The home login with this username."""
    async with engine.connect() as connection:
        row = (await connection.execute(_link_query().where(HOME_LINKS.c.username == username))).one_or_none()
    return None if row is None else _stored(row)


async def links_by_email(engine: AsyncEngine, email: str) -> list[StoredHomeLink]:
    """The home logins activated with this (lower-cased) e-mail address, of active students."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            _link_query().where(HOME_LINKS.c.email == email).order_by(HOME_LINKS.c.username)
        )
        return [link for link in (_stored(row) for row in rows) if link.student_active]


def home_login_in_force(student_id: int) -> Select[Any]:
    """The statement that finds a student's home login while it still opens sessions and tokens: the
    login exists, the student is an active member and the school has home login on (a row, or none)."""
    return (
        select(HOME_LINKS.c.id)
        .join(STUDENTS, STUDENTS.c.id == HOME_LINKS.c.student_id)
        .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
        .where(
            HOME_LINKS.c.student_id == student_id,
            STUDENTS.c.active.is_(True),
            SCHOOLS.c.active.is_(True),
            SCHOOLS.c.home_login.is_(True),
        )
    )


async def student_may_sign_in_at_home(connection: AsyncConnection, student_id: int) -> bool:
    """Whether a student's home login still opens a session (`home_login_in_force`)."""
    return (await connection.scalar(home_login_in_force(student_id))) is not None


async def queue_reminder(
    engine: AsyncEngine,
    email: str,
    pin_links: Sequence[tuple[int, str]],
    message: str,
    *,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    """Store the PIN links (home link id, token hash) and queue the reminder mail, in one transaction."""
    async with engine.begin() as connection:
        if pin_links:
            await connection.execute(
                insert(HOME_PIN_LINKS),
                [
                    {
                        "token_hash": token_hash,
                        "home_link_id": link_id,
                        "created_at": now,
                        "expires_at": expires_at,
                    }
                    for link_id, token_hash in pin_links
                ],
            )
        await mail_queue.enqueue(connection, email, message, now=now)


async def pin_link_holder(engine: AsyncEngine, token_hash: str, *, now: dt.datetime) -> StoredHomeLink | None:
    """The home login of an unused, unexpired PIN link."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                _link_query()
                .add_columns(HOME_PIN_LINKS.c.expires_at, HOME_PIN_LINKS.c.used_at)
                .join(HOME_PIN_LINKS, HOME_PIN_LINKS.c.home_link_id == HOME_LINKS.c.id)
                .where(HOME_PIN_LINKS.c.token_hash == token_hash)
            )
        ).one_or_none()
    if row is None or row.used_at is not None or _aware(row.expires_at) <= now:
        return None
    return _stored(row)


async def set_pin(engine: AsyncEngine, token_hash: str, pin_hash: str, *, now: dt.datetime) -> bool:
    """Use the PIN link and store the new PIN, in one transaction; False when the link was used already."""
    async with engine.begin() as connection:
        link_id = await connection.scalar(
            select(HOME_PIN_LINKS.c.home_link_id).where(
                HOME_PIN_LINKS.c.token_hash == token_hash, HOME_PIN_LINKS.c.used_at.is_(None)
            )
        )
        if link_id is None:
            return False
        await connection.execute(
            update(HOME_PIN_LINKS).where(HOME_PIN_LINKS.c.token_hash == token_hash).values(used_at=now)
        )
        await connection.execute(
            update(HOME_LINKS).where(HOME_LINKS.c.id == link_id).values(pin_hash=pin_hash)
        )
    return True
