"""Groups (main and composite) of a school year, and the group memberships of students and staff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, select, true

from auth.categories import DataCategory
from datasources.store.columns import Columns
from datasources.store.current import current_groups
from datasources.store.id_lists import among
from datasources.store.pagination import PageArgs, parent_pages, split_pages
from datasources.store.records import GroupRecord, MemberGroups, Page
from datasources.store.scoping import granted, public_id, schools_with, visible_schools
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


GROUP = Columns.of(GroupRecord, computed=["public_id"])
#: What a membership query selects after the group: whose membership it is, and the group's own
#: composite flag (the viewer may not read it, but it decides which group is the main one).
_MEMBERSHIP = Columns(["member_id", "stored_composite"]).after(GROUP)


def group_columns(scope: Scope, table: Any = GROUPS, at: Columns = GROUP) -> tuple[ColumnElement[Any], ...]:
    """The columns of a group record, minimised to group.basic (optionally of an aliased table, in a set
    placed after another table's columns)."""
    school = table.c.school_id

    def basic(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return granted(scope, DataCategory.GROUP_BASIC, column, school)

    return at.labelled(
        id=table.c.id,
        school_id=school,
        name=basic(table.c.name),
        year_level=basic(table.c.year_level),
        school_year=basic(table.c.school_year),
        composite=basic(table.c.composite),
        effective_from=basic(table.c.effective_from),
    )


def group_record(scope: Scope, row: AnyRow, at: Columns = GROUP) -> GroupRecord | None:
    """A group record from the columns of `group_columns` at `at` (None when the id is null: no group)."""
    group_id = row[at.id]
    if group_id is None:
        return None
    return GroupRecord(
        id=group_id,
        public_id=public_id(scope, "Group", group_id),
        school_id=row[at.school_id],
        name=row[at.name],
        year_level=row[at.year_level],
        school_year=row[at.school_year],
        composite=row[at.composite],
        effective_from=row[at.effective_from],
    )


def _group(scope: Scope, row: AnyRow) -> GroupRecord:
    group = group_record(scope, row)
    assert group is not None  # the rows come from the groups table itself
    return group


def main_group_id(today: dt.date, student_id: ColumnElement[Any]) -> Any:
    """The id of a student's current main group (stamgroep), as a correlated subquery."""
    return (
        select(GROUP_STUDENTS.c.group_id)
        .join(GROUPS, GROUPS.c.id == GROUP_STUDENTS.c.group_id)
        .where(
            GROUP_STUDENTS.c.student_id == student_id,
            GROUPS.c.composite.is_(False),
            current_groups(today),
        )
        .order_by(GROUPS.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _current(scope: Scope, today: dt.date, school_year: str | None = None) -> ColumnElement[bool]:
    """Groups of the asked school year, or by default the school's current ones (those of the year
    before while its LAS has not sent this year's file: see datasources.store.current). Groups of a
    coming year are nobody's current groups before their effective date; only the operator may look
    ahead."""
    if school_year is None:
        return current_groups(today)
    year = GROUPS.c.school_year == school_year
    if scope.is_unrestricted:
        return year
    return and_(year, GROUPS.c.effective_from <= today)


def group_rows(scope: Scope, school_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The row filter of groups: a group exists for a viewer only where group.basic is granted at its
    school. Every way to a group applies it (a school's list, a student's or staff member's groups, a
    license's coupled groups, `node`, `_entities`), so a narrowing that takes group.basic away leaves no
    group id behind for the partner that the feed has just told to delete it."""
    return schools_with(scope, [DataCategory.GROUP_BASIC], school_id)


def _groups(scope: Scope) -> Select[Any]:
    school = GROUPS.c.school_id
    return select(*group_columns(scope)).where(visible_schools(scope, school), group_rows(scope, school))


async def groups_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, GroupRecord]:
    """The visible groups among `ids` (of any school year)."""
    rows = await reader.rows(_groups(scope).where(among(GROUPS.c.id, ids)))
    return {row[GROUP.id]: _group(scope, row) for row in rows}


async def groups_by_school(
    reader: Reader,
    scope: Scope,
    school_ids: Sequence[int],
    args: PageArgs,
    *,
    school_year: str | None,
    today: dt.date,
) -> dict[int, Page[GroupRecord]]:
    """One page of each school's groups of a school year (by default the current one)."""
    statement = _groups(scope).where(GROUPS.c.school_id.in_(school_ids), _current(scope, today, school_year))
    rows = await reader.rows(parent_pages(statement, GROUPS.c.school_id, GROUPS.c.id, args, school_ids))
    return split_pages(
        ((row[GROUP.school_id], row[GROUP.id], _group(scope, row)) for row in rows), school_ids, args
    )


async def _member_groups(
    reader: Reader,
    scope: Scope,
    member_ids: Sequence[int],
    *,
    link: Any,
    member_column: ColumnElement[int],
    today: dt.date,
    membership_category: DataCategory,
    in_force: ColumnElement[bool] | None = None,
) -> dict[int, MemberGroups]:
    # The raw composite flag decides which group is the main one even when the viewer may not read it.
    statement = (
        select(
            *group_columns(scope),
            *_MEMBERSHIP.labelled(member_id=member_column, stored_composite=GROUPS.c.composite),
        )
        .select_from(link.join(GROUPS, GROUPS.c.id == link.c.group_id))
        .where(
            member_column.in_(member_ids),
            visible_schools(scope, GROUPS.c.school_id),
            # Group memberships belong to student.basic / staff.basic; the groups themselves to group.basic.
            schools_with(scope, [membership_category], GROUPS.c.school_id),
            group_rows(scope, GROUPS.c.school_id),
            _current(scope, today),
            true() if in_force is None else in_force,
        )
        .order_by(member_column, GROUPS.c.composite, GROUPS.c.id)
    )
    collected: dict[int, list[tuple[bool, GroupRecord]]] = {member: [] for member in member_ids}
    for row in await reader.rows(statement):
        collected[row[_MEMBERSHIP.member_id]].append(
            (bool(row[_MEMBERSHIP.stored_composite]), _group(scope, row))
        )
    return {
        member: MemberGroups(
            main=next((group for composite, group in groups if not composite), None),
            groups=tuple(group for _, group in groups),
        )
        for member, groups in collected.items()
    }


async def groups_by_student(
    reader: Reader, scope: Scope, student_ids: Sequence[int], today: dt.date
) -> dict[int, MemberGroups]:
    """Each student's current groups, the main group (stamgroep) first."""
    return await _member_groups(
        reader,
        scope,
        student_ids,
        link=GROUP_STUDENTS,
        member_column=GROUP_STUDENTS.c.student_id,
        today=today,
        membership_category=DataCategory.STUDENT_BASIC,
    )


async def groups_by_staff(
    reader: Reader, scope: Scope, staff_ids: Sequence[int], today: dt.date
) -> dict[int, MemberGroups]:
    """Each staff member's current groups."""
    return await _member_groups(
        reader,
        scope,
        staff_ids,
        link=GROUP_STAFF,
        member_column=GROUP_STAFF.c.staff_id,
        today=today,
        membership_category=DataCategory.STAFF_BASIC,
        in_force=staff_link_in_force(today),
    )
