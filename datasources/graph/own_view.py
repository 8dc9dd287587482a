"""The reads behind a person's own view (`me`, the page at `/`): their current groups and, for a teacher,
the students of those groups. What the view may hold is decided by `auth.policy.OwnView`; these reads take
its memberships and read nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.store.current import current_groups, current_members
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Membership
    from datasources.store.reader import AnyRow, Reader


@dataclass(frozen=True, slots=True)
class OwnGroup:
    """One of the person's current groups, with how they are linked to it."""

    id: int
    school_id: int
    name: str
    year_level: str | None
    school_year: str
    composite: bool
    #: The hub role the link was given with by a coordinator (SUBSTITUTE, INTERN, ...); None for a link
    #: the LAS delivered (a teacher's own group) and for a student's membership.
    role: str | None
    #: The last day of a hand-given link (a substitute's groups); None when open-ended.
    until: dt.date | None


@dataclass(frozen=True, slots=True)
class OwnStudent:
    """A student of one of a teacher's groups, as the teacher sees them: names and year level only."""

    id: int
    first_name: str | None
    prefix: str | None
    last_name: str
    year_level: str | None


async def own_groups(reader: Reader, memberships: Sequence[Membership], today: dt.date) -> list[OwnGroup]:
    """The current groups of these memberships (staff links in force), by school, year level and name."""
    g = GROUPS.c
    found: dict[int, OwnGroup] = {}
    staff_ids = [membership.member_id for membership in memberships if membership.kind == "staff"]
    student_ids = [membership.member_id for membership in memberships if membership.kind == "student"]
    columns = (g.id, g.school_id, g.name, g.year_level, g.school_year, g.composite)
    if staff_ids:
        rows = await reader.rows(
            select(*columns, GROUP_STAFF.c.role, GROUP_STAFF.c.until)
            .join(GROUP_STAFF, GROUP_STAFF.c.group_id == g.id)
            .where(GROUP_STAFF.c.staff_id.in_(staff_ids), staff_link_in_force(today), current_groups(today))
        )
        for row in rows:
            found.setdefault(row.id, _group(row, row.role, row.until))
    if student_ids:
        rows = await reader.rows(
            select(*columns)
            .join(GROUP_STUDENTS, GROUP_STUDENTS.c.group_id == g.id)
            .where(GROUP_STUDENTS.c.student_id.in_(student_ids), current_groups(today))
        )
        for row in rows:
            found.setdefault(row.id, _group(row, None, None))
    return sorted(
        found.values(), key=lambda group: (group.school_id, group.year_level or "", group.name, group.id)
    )


def _group(row: AnyRow, role: str | None, until: dt.date | None) -> OwnGroup:
    return OwnGroup(
        id=row.id,
        school_id=row.school_id,
        name=row.name,
        year_level=row.year_level,
        school_year=row.school_year,
        composite=bool(row.composite),
        role=role,
        until=until,
    )


async def students_by_group(
    reader: Reader, group_ids: Sequence[int], today: dt.date
) -> dict[int, list[OwnStudent]]:
    """The current students of each group, by surname and first name (the caller passes only groups of
    the teacher's own view)."""
    s, link = STUDENTS.c, GROUP_STUDENTS.c
    rows = await reader.rows(
        select(link.group_id, s.id, s.first_name, s.prefix, s.last_name, s.year_level)
        .join(STUDENTS, s.id == link.student_id)
        .where(link.group_id.in_(list(group_ids)), current_members(STUDENTS, today))
        .order_by(link.group_id, s.last_name, s.first_name, s.id)
    )
    found: dict[int, list[OwnStudent]] = {group_id: [] for group_id in group_ids}
    for row in rows:
        found[row.group_id].append(
            OwnStudent(row.id, row.first_name, row.prefix, row.last_name, row.year_level)
        )
    return found


async def staff_roles(reader: Reader, staff_ids: Sequence[int]) -> list[str]:
    """The hub roles of these staff members (TEACHER from the LAS, the rest by a coordinator), sorted."""
    if not staff_ids:
        return []
    rows = await reader.rows(select(STAFF_MEMBERS.c.roles).where(STAFF_MEMBERS.c.id.in_(list(staff_ids))))
    return sorted({role for row in rows for role in row.roles or ()})
