"""Students (leerlingen) and staff members, minimised to what the viewer was granted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from auth.categories import DataCategory
from datasources.store.records import StaffRecord, StudentRecord
from resolvers import groups, licenses
from schema.classification import data, resolves_data, resolves_rows
from schema.context import Info
from schema.entities import lookup
from schema.enums import StaffRole
from schema.groups import Group
from schema.licenses import Product
from schema.relay import Node, to_global_id

STUDENT_BASIC = DataCategory.STUDENT_BASIC
STUDENT_NAME = DataCategory.STUDENT_NAME
STAFF_BASIC = DataCategory.STAFF_BASIC
STAFF_NAME = DataCategory.STAFF_NAME


@strawberry.federation.type(
    keys=["id"], description="A student (leerling) at one school. Gender is never exposed."
)
class Student(Node):
    """A student, minimised to the viewer's categories."""

    record: strawberry.Private[StudentRecord]
    pseudonym: str | None = data(
        STUDENT_BASIC,
        "An identifier of the student for this partner only, stable across years and re-imports.",
    )
    eck_id: str | None = data(STUDENT_BASIC, "The student's ECK-iD, for partners in the ECK chain.")
    first_name: str | None = data(STUDENT_NAME, "The name the student goes by (roepnaam).")
    prefix: str | None = data(STUDENT_NAME, "The surname prefix (voorvoegsel), such as 'van der'.")
    last_name: str | None = data(STUDENT_NAME, "The surname (achternaam).")
    initials: str | None = data(STUDENT_NAME, "The initials (voorletters).")
    date_of_birth: dt.date | None = data(
        DataCategory.STUDENT_DEMOGRAPHICS, "The date of birth (geboortedatum)."
    )
    year_level: str | None = data(
        STUDENT_BASIC, "The year level (jaargroep) as its EDEXML code: '0'-'8', 'S', ..."
    )
    main_group: Group | None = data(
        STUDENT_BASIC, "The student's main group (stamgroep) of the current school year."
    )

    @classmethod
    def from_record(cls, record: StudentRecord) -> Student:
        """The GraphQL object of a student record."""
        return cls(
            record=record,
            id=to_global_id("Student", record.public_id),
            pseudonym=record.pseudonym,
            eck_id=record.eck_id,
            first_name=record.first_name,
            prefix=record.prefix,
            last_name=record.last_name,
            initials=record.initials,
            date_of_birth=record.date_of_birth,
            year_level=record.year_level,
            main_group=None if record.main_group is None else Group.from_record(record.main_group),
        )

    @resolves_data(
        STUDENT_BASIC, "All the student's current groups: the main group first, then composite groups."
    )
    async def groups(self, info: Info) -> list[Group] | None:
        member = await groups.groups_of_student(info.context, self.record)
        return None if member is None else [Group.from_record(group) for group in member.groups]

    @resolves_rows(
        DataCategory.LICENSE,
        "The products the student may open today: those of the licenses, valid today, coupled to one of"
        " the student's current groups. A publisher sees its own products only.",
    )
    async def products(self, info: Info) -> list[Product]:
        return [
            Product.from_record(product)
            for product in await licenses.products_of_student(info.context, self.record)
        ]

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> Student | None:
        """Federation: a student by its global id, within the viewer's scope."""
        record = await lookup(info, "Student", representation.get("id"))
        return None if record is None else cls.from_record(record)


@strawberry.federation.type(
    keys=["id"], description="A staff member (teacher, or a role added by the coordinator)."
)
class StaffMember(Node):
    """A staff member, minimised to the viewer's categories."""

    record: strawberry.Private[StaffRecord]
    pseudonym: str | None = data(STAFF_BASIC, "An identifier of the staff member for this partner only.")
    eck_id: str | None = data(STAFF_BASIC, "The staff member's ECK-iD, for partners in the ECK chain.")
    first_name: str | None = data(STAFF_NAME, "The first name (roepnaam).")
    prefix: str | None = data(STAFF_NAME, "The surname prefix (voorvoegsel).")
    last_name: str | None = data(STAFF_NAME, "The surname (achternaam).")
    email: str | None = data(DataCategory.STAFF_COMMUNICATION, "The school e-mail address.")
    roles: list[StaffRole] | None = data(
        STAFF_BASIC, "Hub roles: TEACHER from the LAS, other roles only as a coordinator added them."
    )
    las_roles: list[str] | None = data(
        STAFF_BASIC,
        "The role codes the LAS delivered (LRK, IB, ICT, ...): information only, they grant nothing.",
    )
    active: bool | None = data(
        STAFF_BASIC,
        "Whether the account is activated with the current e-mail address; inactive accounts cannot sign in.",
    )

    @classmethod
    def from_record(cls, record: StaffRecord) -> StaffMember:
        """The GraphQL object of a staff record."""
        return cls(
            record=record,
            id=to_global_id("StaffMember", record.public_id),
            pseudonym=record.pseudonym,
            eck_id=record.eck_id,
            first_name=record.first_name,
            prefix=record.prefix,
            last_name=record.last_name,
            email=record.email,
            roles=None if record.roles is None else [StaffRole(role) for role in record.roles],
            las_roles=None if record.las_roles is None else list(record.las_roles),
            active=record.active,
        )

    @resolves_data(STAFF_BASIC, "The staff member's current groups.")
    async def groups(self, info: Info) -> list[Group] | None:
        member = await groups.groups_of_staff(info.context, self.record)
        return None if member is None else [Group.from_record(group) for group in member.groups]

    @resolves_rows(
        DataCategory.LICENSE,
        "The products the staff member may open today: those of the licenses, valid today, coupled to one"
        " of the staff member's current groups. A publisher sees its own products only.",
    )
    async def products(self, info: Info) -> list[Product]:
        return [
            Product.from_record(product)
            for product in await licenses.products_of_staff(info.context, self.record)
        ]

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> StaffMember | None:
        """Federation: a staff member by its global id, within the viewer's scope."""
        record = await lookup(info, "StaffMember", representation.get("id"))
        return None if record is None else cls.from_record(record)
