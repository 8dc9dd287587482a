"""Students' logins: the coordinator sets them (`setStudentLogin`), students sign in with them (the sign-in
page, `signInStudent`), and the coordinator prints a group's login cards.

A login is a username unique within the school and a password, a picture code (`auth.picture_codes`), or
both. Secrets are stored only as argon2id hashes; passwords are never shown again, the picture code only
on the printable cards. Every check of a student's secret goes through the rate-limited
`credential_check`, counted per school and username and per network address, as for staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.credentials import hash_secret, verify_secret
from auth.passwords import student_password_problem
from auth.permissions import may_print_login_cards, may_set_student_logins
from auth.picture_codes import (
    PICTURES,
    Picture,
    hash_picture_code,
    open_picture_code,
    picture_code_problem,
    seal_picture_code,
    verify_picture_code,
)
from auth.viewer import Viewer, ViewerKind
from datasources.access import student_logins as stored
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, NotFound, RefusedInput, Unauthenticated
from resolvers.credential_checks import credential_check

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from resolvers.context import Context
    from resolvers.signing import Keys
    from settings import Settings

#: A username: 3 to 40 lower-case letters, digits, dots, hyphens and underscores (stored lower-cased).
USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{2,39}")
#: The school search on the sign-in page shows at most this many schools.
SEARCH_LIMIT: Final = 10

LoginSchool = stored.LoginSchool


@dataclass(frozen=True, slots=True)
class StudentLoginSet:
    """What `setStudentLogin` answers: the student, the username, and which secrets are set (never them)."""

    student_shown_id: str
    username: str
    has_password: bool
    has_picture_code: bool


@dataclass(frozen=True, slots=True)
class CardLine:
    """One student on a group's login cards: name, username, picture code (or that a password is set)."""

    name: str
    username: str | None
    has_password: bool
    pictures: tuple[Picture, ...]


@dataclass(frozen=True, slots=True)
class LoginCards:
    """A group's printable login cards."""

    school_code: str
    group_name: str
    lines: tuple[CardLine, ...]


def normalise_username(username: str) -> str:
    """A username as stored and compared: trimmed and lower-cased."""
    return username.strip().lower()


def _secret(settings: Settings) -> bytes:
    return settings.pseudonym_key.get_secret_value().encode()


async def set_student_login(
    ctx: Context,
    student_shown_id: str,
    username: str,
    password: str | None,
    picture_code: Sequence[int] | None,
) -> StudentLoginSet:
    """The coordinator (or the operator) sets a student's username and, when given, a password and/or a
    picture code (an omitted one stays as it was). Each refusal changes nothing."""
    student_id = internal_id(ctx.scope, "Student", student_shown_id)
    school = None if student_id is None else await stored.student_school(ctx.engine, student_id)
    if student_id is None or school is None:
        raise NotFound("no student with this id is visible to you")
    school_id, _ = school
    if not may_set_student_logins(ctx.viewer, ctx.scope, school_id):
        raise Forbidden("only the student's school's coordinator sets their login")
    name = normalise_username(username)
    if not USERNAME.fullmatch(name):
        raise RefusedInput(
            "a username has 3 to 40 characters: letters a-z, digits, dots, hyphens and underscores",
            "INVALID_USERNAME",
        )
    existing = await stored.login_of_student(ctx.engine, student_id)
    if password is None and picture_code is None and (existing is None or existing.school_id != school_id):
        raise BadUserInput("a new login needs a password or a picture code (or both)")
    password_hash = None
    if password is not None:
        problem = student_password_problem(password, username=name)
        if problem is not None:
            raise RefusedInput(problem.message, problem.reason)
        password_hash = hash_secret(password)
    picture_hash = picture_sealed = None
    if picture_code is not None:
        code_problem = picture_code_problem(picture_code)
        if code_problem is not None:
            raise RefusedInput(code_problem, "INVALID_PICTURE_CODE")
        picture_hash = hash_picture_code(_secret(ctx.settings), student_id, picture_code)
        picture_sealed = seal_picture_code(_secret(ctx.settings), student_id, picture_code)
    await stored.save_student_login(
        ctx.engine,
        student_id=student_id,
        school_id=school_id,
        username=name,
        password_hash=password_hash,
        picture_hash=picture_hash,
        picture_sealed=picture_sealed,
        now=ctx.now,
        by=ctx.viewer.subject,
    )
    saved = await stored.login_of_student(ctx.engine, student_id)
    assert saved is not None  # just written
    return StudentLoginSet(
        student_shown_id=student_shown_id,
        username=saved.username,
        has_password=saved.password_hash is not None,
        has_picture_code=saved.picture_hash is not None,
    )


