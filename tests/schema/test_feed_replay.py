"""The replay test: a partner that applies its change feed holds exactly what a fresh full query returns.

Hypothesis draws a partner and a sequence of operations on two fresh schools: imports that add, change
and remove groups, students, staff and group memberships (this school year's and next year's, through
`sync_school`), the start of a new school year, grants with random categories (so narrowings and
widenings), revokes, and reads of the feed at random moments with random page sizes. The partner is a
client written from the descriptions of `Change` in the schema:

- CREATED, UPDATED, ENTERED_SCOPE: keep the event's `node` as the entity's state (a null node is skipped:
  the entity has gone or left the scope since, and a later event says so);
- DELETED: forget the entity;
- LEFT_SCOPE: forget the fields of `lostCategories`, or the whole entity when the category without which
  its type has no rows is among them (school.basic, group.basic, student.basic, staff.basic); a School's
  LEFT_SCOPE applies to everything the partner holds of that school.

References to other entities (a student's main group and groups) are kept as ids, as a normalising
client keeps them. At the end the partner reads the rest of its feed and must hold exactly what the full
query returns (schools, students, staff and groups with every field), and nothing of a school it lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from auth.categories import DataCategory
from datasources.calendar import first_day, school_year_of
from datasources.changes import ROW_CATEGORY
from datasources.school_files import ImportedGroup, ImportedStaff, ImportedStudent
from errors import NotFound
from tests.schema.conftest import TODAY
from tests.schema.test_feed import (
    FEED,
    FULL,
    grant,
    import_school,
    new_board,
    new_partner,
    new_school,
    revoke,
    school_file,
    scope_of_partner,
)
from tests.schema.test_leaks import categories_of_fields

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema
    from settings import Settings
    from tests.schema.conftest import Run

SCHOOLS = 2
CATEGORIES = sorted(DataCategory, key=lambda category: category.name)


# --- what hypothesis draws ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDraw:
    """A group of a drawn school file: one of three keys, a name variant, main or composite."""

    index: int
    renamed: bool
    composite: bool


@dataclass(frozen=True)
class StudentDraw:
    """A student of a drawn school file: one of five people, each field one of two values."""

    index: int
    variants: tuple[bool, ...]
    main_group: int | None
    composite_groups: frozenset[int]


@dataclass(frozen=True)
class StaffDraw:
    """A staff member of a drawn school file: one of three people."""

    index: int
    variants: tuple[bool, ...]
    groups: frozenset[int]


@dataclass(frozen=True)
class Import:
    """An import of one school's whole truth for this school year, or (next_year) for the coming one."""

    school: int
    next_year: bool
    groups: tuple[GroupDraw, ...]
    students: tuple[StudentDraw, ...]
    staff: tuple[StaffDraw, ...]


@dataclass(frozen=True)
class Grant:
    """A coordinator grants exactly these categories (of those the partner declared)."""

    school: int
    categories: frozenset[DataCategory]


@dataclass(frozen=True)
class Revoke:
    """A coordinator revokes the consent (skipped when none is in force)."""

    school: int


@dataclass(frozen=True)
class Read:
    """The partner reads its feed to the end, `first` events a page."""

    first: int


@dataclass(frozen=True)
class NewSchoolYear:
    """The clock moves to the second day of the next school year."""


def _unique(items: list[Any]) -> tuple[Any, ...]:
    seen: dict[int, Any] = {}
    for item in items:
        seen.setdefault(item.index, item)
    return tuple(seen.values())


