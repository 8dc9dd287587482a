"""Full sync of a school from a school file: what changes, what stays, and the guards."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from datasources.imports.report import ImportRefused
from datasources.imports.sync import sync_school
from datasources.registry.duo import read_registry
from datasources.sandbox.world import seed_world
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store.tables import GROUP_STUDENTS, GROUPS, PERSONS, SCHOOLS, STAFF_MEMBERS, STUDENTS
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

TODAY = dt.date(2026, 11, 29)
YEAR = "2026-2027"


def _file(code: str, students: int = 10, *, year: str = YEAR, dummy: bool = False) -> SchoolFile:
    groups = (
        ImportedGroup("K4", "Groep 4", "4", composite=False),
        ImportedGroup("K5", "Groep 5", "5", composite=False),
        ImportedGroup("KC45", "Combinatie 4/5", None, composite=True),
    )
    people = tuple(
        ImportedStudent(
            key=f"#{index}" if dummy else f"L{index}",
            eck_id=None if dummy else f"https://ketenid.nl/201703/{index:064x}",
            first_name=f"Kind{index}",
            prefix=None,
            last_name="Jansen",
            initials="K",
            date_of_birth=dt.date(2018, 1, 1) + dt.timedelta(days=index),
            year_level="4" if index % 2 else "5",
            main_group="K4" if index % 2 else "K5",
            composite_groups=("KC45",) if index % 3 == 0 else (),
        )
        for index in range(students)
    )
    staff = (
        ImportedStaff("T1", None, "Anna", "de", "Vries", "anna@school.example", ("LRK",), ("K4",)),
        ImportedStaff("T2", None, "Bram", None, "Bakker", None, ("LRK", "ICT"), ("K5",)),
    )
    return SchoolFile(code[:4], code[4:], year, TODAY, groups, people, staff, source="test")


@pytest.fixture
async def school_code(engine: AsyncEngine) -> str:
    await seed_world(
        engine, registry=read_registry(DUO_FILE), schools=1, students_per_school=0, seed=3, today=TODAY
    )
    async with engine.connect() as connection:
        code: str = (await connection.execute(select(SCHOOLS.c.code))).scalar_one()
    return code


async def _count(engine: AsyncEngine, table: object) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


async def test_an_import_adds_everything_and_a_second_identical_import_changes_nothing(
    engine: AsyncEngine, school_code: str
) -> None:
    first = await sync_school(engine, _file(school_code), today=TODAY)
    assert (first.students.added, first.staff.added, first.groups.added) == (10, 2, 3)
    second = await sync_school(engine, _file(school_code), today=TODAY)
    assert (second.students.unchanged, second.students.changed, second.students.added) == (10, 0, 0)
    assert (second.groups.unchanged, second.staff.unchanged) == (3, 2)
    assert await _count(engine, STUDENTS) == 10


async def test_dummy_keys_are_matched_by_name_and_birth_date(engine: AsyncEngine, school_code: str) -> None:
    await sync_school(engine, _file(school_code, dummy=True), today=TODAY)
    persons = await _count(engine, PERSONS)
    again = await sync_school(engine, _file(school_code, dummy=True), today=TODAY)
    assert again.students.unchanged == 10
    assert await _count(engine, PERSONS) == persons


async def test_a_change_of_las_keys_keeps_everyones_identity(engine: AsyncEngine, school_code: str) -> None:
    await sync_school(engine, _file(school_code), today=TODAY)
    async with engine.connect() as connection:
        before = dict((await connection.execute(select(STUDENTS.c.eck_id, STUDENTS.c.person_id))).all())
    rekeyed = _file(school_code)
    rekeyed = dataclasses.replace(
        rekeyed, students=tuple(dataclasses.replace(s, key=f"NEW{s.key}") for s in rekeyed.students)
    )
    report = await sync_school(engine, rekeyed, today=TODAY)
    assert report.students.changed == 10
    async with engine.connect() as connection:
        after = dict((await connection.execute(select(STUDENTS.c.eck_id, STUDENTS.c.person_id))).all())
    assert after == before


async def test_a_dry_run_reports_and_changes_nothing(engine: AsyncEngine, school_code: str) -> None:
    report = await sync_school(engine, _file(school_code), today=TODAY, dry_run=True)
    assert report.students.added == 10
    assert await _count(engine, STUDENTS) == 0


async def test_removing_many_students_is_held_until_confirmed(engine: AsyncEngine, school_code: str) -> None:
    await sync_school(engine, _file(school_code, students=10), today=TODAY)
    held = await sync_school(engine, _file(school_code, students=5), today=TODAY)
    assert held.held
    assert await _count(engine, STUDENTS) == 10
    applied = await sync_school(engine, _file(school_code, students=5), today=TODAY, confirm=True)
    assert (applied.held, applied.students.removed) == (False, 5)
    assert await _count(engine, STUDENTS) == 5


async def test_duplicate_teacher_addresses_refuse_the_import_naming_the_keys(
    engine: AsyncEngine, school_code: str
) -> None:
    school_file = _file(school_code)
    twins = (school_file.staff[0], dataclasses.replace(school_file.staff[0], key="T9", eck_id=None))
    staff_before = await _count(engine, STAFF_MEMBERS)
    with pytest.raises(ImportRefused) as refused:
        await sync_school(engine, dataclasses.replace(school_file, staff=twins), today=TODAY)
    assert "T1, T9" in refused.value.report.errors[0]
    assert await _count(engine, STAFF_MEMBERS) == staff_before
    assert await _count(engine, STUDENTS) == 0


async def test_a_file_for_an_unknown_location_is_refused(engine: AsyncEngine, school_code: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        await sync_school(engine, _file("99ZZ00"), today=TODAY)
    assert "DUO registry" in refused.value.report.errors[0]


async def test_staff_are_teachers_and_hand_added_roles_survive_a_reimport(
    engine: AsyncEngine, school_code: str
) -> None:
    await sync_school(engine, _file(school_code), today=TODAY)
    async with engine.begin() as connection:
        await connection.execute(
            STAFF_MEMBERS.update()
            .where(STAFF_MEMBERS.c.las_key == "T2")
            .values(roles=["TEACHER", "INTERNAL_SUPERVISOR"])
        )
    changed = _file(school_code)
    changed = dataclasses.replace(
        changed, staff=(changed.staff[0], dataclasses.replace(changed.staff[1], last_name="Smit"))
    )
    await sync_school(engine, changed, today=TODAY)
    async with engine.connect() as connection:
        rows = dict((await connection.execute(select(STAFF_MEMBERS.c.las_key, STAFF_MEMBERS.c.roles))).all())
        active = dict(
            (await connection.execute(select(STAFF_MEMBERS.c.las_key, STAFF_MEMBERS.c.active))).all()
        )
    assert rows == {"T1": ["TEACHER"], "T2": ["INTERNAL_SUPERVISOR", "TEACHER"]}
    assert active["T2"] is False  # no e-mail address: inactive


async def test_next_years_file_adds_its_groups_with_the_first_of_august_and_removes_nobody(
    engine: AsyncEngine, school_code: str
) -> None:
    await sync_school(engine, _file(school_code, students=10), today=TODAY)
    report = await sync_school(engine, _file(school_code, students=4, year="2027-2028"), today=TODAY)
    assert (report.held, report.students.removed, report.groups.added) == (False, 0, 3)
    async with engine.connect() as connection:
        dates = set(
            (
                await connection.execute(
                    select(GROUPS.c.effective_from).where(GROUPS.c.school_year == "2027-2028")
                )
            ).scalars()
        )
        links = await connection.scalar(select(func.count()).select_from(GROUP_STUDENTS))
    assert dates == {dt.date(2027, 8, 1)}
    assert await _count(engine, STUDENTS) == 10
    assert links == 10 + 4 + 4 + 2  # this year's main and composite links, next year's too


async def test_a_teachers_address_in_other_capitals_is_the_same_address(
    engine: AsyncEngine, school_code: str
) -> None:
    school_file = _file(school_code)
    shouting = dataclasses.replace(
        school_file,
        staff=(dataclasses.replace(school_file.staff[0], email="Anna@School.Example"), school_file.staff[1]),
    )
    await sync_school(engine, shouting, today=TODAY)
    async with engine.begin() as connection:
        await connection.execute(
            STAFF_MEMBERS.update().where(STAFF_MEMBERS.c.las_key == "T1").values(active=True)
        )
    again = await sync_school(engine, shouting, today=TODAY)
    assert again.staff.unchanged == 2
    async with engine.connect() as connection:
        active = (
            await connection.execute(select(STAFF_MEMBERS.c.active).where(STAFF_MEMBERS.c.las_key == "T1"))
        ).scalar_one()
    assert active is True  # an activated teacher stays active


async def test_two_newcomers_who_each_name_the_same_former_teacher_are_never_one_person(
    engine: AsyncEngine, school_code: str
) -> None:
    school_file = _file(school_code)
    await sync_school(engine, school_file, today=TODAY)
    await sync_school(engine, dataclasses.replace(school_file, staff=school_file.staff[1:]), today=TODAY)
    anna = school_file.staff[0]
    # One newcomer has Anna's old key, another her old address: at most one of them can be Anna.
    by_key = dataclasses.replace(anna, email="a.devries@school.example")
    by_address = dataclasses.replace(anna, key="T7", first_name="Anne")
    await sync_school(
        engine,
        dataclasses.replace(school_file, staff=(by_key, by_address, school_file.staff[1])),
        today=TODAY,
    )
    async with engine.connect() as connection:
        persons = dict(
            (await connection.execute(select(STAFF_MEMBERS.c.las_key, STAFF_MEMBERS.c.person_id))).all()
        )
    assert len(set(persons.values())) == 3
