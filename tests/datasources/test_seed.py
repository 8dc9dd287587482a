"""The sandbox seed: a deterministic, plausible world that never collides with the DUO registry."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import JSON, delete, func, insert, select
from sqlmodel import SQLModel

from datasources.registry.duo import RegistryLocation, load_registry, read_registry
from datasources.sandbox.world import SeedError, SeedSummary, seed_world
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

TODAY = dt.date(2026, 11, 29)
SCHOOLS = 16
STUDENTS = 24
_TABLES = SQLModel.metadata.tables


@pytest.fixture(scope="module")
def registry() -> list[RegistryLocation]:
    """Real locations of several boards, then two that take BRINs and board numbers the seed would favour."""
    real = read_registry(DUO_FILE)[::70]
    return [
        *real,
        RegistryLocation("90AA", "00", "Testlocatie Noord", "99999"),
        RegistryLocation("90AB", "01", "Testlocatie Zuid", "99998"),
    ]


async def _seed(engine: AsyncEngine, registry: list[RegistryLocation], seed: int = 7) -> SeedSummary:
    return await seed_world(
        engine, registry=registry, schools=SCHOOLS, students_per_school=STUDENTS, seed=seed, today=TODAY
    )


async def _rows(engine: AsyncEngine, table: str, *columns: str) -> list[dict[str, Any]]:
    chosen = [_TABLES[table].c[name] for name in columns]
    # PostgreSQL cannot order by a JSON column; the other columns give a stable order.
    statement = select(*chosen).order_by(*(column for column in chosen if not isinstance(column.type, JSON)))
    async with engine.connect() as connection:
        return [dict(row._mapping) for row in await connection.execute(statement)]


async def _world(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    return {
        "schools": await _rows(engine, "schools", "code", "name", "instelling_ref", "source"),
        "students": await _rows(
            engine,
            "students",
            "school_id",
            "las_key",
            "first_name",
            "prefix",
            "last_name",
            "eck_id",
            "date_of_birth",
        ),
        "staff": await _rows(engine, "staff_members", "school_id", "las_key", "email", "eck_id"),
        "consents": await _rows(engine, "consents", "school_id", "partner_id", "granted_at", "revoked_at"),
    }


async def _wipe(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await connection.execute(delete(table))


async def test_equal_seeds_build_equal_worlds_and_other_seeds_other_ones(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)
    first = await _world(engine)
    await _wipe(engine)
    await _seed(engine, registry)
    again = await _world(engine)
    await _wipe(engine)
    await _seed(engine, registry, seed=8)
    other = await _world(engine)

    assert again == first
    names = [(s["first_name"], s["last_name"]) for s in first["students"]]
    assert names != [(s["first_name"], s["last_name"]) for s in other["students"]]
    assert [s["eck_id"] for s in first["students"]] != [s["eck_id"] for s in other["students"]]
    assert [s["instelling_ref"] for s in first["schools"]] != [s["instelling_ref"] for s in other["schools"]]


async def test_the_summary_counts_what_a_user_finds_in_the_hub(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    summary = await _seed(engine, registry)

    assert summary.schools == SCHOOLS
    assert summary.students == SCHOOLS * STUDENTS
    assert summary.partners == 5
    async with engine.connect() as connection:
        students = (
            await connection.execute(select(func.count()).select_from(_TABLES["students"]))
        ).scalar_one()
        groups = (await connection.execute(select(func.count()).select_from(_TABLES["groups"]))).scalar_one()
    assert (students, groups) == (summary.students, summary.groups)
    assert SCHOOLS * 9 <= summary.groups <= SCHOOLS * 10
    assert summary.groups + SCHOOLS * 2 == summary.staff, (
        "one teacher per group and two extra staff per school"
    )


async def test_registry_locations_come_first_and_synthetic_ones_never_collide_with_the_registry(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    schools = _TABLES["schools"]
    boards = _TABLES["boards"]
    statement = select(
        schools.c.code, schools.c.brin, schools.c.location_code, schools.c.source, boards.c.number
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.join(boards).order_by(schools.c.id))).all()
    assert [row.code for row in rows[: len(registry)]] == [location.code for location in registry]
    synthetic = rows[len(registry) :]
    assert len(synthetic) == SCHOOLS - len(registry)
    registry_brins = {location.brin for location in registry}
    registry_boards = {location.board_number for location in registry}
    for row in synthetic:
        assert re.fullmatch(r"9\d[A-Z]{2}", row.brin)
        assert row.location_code == "00"
        assert row.brin not in registry_brins
        assert row.number not in registry_boards
        assert row.source == "manual"


async def test_every_student_is_in_exactly_one_main_group_of_their_year_level(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    students, groups, members = _TABLES["students"], _TABLES["groups"], _TABLES["group_students"]
    statement = (
        select(
            students.c.id, students.c.year_level, groups.c.year_level.label("group_level"), groups.c.composite
        )
        .join(members, members.c.student_id == students.c.id)
        .join(groups, groups.c.id == members.c.group_id)
    )
    async with engine.connect() as connection:
        memberships = (await connection.execute(statement)).all()
    main = Counter(row.id for row in memberships if not row.composite)
    assert len(main) == SCHOOLS * STUDENTS
    assert set(main.values()) == {1}
    assert all(row.year_level == row.group_level for row in memberships if not row.composite)
    assert any(row.composite for row in memberships)


async def test_groups_belong_to_the_current_school_year_from_the_first_of_august(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    years = await _rows(engine, "school_years", "name", "starts_on", "ends_on")
    groups = await _rows(engine, "groups", "school_year", "effective_from", "name", "composite")
    assert years == [{"name": "2026-2027", "starts_on": dt.date(2026, 8, 1), "ends_on": dt.date(2027, 7, 31)}]
    assert {(g["school_year"], g["effective_from"]) for g in groups} == {("2026-2027", dt.date(2026, 8, 1))}
    assert {g["name"] for g in groups if not g["composite"]} == {f"Groep {level}" for level in range(1, 9)}
    assert all(g["name"].startswith("Combinatiegroep ") for g in groups if g["composite"])


async def test_students_are_as_old_as_their_year_level_says(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    for student in await _rows(engine, "students", "year_level", "date_of_birth", "initials", "first_name"):
        on_first_of_august = dt.date(2026, 8, 1)
        age = on_first_of_august.year - student["date_of_birth"].year
        age -= (on_first_of_august.month, on_first_of_august.day) < (
            student["date_of_birth"].month,
            student["date_of_birth"].day,
        )
        assert int(student["year_level"]) + 2 <= age <= int(student["year_level"]) + 3
        assert student["initials"].startswith(student["first_name"][0] + ".")


async def test_staff_email_addresses_are_unique_within_each_school_and_fictional(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    staff = await _rows(engine, "staff_members", "school_id", "email", "roles", "active")
    per_school = Counter((member["school_id"], member["email"]) for member in staff)
    assert set(per_school.values()) == {1}
    assert all(
        re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\d*@[a-z0-9-]+\.example", member["email"]) for member in staff
    )
    assert all(member["roles"] == ["TEACHER"] and member["active"] for member in staff)


async def test_consents_always_grant_school_basic_within_what_the_partner_declared(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    declared = {
        p["id"]: p["declared_categories"]
        for p in await _rows(engine, "partners", "id", "declared_categories")
    }
    consents = await _rows(engine, "consents", "partner_id", "categories", "granted_at", "revoked_at")
    assert consents
    for consent in consents:
        assert "SCHOOL_BASIC" in consent["categories"]
        assert set(consent["categories"]) <= set(declared[consent["partner_id"]])
        assert consent["revoked_at"] is None or consent["revoked_at"] > consent["granted_at"]


async def test_some_boards_are_left_without_a_signed_dpa(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    boards = await _rows(engine, "boards", "number", "dpa_signed_at", "dpa_signed_by", "dpa_version")
    unsigned = [board for board in boards if board["dpa_signed_at"] is None]
    signed = [board for board in boards if board["dpa_signed_at"] is not None]
    assert 1 <= len(unsigned) < len(signed)
    assert all(board["dpa_signed_by"] and board["dpa_version"] for board in signed)


async def test_seeding_a_hub_that_holds_schools_is_refused(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await load_registry(engine, registry[:1])

    with pytest.raises(SeedError, match="already holds 1 schools"):
        await _seed(engine, registry)


async def test_rows_added_after_the_seed_get_fresh_ids(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    summary = await _seed(engine, registry)

    await load_registry(engine, [RegistryLocation("98AA", "00", "Nieuwe school", "55555")])

    async with engine.begin() as connection:
        await connection.execute(insert(_TABLES["persons"]), [{"created_at": dt.datetime.now(dt.UTC)}])
        schools = (
            await connection.execute(select(func.count()).select_from(_TABLES["schools"]))
        ).scalar_one()
        boards = (await connection.execute(select(func.max(_TABLES["boards"].c.id)))).scalar_one()
    assert schools == summary.schools + 1
    assert boards == summary.boards + 1


async def test_loading_the_seeded_registry_again_finds_nothing_new_or_vanished(
    engine: AsyncEngine, registry: list[RegistryLocation]
) -> None:
    await _seed(engine, registry)

    diff = await load_registry(engine, registry)

    assert (diff.new, diff.renamed, diff.moved, diff.vanished) == ((), (), (), ())
    assert diff.unchanged == len(registry)
