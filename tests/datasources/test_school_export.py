"""A school's data written back out as EDEXML 2.1 validates and reads back as what the hub holds."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from datasources.imports.export import school_file_from_store
from datasources.registry.duo import read_registry
from datasources.sandbox.world import seed_world
from datasources.school_files.edexml import read_edexml
from datasources.school_files.edexml_writer import write_edexml
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

TODAY = dt.date(2026, 11, 29)


async def test_an_exported_school_validates_and_reads_back_unchanged(engine: AsyncEngine) -> None:
    await seed_world(
        engine, registry=read_registry(DUO_FILE), schools=1, students_per_school=25, seed=5, today=TODAY
    )
    stored = await school_file_from_store(engine, "16AH00", TODAY)
    assert stored is not None
    assert len(stored.students) == 25
    assert all(student.main_group for student in stored.students)
    read_back = read_edexml(write_edexml(stored))  # read_edexml validates against the 2.1 schema
    assert read_back.code == "16AH00"
    assert read_back.school_year == "2026-2027"
    assert read_back.students == stored.students
    assert read_back.groups == stored.groups
    assert {member.key for member in read_back.staff} == {member.key for member in stored.staff}


async def test_an_unknown_school_exports_nothing(engine: AsyncEngine) -> None:
    assert await school_file_from_store(engine, "99ZZ00", TODAY) is None
