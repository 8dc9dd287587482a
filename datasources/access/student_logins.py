"""Students' logins (a username per school, a password and/or a picture code) and the schools a sign-in
page offers: looked up by code or INSTELLING_REF, or searched by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from datasources.store.tables import GROUP_STUDENTS, GROUPS, SCHOOLS, STUDENT_LOGINS, STUDENTS
from errors import Conflict

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(frozen=True, slots=True)
class LoginSchool:
    """A school as the sign-in page names it (its name and code are public, as in DUO's register)."""

    id: int
    code: str
    name: str
    instelling_ref: str


@dataclass(frozen=True, slots=True)
class StoredStudentLogin:
    """A student's login with the hashes of its secrets (never the secrets)."""

    student_id: int
    school_id: int
    username: str
    password_hash: str | None
    picture_hash: str | None
    picture_sealed: str | None


@dataclass(frozen=True, slots=True)
class LoginCard:
    """One line of a group's printable login cards: the student's name and login (no password hash)."""

    student_id: int
    first_name: str | None
    prefix: str | None
    last_name: str
    username: str | None
    has_password: bool
    picture_sealed: str | None


def _school(row: object) -> LoginSchool:
    return LoginSchool(
        id=row.id,  # type: ignore[attr-defined]
        code=row.code,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        instelling_ref=row.instelling_ref,  # type: ignore[attr-defined]
    )


_SCHOOL_COLUMNS = (SCHOOLS.c.id, SCHOOLS.c.code, SCHOOLS.c.name, SCHOOLS.c.instelling_ref)


async def login_school(engine: AsyncEngine, text: str) -> LoginSchool | None:
    """The active school a sign-in link or form names, by its code (16AH00) or INSTELLING_REF; a school
    merged into another answers as that one, so old shortcuts keep working."""
    wanted = text.strip()
    if not wanted or len(wanted) > 64:
        return None
    async with engine.connect() as connection:
        found = await connection.execute(
            select(*_SCHOOL_COLUMNS, SCHOOLS.c.active, SCHOOLS.c.merged_into_id).where(
                or_(SCHOOLS.c.code == wanted.upper(), func.lower(SCHOOLS.c.instelling_ref) == wanted.lower())
            )
        )
        row = found.first()
        if row is not None and not row.active and row.merged_into_id is not None:
            found = await connection.execute(
                select(*_SCHOOL_COLUMNS, SCHOOLS.c.active, SCHOOLS.c.merged_into_id).where(
                    SCHOOLS.c.id == row.merged_into_id
                )
            )
            row = found.first()
    if row is None or not row.active:
        return None
    return _school(row)


async def search_login_schools(engine: AsyncEngine, text: str, *, limit: int) -> list[LoginSchool]:
    """Active schools whose name contains `text` (or whose code starts with it), by name."""
    wanted = text.strip()
    if len(wanted) < 2:
        return []
    async with engine.connect() as connection:
        found = await connection.execute(
            select(*_SCHOOL_COLUMNS)
            .where(
                SCHOOLS.c.active.is_(True),
                or_(
                    func.lower(SCHOOLS.c.name).contains(wanted.lower(), autoescape=True),
                    SCHOOLS.c.code.startswith(wanted.upper(), autoescape=True),
                ),
            )
            .order_by(SCHOOLS.c.name, SCHOOLS.c.code)
            .limit(limit)
        )
        return [_school(row) for row in found]


async def student_login(engine: AsyncEngine, school_id: int, username: str) -> StoredStudentLogin | None:
    """The login of an active student of the school with this (normalised) username."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(STUDENT_LOGINS)
            .join(
                STUDENTS,
                and_(
                    STUDENTS.c.id == STUDENT_LOGINS.c.student_id,
                    STUDENTS.c.school_id == STUDENT_LOGINS.c.school_id,
                ),
            )
            .where(
                STUDENT_LOGINS.c.school_id == school_id,
                STUDENT_LOGINS.c.username == username,
                STUDENTS.c.active.is_(True),
            )
        )
        row = found.one_or_none()
    if row is None:
        return None
    return StoredStudentLogin(
        student_id=row.student_id,
        school_id=row.school_id,
        username=row.username,
        password_hash=row.password_hash,
        picture_hash=row.picture_hash,
        picture_sealed=row.picture_sealed,
    )


async def login_of_student(engine: AsyncEngine, student_id: int) -> StoredStudentLogin | None:
    """The login of a student (membership) by its id, if one is set."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(STUDENT_LOGINS).where(STUDENT_LOGINS.c.student_id == student_id)
        )
        row = found.one_or_none()
    if row is None:
        return None
    return StoredStudentLogin(
        student_id=row.student_id,
        school_id=row.school_id,
        username=row.username,
        password_hash=row.password_hash,
        picture_hash=row.picture_hash,
        picture_sealed=row.picture_sealed,
    )


