"""The change feed as a partner reads it: what a grant, an import, a narrowing and a revoke put in it,
what never appears in it, dated groups, deletion confirmations, and cursors.

Each test builds its own small world (a board with a signed DPA, fresh schools, a partner) and reads the
feed with the partner's scope built the way the server builds it (`partner_facts` + `partner_scope`).
The helpers here are shared with the replay test (tests/schema/test_feed_replay.py).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import itertools
import random
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from auth.categories import DataCategory
from auth.policy import Scope, StaffFacts, grantable, operator_scope, partner_scope, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.access.viewer_facts import partner_facts
from datasources.feed import events, recording, retention
from datasources.imports.sync import sync_school
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.store import pagination
from datasources.store.reader import Reader
from datasources.store.tables import BOARDS, PARTNERS, SCHOOLS, STAFF_MEMBERS
from tests.schema.conftest import OPERATOR, TODAY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.schema.conftest import Run

YEAR = "2026-2027"
NEXT_YEAR = "2027-2028"
SCHOOL_FIELDS = "id code brin locationCode schoolName: name schoolActive: active grantedCategories"
GROUP_FIELDS = "id name yearLevel schoolYear composite effectiveFrom"
STUDENT_FIELDS = (
    "id pseudonym eckId firstName prefix lastName initials dateOfBirth yearLevel"
    " mainGroup { id } groups { id }"
)
STAFF_FIELDS = "id pseudonym eckId firstName prefix lastName email roles lasRoles active groups { id }"
#: Every field of the entity types the feed names, references as ids: what a syncing client keeps.
NODE_FIELDS = (
    f"__typename ... on School {{ {SCHOOL_FIELDS} }} ... on Group {{ {GROUP_FIELDS} }}"
    f" ... on Student {{ {STUDENT_FIELDS} }} ... on StaffMember {{ {STAFF_FIELDS} }}"
)
FEED = (
    "query Feed($after: String, $first: Int) { changes(after: $after, first: $first) {"
    " edges { cursor node { cursor kind entityType entityId schoolCode lostCategories occurredAt"
    f" node {{ {NODE_FIELDS} }} }} }}"
    " pageInfo { hasNextPage endCursor } } }"
)
#: Everything a partner can read of its schools' people and groups, in one query.
FULL = (
    f"{{ schools(first: 10) {{ edges {{ node {{ __typename {SCHOOL_FIELDS}"
    f" students(first: 50) {{ edges {{ node {{ __typename {STUDENT_FIELDS} }} }} }}"
    f" staff(first: 50) {{ edges {{ node {{ __typename {STAFF_FIELDS} }} }} }}"
    f" groups(first: 50) {{ edges {{ node {{ __typename {GROUP_FIELDS} }} }} }} }} }} }} }}"
)
_codes = itertools.count()


def encode(text: str) -> str:
    """A string in the shape of a cursor (URL-safe base64, unpadded)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def now_on(day: dt.date) -> dt.datetime:
    """Noon (UTC) of a day: the moment the `run` fixture takes as now for that day."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


async def new_board(engine: AsyncEngine) -> int:
    """A board whose DPA is signed, so that consent alone decides what its schools disclose."""
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(BOARDS)
            .values(
                number=f"7{next(_codes) % 10000:04d}",
                name="Feed board",
                dpa_signed_at=now_on(TODAY),
                dpa_signed_by="Directeur",
            )
            .returning(BOARDS.c.id)
        )
        return int(inserted.scalar_one())


async def new_school(engine: AsyncEngine, board_id: int) -> tuple[int, str]:
    """A fresh managed location on the board: (id, code)."""
    number = next(_codes)
    brin = f"9{number // 676 % 10}{chr(65 + number // 26 % 26)}{chr(65 + number % 26)}"
    code = f"{brin}00"
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(SCHOOLS)
            .values(
                brin=brin,
                location_code="00",
                code=code,
                name=f"Feedschool {code}",
                board_id=board_id,
                instelling_ref=uuid.uuid4().hex,
                source="manual",
            )
            .returning(SCHOOLS.c.id)
        )
        return int(inserted.scalar_one()), code


async def new_partner(
    engine: AsyncEngine, declared: Iterable[DataCategory] = tuple(DataCategory), *, eck_chain: bool = True
) -> tuple[int, str]:
    """A partner declaring `declared`: (id, client id)."""
    client_id = f"feed-{uuid.uuid4().hex[:12]}"
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(PARTNERS)
            .values(
                name=f"Feed partner {client_id}",
                kind="PUBLISHER",
                declared_categories=sorted(category.name for category in declared),
                eck_chain=eck_chain,
                client_id=client_id,
                created_at=now_on(TODAY),
            )
            .returning(PARTNERS.c.id)
        )
        return int(inserted.scalar_one()), client_id


async def scope_of_partner(engine: AsyncEngine, settings: Settings, client_id: str) -> Scope:
    """The partner's scope as the server computes it for a request."""
    reader = Reader(engine)
    try:
        facts = await partner_facts(reader, client_id)
    finally:
        await reader.close()
    assert facts is not None
    return partner_scope(
        Viewer(ViewerKind.PARTNER, client_id),
        facts,
        require_dpa=settings.dpa_required,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
    )


