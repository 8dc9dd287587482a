"""A school's current data as a school file, so the hub can write it back out as EDEXML 2.1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.calendar import school_year_of
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS, SCHOOLS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine


async def school_file_from_store(
    engine: AsyncEngine, code: str, today: dt.date, school_year: str | None = None
) -> SchoolFile | None:
    """The school's groups, students and staff of a school year (the current one by default), or None
    for an unknown school. Only what the hub keeps is there: an export never invents a BSN or gender."""
    year = school_year or school_year_of(today)
    async with engine.connect() as connection:
        school = (
            await connection.execute(
                select(SCHOOLS.c.id, SCHOOLS.c.brin, SCHOOLS.c.location_code).where(SCHOOLS.c.code == code)
            )
        ).one_or_none()
        if school is None:
            return None
        school_id = school.id
        g = GROUPS.c
        group_rows = (
            await connection.execute(
                select(g.id, g.las_key, g.name, g.year_level, g.composite)
                .where(g.school_id == school_id, g.school_year == year)
                .order_by(g.id)
            )
        ).all()
        key_of = {row.id: row.las_key for row in group_rows}
        composite = {row.id for row in group_rows if row.composite}
        student_groups: dict[int, list[int]] = {}
        for link in await connection.execute(
            select(GROUP_STUDENTS.c.group_id, GROUP_STUDENTS.c.student_id).where(
                GROUP_STUDENTS.c.group_id.in_(list(key_of))
            )
        ):
            student_groups.setdefault(link.student_id, []).append(link.group_id)
        staff_groups: dict[int, list[int]] = {}
        for link in await connection.execute(
            select(GROUP_STAFF.c.group_id, GROUP_STAFF.c.staff_id).where(
                GROUP_STAFF.c.group_id.in_(list(key_of))
            )
        ):
            staff_groups.setdefault(link.staff_id, []).append(link.group_id)
        s = STUDENTS.c
        student_rows = await connection.execute(
            select(
                s.id,
                s.las_key,
                s.eck_id,
                s.first_name,
                s.prefix,
                s.last_name,
                s.initials,
                s.date_of_birth,
                s.year_level,
            )
            .where(s.school_id == school_id)
            .order_by(s.id)
        )
        students = []
        for row in student_rows:
            memberships = sorted(student_groups.get(row.id, []))
            students.append(
                ImportedStudent(
                    key=row.las_key,
                    eck_id=row.eck_id,
                    first_name=row.first_name,
                    prefix=row.prefix,
                    last_name=row.last_name,
                    initials=row.initials,
                    date_of_birth=row.date_of_birth,
                    year_level=row.year_level,
                    main_group=next((key_of[group] for group in memberships if group not in composite), None),
                    composite_groups=tuple(key_of[group] for group in memberships if group in composite),
                )
            )
        m = STAFF_MEMBERS.c
        staff_rows = await connection.execute(
            select(m.id, m.las_key, m.eck_id, m.first_name, m.prefix, m.last_name, m.email, m.las_roles)
            .where(m.school_id == school_id)
            .order_by(m.id)
        )
        staff = [
            ImportedStaff(
                key=row.las_key,
                eck_id=row.eck_id,
                first_name=row.first_name,
                prefix=row.prefix,
                last_name=row.last_name,
                email=row.email,
                las_roles=tuple(row.las_roles),
                groups=tuple(key_of[group] for group in sorted(staff_groups.get(row.id, []))),
            )
            for row in staff_rows
        ]
    groups = tuple(
        ImportedGroup(
            key=row.las_key, name=row.name, year_level=row.year_level, composite=bool(row.composite)
        )
        for row in group_rows
    )
    return SchoolFile(
        brin=school.brin,
        location_code=school.location_code,
        school_year=year,
        reference_date=today,
        groups=groups,
        students=tuple(students),
        staff=tuple(staff),
        source="Leerpoort",
    )
