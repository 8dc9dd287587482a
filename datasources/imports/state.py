"""The stored state of a school for one school year, loaded in the import's transaction for the plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.imports.plan import SchoolState, StoredGroup, StoredStaff, StoredStudent
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


async def load_state(connection: AsyncConnection, school_id: int, year: str) -> SchoolState:
    """What the store holds of a school for a school year: its groups of that year, its students and staff,
    and their links to those groups (what `plan` compares the file with)."""
    g, s, m = GROUPS.c, STUDENTS.c, STAFF_MEMBERS.c
    groups = [
        StoredGroup(**row._mapping)
        for row in await connection.execute(
            select(g.id, g.las_key.label("key"), g.name, g.year_level, g.composite).where(
                g.school_id == school_id, g.school_year == year
            )
        )
    ]
    students = [
        StoredStudent(**row._mapping)
        for row in await connection.execute(
            select(
                s.id, s.person_id, s.las_key.label("key"), s.eck_id, s.first_name, s.prefix, s.last_name,
                s.initials, s.date_of_birth, s.year_level,
            ).where(s.school_id == school_id)
        )
    ]  # fmt: skip
    staff = [
        StoredStaff(**(dict(row._mapping) | {"roles": tuple(row.roles), "las_roles": tuple(row.las_roles)}))
        for row in await connection.execute(
            select(
                m.id, m.person_id, m.las_key.label("key"), m.eck_id, m.first_name, m.prefix, m.last_name,
                m.email, m.roles, m.las_roles, m.active,
            # A member a coordinator added by hand is in no file: an import neither matches nor removes them.
            ).where(m.school_id == school_id, m.source == "las")
        )
    ]  # fmt: skip
    year_groups = select(g.id).where(g.school_id == school_id, g.school_year == year)
    student_links = {
        (row.group_id, row.student_id)
        for row in await connection.execute(
            select(GROUP_STUDENTS.c.group_id, GROUP_STUDENTS.c.student_id).where(
                GROUP_STUDENTS.c.group_id.in_(year_groups)
            )
        )
    }
    staff_links = {
        (row.group_id, row.staff_id)
        for row in await connection.execute(
            select(GROUP_STAFF.c.group_id, GROUP_STAFF.c.staff_id).where(
                GROUP_STAFF.c.group_id.in_(year_groups)
            )
        )
    }
    return SchoolState(
        school_id,
        tuple(groups),
        tuple(students),
        tuple(staff),
        frozenset(student_links),
        frozenset(staff_links),
    )


async def hand_staff_links(connection: AsyncConnection, school_id: int, year: str) -> set[tuple[int, int]]:
    """The (group id, staff id) links a coordinator gave at the school in this school year (their `role`
    is set): an import keeps them, as it keeps the roles they came with (also links past their last day,
    which reads leave out anyway). Read after the import removed groups and staff, so only links between
    what stays are kept."""
    rows = await connection.execute(
        select(GROUP_STAFF.c.group_id, GROUP_STAFF.c.staff_id)
        .join(GROUPS, GROUPS.c.id == GROUP_STAFF.c.group_id)
        .where(GROUPS.c.school_id == school_id, GROUPS.c.school_year == year, GROUP_STAFF.c.role.is_not(None))
    )
    return {(row.group_id, row.staff_id) for row in rows}