async def grant(
    engine: AsyncEngine,
    school_id: int,
    partner_id: int,
    categories: Iterable[DataCategory],
    *,
    declared: Iterable[DataCategory] = tuple(DataCategory),
    today: dt.date = TODAY,
) -> None:
    """A coordinator grants exactly `categories` (school.basic comes with any consent)."""
    await consent_lifecycle.grant(
        engine,
        operator_scope(OPERATOR),
        school_id=school_id,
        partner_id=partner_id,
        categories=grantable(declared, categories),
        now=now_on(today),
    )


async def revoke(engine: AsyncEngine, school_id: int, partner_id: int, *, today: dt.date = TODAY) -> None:
    """A coordinator revokes the partner's consent at the school."""
    await consent_lifecycle.revoke(
        engine,
        operator_scope(OPERATOR),
        school_id=school_id,
        partner_id=partner_id,
        now=now_on(today),
    )


def school_file(
    code: str,
    *,
    year: str = YEAR,
    students: Iterable[ImportedStudent] = (),
    staff: Iterable[ImportedStaff] = (),
    groups: Iterable[ImportedGroup] = (),
) -> SchoolFile:
    """A school file for a location and a school year."""
    return SchoolFile(
        code[:4], code[4:], year, TODAY, tuple(groups), tuple(students), tuple(staff), source="test"
    )


def student(key: str, *, main_group: str | None = "G1", **fields: Any) -> ImportedStudent:
    """A student of a school file; fields not given take plain defaults."""
    values: dict[str, Any] = {
        "eck_id": f"https://ketenid.nl/201703/{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}",
        "first_name": "Anna",
        "prefix": None,
        "last_name": "Jansen",
        "initials": "A",
        "date_of_birth": dt.date(2018, 3, 1),
        "year_level": "4",
        "composite_groups": (),
    } | fields
    return ImportedStudent(key=key, main_group=main_group, **values)


def teacher(key: str, *, groups: tuple[str, ...] = ("G1",), **fields: Any) -> ImportedStaff:
    """A staff member of a school file."""
    values: dict[str, Any] = {
        "eck_id": None,
        "first_name": "Bram",
        "prefix": None,
        "last_name": "Bakker",
        "email": f"{key.lower()}@school.example",
        "las_roles": ("LRK",),
    } | fields
    return ImportedStaff(key=key, groups=groups, **values)


def group(
    key: str, name: str | None = None, *, year_level: str | None = "4", composite: bool = False
) -> ImportedGroup:
    """A group of a school file."""
    return ImportedGroup(key, name or f"Groep {key}", year_level, composite)


async def import_school(engine: AsyncEngine, school: SchoolFile, *, today: dt.date = TODAY) -> None:
    """Apply a school file as the whole truth (held removals confirmed)."""
    await sync_school(engine, school, today=today, confirm=True, now=now_on(today))


