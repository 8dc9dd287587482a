"""The mutations of a school's staff administration (coordinator): hand roles, a substitute's groups,
staff members the LAS does not know, and other coordinators. Mixed into the root `Mutation`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from errors import BadUserInput
from resolvers import staff
from schema.classification import resolves_public
from schema.context import Info
from schema.enums import StaffRole
from schema.people import StaffMember
from schema.relay import from_global_id

_StaffId = Annotated[
    strawberry.ID, strawberry.argument(description="The staff member's id, as `StaffMember.id`.")
]
_Role = Annotated[
    StaffRole,
    strawberry.argument(description="A role the LAS does not deliver: any role but TEACHER."),
]


def _shown(global_id: str, type_name: str, argument: str) -> str:
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        raise BadUserInput(f"`{argument}` must be a {type_name} id this API returned")
    return decoded[1]


@strawberry.type(description="Staff administration (mixed into Mutation).")
class StaffMutations:
    """Writes of a school's coordinator on its staff."""

    @resolves_public(
        "Give a staff member of your school a role the LAS does not deliver (coordinator), optionally with"
        " groups, until a date for a substitute. ICT_COORDINATOR makes the member coordinator of the school"
        " (through the account with the member's e-mail address). Imports keep the role and the groups."
        " A person of another school is refused (FORBIDDEN)."
    )
    async def add_staff_role(
        self,
        info: Info,
        staff_id: _StaffId,
        role: _Role,
        group_ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Groups of the member's school that come with the role."),
        ] = None,
        until: Annotated[
            dt.date | None,
            strawberry.argument(
                description="The last day of the groups (a substitute's); after it they are gone."
            ),
        ] = None,
    ) -> StaffMember:
        groups = [_shown(group, "Group", "groupIds") for group in group_ids or ()]
        record = await staff.add_role(
            info.context, _shown(staff_id, "StaffMember", "staffId"), role.name, groups, until
        )
        return StaffMember.from_record(record)

    @resolves_public(
        "Take a role the LAS does not deliver from a staff member of your school (coordinator), with the"
        " groups given with it. Removing the last active coordinator of a school is refused (CONFLICT)."
    )
    async def remove_staff_role(self, info: Info, staff_id: _StaffId, role: _Role) -> StaffMember:
        record = await staff.remove_role(info.context, _shown(staff_id, "StaffMember", "staffId"), role.name)
        return StaffMember.from_record(record)

    @resolves_public(
        "Add a staff member the LAS does not deliver (an intern, support staff) to your school"
        " (coordinator): inactive until the account is activated, and never removed by an import."
    )
    async def add_staff_member(
        self,
        info: Info,
        *,
        school_code: Annotated[str, strawberry.argument(description="BRIN plus location code.")],
        last_name: Annotated[str, strawberry.argument(description="The surname (achternaam).")],
        roles: Annotated[
            list[StaffRole], strawberry.argument(description="The member's roles; any role but TEACHER.")
        ],
        first_name: Annotated[
            str | None, strawberry.argument(description="The first name (roepnaam).")
        ] = None,
        prefix: Annotated[
            str | None, strawberry.argument(description="The surname prefix (voorvoegsel).")
        ] = None,
        email: Annotated[
            str | None,
            strawberry.argument(description="The school e-mail address the account is activated with."),
        ] = None,
    ) -> StaffMember:
        record = await staff.add_member(
            info.context,
            school_code,
            first_name=first_name,
            prefix=prefix,
            last_name=last_name,
            email=email,
            roles=[role.name for role in roles],
        )
        return StaffMember.from_record(record)
