"""What an import writes once it is applied: the school's groups of the year, its students and staff
(each newcomer matched to an identity by datasources.imports.identities), and the links between them, all in
the caller's transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, update

from datasources.imports import account_access, identities
from datasources.imports.plan import group_changed, staff_changed, student_changed
from datasources.imports.report import Counts
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    STAFF_MEMBERS,
    STUDENT_LOGINS,
    STUDENTS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.imports.report import ImportReport

TEACHER = "TEACHER"


async def write_groups(
    connection: AsyncConnection,
    groups: Any,
    group_ids: dict[str, int],
    *,
    school_id: int,
    year: str,
    effective_from: dt.date,
) -> None:
    """Remove, change and add the school's groups of the year as planned; new groups' ids go into
    `group_ids` (by LAS key)."""
    removed = [group.id for group in groups.removed]
    if removed:
        for link in (GROUP_STUDENTS, GROUP_STAFF, LICENSE_GROUPS):
            await connection.execute(delete(link).where(link.c.group_id.in_(removed)))
        await connection.execute(delete(GROUPS).where(GROUPS.c.id.in_(removed)))
    for stored, imported in groups.pairs:
        if group_changed(stored, imported):
            await connection.execute(
                update(GROUPS)
                .where(GROUPS.c.id == stored.id)
                .values(name=imported.name, year_level=imported.year_level, composite=imported.composite)
            )
    if groups.added:
        inserted = await connection.execute(
            insert(GROUPS).returning(GROUPS.c.id, GROUPS.c.las_key, sort_by_parameter_order=True),
            [
                {
                    "school_id": school_id,
                    "school_year": year,
                    "las_key": group.key,
                    "name": group.name,
                    "year_level": group.year_level,
                    "composite": group.composite,
                    "effective_from": effective_from,
                }
                for group in groups.added
            ],
        )
        group_ids.update({key: group_id for group_id, key in inserted})


async def _rekey(connection: AsyncConnection, table: Any, pairs: Iterable[tuple[Any, Any]]) -> None:
    """Give rows their new LAS keys in two steps, so that keys swapped between rows never collide."""
    moving = [(stored.id, imported.key) for stored, imported in pairs if stored.key != imported.key]
    for row_id, _ in moving:
        await connection.execute(update(table).where(table.c.id == row_id).values(las_key=f"~rekey~{row_id}"))
    for row_id, key in moving:
        await connection.execute(update(table).where(table.c.id == row_id).values(las_key=key))


async def sync_students(
    connection: AsyncConnection,
    report: ImportReport,
    school_id: int,
    students: Any,
    future: bool,
    *,
    now: dt.datetime,
) -> dict[str, int]:
    """Count the students' changes into the report and, unless it is a dry run or held, remove, rekey,
    change and add them (a coming school year adds only); returns the student ids by LAS key. A removal
    ends the membership, not the person: a newcomer known by their keys is that person again."""
    counts = report.students = Counts(added=len(students.added), removed=len(students.removed))
    changed = [(stored, imported) for stored, imported in students.pairs if student_changed(stored, imported)]
    counts.changed, counts.unchanged = len(changed), len(students.pairs) - len(changed)
    ids = {imported.key: stored.id for stored, imported in students.pairs}
    if report.dry_run or report.held:
        return ids
    removed = [student.id for student in students.removed]
    if removed:
        await identities.remember_leavers(connection, "student", school_id, students.removed, now)
        await connection.execute(delete(GROUP_STUDENTS).where(GROUP_STUDENTS.c.student_id.in_(removed)))
        # A leaver's login goes with the membership (and with it every session of it): a newcomer who
        # later gets the same row id must not inherit it.
        await connection.execute(delete(STUDENT_LOGINS).where(STUDENT_LOGINS.c.student_id.in_(removed)))
        await connection.execute(delete(STUDENTS).where(STUDENTS.c.id.in_(removed)))
    if not future:
        await _rekey(connection, STUDENTS, students.pairs)
        for stored, imported in changed:
            await connection.execute(
                update(STUDENTS).where(STUDENTS.c.id == stored.id).values(**_student_values(imported))
            )
    if students.added:
        persons = await identities.persons_for(
            connection,
            "student",
            school_id,
            students.added,
            staying=[stored.person_id for stored, _ in students.pairs],
        )
        inserted = await connection.execute(
            insert(STUDENTS).returning(STUDENTS.c.id, STUDENTS.c.las_key, sort_by_parameter_order=True),
            [
                {
                    "school_id": school_id,
                    "person_id": person,
                    "las_key": student.key,
                    **_student_values(student),
                }
                for person, student in zip(persons, students.added, strict=True)
            ],
        )
        ids.update({key: student_id for student_id, key in inserted})
    return ids


def _student_values(student: Any) -> dict[str, Any]:
    return {
        "eck_id": student.eck_id,
        "first_name": student.first_name,
        "prefix": student.prefix,
        "last_name": student.last_name,
        "initials": student.initials,
        "date_of_birth": student.date_of_birth,
        "year_level": student.year_level,
        "active": True,
    }


async def sync_staff(
    connection: AsyncConnection,
    report: ImportReport,
    school_id: int,
    staff: Any,
    future: bool,
    *,
    now: dt.datetime,
) -> dict[str, int]:
    """Count the staff's changes into the report and, unless it is a dry run or held, remove, rekey,
    change and add them (a coming school year adds only); returns the staff ids by LAS key. A removal
    ends the membership, not the person: a newcomer known by their keys is that person again."""
    counts = report.staff = Counts(added=len(staff.added), removed=len(staff.removed))
    changed = [(stored, imported) for stored, imported in staff.pairs if staff_changed(stored, imported)]
    counts.changed, counts.unchanged = len(changed), len(staff.pairs) - len(changed)
    ids = {imported.key: stored.id for stored, imported in staff.pairs}
    if report.dry_run or report.held:
        return ids
    removed = [member.id for member in staff.removed]
    if removed:
        await identities.remember_leavers(connection, "staff", school_id, staff.removed, now)
        # Removed by the LAS = no access: open links and the account of the address close with the member.
        await account_access.close_access(connection, removed, [member.email for member in staff.removed])
        await connection.execute(delete(GROUP_STAFF).where(GROUP_STAFF.c.staff_id.in_(removed)))
        await connection.execute(delete(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id.in_(removed)))
    if not future:
        await _rekey(connection, STAFF_MEMBERS, staff.pairs)
        for stored, imported in changed:
            # Roles added by a coordinator survive; a new address must be activated again.
            roles = sorted({TEACHER, *stored.roles})
            active = stored.active and stored.email == imported.email and bool(imported.email)
            await connection.execute(
                update(STAFF_MEMBERS)
                .where(STAFF_MEMBERS.c.id == stored.id)
                .values(**_staff_values(imported), roles=roles, active=active)
            )
        # A new address in the LAS: the old address's links and account close (activate again).
        readdressed = [
            (stored.id, stored.email) for stored, imported in changed if _readdressed(stored, imported)
        ]
        await account_access.close_access(
            connection, [member for member, _ in readdressed], [address for _, address in readdressed]
        )
    if staff.added:
        persons = await identities.persons_for(
            connection,
            "staff",
            school_id,
            staff.added,
            staying=[stored.person_id for stored, _ in staff.pairs],
        )
        inserted = await connection.execute(
            insert(STAFF_MEMBERS).returning(
                STAFF_MEMBERS.c.id, STAFF_MEMBERS.c.las_key, sort_by_parameter_order=True
            ),
            [
                {
                    "school_id": school_id,
                    "person_id": person,
                    "las_key": member.key,
                    "roles": [TEACHER],
                    "active": False,  # until the teacher activates the account with this address
                    **_staff_values(member),
                }
                for person, member in zip(persons, staff.added, strict=True)
            ],
        )
        ids.update({key: staff_id for staff_id, key in inserted})
    return ids


def _readdressed(stored: Any, imported: Any) -> bool:
    """Whether the LAS delivers another (or no) e-mail address for a staff member than the stored one."""
    return bool(stored.email != (imported.email.strip().lower() if imported.email else None))


def _staff_values(member: Any) -> dict[str, Any]:
    return {
        "eck_id": member.eck_id,
        "first_name": member.first_name,
        "prefix": member.prefix,
        "last_name": member.last_name,
        "email": member.email.strip().lower() if member.email else None,
        "las_roles": list(member.las_roles),
    }


async def sync_links(
    connection: AsyncConnection,
    table: Any,
    member: str,
    current: frozenset[tuple[int, int]],
    wanted: set[tuple[int, int]],
) -> None:
    """Make this year's group links exactly `wanted`."""
    for group_id, member_id in current - wanted:
        await connection.execute(
            delete(table).where(table.c.group_id == group_id, table.c[member] == member_id)
        )
    missing = wanted - current
    if missing:
        await connection.execute(
            insert(table), [{"group_id": group, member: member_id} for group, member_id in missing]
        )
