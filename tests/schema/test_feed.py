"""The change feed as a partner reads it: what a grant, an import, a narrowing and a revoke put in it,
what never appears in it, dated groups, deletion confirmations, and cursors.

Each test builds its own small world (a board with a signed DPA, fresh schools, a partner) and reads the
feed with the partner's scope built the way the server builds it (`partner_facts` + `partner_scope`).
The helpers here are shared with the replay test (tests/schema/test_feed_replay.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update

from auth.categories import DataCategory
from auth.policy import Scope, grantable, operator_scope, partner_scope
from auth.viewer import Viewer, ViewerKind
from datasources import changes, consent_store
from datasources.imports import sync_school
from datasources.reader import Reader
from datasources.school_files import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile
from datasources.tables import BOARDS, CHANGE_EVENTS, PARTNERS, SCHOOLS
from datasources.viewers import partner_facts
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
STUDENT_FIELDS = "id pseudonym eckId firstName prefix lastName initials dateOfBirth yearLevel mainGroup { id } groups { id }"
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
    await consent_store.grant(
        engine,
        operator_scope(OPERATOR),
        school_id=school_id,
        partner_id=partner_id,
        categories=grantable(declared, categories),
        granted_by="staff:1",
        now=now_on(today),
    )


async def revoke(engine: AsyncEngine, school_id: int, partner_id: int, *, today: dt.date = TODAY) -> None:
    """A coordinator revokes the partner's consent at the school."""
    await consent_store.revoke(
        engine, operator_scope(OPERATOR), school_id=school_id, partner_id=partner_id, now=now_on(today)
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
    await sync_school(engine, school, today=today, confirm=True)


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


async def event_count(engine: AsyncEngine) -> int:
    """How many events the store holds."""
    async with engine.connect() as connection:
        return len((await connection.execute(select(CHANGE_EVENTS.c.seq))).all())


__all__ = ["changes", "update"]
