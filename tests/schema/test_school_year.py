"""The school year turns over on its date: what a partner sees before and after 1 August, what the feed
says on that day, what a coordinator is warned of, and where license couplings go.

Each test builds the small world of tests/schema/test_feed.py (the roster of groups G1, G2 and GC, pupils
L1-L3 and teacher T1, this school year 2026-2027) and moves the hub's clock (the `today` of each request).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from auth.categories import DataCategory
from auth.policy import StaffFacts, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.store.tables import GROUPS, LICENSE_GROUPS, LICENSES, PRODUCTS
from tests.schema.test_feed import (
    NEXT_YEAR,
    ROSTER,
    YEAR,
    grant,
    group,
    import_school,
    read_feed,
    roster,
    scope_of_partner,
    student,
    summary,
    teacher,
    world,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from settings import Settings
    from tests.schema.conftest import Run

LAST_DAY = dt.date(2027, 7, 31)
FIRST_DAY = dt.date(2027, 8, 1)
SCHOOL = """query($code: String!) { school(code: $code) {
    groups(first: 50) { edges { node { id name schoolYear } } }
    students(first: 50) { edges { node { id firstName lastName mainGroup { name schoolYear } } } }
    staff(first: 50) { edges { node { id lastName } } } } }"""
#: Next year's file: L1 and L2 go on (in groups N5 and N6), L3 is not in it (a group-8 leaver), Fenna
#: Nieuw (L4) and teacher T2 are new; T1 stays.
NEXT = roster(
    "",
    school_year=NEXT_YEAR,
    groups=[group("G1", "Groep 5a", year_level="5"), group("N6", year_level="6")],
    students=[
        student("L1", main_group="G1"),
        student("L2", main_group="N6"),
        student("L4", main_group="G1", first_name="Fenna", last_name="Nieuw"),
    ],
    staff=[teacher("T1", groups=("G1",)), teacher("T2", groups=("N6",), last_name="Nieuwkoop")],
)
ALL = [
    DataCategory.GROUP_BASIC,
    DataCategory.STUDENT_BASIC,
    DataCategory.STUDENT_NAME,
    DataCategory.STAFF_BASIC,
]
ALL += [DataCategory.STAFF_NAME, DataCategory.LICENSE]


async def _school(run: Run, scope: Scope, code: str, today: dt.date) -> dict[str, Any]:
    result = await run(SCHOOL, {"code": code}, scope=scope, today=today)
    assert result["errors"] == [], result["errors"]
    school: dict[str, Any] = result["data"]["school"]
    return school


async def _warning(run: Run, scope: Scope, code: str, today: dt.date) -> str | None:
    query = "query($code: String!) { school(code: $code) { schoolYearWarning } }"
    result = await run(query, {"code": code}, scope=scope, today=today)
    assert result["errors"] == [], result["errors"]
    warning: str | None = result["data"]["school"]["schoolYearWarning"]
    return warning


def _names(school: dict[str, Any], connection: str, field: str) -> set[str]:
    return {edge["node"][field] for edge in school[connection]["edges"]}


async def _partner_world(engine: AsyncEngine, settings: Settings) -> tuple[int, str, Scope]:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, ALL)
    return school_id, code, await scope_of_partner(engine, settings, client_id)


async def test_next_years_new_pupils_are_unseen_by_partners_until_their_first_day(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    _, code, partner = await _partner_world(engine, settings)
    _, cursor = await read_feed(run, partner)
    await import_school(engine, roster(code, **_next()))  # imported in December

    for today in (dt.date(2026, 12, 1), LAST_DAY):
        school = await _school(run, partner, code, today)
        assert "Nieuw" not in _names(school, "students", "lastName")
        assert "Nieuwkoop" not in _names(school, "staff", "lastName")
        events, cursor = await read_feed(run, partner, cursor, today=today)
        assert events == []

    school = await _school(run, partner, code, FIRST_DAY)
    assert "Nieuw" in _names(school, "students", "lastName")
    assert "Nieuwkoop" in _names(school, "staff", "lastName")
    events, _ = await read_feed(run, partner, cursor, today=FIRST_DAY)
    created = {e["node"]["lastName"] for e in events if e["kind"] == "CREATED" and e["entityType"] != "Group"}
    assert created == {"Nieuw", "Nieuwkoop"}


async def test_a_pupil_missing_from_next_years_file_leaves_on_the_first_of_august_without_an_import(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    _, code, partner = await _partner_world(engine, settings)
    await import_school(engine, roster(code, **_next()))
    before = await _school(run, partner, code, LAST_DAY)
    leaver = {edge["node"]["id"] for edge in before["students"]["edges"] if edge["node"]["firstName"]}
    assert len(leaver) == 3  # L1, L2 and L3 until the last day
    _, cursor = await read_feed(run, partner, today=LAST_DAY)

    after = await _school(run, partner, code, FIRST_DAY)
    still = {edge["node"]["id"] for edge in after["students"]["edges"]}
    (gone,) = leaver - still
    events, _ = await read_feed(run, partner, cursor, today=FIRST_DAY)
    deleted = [(e["entityType"], e["entityId"]) for e in events if e["kind"] == "DELETED"]
    assert ("Student", gone) in deleted
    assert sorted(kind for kind, _ in deleted) == ["Group"] * 3 + ["Student"]
    assert _names(after, "groups", "schoolYear") == {NEXT_YEAR}
    # The ones who go on have next year's main groups.
    assert {edge["node"]["mainGroup"]["name"] for edge in after["students"]["edges"]} == {
        "Groep 5a",
        "Groep N6",
    }


async def test_a_school_without_next_years_file_keeps_its_groups_with_a_warning_for_its_coordinator(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner = await _partner_world(engine, settings)
    coordinator = staff_scope(Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset({school_id})))
    _, cursor = await read_feed(run, partner)
    for viewer in (partner, coordinator):
        school = await _school(run, viewer, code, FIRST_DAY)
        assert _names(school, "groups", "name") == {"Groep G1", "Groep G2", "Combinatie"}
        assert {edge["node"]["mainGroup"]["schoolYear"] for edge in school["students"]["edges"]} == {YEAR}
    assert await _warning(run, coordinator, code, LAST_DAY) is None
    assert await _warning(run, partner, code, FIRST_DAY) is None
    warning = await _warning(run, coordinator, code, FIRST_DAY)
    assert warning is not None
    assert "2027-2028" in warning
    assert "2026-2027" in warning
    events, cursor = await read_feed(run, partner, cursor, today=FIRST_DAY)
    assert events == []  # nothing changed for partners

    # The file comes in September: the old groups go, the new ones come, and the warning is gone.
    september = dt.date(2027, 9, 1)
    await import_school(engine, roster(code, **_next()), today=september)
    assert await _warning(run, coordinator, code, september) is None
    school = await _school(run, coordinator, code, september)
    assert _names(school, "groups", "name") == {"Groep 5a", "Groep N6"}
    events, _ = await read_feed(run, partner, cursor, today=september)
    assert sorted(k for k in summary(events) if k[1] == "Group") == sorted(
        [("DELETED", "Group")] * 3 + [("CREATED", "Group")] * 2
    )


async def test_license_couplings_follow_to_next_years_group_of_the_same_las_key_or_year_level(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    by_key, by_level = await _licenses(engine, school_id, partner_id)
    await grant(engine, school_id, partner_id, ALL)
    partner = await scope_of_partner(engine, settings, client_id)
    await import_school(engine, roster(code, **_next()))
    query = """query($code: String!) { school(code: $code) { licenses { edges { node { id
        seats coupledGroups { name schoolYear } } } } } }"""

    async def coupled(today: dt.date) -> dict[int, set[tuple[str, str]]]:
        result = await run(query, {"code": code}, scope=partner, today=today)
        assert result["errors"] == [], result["errors"]
        return {
            edge["node"]["seats"]: {(g["name"], g["schoolYear"]) for g in edge["node"]["coupledGroups"]}
            for edge in result["data"]["school"]["licenses"]["edges"]
        }

    _, cursor = await read_feed(run, partner, today=LAST_DAY)
    # Next year's groups do not show before their first day.
    assert await coupled(LAST_DAY) == {by_key: {("Groep G1", YEAR)}, by_level: {("Groep G2", YEAR)}}
    # G1 has a successor with its LAS key; G2 (year level 5) has none, so its coupling goes to next
    # year's group of year level 5... which is G1's successor too ("Groep 5a").
    assert await coupled(FIRST_DAY) == {
        by_key: {("Groep 5a", NEXT_YEAR)},
        by_level: {("Groep 5a", NEXT_YEAR)},
    }
    events, _ = await read_feed(run, partner, cursor, today=FIRST_DAY)
    assert [kind for kind in summary(events) if kind[1] == "License"] == [("UPDATED", "License")] * 2


def _next() -> dict[str, Any]:
    return {
        "school_year": NEXT.school_year,
        "groups": NEXT.groups,
        "students": NEXT.students,
        "staff": NEXT.staff,
    }


async def _licenses(engine: AsyncEngine, school_id: int, partner_id: int) -> tuple[int, int]:
    """Two licenses of one of the partner's products: one coupled to G1, one to G2 (told apart by seats)."""
    async with engine.begin() as connection:
        product = await connection.scalar(
            insert(PRODUCTS).values(partner_id=partner_id, name="Rekenmethode").returning(PRODUCTS.c.id)
        )
        groups = dict(
            (
                await connection.execute(
                    select(GROUPS.c.las_key, GROUPS.c.id).where(GROUPS.c.school_id == school_id)
                )
            ).all()
        )
        assert set(groups) == {group.key for group in ROSTER.groups}
        for seats, key in ((10, "G1"), (20, "G2")):
            license_id = await connection.scalar(
                insert(LICENSES)
                .values(school_id=school_id, product_id=product, seats=seats, valid_from=dt.date(2026, 8, 1))
                .returning(LICENSES.c.id)
            )
            await connection.execute(
                insert(LICENSE_GROUPS).values(license_id=license_id, group_id=groups[key])
            )
    return 10, 20
