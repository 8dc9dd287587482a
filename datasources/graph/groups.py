"""Groups (main and composite) of a school year, and the group memberships of students and staff."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, select

from auth.categories import DataCategory
from datasources.store.calendar import school_year_of
from datasources.store.pagination import PageArgs, partitioned_page, split_pages
from datasources.store.records import GroupRecord, MemberGroups, Page
from datasources.store.scoping import granted, public_id, schools_with, visible_schools
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


def group_columns(scope: Scope, table: Any = GROUPS, prefix: str = "") -> tuple[ColumnElement[Any], ...]:
    """The seven columns of a group record, minimised to group.basic (optionally of an aliased table,
    labelled with a prefix so they can sit next to another table's columns)."""
    school = table.c.school_id

    def basic(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return granted(scope, DataCategory.GROUP_BASIC, column, school).label(f"{prefix}{column.key}")

    return (
        table.c.id.label(f"{prefix}id"),
        school.label(f"{prefix}school_id"),
        basic(table.c.name),
        basic(table.c.year_level),
        basic(table.c.school_year),
        basic(table.c.composite),
        basic(table.c.effective_from),
    )


def group_record(scope: Scope, values: Sequence[Any]) -> GroupRecord | None:
    """A group record from the seven values of `group_columns` (None when the id is null: no group)."""
    if values[0] is None:
        return None
    return GroupRecord(values[0], public_id(scope, "Group", values[0]), *values[1:7])


def _group(scope: Scope, row: AnyRow) -> GroupRecord:
    return GroupRecord(row[0], public_id(scope, "Group", row[0]), *row[1:7])


def main_group_id(today: dt.date, student_id: ColumnElement[Any]) -> Any:
    """The id of a student's main group (stamgroep) of the current school year, as a correlated subquery."""
    return (
        select(GROUP_STUDENTS.c.group_id)
        .join(GROUPS, GROUPS.c.id == GROUP_STUDENTS.c.group_id)
        .where(
            GROUP_STUDENTS.c.student_id == student_id,
            GROUPS.c.composite.is_(False),
            GROUPS.c.school_year == school_year_of(today),
            GROUPS.c.effective_from <= today,
        )
        .order_by(GROUPS.c.id)
        .limit(1)
        .scalar_subquery()
    )


def _current(scope: Scope, today: dt.date, school_year: str | None = None) -> ColumnElement[bool]:
    """Groups of the asked school year (by default the one `today` falls in). Groups of a coming year
    are nobody's current groups before their effective date; only the operator may look ahead."""
    year = GROUPS.c.school_year == (school_year or school_year_of(today))
    if scope.is_unrestricted and school_year is not None:
        return year
    return and_(year, GROUPS.c.effective_from <= today)


def _groups(scope: Scope) -> Select[Any]:
    return select(*group_columns(scope)).where(visible_schools(scope, GROUPS.c.school_id))


async def groups_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, GroupRecord]:
    """The visible groups among `ids` (of any school year)."""
    rows = await reader.rows(_groups(scope).where(GROUPS.c.id.in_(ids)))
    return {row[0]: _group(scope, row) for row in rows}


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
    # The list of a school's groups is group.basic; a group is still reachable as a student's membership.
    statement = _groups(scope).where(
        GROUPS.c.school_id.in_(school_ids),
        _current(scope, today, school_year),
        schools_with(scope, [DataCategory.GROUP_BASIC], GROUPS.c.school_id),
    )
    rows = await reader.rows(partitioned_page(statement, GROUPS.c.school_id, GROUPS.c.id, args))
    return split_pages(((row[1], row[0], _group(scope, row)) for row in rows), school_ids, args)


async def _member_groups(
    reader: Reader,
    scope: Scope,
    member_ids: Sequence[int],
    *,
    link: Any,
    member_column: ColumnElement[int],
    today: dt.date,
    membership_category: DataCategory,
) -> dict[int, MemberGroups]:
    # The raw composite flag decides which group is the main one even when the viewer may not read it.
    statement = (
        select(member_column, GROUPS.c.composite.label("_composite"), *group_columns(scope))
        .join(GROUPS, GROUPS.c.id == link.c.group_id)
        .where(
            member_column.in_(member_ids),
            visible_schools(scope, GROUPS.c.school_id),
            # Group memberships belong to student.basic / staff.basic, not to group.basic.
            schools_with(scope, [membership_category], GROUPS.c.school_id),
            _current(scope, today),
        )
        .order_by(member_column, GROUPS.c.composite, GROUPS.c.id)
    )
    collected: dict[int, list[tuple[bool, GroupRecord]]] = {member: [] for member in member_ids}
    for row in await reader.rows(statement):
        collected[row[0]].append(
            (bool(row[1]), GroupRecord(row[2], public_id(scope, "Group", row[2]), *row[3:9]))
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
    )