group_draws = st.builds(GroupDraw, st.integers(0, 2), st.booleans(), st.booleans())
student_draws = st.builds(
    StudentDraw,
    st.integers(0, 4),
    st.tuples(*[st.booleans()] * 7),
    st.none() | st.integers(0, 2),
    st.frozensets(st.integers(0, 2), max_size=2),
)
staff_draws = st.builds(
    StaffDraw, st.integers(0, 2), st.tuples(*[st.booleans()] * 4), st.frozensets(st.integers(0, 2))
)
imports = st.builds(
    Import,
    st.integers(0, SCHOOLS - 1),
    st.booleans(),
    st.lists(group_draws, min_size=1, max_size=3).map(_unique),
    st.lists(student_draws, min_size=1, max_size=5).map(_unique),
    st.lists(staff_draws, max_size=3).map(_unique),
)
#: Category sets, everything half of the time: most interesting worlds need the row categories.
category_sets = st.just(frozenset(CATEGORIES)) | st.frozensets(st.sampled_from(CATEGORIES))
grants = st.builds(Grant, st.integers(0, SCHOOLS - 1), category_sets)
operations = st.lists(
    st.one_of(
        imports,
        grants,
        imports,
        st.builds(Read, st.sampled_from([1, 2, 5, 100])),
        grants,
        imports,
        st.builds(Revoke, st.integers(0, SCHOOLS - 1)),
        st.just(NewSchoolYear()),
    ),
    min_size=6,
    max_size=30,
)
#: Every world starts with both schools imported and granting something, then anything may happen.
openings = st.tuples(
    imports.map(lambda draw: dataclasses.replace(draw, school=0, next_year=False)),
    imports.map(lambda draw: dataclasses.replace(draw, school=1, next_year=False)),
    st.builds(Grant, st.just(0), category_sets),
    st.builds(Grant, st.just(1), category_sets),
).map(list)


# --- the school files ---------------------------------------------------------------------------------


def _file(draw: Import, code: str, year: str, people: str) -> Any:
    """The school file of a drawn import; `people` makes ECK-iDs unique to this example and school."""
    groups = {
        g.index: ImportedGroup(
            f"G{g.index}",
            f"Groep {g.index + 4}{'b' if g.renamed else ''}",
            None if g.composite else str(g.index + 4),
            g.composite,
        )
        for g in draw.groups
    }
    students = [
        ImportedStudent(
            key=f"L{s.index}",
            eck_id=f"https://ketenid.nl/201703/{people}{s.index:02d}",
            first_name=("Anna", "Bram")[s.variants[0]],
            prefix=(None, "van")[s.variants[1]],
            last_name=("Jansen", "Smit")[s.variants[2]],
            initials=("A", "B")[s.variants[3]],
            date_of_birth=(dt.date(2018, 1, 5), dt.date(2018, 9, 1))[s.variants[4]],
            year_level=("4", "5")[s.variants[5]],
            main_group=f"G{s.main_group}" if s.main_group in groups else None,
            composite_groups=tuple(sorted(f"G{index}" for index in s.composite_groups if index in groups)),
        )
        for s in draw.students
    ]
    staff = [
        ImportedStaff(
            key=f"T{m.index}",
            eck_id=None,
            first_name=("Carla", "Daan")[m.variants[0]],
            prefix=(None, "de")[m.variants[1]],
            last_name=("Visser", "Mulder")[m.variants[2]],
            email=f"t{m.index}{'.b' if m.variants[3] else ''}@{code.lower()}.example",
            las_roles=("LRK",),
            groups=tuple(sorted(f"G{index}" for index in m.groups if index in groups)),
        )
        for m in draw.staff
    ]
    return school_file(code, year=year, groups=groups.values(), students=students, staff=staff)


# --- the partner's replica ----------------------------------------------------------------------------

#: The category without which an entity type has no rows, by GraphQL type name.
ROW = {type_name: category.name for type_name, category in ROW_CATEGORY.items()}


@dataclass
class Held:
    """What the partner keeps of one entity."""

    type_name: str
    school_code: str
    fields: dict[str, Any]


def _flat(node: dict[str, Any]) -> dict[str, Any]:
    """A node's fields with references to other entities reduced to their ids."""
    flat: dict[str, Any] = {}
    for name, value in node.items():
        if name == "__typename" or (isinstance(value, dict) and "edges" in value):
            continue
        if isinstance(value, dict):
            value = value["id"]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            value = [item["id"] for item in value]
        flat[name] = value
    return flat


