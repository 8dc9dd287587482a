"""Relations of groups, students and staff members."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.categories import DataCategory
from datasources.store.records import GroupRecord, MemberGroups, Page, StaffRecord, StudentRecord

if TYPE_CHECKING:
    from resolvers.context import Context

_NO_GROUPS = MemberGroups(main=None, groups=())


async def students_of_group(
    ctx: Context, group: GroupRecord, first: int | None, after: str | None
) -> Page[StudentRecord]:
    """A page of the group's students."""
    return await ctx.loaders.students_by_group.page(group.id, ctx.page_args(first, after))


async def staff_of_group(
    ctx: Context, group: GroupRecord, first: int | None, after: str | None
) -> Page[StaffRecord]:
    """A page of the group's staff."""
    return await ctx.loaders.staff_by_group.page(group.id, ctx.page_args(first, after))


async def groups_of_student(ctx: Context, student: StudentRecord) -> MemberGroups | None:
    """The student's current groups, main group first; None when memberships (student.basic) are withheld."""
    if DataCategory.STUDENT_BASIC not in ctx.scope.categories_for(student.school_id):
        return None
    return await ctx.loaders.groups_by_student.get(student.id) or _NO_GROUPS


async def groups_of_staff(ctx: Context, staff: StaffRecord) -> MemberGroups | None:
    """The staff member's current groups; None when group links (staff.basic) are withheld."""
    if DataCategory.STAFF_BASIC not in ctx.scope.categories_for(staff.school_id):
        return None
    return await ctx.loaders.groups_by_staff.get(staff.id) or _NO_GROUPS
