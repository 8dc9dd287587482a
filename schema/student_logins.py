"""The mutations of students' logins: the coordinator sets them, an API client signs a student in.

Kept apart from the root `Mutation` of `schema.mutations` and joined with it in `schema.assembly`. The
sign-in page (`schema.pages.signin`) is where students sign in day to day.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from errors import BadUserInput
from resolvers import student_logins
from schema.classification import public, resolves_public
from schema.context import Info
from schema.mutations import SignInResult
from schema.relay import from_global_id, to_global_id

_SchoolCode = Annotated[
    str,
    strawberry.argument(description="The school: BRIN plus location code (16AH00) or its INSTELLING_REF."),
]
_Username = Annotated[
    str,
    strawberry.argument(
        description="The username: 3 to 40 letters a-z, digits, dots, hyphens or underscores, unique within"
        " the school (stored lower-cased)."
    ),
]
_PictureCode = Annotated[
    list[int] | None,
    strawberry.argument(
        description="A picture code: exactly 4 pictures, each numbered 0 to 15 (the set the sign-in page"
        " shows: red, blue, green and yellow circle, square, triangle and star, in that order)."
    ),
]


@strawberry.type(description="A student's login as set by the coordinator; the secrets are never shown.")
class StudentLogin:
    """The student, their username, and which secrets are set."""

    student_id: strawberry.ID = public("The student, as `Student.id`.")
    username: str = public("The username the student signs in with at their school.")
    has_password: bool = public("Whether a password is set (it is never shown again).")
    has_picture_code: bool = public("Whether a picture code is set (only the printable login cards show it).")


def _student_id(global_id: str) -> str:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != "Student":
        raise BadUserInput("`studentId` must be a Student id this API returned")
    return decoded[1]


@strawberry.type(description="Students' logins.")
class StudentLoginMutation:
    """Setting students' logins, and signing a student in for API clients."""

    @resolves_public(
        "Set a student's login (the school's coordinator, or the operator): the username, and a password,"
        " a picture code or both (an omitted one stays as it was; a new login needs one). A password has at"
        " least 8 characters, is not a common one and does not contain the student's username"
        " (BAD_USER_INPUT with `extensions.reason` TOO_SHORT, TOO_COMMON or CONTAINS_PERSONAL_DATA); a bad"
        " username or picture code is BAD_USER_INPUT (INVALID_USERNAME, INVALID_PICTURE_CODE); a username"
        " another student of the school has is CONFLICT. Nothing changes on a refusal."
    )
    async def set_student_login(
        self,
        info: Info,
        student_id: Annotated[
            strawberry.ID, strawberry.argument(description="The student, as `Student.id`.")
        ],
        username: _Username,
        password: Annotated[
            str | None,
            strawberry.argument(
                description="A new password; shown nowhere afterwards, hand it over yourself."
            ),
        ] = None,
        picture_code: _PictureCode = None,
    ) -> StudentLogin:
        shown = _student_id(student_id)
        saved = await student_logins.set_student_login(info.context, shown, username, password, picture_code)
        return StudentLogin(
            student_id=to_global_id("Student", saved.student_shown_id),
            username=saved.username,
            has_password=saved.has_password,
            has_picture_code=saved.has_picture_code,
        )

    @resolves_public(
        "Sign a student in with school, username and a password or a picture code (needs no token; for apps"
        " on school devices: people sign in on /login). Returns a student token. Wrong credentials are"
        " UNAUTHENTICATED and rate-limited as `signIn` is (RATE_LIMITED)."
    )
    async def sign_in_student(
        self,
        info: Info,
        school_code: _SchoolCode,
        username: Annotated[str, strawberry.argument(description="The student's username.")],
        password: Annotated[str | None, strawberry.argument(description="The student's password.")] = None,
        picture_code: _PictureCode = None,
    ) -> SignInResult:
        context = info.context
        token, expires_at = await student_logins.sign_in_student(
            context.engine,
            context.keys,
            context.settings,
            school_code,
            username,
            password=password,
            picture_code=picture_code,
            address=context.client_address,
        )
        return SignInResult(token=token, expires_at=expires_at)
