"""Groups (groepen): main groups (stamgroepen) and composite groups of a school year."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from auth.categories import DataCategory
from datasources.store.records import GroupRecord
from resolvers import groups, licenses, partners
from schema.classification import data, resolves_data, resolves_rows
from schema.context import After, First, Info
from schema.entities import lookup
from schema.relay import Connection, Node, connection, to_global_id

if TYPE_CHECKING:
    from schema.licenses import License
    from schema.people import StaffMember, Student
    from schema.schools import School

_Student = Annotated["Student", strawberry.lazy("schema.people")]
_StaffMember = Annotated["StaffMember", strawberry.lazy("schema.people")]
_School = Annotated["School", strawberry.lazy("schema.schools")]
_License = Annotated["License", strawberry.lazy("schema.licenses")]

GROUP_BASIC = DataCategory.GROUP_BASIC


@strawberry.federation.type(keys=["id"], description="A group (groep) of one school in one school year.")
class Group(Node):
    """A main or composite group."""

    record: strawberry.Private[GroupRecord]
    name: str | None = data(GROUP_BASIC, "The group's name as the LAS gives it, such as 'Groep 5b'.")
    year_level: str | None = data(
        GROUP_BASIC,
        "The year level (jaargroep) as its EDEXML code: '0'-'8', 'S', 'C', ...; null for mixed groups.",
    )
    school_year: str | None = data(GROUP_BASIC, "The school year (schooljaar), such as 2026-2027.")
    composite: bool | None = data(
        GROUP_BASIC, "True for a composite group (samengestelde groep), false for a main group (stamgroep)."
    )
    effective_from: dt.date | None = data(
        GROUP_BASIC, "The date from which the group is current (usually 1 August)."
    )

    @classmethod
    def from_record(cls, record: GroupRecord) -> Group:
        """The GraphQL object of a group record."""
        return cls(
            record=record,
            id=to_global_id("Group", record.public_id),
            name=record.name,
            year_level=record.year_level,
            school_year=record.school_year,
            composite=record.composite,
            effective_from=record.effective_from,
        )

    @resolves_data(DataCategory.SCHOOL_BASIC, "The school the group belongs to.")
    async def school(self, info: Info) -> _School | None:
        from schema.schools import School  # noqa: PLC0415 - schools and groups refer to each other

        record = await partners.school_by_id(info.context, self.record.school_id)
        return None if record is None else School.from_record(record)

    @resolves_rows(DataCategory.STUDENT_BASIC, "The group's students.")
    async def students(self, info: Info, first: First = None, after: After = None) -> Connection[_Student]:
        from schema.people import Student  # noqa: PLC0415

        page = await groups.students_of_group(info.context, self.record, first, after)
        return connection(info, page, Student.from_record)

    @resolves_rows(DataCategory.STAFF_BASIC, "The group's staff members.")
    async def staff(self, info: Info, first: First = None, after: After = None) -> Connection[_StaffMember]:
        from schema.people import StaffMember  # noqa: PLC0415

        page = await groups.staff_of_group(info.context, self.record, first, after)
        return connection(info, page, StaffMember.from_record)

    @resolves_rows(
        DataCategory.LICENSE,
        "The licenses coupled to the group that have not ended, by hand or by its year level: what its"
        " students and staff may open. A publisher sees its own licenses only.",
    )
    async def licenses(self, info: Info) -> list[_License]:
        from schema.licenses import License  # noqa: PLC0415 - groups and licenses refer to each other

        return [
            License.from_record(found)
            for found in await licenses.licenses_of_group(info.context, self.record)
        ]

    @classmethod
    async def resolve_reference(cls, info: Info, representation: dict[str, Any]) -> Group | None:
        """Federation: a group by its global id, within the viewer's scope."""
        record = await lookup(info, "Group", representation.get("id"))
        return None if record is None else cls.from_record(record)