async def login_school(engine: AsyncEngine, text: str) -> LoginSchool | None:
    """The active school a sign-in link or form names (code or INSTELLING_REF), or None."""
    return await stored.login_school(engine, text)


async def search_schools(engine: AsyncEngine, text: str) -> list[LoginSchool]:
    """Schools for the sign-in page's search: name contains `text`, or code starts with it."""
    return await stored.search_login_schools(engine, text, limit=SEARCH_LIMIT)


async def authenticate_student(
    engine: AsyncEngine,
    settings: Settings,
    school_code: str,
    username: str,
    *,
    password: str | None,
    picture_code: Sequence[int] | None,
    address: str,
) -> tuple[Viewer, LoginSchool]:
    """The STUDENT viewer for a school, username and password or picture code, from `address`.

    `BadUserInput` for an unknown school or a malformed picture code (checked before any secret: they
    name no account); then, rate-limited per school and username and per address (`RateLimited`
    before anything is checked), an unknown username, a wrong secret, or a secret of a kind the student
    has none of all get the same `Unauthenticated`, in the same time."""
    school = await stored.login_school(engine, school_code)
    if school is None:
        raise BadUserInput("no school with this code")
    if (password is None) == (picture_code is None):
        raise BadUserInput("sign in with a password or with a picture code")
    if picture_code is not None and (problem := picture_code_problem(picture_code)):
        raise RefusedInput(problem, "INVALID_PICTURE_CODE")
    name = normalise_username(username)
    async with credential_check(
        engine, settings, subject_kind="student", subject=f"{school.code}/{name}", address=address
    ) as check:
        login = await stored.student_login(engine, school.id, name) if USERNAME.fullmatch(name) else None
        if picture_code is not None:
            right = verify_picture_code(
                _secret(settings),
                login.student_id if login else 0,
                login.picture_hash if login else None,
                picture_code,
            )
        else:
            right = verify_secret(login.password_hash if login else None, password or "")
        if not right or login is None:
            raise Unauthenticated("the username or the password or pictures are not right")
        check.passed()
    return Viewer(ViewerKind.STUDENT, str(login.student_id), frozenset({"student"})), school


async def sign_in_student(
    engine: AsyncEngine,
    keys: Keys,
    settings: Settings,
    school_code: str,
    username: str,
    *,
    password: str | None,
    picture_code: Sequence[int] | None,
    address: str,
) -> tuple[str, dt.datetime]:
    """A student token (for API clients: an app on a school tablet) as `authenticate_student` allows."""
    viewer, _ = await authenticate_student(
        engine, settings, school_code, username, password=password, picture_code=picture_code, address=address
    )
    return await keys.mint(ViewerKind.STUDENT, viewer.subject_id, sorted(viewer.scopes))


async def login_cards(
    engine: AsyncEngine, settings: Settings, viewer: Viewer, scope: Scope, group_shown_id: str
) -> LoginCards:
    """A group's login cards (the group as `Group.id` names it) for its school's coordinator: each active
    student's name and username, and the picture code or that a password is set (never the password: it
    is shown only when set)."""
    group_id = internal_id(scope, "Group", group_shown_id)
    group = None if group_id is None else await stored.group_school(engine, group_id)
    if group_id is None or group is None or not may_print_login_cards(viewer, scope, group[0]):
        raise Forbidden("only the coordinator of the group's school prints its login cards")
    _, school_code, group_name = group
    lines = []
    for card in await stored.group_login_cards(engine, group_id):
        code = open_picture_code(_secret(settings), card.student_id, card.picture_sealed)
        lines.append(
            CardLine(
                name=" ".join(part for part in (card.first_name, card.prefix, card.last_name) if part),
                username=card.username,
                has_password=card.has_password,
                pictures=tuple(PICTURES[number] for number in code or () if 0 <= number < len(PICTURES)),
            )
        )
    return LoginCards(school_code=school_code, group_name=group_name, lines=tuple(lines))