async def save_student_login(
    engine: AsyncEngine,
    *,
    student_id: int,
    school_id: int,
    username: str,
    password_hash: str | None,
    picture_hash: str | None,
    picture_sealed: str | None,
    now: dt.datetime,
    by: str,
) -> None:
    """Set a student's login: the username always; a secret only when given (None keeps the one set).
    `Conflict` when another student of the school has the username (nothing changed)."""
    values: dict[str, object] = {"username": username, "updated_at": now, "updated_by": by}
    if password_hash is not None:
        values["password_hash"] = password_hash
    if picture_hash is not None:
        values["picture_hash"] = picture_hash
        values["picture_sealed"] = picture_sealed
    try:
        async with engine.begin() as connection:
            existing = await connection.scalar(
                select(STUDENT_LOGINS.c.student_id).where(STUDENT_LOGINS.c.student_id == student_id)
            )
            if existing is None:
                await connection.execute(
                    insert(STUDENT_LOGINS).values(student_id=student_id, school_id=school_id, **values)
                )
            else:
                await connection.execute(
                    update(STUDENT_LOGINS)
                    .where(STUDENT_LOGINS.c.student_id == student_id)
                    .values(school_id=school_id, **values)
                )
    except IntegrityError:
        raise Conflict("another student of this school already has this username") from None


async def group_login_cards(engine: AsyncEngine, group_id: int) -> list[LoginCard]:
    """The students of a group (active members) with their logins, by name, for the printable cards."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(
                STUDENTS.c.id,
                STUDENTS.c.first_name,
                STUDENTS.c.prefix,
                STUDENTS.c.last_name,
                STUDENT_LOGINS.c.username,
                STUDENT_LOGINS.c.password_hash.is_not(None).label("has_password"),
                STUDENT_LOGINS.c.picture_sealed,
            )
            .join(GROUP_STUDENTS, GROUP_STUDENTS.c.student_id == STUDENTS.c.id)
            .join(STUDENT_LOGINS, STUDENT_LOGINS.c.student_id == STUDENTS.c.id, isouter=True)
            .where(GROUP_STUDENTS.c.group_id == group_id, STUDENTS.c.active.is_(True))
            .order_by(STUDENTS.c.last_name, STUDENTS.c.first_name, STUDENTS.c.id)
        )
        return [
            LoginCard(
                student_id=row.id,
                first_name=row.first_name,
                prefix=row.prefix,
                last_name=row.last_name,
                username=row.username,
                has_password=bool(row.has_password) if row.username is not None else False,
                picture_sealed=row.picture_sealed,
            )
            for row in found
        ]


async def group_school(engine: AsyncEngine, group_id: int) -> tuple[int, str, str] | None:
    """The school id and code and the group's name of a group, or None if there is no such group."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(GROUPS.c.school_id, SCHOOLS.c.code, GROUPS.c.name)
            .join(SCHOOLS, SCHOOLS.c.id == GROUPS.c.school_id)
            .where(GROUPS.c.id == group_id)
        )
        row = found.one_or_none()
    return None if row is None else (row.school_id, row.code, row.name)


async def student_school(engine: AsyncEngine, student_id: int) -> tuple[int, str] | None:
    """The school id and code of a student (membership), or None if there is none."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(STUDENTS.c.school_id, SCHOOLS.c.code)
            .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
            .where(STUDENTS.c.id == student_id)
        )
        row = found.one_or_none()
    return None if row is None else (row.school_id, row.code)