@dataclass
class Replica:
    """A partner that applies its feed in order, as the schema's descriptions tell a client to."""

    classes: dict[tuple[str, str], str]
    held: dict[str, Held] = field(default_factory=dict)
    cursor: str | None = None
    log: list[str] = field(default_factory=list)

    def apply(self, event: dict[str, Any]) -> None:
        """Apply one event."""
        kind, entity_id, school = event["kind"], event["entityId"], event["schoolCode"]
        self.log.append(f"{kind} {event['entityType']} {entity_id} {school} {event['lostCategories']}")
        if kind in {"CREATED", "UPDATED", "ENTERED_SCOPE"}:
            if event["node"] is not None:
                node = event["node"]
                self.held[entity_id] = Held(node["__typename"], school, _flat(node))
        elif kind == "DELETED":
            self.held.pop(entity_id, None)
        else:
            lost = set(event["lostCategories"])
            if event["entityType"] == "School":
                targets = [key for key, held in self.held.items() if held.school_code == school]
            else:
                targets = [entity_id]
            for key in targets:
                self._lose(key, lost)

    def _lose(self, key: str, lost: set[str]) -> None:
        held = self.held.get(key)
        if held is None:
            return
        if ROW[held.type_name] in lost:
            del self.held[key]
            return
        for name in held.fields:
            if self.classes.get((held.type_name, name)) in lost:
                held.fields[name] = None

    async def read(self, run: Run, scope: Any, first: int, today: dt.date) -> None:
        """Read the feed from the kept cursor to its end, applying every event."""
        while True:
            result = await run(FEED, {"after": self.cursor, "first": first}, scope=scope, today=today)
            assert result["errors"] == [], result["errors"]
            page = result["data"]["changes"]
            for edge in page["edges"]:
                self.apply(edge["node"])
            self.cursor = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"]:
                return


def expected_state(data: dict[str, Any]) -> dict[str, Held]:
    """What the full query says the partner may hold, keyed by id."""
    found: dict[str, Held] = {}
    for edge in data["schools"]["edges"]:
        school = edge["node"]
        code = school["code"]
        found[school["id"]] = Held("School", code, _flat(school))
        for connection in ("students", "staff", "groups"):
            for item in school[connection]["edges"]:
                found[item["node"]["id"]] = Held(item["node"]["__typename"], code, _flat(item["node"]))
    return found


# --- the test -----------------------------------------------------------------------------------------


@settings(
    max_examples=600,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    declared=category_sets,
    eck_chain=st.booleans(),
    opening=openings,
    steps=operations,
)
async def test_a_partner_that_applies_its_feed_holds_exactly_what_a_full_query_returns(
    declared: frozenset[DataCategory],
    eck_chain: bool,
    opening: list[Any],
    steps: list[Any],
    engine: AsyncEngine,
    run: Run,
    schema: LeerpoortSchema,
    settings: Settings,
) -> None:
    board = await new_board(engine)
    schools = [await new_school(engine, board) for _ in range(SCHOOLS)]
    partner_id, client_id = await new_partner(engine, declared, eck_chain=eck_chain)
    people = uuid.uuid4().hex[:20]
    replica = Replica(categories_of_fields(schema))
    today = TODAY
    for step in opening + steps:
        if isinstance(step, Import):
            school_id, code = schools[step.school]
            year = school_year_of(today)
            if step.next_year:
                year = school_year_of(first_day(year).replace(year=first_day(year).year + 1))
            await import_school(engine, _file(step, code, year, f"{people}{step.school}"), today=today)
        elif isinstance(step, Grant):
            school_id, _ = schools[step.school]
            await grant(
                engine, school_id, partner_id, step.categories & declared, declared=declared, today=today
            )
        elif isinstance(step, Revoke):
            school_id, _ = schools[step.school]
            try:
                await revoke(engine, school_id, partner_id, today=today)
            except NotFound:
                pass  # no consent in force: nothing to revoke
        elif isinstance(step, Read):
            scope = await scope_of_partner(engine, settings, client_id)
            await replica.read(run, scope, step.first, today)
        else:
            today = first_day(school_year_of(today)).replace(year=first_day(school_year_of(today)).year + 1)
            today += dt.timedelta(days=1)

    scope = await scope_of_partner(engine, settings, client_id)
    await replica.read(run, scope, 100, today)
    full = await run(FULL, scope=scope, today=today)
    assert full["errors"] == [], full["errors"]
    expected = expected_state(full["data"])
    trail = "\n".join(replica.log)
    for entity_id in sorted(set(expected) | set(replica.held)):
        assert replica.held.get(entity_id) == expected.get(entity_id), (
            f"{entity_id}: the partner holds {replica.held.get(entity_id)}, the graph says"
            f" {expected.get(entity_id)}\nevents applied:\n{trail}"
        )
    from hypothesis import event

    event(f"held {min(len(expected), 10)}")
    event(f"steps {len(steps) // 4 * 4}")
    event(f"grants {sum(isinstance(x, Grant) for x in steps)} declared {len(declared)}")
    event(f"types {sorted({h.type_name for h in expected.values()})}")
    visible_codes = {held.school_code for held in expected.values()}
    assert {held.school_code for held in replica.held.values()} <= visible_codes
