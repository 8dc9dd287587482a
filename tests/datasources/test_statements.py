"""Statements built once and reused (datasources.store.statements) and id lists sent as one value
(datasources.store.id_lists): reuse never carries one scope's rows or columns into another's answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from auth.categories import DataCategory
from auth.policy import ALWAYS_GRANTED, Scope
from auth.viewer import Viewer, ViewerKind
from datasources.graph.people import students_by_id, students_by_school
from datasources.registry.duo import read_registry
from datasources.sandbox.world import seed_world
from datasources.store.id_lists import among
from datasources.store.pagination import PageArgs
from datasources.store.reader import Reader
from datasources.store.scoping import schools_with, visible_schools, visible_schools_with
from datasources.store.statements import scope_key
from datasources.store.tables import SCHOOLS, STUDENTS
from tests.reference import DUO_FILE

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

TODAY = dt.date(2026, 12, 3)
PARTNER = Viewer(ViewerKind.PARTNER, "statements-partner")


async def _school_ids(engine: AsyncEngine) -> list[int]:
    await seed_world(
        engine, registry=read_registry(DUO_FILE), schools=3, students_per_school=4, seed=5, today=TODAY
    )
    async with engine.connect() as connection:
        return list((await connection.scalars(select(SCHOOLS.c.id).order_by(SCHOOLS.c.id))).all())


def _partner_scope(grants: dict[int, frozenset[DataCategory]]) -> Scope:
    return Scope(viewer=PARTNER, school_categories=grants, partner_id=1, sees_eck_id=False)


async def test_among_selects_exactly_the_listed_ids_and_nothing_for_an_empty_list(
    engine: AsyncEngine,
) -> None:
    schools = await _school_ids(engine)
    async with engine.connect() as connection:

        async def students_of(ids: list[int]) -> int:
            return int(
                await connection.scalar(select(func.count()).where(among(STUDENTS.c.school_id, ids))) or 0
            )

        per_school = [await students_of([school]) for school in schools]
        two = await students_of([schools[2], schools[0]])
        none = await students_of([])
        unknown = await students_of([max(schools) + 1000])

    assert per_school == [4, 4, 4]
    assert two == 8
    assert (none, unknown) == (0, 0)


def test_among_sends_one_placeholder_whatever_the_number_of_ids() -> None:
    short = select(STUDENTS.c.id).where(among(STUDENTS.c.school_id, [1]))
    long = select(STUDENTS.c.id).where(among(STUDENTS.c.school_id, range(1, 81)))
    dialects: list[Any] = [postgresql.dialect(), sqlite.dialect()]  # type: ignore[no-untyped-call]
    for dialect in dialects:
        assert str(short.compile(dialect=dialect)) == str(long.compile(dialect=dialect))
    assert short._generate_cache_key() == long._generate_cache_key()  # SQLAlchemy compiles it once


async def test_a_kept_statement_never_answers_another_scope(engine: AsyncEngine) -> None:
    schools = await _school_ids(engine)
    names = frozenset({DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME}) | ALWAYS_GRANTED
    no_names = frozenset({DataCategory.STUDENT_BASIC}) | ALWAYS_GRANTED
    args = PageArgs(first=10, after=None)
    answers = []
    # The same schools and page asked three times in a row: named, then the names withdrawn, then one
    # school's consent gone; each answer is its own scope's.
    for grants in (
        dict.fromkeys(schools, names),
        dict.fromkeys(schools, no_names),
        dict.fromkeys(schools[1:], names),
        dict.fromkeys(schools, names),
    ):
        reader = Reader(engine)
        try:
            answers.append(await students_by_school(reader, _partner_scope(grants), schools, args, TODAY))
        finally:
            await reader.close()
    named, unnamed, narrowed, named_again = answers

    assert all(student.last_name for page in named.values() for _, student in page.items)
    assert all(len(page.items) == 4 for page in named.values())
    assert [student.id for page in unnamed.values() for _, student in page.items] == [
        student.id for page in named.values() for _, student in page.items
    ]
    assert all(student.last_name is None for page in unnamed.values() for _, student in page.items)
    assert schools[0] not in narrowed or not narrowed[schools[0]].items
    assert {school for school, page in narrowed.items() if page.items} == set(schools[1:])
    assert named_again == named


async def test_a_kept_statement_by_id_answers_the_ids_and_the_scope_of_each_call(engine: AsyncEngine) -> None:
    """`students_by_id` keeps its statement per scope and binds the ids at each run: each call gets the
    students it asked for (and only those of its visible schools), with its own scope's columns."""
    schools = await _school_ids(engine)
    names = frozenset({DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME}) | ALWAYS_GRANTED
    no_names = frozenset({DataCategory.STUDENT_BASIC}) | ALWAYS_GRANTED
    async with engine.connect() as connection:
        rows = (
            await connection.execute(select(STUDENTS.c.id, STUDENTS.c.school_id).order_by(STUDENTS.c.id))
        ).all()
    by_school = {school: [row.id for row in rows if row.school_id == school] for school in schools}
    calls = [
        (dict.fromkeys(schools, names), by_school[schools[0]][:2]),
        (dict.fromkeys(schools, names), by_school[schools[1]]),
        (dict.fromkeys(schools, no_names), by_school[schools[1]]),
        (dict.fromkeys(schools[1:], names), by_school[schools[0]] + by_school[schools[2]][:1]),
    ]
    answers = []
    for grants, ids in calls:
        reader = Reader(engine)
        try:
            answers.append(await students_by_id(reader, _partner_scope(grants), ids, TODAY))
        finally:
            await reader.close()
    two, named, unnamed, narrowed = answers

    assert sorted(two) == by_school[schools[0]][:2]
    assert sorted(named) == by_school[schools[1]]
    assert all(student.last_name for student in named.values())
    assert sorted(unnamed) == by_school[schools[1]]
    assert all(student.last_name is None for student in unnamed.values())
    assert sorted(narrowed) == by_school[schools[2]][:1]  # the first school's consent is gone


