"""The self-check (`me`): what a signed-in teacher or student sees of themselves.

The types here are the person's own view, not a partner's: no pseudonyms, no ECK-iDs, no dates of birth.
`me` is null for partners, LAS clients and the operator, and nothing is read for them. Fields are still
classified under the categories their data belongs to, so the SDL says what kind of data each one is.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

import strawberry

from datasources.graph.own_view import OwnGroup
from resolvers.launch_rules import launch_url
from resolvers.self_check import SelfCheck, self_check
from schema.classification import data, public, resolves_public, resolves_rows, rows
from schema.context import Info
from schema.enums import DataCategory, StaffRole
from schema.relay import to_global_id

if TYPE_CHECKING:
    from datasources.access.launch_facts import SchoolFacts
    from datasources.graph.own_view import OwnStudent
    from resolvers.launch_rules import LaunchableProduct
    from settings import Settings


@strawberry.enum(description="Who signed in: a member of a school's staff, or a student.")
class PersonKind(enum.Enum):
    """The kind of a signed-in person."""

    STAFF = strawberry.enum_value("STAFF", description="A teacher or other staff member (leerkracht).")
    STUDENT = strawberry.enum_value("STUDENT", description="A student (leerling).")


@strawberry.type(description="One of your schools (a school location, vestiging).")
class MySchool:
    """A school of the signed-in person."""

    code: str = rows(DataCategory.SCHOOL_BASIC, "BRIN plus location code, such as 16AH00.")
    name: str = rows(DataCategory.SCHOOL_BASIC, "The official name of the location.")

    @classmethod
    def of(cls, school: SchoolFacts) -> MySchool:
        """The GraphQL object of a school of the own view."""
        return cls(code=school.code, name=school.name)


@strawberry.type(description="A student of one of your groups, as a teacher sees them: names and year level.")
class MyStudent:
    """A student of the signed-in teacher's group."""

    id: strawberry.ID = public("The student's id (as `Student.id` for the school's own staff).")
    first_name: str | None = data(DataCategory.STUDENT_NAME, "First name (roepnaam).")
    prefix: str | None = data(DataCategory.STUDENT_NAME, "Surname prefix (voorvoegsel), such as 'van'.")
    last_name: str | None = data(DataCategory.STUDENT_NAME, "Surname.")
    year_level: str | None = data(DataCategory.STUDENT_BASIC, "Year level (jaargroep), an EDEXML code.")

    @classmethod
    def of(cls, student: OwnStudent) -> MyStudent:
        """The GraphQL object of a student of the own view."""
        return cls(
            id=to_global_id("Student", str(student.id)),
            first_name=student.first_name,
            prefix=student.prefix,
            last_name=student.last_name,
            year_level=student.year_level,
        )


@strawberry.type(description="One of your current groups (groep), with how you are linked to it.")
class MyGroup:
    """A current group of the signed-in person."""

    own: strawberry.Private[OwnGroup]
    check: strawberry.Private[SelfCheck]
    id: strawberry.ID = public("The group's id (as `Group.id` for the school's own staff).")
    name: str = rows(DataCategory.GROUP_BASIC, "The group's name, such as 'Groep 5'.")
    year_level: str | None = rows(
        DataCategory.GROUP_BASIC, "Year level (jaargroep), an EDEXML code; null for a group across levels."
    )
    school_year: str = rows(DataCategory.GROUP_BASIC, "The school year, such as 2026-2027.")
    composite: bool = rows(DataCategory.GROUP_BASIC, "Whether it is a composite group (samengestelde groep).")
    school_code: str = rows(DataCategory.SCHOOL_BASIC, "The code of the group's school.")
    role: StaffRole | None = rows(
        DataCategory.STAFF_BASIC,
        "For staff: TEACHER for a group the LAS links you to, or the role a coordinator gave it with"
        " (SUBSTITUTE, INTERN, ...); null for a student.",
    )
    until: dt.date | None = rows(
        DataCategory.STAFF_BASIC,
        "For staff: the last day of a group a coordinator gave until a date (a substitute's groups);"
        " null when open-ended.",
    )

    @classmethod
    def of(cls, check: SelfCheck, own: OwnGroup, school_code: str) -> MyGroup:
        """The GraphQL object of a group of the own view."""
        role = None if check.is_student else StaffRole[own.role or "TEACHER"]
        return cls(
            own=own,
            check=check,
            id=to_global_id("Group", str(own.id)),
            name=own.name,
            year_level=own.year_level,
            school_year=own.school_year,
            composite=own.composite,
            school_code=school_code,
            role=role,
            until=own.until,
        )

    @resolves_rows(
        DataCategory.STUDENT_BASIC,
        "The group's current students, by surname, for a teacher: check that every student is there. Empty"
        " for a student: a pupil sees no other pupil's data, not even a classmate's name.",
    )
    async def students(self) -> list[MyStudent]:
        return [MyStudent.of(student) for student in await self.check.students_of(self.own)]