async def read_feed(
    run: Run, scope: Scope, after: str | None = None, *, first: int = 100, today: dt.date = TODAY
) -> tuple[list[dict[str, Any]], str | None]:
    """Every event after `after` (page by page) and the last end cursor."""
    events: list[dict[str, Any]] = []
    while True:
        result = await run(FEED, {"after": after, "first": first}, scope=scope, today=today)
        assert result["errors"] == [], result["errors"]
        page = result["data"]["changes"]
        events += [edge["node"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            return events, after


def summary(events: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, entity type) of each event, in order."""
    return [(event["kind"], event["entityType"]) for event in events]


# --- the tests ----------------------------------------------------------------------------------------

ROSTER = school_file(
    "",
    groups=[
        group("G1"),
        group("G2", year_level="5"),
        group("GC", "Combinatie", year_level=None, composite=True),
    ],
    students=[student("L1"), student("L2", main_group="G2", composite_groups=("GC",)), student("L3")],
    staff=[teacher("T1")],
)


def roster(code: str, **changes_: Any) -> SchoolFile:
    """The test roster for a school, with fields replaced."""
    return dataclasses.replace(ROSTER, brin=code[:4], location_code=code[4:], **changes_)


async def world(engine: AsyncEngine, **partner: Any) -> tuple[int, str, int, str]:
    """A school with the test roster and a partner: (school id, code, partner id, client id)."""
    school_id, code = await new_school(engine, await new_board(engine))
    await import_school(engine, roster(code))
    partner_id, client_id = await new_partner(engine, **partner)
    return school_id, code, partner_id, client_id


async def full_ids(run: Run, scope: Scope, today: dt.date = TODAY) -> set[str]:
    """The ids of everything a full query shows the viewer."""
    result = await run(FULL, scope=scope, today=today)
    assert result["errors"] == [], result["errors"]
    found = set()
    for edge in result["data"]["schools"]["edges"]:
        found.add(edge["node"]["id"])
        for connection in ("students", "staff", "groups"):
            found |= {item["node"]["id"] for item in edge["node"][connection]["edges"]}
    return found


async def test_a_grant_brings_the_school_and_everything_the_partner_may_see_into_its_feed(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC, DataCategory.GROUP_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope)
    assert (
        summary(events)
        == [("ENTERED_SCOPE", "School")]
        + [("ENTERED_SCOPE", "Group")] * 3
        + [("ENTERED_SCOPE", "Student")] * 3
    )  # staff.basic was not granted: no staff member enters
    assert {event["schoolCode"] for event in events} == {code}
    assert all(event["node"] is not None and event["lostCategories"] == [] for event in events)
    # The ids are the ones a query shows; the nodes are minimised to the grant.
    assert {event["entityId"] for event in events} == await full_ids(run, scope)
    students = [event["node"] for event in events if event["entityType"] == "Student"]
    assert all(node["pseudonym"] and node["firstName"] is None for node in students)


async def test_a_grant_at_a_school_whose_board_has_not_signed_the_dpa_puts_nothing_in_the_feed(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, _, partner_id, client_id = await world(engine)
    async with engine.begin() as connection:
        await connection.execute(
            update(BOARDS)
            .where(
                BOARDS.c.id == select(SCHOOLS.c.board_id).where(SCHOOLS.c.id == school_id).scalar_subquery()
            )
            .values(dpa_signed_at=None)
        )
    await grant(engine, school_id, partner_id, list(DataCategory))
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope)
    assert events == []  # not even the ids of what the grant would open
    await revoke(engine, school_id, partner_id)
    left, _ = await read_feed(run, await scope_of_partner(engine, settings, client_id))
    assert {event["kind"] for event in left} == {"LEFT_SCOPE"}  # deletion is always told


async def test_an_update_of_a_field_the_partner_was_not_granted_is_not_in_its_feed(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    renamed = [
        dataclasses.replace(s, first_name="Zoë", date_of_birth=dt.date(2017, 1, 1)) for s in ROSTER.students
    ]
    readdressed = [dataclasses.replace(ROSTER.staff[0], email="nieuw@school.example")]
    await import_school(engine, roster(code, students=renamed, staff=readdressed))
    events, cursor = await read_feed(run, scope, cursor)
    assert events == []  # names, birth dates and addresses are not granted: not even named
    moved = [dataclasses.replace(s, year_level="6") for s in renamed]
    await import_school(engine, roster(code, students=moved, staff=readdressed))
    events, _ = await read_feed(run, scope, cursor)
    assert summary(events) == [("UPDATED", "Student")] * 3
    assert {event["node"]["yearLevel"] for event in events} == {"6"}
    assert {event["node"]["firstName"] for event in events} == {None}


async def test_a_partner_without_a_row_category_hears_nothing_of_those_entities(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.GROUP_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await import_school(engine, roster(code, students=[*ROSTER.students[:2], student("L9")], staff=[]))
    events, _ = await read_feed(run, scope, cursor)
    assert events == []  # students came and went, a teacher left: none of it is group.basic


async def test_narrowing_a_grant_gives_left_scope_with_the_lost_categories(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, _, partner_id, client_id = await world(engine)
    basic_and_name = [DataCategory.STUDENT_BASIC, DataCategory.STUDENT_NAME, DataCategory.STAFF_BASIC]
    await grant(engine, school_id, partner_id, basic_and_name)
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope, cursor)
    assert summary(events) == [("LEFT_SCOPE", "School"), ("UPDATED", "School")] + [
        ("LEFT_SCOPE", "Student")
    ] * 3 + [("LEFT_SCOPE", "StaffMember")]
    school_left, school_updated, *people = events
    # The School's LEFT_SCOPE names everything lost at the school; its UPDATED carries the new grant.
    assert school_left["lostCategories"] == ["STAFF_BASIC", "STUDENT_NAME"]
    assert school_updated["node"]["grantedCategories"] == ["SCHOOL_BASIC", "STUDENT_BASIC"]
    assert [event["lostCategories"] for event in people] == [["STUDENT_NAME"]] * 3 + [["STAFF_BASIC"]]
    assert all(event["node"] is None for event in people)


async def test_a_revoke_gives_left_scope_and_then_nothing_more_of_that_school(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC, DataCategory.GROUP_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await revoke(engine, school_id, partner_id)
    scope = await scope_of_partner(engine, settings, client_id)
    events, cursor = await read_feed(run, scope, cursor)
    assert (
        summary(events)
        == [("LEFT_SCOPE", "School")] + [("LEFT_SCOPE", "Group")] * 3 + [("LEFT_SCOPE", "Student")] * 3
    )
    assert events[0]["lostCategories"] == ["GROUP_BASIC", "SCHOOL_BASIC", "STUDENT_BASIC"]
    await import_school(engine, roster(code, students=[student("L7")], groups=[group("G9")]))
    assert (await read_feed(run, scope, cursor))[0] == []
    # From the start: its own history of the school, and nothing of it to keep.
    history, _ = await read_feed(run, scope)
    assert history[-len(events) :] == events
    assert all(event["node"] is None for event in history)


async def test_a_partners_deletion_confirmation_shows_as_confirmed_to_the_coordinator(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC])
    await revoke(engine, school_id, partner_id)
    partner = await scope_of_partner(engine, settings, client_id)
    coordinator = staff_scope(Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset({school_id})))
    confirmations = """query($code: String!) { school(code: $code) { deletionConfirmations {
        partner { name } confirmed confirmedAt leftScopeAt } } }"""
    before = await run(confirmations, {"code": code}, scope=coordinator)
    assert [
        (c["partner"]["name"], c["confirmed"]) for c in before["data"]["school"]["deletionConfirmations"]
    ] == [(f"Feed partner {client_id}", False)]
    acknowledged = await run(
        """mutation($code: String!) { acknowledgeDeletion(schoolCode: $code) {
            school { code } throughCursor acknowledgedAt } }""",
        {"code": code},
        scope=partner,
    )
    assert acknowledged["errors"] == [], acknowledged["errors"]
    assert acknowledged["data"]["acknowledgeDeletion"]["school"] is None  # no longer visible to it
    events, _ = await read_feed(run, partner)
    assert acknowledged["data"]["acknowledgeDeletion"]["throughCursor"] == events[-1]["cursor"]
    after = await run(confirmations, {"code": code}, scope=coordinator)
    (state,) = after["data"]["school"]["deletionConfirmations"]
    assert state["confirmed"] is True
    assert state["confirmedAt"] == now_on(TODAY).isoformat()


async def test_next_years_groups_enter_the_feed_on_their_effective_date_and_not_before(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.GROUP_BASIC, DataCategory.STUDENT_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    next_year = roster(
        code,
        school_year=NEXT_YEAR,
        groups=[group("N5", year_level="5"), group("N6", year_level="6")],
        students=[
            student("L1", main_group="N5"),
            student("L2", main_group="N6"),
            student("L4", main_group="N5"),
        ],
    )
    await import_school(engine, next_year)
    events, cursor = await read_feed(run, scope, cursor)
    assert events == []  # L4 joins the school on 1 August: nobody hears of them before
    events, cursor = await read_feed(run, scope, cursor, today=dt.date(2027, 7, 31))
    assert events == []
    first_of_august = dt.date(2027, 8, 1)
    events, _ = await read_feed(run, scope, cursor, today=first_of_august)
    # L3 is not in next year's file: their last day was 31 July. L4 is new in it.
    assert sorted(summary(events)) == sorted(
        [("DELETED", "Group")] * 3
        + [("DELETED", "Student"), ("CREATED", "Student")]
        + [("UPDATED", "Student")] * 2
        + [("CREATED", "Group")] * 2
    )
    created = [e["node"] for e in events if e["kind"] == "CREATED" and e["entityType"] == "Group"]
    assert {(node["name"], node["schoolYear"]) for node in created} == {
        ("Groep N5", NEXT_YEAR),
        ("Groep N6", NEXT_YEAR),
    }
    students = [e["node"] for e in events if e["entityType"] == "Student" and e["kind"] != "DELETED"]
    assert len(students) == 3
    assert {node["mainGroup"]["id"] for node in students} == {created[0]["id"], created[1]["id"]}
    assert {event["entityId"] for event in events if event["kind"] != "DELETED"} <= await full_ids(
        run, scope, first_of_august
    )


async def test_a_group_that_becomes_composite_updates_its_members(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC, DataCategory.STAFF_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await import_school(engine, roster(code, groups=[group("G1", composite=True), *ROSTER.groups[1:]]))
    events, _ = await read_feed(run, scope, cursor)
    # L1 and L3 lose their main group, and T1's group changes kind: no Group event (group.basic is not
    # granted), but the members' own fields changed.
    assert summary(events) == [("UPDATED", "Student")] * 2 + [("UPDATED", "StaffMember")]
    assert [event["node"]["mainGroup"] for event in events[:2]] == [None, None]


async def test_an_import_deletes_before_it_creates(engine: AsyncEngine, run: Run, settings: Settings) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.GROUP_BASIC, DataCategory.STUDENT_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    # GC, the newest group, goes and GD comes: on SQLite GD may get GC's id, so a client must see the
    # deletion first.
    await import_school(
        engine, roster(code, groups=[*ROSTER.groups[:2], group("GD")], students=ROSTER.students[:1])
    )
    events, _ = await read_feed(run, scope, cursor)
    kinds = [event["kind"] for event in events]
    assert kinds == sorted(kinds, key=["DELETED", "CREATED", "UPDATED"].index)
    assert kinds.count("DELETED") == 3  # GC, L2 and L3


async def test_a_cursor_is_opaque_and_reading_from_it_again_gives_the_same_events(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, _, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, list(DataCategory))
    scope = await scope_of_partner(engine, settings, client_id)
    everything, end = await read_feed(run, scope, first=3)
    assert len(everything) == 8
    cursor = everything[2]["cursor"]
    assert not cursor.isdigit()
    first, _ = await read_feed(run, scope, cursor, first=2)
    second, _ = await read_feed(run, scope, cursor, first=1000)
    assert first == second == everything[3:]
    # At the end of the feed, the end cursor stays put until something happens.
    result = await run(FEED, {"after": end, "first": 5}, scope=scope)
    assert result["data"]["changes"]["edges"] == []
    assert result["data"]["changes"]["pageInfo"]["endCursor"] == end


async def test_the_end_cursor_moves_past_events_the_partner_may_not_see(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.GROUP_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await import_school(engine, roster(code, students=[]))
    result = await run(FEED, {"after": cursor, "first": 5}, scope=scope)
    page = result["data"]["changes"]
    assert page["edges"] == []
    assert page["pageInfo"]["endCursor"] != cursor  # the three deletions are not read again next time
    assert (await read_feed(run, scope, page["pageInfo"]["endCursor"]))[0] == []


async def test_a_page_reads_past_many_events_the_partner_may_not_see_in_several_statements(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    """A page asks for `first` + 1 events at a time; behind 350 events the partner may not see (updates of
    names it was not granted), it reads on until it has its page, and says whether more follow."""
    school_id, _, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    hidden = events.ChangeEntry(school_id, "School", school_id, events.UPDATED, ("STUDENT_NAME",))
    seen = events.ChangeEntry(school_id, "School", school_id, events.UPDATED, ("SCHOOL_BASIC",))
    async with engine.begin() as connection:
        await recording.record(connection, [hidden] * 350 + [seen] + [hidden] * 350 + [seen], now_on(TODAY))
    first = await run(FEED, {"after": cursor, "first": 1}, scope=scope)
    page = first["data"]["changes"]
    assert [edge["node"]["kind"] for edge in page["edges"]] == ["UPDATED"]
    assert page["pageInfo"]["hasNextPage"]
    rest = await run(FEED, {"after": page["pageInfo"]["endCursor"], "first": 5}, scope=scope)
    assert len(rest["data"]["changes"]["edges"]) == 1
    assert not rest["data"]["changes"]["pageInfo"]["hasNextPage"]
    assert (await read_feed(run, scope, rest["data"]["changes"]["pageInfo"]["endCursor"]))[0] == []


async def test_a_malformed_cursor_is_bad_user_input(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    _, _, _, client_id = await world(engine)
    scope = await scope_of_partner(engine, settings, client_id)
    for cursor in ("not a cursor", "MTIz", encode("c1:-1"), encode("c1:99999999999999999999")):
        result = await run(FEED, {"after": cursor, "first": 5}, scope=scope)
        assert result["data"] is None
        assert [error["code"] for error in result["errors"]] == ["BAD_USER_INPUT"], cursor


async def test_a_cursor_older_than_the_kept_events_must_resync(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [DataCategory.STUDENT_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope)
    await import_school(engine, roster(code, students=ROSTER.students[:2]))
    pruned = await retention.prune(engine, now_on(TODAY) + dt.timedelta(seconds=1))
    assert pruned > 0
    result = await run(FEED, {"after": events[0]["cursor"], "first": 5}, scope=scope)
    assert result["data"] is None
    assert [error["code"] for error in result["errors"]] == ["BAD_USER_INPUT"]
    assert "resync" in result["errors"][0]["message"]
    assert (await read_feed(run, scope))[0] == []  # from the start: what is kept (nothing)


async def test_a_reader_following_the_feed_while_writers_commit_misses_nothing(
    engine: AsyncEngine, run: Run
) -> None:
    school_id, _, _, _ = await world(engine)
    operator = operator_scope(OPERATOR)
    _, cursor = await read_feed(run, operator)
    seen: list[dict[str, Any]] = []
    writing = True

    async def writer(pauses: list[float]) -> None:
        for pause in pauses:
            async with engine.begin() as connection:
                entry = events.ChangeEntry(school_id, "School", school_id, events.UPDATED, ("SCHOOL_BASIC",))
                await recording.record(connection, [entry] * 3, now_on(TODAY))
                # Numbered but not committed yet: a reader must not pass these numbers meanwhile.
                await asyncio.sleep(pause)

    async def reader() -> None:
        nonlocal cursor
        while writing:
            events, cursor = await read_feed(run, operator, cursor, first=4)
            seen.extend(events)
            await asyncio.sleep(0.001)

    following = asyncio.create_task(reader())
    pauses = random.Random(5)
    await asyncio.gather(*(writer([pauses.uniform(0, 0.02) for _ in range(6)]) for _ in range(3)))
    writing = False
    await following
    seen.extend((await read_feed(run, operator, cursor))[0])
    numbers = [pagination.decode_cursor(operator, event["cursor"], pagination.FEED) for event in seen]
    assert len(numbers) == 3 * 6 * 3
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # in order, no gap, none twice


async def test_a_new_address_that_deactivates_a_teacher_reaches_a_partner_without_addresses(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    async with engine.begin() as connection:
        await connection.execute(update(STAFF_MEMBERS).values(active=True))  # the teacher activated
    await grant(engine, school_id, partner_id, [DataCategory.STAFF_BASIC])
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    readdressed = [dataclasses.replace(ROSTER.staff[0], email="nieuw@school.example")]
    await import_school(engine, roster(code, staff=readdressed))
    events, _ = await read_feed(run, scope, cursor)
    # The address is staff.communication, not granted; `active` is staff.basic, and it changed.
    assert summary(events) == [("UPDATED", "StaffMember")]
    assert events[0]["node"]["active"] is False
    assert events[0]["node"]["email"] is None