def test_the_scope_key_tells_apart_every_field_that_reaches_sql() -> None:
    base = _partner_scope({1: ALWAYS_GRANTED})
    assert scope_key(base) == scope_key(_partner_scope({1: ALWAYS_GRANTED}))
    others = [
        _partner_scope({1: ALWAYS_GRANTED | {DataCategory.STUDENT_BASIC}}),
        _partner_scope({2: ALWAYS_GRANTED}),
        Scope(viewer=PARTNER, school_categories={1: ALWAYS_GRANTED}, partner_id=2, sees_eck_id=False),
        Scope(viewer=PARTNER, school_categories={1: ALWAYS_GRANTED}, partner_id=1, sees_eck_id=True),
        Scope(viewer=PARTNER, school_categories=None, partner_id=1, sees_eck_id=False),
        Scope(
            viewer=PARTNER,
            school_categories={1: ALWAYS_GRANTED},
            partner_id=1,
            sees_eck_id=False,
            managed_school_ids=frozenset({1}),
        ),
        Scope(
            viewer=Viewer(ViewerKind.PARTNER, "another"),
            school_categories={1: ALWAYS_GRANTED},
            partner_id=1,
            sees_eck_id=False,
        ),
    ]
    keys = {scope_key(scope) for scope in others}
    assert len(keys) == len(others)
    assert scope_key(base) not in keys


@pytest.mark.parametrize(
    "scope",
    [
        Scope(viewer=PARTNER, school_categories=None),
        _partner_scope({}),
        _partner_scope({1: ALWAYS_GRANTED, 2: ALWAYS_GRANTED | {DataCategory.STUDENT_BASIC}}),
        _partner_scope({1: ALWAYS_GRANTED | {DataCategory.STAFF_BASIC}, 3: ALWAYS_GRANTED}),
        _partner_scope({2: frozenset(DataCategory), 3: ALWAYS_GRANTED | {DataCategory.STUDENT_BASIC}}),
    ],
    ids=["operator", "nothing", "students-at-one", "staff-only", "two-ways"],
)
async def test_visible_schools_with_a_category_selects_what_both_filters_select(
    engine: AsyncEngine, scope: Scope
) -> None:
    # One condition instead of two on the same column (PostgreSQL's planner read whole tables behind two).
    ids = await _school_ids(engine)
    categories = [DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC]
    scope = dataclasses.replace(
        scope,
        school_categories=None
        if scope.school_categories is None
        else {ids[key - 1]: granted for key, granted in scope.school_categories.items()},
    )
    school = SCHOOLS.c.id
    async with engine.connect() as connection:
        for chosen in ([categories[0]], [categories[1]], categories):
            both = select(school).where(visible_schools(scope, school), schools_with(scope, chosen, school))
            one = select(school).where(visible_schools_with(scope, chosen, school))
            assert set((await connection.scalars(one)).all()) == set((await connection.scalars(both)).all())