@strawberry.type(description="A product you may open now: a tile on your start page.")
class MyProduct:
    """A product the signed-in person may open (the launch rule)."""

    id: strawberry.ID = public("The product's id (as `Product.id` for the school's own staff).")
    name: str = public("The product's name, as its publisher calls it.")
    partner_name: str = public("The publisher or network provider that offers it.")
    launch_url: str = public(
        "Where you open it: the hub's `/launch/{productId}` address, which signs you in at the product."
        " The same rule decides this list and the launch, so every product here opens."
    )
    allowed_at_home: bool = public("Whether it may also be used at home (where the school enabled it).")
    school_code: str = rows(DataCategory.SCHOOL_BASIC, "The code of the school whose license opens it.")

    @classmethod
    def of(cls, settings: Settings, product: LaunchableProduct) -> MyProduct:
        """The GraphQL object of a launchable product."""
        return cls(
            id=to_global_id("Product", str(product.product_id)),
            name=product.name,
            partner_name=product.partner_name,
            launch_url=launch_url(settings, product.product_id),
            allowed_at_home=product.allowed_at_home,
            school_code=product.school_code,
        )


@strawberry.type(
    description="Your self-check (startcheck): can you sign in, do you see your school, your groups and all"
    " your students, and every product you should be able to open. If something is missing, ask your"
    " school's ICT coordinator."
)
class Me:
    """The signed-in teacher's or student's own view."""

    check: strawberry.Private[SelfCheck]
    kind: PersonKind = public("Whether you signed in as staff or as a student.")

    @resolves_rows(
        DataCategory.SCHOOL_BASIC,
        "Your school: the only one, or the first by code when you work at several (see `schools`); null"
        " when you are no current member of any open school.",
    )
    async def school(self) -> MySchool | None:
        school = await self.check.school()
        return None if school is None else MySchool.of(school)

    @resolves_rows(DataCategory.SCHOOL_BASIC, "All your schools, by code.")
    async def schools(self) -> list[MySchool]:
        return [MySchool.of(school) for school in await self.check.schools()]

    @resolves_rows(
        DataCategory.STAFF_BASIC, "Your roles in the hub at your schools (staff); empty for a student."
    )
    async def roles(self) -> list[StaffRole]:
        return [StaffRole[role] for role in await self.check.roles() if role in StaffRole.__members__]

    @resolves_rows(
        DataCategory.GROUP_BASIC,
        "Your current groups: for staff the groups the LAS links you to and those a coordinator gave you"
        " (a substitute's until their last day); for a student the student's own groups.",
    )
    async def groups(self) -> list[MyGroup]:
        codes = {school.id: school.code for school in await self.check.schools()}
        return [MyGroup.of(self.check, group, codes[group.school_id]) for group in await self.check.groups()]

    @resolves_rows(
        DataCategory.LICENSE,
        "The products you may open now, by name: those whose license at your school is coupled to one of"
        " your groups, from partners your school consented to.",
    )
    async def products(self, info: Info) -> list[MyProduct]:
        return [MyProduct.of(info.context.settings, product) for product in await self.check.products()]


@strawberry.type(description="The self-check's entry point (mixed into Query).")
class SelfCheckQueries:
    """The `me` root field."""

    @resolves_public(
        "Yourself, when you signed in as a teacher or student (a token from `signIn` or a web session):"
        " your school, groups, students and products. Null for anyone else (partners, LAS clients, the"
        " operator): they have no self-check, and nothing is read for them."
    )
    async def me(self, info: Info) -> Me | None:
        check = await self_check(info.context)
        if check is None:
            return None
        kind = PersonKind.STUDENT if check.is_student else PersonKind.STAFF
        return Me(check=check, kind=kind)
