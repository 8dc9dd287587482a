"""A school's staff administration by its coordinator: the roles the LAS does not deliver, a substitute's
groups until a date, staff members the LAS does not know, and who else coordinates the school. Every
check of who may do it is made here (auth.permissions), before any write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import may_manage_staff_roles_at
from datasources.access import staff_roles
from datasources.access.accounts import school_id_by_code
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, NotFound

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from datasources.store.records import StaffRecord
    from resolvers.context import Context

_NOT_YOURS = "you do not coordinate the school of this staff member"


async def _managed_member(ctx: Context, staff_shown_id: str) -> tuple[int, int]:
    """The id and school of a staff member at a school the viewer coordinates; FORBIDDEN for a person of
    another school (and NOT_FOUND for an id that names no one)."""
    staff_id = internal_id(ctx.scope, "StaffMember", staff_shown_id)
    school_id = None if staff_id is None else await staff_roles.staff_school(ctx.engine, staff_id)
    if staff_id is None or school_id is None:
        raise NotFound("no staff member with this id")
    if not may_manage_staff_roles_at(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(_NOT_YOURS)
    return staff_id, school_id


async def _groups_of_school(ctx: Context, school_id: int, group_shown_ids: Sequence[str]) -> list[int]:
    group_ids = [internal_id(ctx.scope, "Group", shown) for shown in group_shown_ids]
    known = await staff_roles.group_schools(ctx.engine, [group for group in group_ids if group is not None])
    if any(group is None or known.get(group) != school_id for group in group_ids):
        raise BadUserInput("every group must be a group of the staff member's school")
    return [group for group in group_ids if group is not None]


async def _member(ctx: Context, staff_id: int) -> StaffRecord:
    member = await ctx.loaders.staff.get(staff_id)
    if member is None:
        raise Forbidden(_NOT_YOURS)
    return member


async def add_role(
    ctx: Context,
    staff_shown_id: str,
    role: str,
    group_shown_ids: Sequence[str] | None,
    until: dt.date | None,
) -> StaffRecord:
    """Give a staff member of the viewer's school a hand role, with groups (until a date, inclusive)."""
    staff_id, school_id = await _managed_member(ctx, staff_shown_id)
    group_ids = await _groups_of_school(ctx, school_id, group_shown_ids or ())
    if until is not None and until < ctx.today:
        raise BadUserInput("`until` is the last day of the groups and cannot lie in the past")
    if until is not None and not group_ids:
        raise BadUserInput("`until` ends the groups given with the role: give `groupIds` too")
    await staff_roles.add_role(ctx.engine, staff_id, role, group_ids=group_ids, until=until)
    return await _member(ctx, staff_id)


async def remove_role(ctx: Context, staff_shown_id: str, role: str) -> StaffRecord:
    """Take a hand role (and the groups given with it) from a staff member of the viewer's school."""
    staff_id, _ = await _managed_member(ctx, staff_shown_id)
    await staff_roles.remove_role(ctx.engine, staff_id, role)
    return await _member(ctx, staff_id)


async def add_member(
    ctx: Context,
    school_code: str,
    *,
    first_name: str | None,
    prefix: str | None,
    last_name: str,
    email: str | None,
    roles: Sequence[str],
) -> StaffRecord:
    """Add a staff member the LAS does not deliver to a school the viewer coordinates."""
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_manage_staff_roles_at(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(f"you do not coordinate school {school_code}")
    staff_id = await staff_roles.add_member(
        ctx.engine,
        school_id,
        first_name=first_name,
        prefix=prefix,
        last_name=last_name,
        email=email,
        roles=roles,
        now=ctx.now,
    )
    return await _member(ctx, staff_id)
