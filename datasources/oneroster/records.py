"""The records of the rosters (frozen, ids sealed for the viewer) and the collections of the REST binding.

Every sourcedId is the identifier the same partner sees in the graph (`store.scoping.public_id` and
`person_public_id`, the value inside the graph's global id): a school's is its `School` id, a class's its
`Group` id, a user's its `Student` or `StaffMember` id. What the graph has no object for is sealed the same
way under a type of its own (a course per class, an enrollment per membership, a role per user), so it is
stable, unforgeable and different for every partner. The username is the partner's pseudonym.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from auth.categories import DataCategory
from datasources.oneroster.rosters import (
    PERSON_TYPES,
    Roster,
    class_fields,
    classes_subquery,
    enrollment_fields,
    enrollment_key,
    enrollments_subquery,
    org_fields,
    orgs_subquery,
    user_fields,
    users_subquery,
)
from datasources.oneroster.vocabulary import grades_of
from datasources.store.calendar import first_day, last_day
from datasources.store.scoping import person_public_id, pseudonym, public_id

if TYPE_CHECKING:
    from auth.policy import Scope
    from datasources.store.reader import AnyRow

#: The category that makes a person of each kind exist for a viewer (and gives it a pseudonym).
_BASIC: Final = {"student": DataCategory.STUDENT_BASIC, "staff": DataCategory.STAFF_BASIC}


@dataclass(frozen=True, slots=True)
class RosterOrg:
    """A school (type school) or its board (type district)."""

    sourced_id: str
    type: str
    #: The school whose record this is (None for a board, which the disclosure audit does not count).
    school_id: int | None
    name: str
    #: The school's code (BRIN + location) or the board's number.
    identifier: str
    parent_sourced_id: str | None


@dataclass(frozen=True, slots=True)
class RosterClass:
    """A group of the current school year; the course is one per class, with the class's title."""

    sourced_id: str
    school_id: int
    school_sourced_id: str
    course_sourced_id: str
    title: str | None
    grades: tuple[str, ...]
    class_type: str | None
    #: The academic session (the school year, such as 2026-2027) the class runs in.
    school_year: str | None


@dataclass(frozen=True, slots=True)
class RosterUser:
    """A student or staff member; withheld fields are None."""

    sourced_id: str
    #: "student" or "staff".
    kind: str
    school_id: int
    school_sourced_id: str
    #: The sealed id of the user's one role at its school (roles.csv).
    role_sourced_id: str
    role: str | None
    #: The partner's pseudonym of the person.
    username: str | None
    given_name: str | None
    family_name: str | None
    email: str | None
    enabled_user: str | None
    grades: tuple[str, ...]
    eck_id: str | None
    birth_date: dt.date | None


@dataclass(frozen=True, slots=True)
class RosterEnrollment:
    """A student's or staff member's membership of a current group."""

    sourced_id: str
    kind: str
    school_id: int
    school_sourced_id: str
    class_sourced_id: str
    user_sourced_id: str
    role: str | None
    begin_date: dt.date | None
    end_date: dt.date | None


def org_record(scope: Scope, row: AnyRow) -> RosterOrg:
    """An org record from a row of `orgs_subquery`."""
    is_school = row.type == "school"
    return RosterOrg(
        sourced_id=public_id(scope, "School" if is_school else "Board", row.row_id),
        type=row.type,
        school_id=row.school_id,
        name=row.name,
        identifier=row.identifier,
        parent_sourced_id=None if row.parent_id is None else public_id(scope, "Board", row.parent_id),
    )


def class_record(scope: Scope, row: AnyRow) -> RosterClass:
    """A class record from a row of `classes_subquery`."""
    return RosterClass(
        sourced_id=public_id(scope, "Group", row.row_id),
        school_id=row.school_id,
        school_sourced_id=public_id(scope, "School", row.school_id),
        course_sourced_id=public_id(scope, "Course", row.row_id),
        title=row.title,
        grades=tuple(grades_of(row.year_level)),
        class_type=row.classType,
        school_year=row.school_year,
    )


def user_record(scope: Scope, row: AnyRow) -> RosterUser:
    """A user record from a row of `users_subquery`."""
    kind = row.kind
    return RosterUser(
        sourced_id=person_public_id(scope, PERSON_TYPES[kind], row.row_id, row.person_id),
        kind=kind,
        school_id=row.school_id,
        school_sourced_id=public_id(scope, "School", row.school_id),
        role_sourced_id=public_id(scope, f"{PERSON_TYPES[kind]}Role", row.row_id),
        role=row.role,
        username=pseudonym(scope, kind, row.person_id, row.school_id, _BASIC[kind]),
        given_name=row.givenName,
        family_name=row.familyName,
        email=row.email,
        enabled_user=row.enabledUser,
        grades=tuple(grades_of(row.year_level)),
        eck_id=row.eck_id,
        birth_date=row.birthDate,
    )


def enrollment_record(scope: Scope, row: AnyRow) -> RosterEnrollment:
    """An enrollment record from a row of `enrollments_subquery`."""
    kind, school_year = row.kind, row.school_year
    return RosterEnrollment(
        sourced_id=public_id(
            scope, f"{kind.capitalize()}Enrollment", enrollment_key(row.group_id, row.member_id)
        ),
        kind=kind,
        school_id=row.school_id,
        school_sourced_id=public_id(scope, "School", row.school_id),
        class_sourced_id=public_id(scope, "Group", row.group_id),
        user_sourced_id=person_public_id(scope, PERSON_TYPES[kind], row.member_id, row.person_id),
        role=row.role,
        begin_date=row.beginDate,
        end_date=None if school_year is None else last_day(school_year),
    )


def session_dates(school_year: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a school year (1 August to 31 July)."""
    return first_day(school_year), last_day(school_year)


def _is(column: str, value: str) -> Any:
    return lambda sq: sq.c[column] == value


ORGS: Final = Roster("orgs", "org", orgs_subquery, org_record, ("type", "row_id"), org_fields())
SCHOOLS: Final = Roster(
    "orgs", "org", orgs_subquery, org_record, ("type", "row_id"), org_fields(), _is("type", "school")
)
CLASSES: Final = Roster("classes", "class", classes_subquery, class_record, ("row_id",), class_fields())
USERS: Final = Roster("users", "user", users_subquery, user_record, ("kind", "row_id"), user_fields())
STUDENTS: Final = Roster(
    "users", "user", users_subquery, user_record, ("kind", "row_id"), user_fields(), _is("kind", "student")
)
TEACHERS: Final = Roster(
    "users",
    "user",
    users_subquery,
    user_record,
    ("kind", "row_id"),
    user_fields(),
    lambda sq: (sq.c.kind == "staff") & (sq.c.role == "teacher"),
)
ENROLLMENTS: Final = Roster(
    "enrollments",
    "enrollment",
    enrollments_subquery,
    enrollment_record,
    ("kind", "group_id", "member_id"),
    enrollment_fields(),
)
#: The REST binding's collections by the last segment of their path.
COLLECTIONS: Final[dict[str, Roster[Any]]] = {
    "orgs": ORGS,
    "schools": SCHOOLS,
    "classes": CLASSES,
    "users": USERS,
    "students": STUDENTS,
    "teachers": TEACHERS,
    "enrollments": ENROLLMENTS,
}
