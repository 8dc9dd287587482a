"""The start-of-year readiness check (`School.readiness`): every check OK at a school that is ready, and
each check turning WARNING or PROBLEM when the one thing it is about goes wrong, on both engines; who sees
the check (its coordinators, its board coordinator, the operator; never a partner); and what it costs.

Each test builds a ready school: a board with a signed DPA, the test roster with a teacher for each group,
activated teachers with their own addresses, an active coordinator, a license coupled to a current group.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.policy import StaffFacts, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.store.tables import (
    ACCOUNT_LINKS,
    BOARDS,
    CONSENT_REQUESTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    PRODUCTS,
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
)
from tests.schema.conftest import TODAY
from tests.schema.test_feed import (
    NEXT_YEAR,
    grant,
    group,
    import_school,
    new_board,
    new_partner,
    new_school,
    now_on,
    roster,
    scope_of_partner,
    student,
    teacher,
)

if TYPE_CHECKING:
    from settings import Settings
    from tests.schema.conftest import Run

READINESS = """query($code: String!) { school(code: $code) {
    readiness { code status title message } } }"""
CODES = [
    "GROUPS_NEXT_YEAR",
    "STUDENTS_MOVED",
    "GROUP_TEACHERS",
    "TEACHER_EMAILS",
    "TEACHERS_ACTIVATED",
    "LOCATION_OFFICIAL",
    "ACTIVE_COORDINATOR",
    "LICENSES_COUPLED",
    "CONSENT_REQUESTS",
    "DPA_SIGNED",
    "LAS_COUPLING",
]
READY = roster(
    "",
    groups=[group("G1", "Groep 4a"), group("G2", "Groep 5a", year_level="5")],
    students=[student("L1"), student("L2", main_group="G2"), student("L3")],
    staff=[teacher("T1", groups=("G1",)), teacher("T2", groups=("G2",), last_name="Visser")],
)


class ReadySchool:
    """The ids of a ready school and what hangs off it."""

    def __init__(self, school_id: int, code: str, board_id: int, account_id: int, partner_id: int) -> None:
        self.school_id, self.code, self.board_id = school_id, code, board_id
        self.account_id, self.partner_id = account_id, partner_id


async def ready_school(engine: AsyncEngine) -> ReadySchool:
    """A school for which every check of the list is OK on TODAY."""
    board_id = await new_board(engine)
    school_id, code = await new_school(engine, board_id)
    await import_school(engine, roster(code, **_fields(READY)))
    partner_id, _ = await new_partner(engine)
    async with engine.begin() as connection:
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.school_id == school_id).values(active=True)
        )
        account = await connection.execute(
            insert(STAFF_ACCOUNTS)
            .values(email=f"ict-{code}@school.example", password_hash="x", created_by="test")
            .returning(STAFF_ACCOUNTS.c.id)
        )
        account_id = int(account.scalar_one())
        await connection.execute(
            insert(STAFF_ACCOUNT_ROLES).values(
                account_id=account_id, school_id=school_id, role="ICT_COORDINATOR"
            )
        )
        product = await connection.execute(
            insert(PRODUCTS).values(partner_id=partner_id, name="Rekenrijk").returning(PRODUCTS.c.id)
        )
        license_ = await connection.execute(
            insert(LICENSES)
            .values(school_id=school_id, product_id=product.scalar_one(), valid_from=dt.date(2026, 8, 1))
            .returning(LICENSES.c.id)
        )
        g1 = await connection.scalar(
            select(GROUPS.c.id).where(GROUPS.c.school_id == school_id, GROUPS.c.las_key == "G1")
        )
        await connection.execute(insert(LICENSE_GROUPS).values(license_id=license_.scalar_one(), group_id=g1))
    return ReadySchool(school_id, code, board_id, account_id, partner_id)


def _fields(school_file: Any) -> dict[str, Any]:
    return {"groups": school_file.groups, "students": school_file.students, "staff": school_file.staff}


async def _checks(
    run: Run, code: str, *, today: dt.date = TODAY, **options: Any
) -> dict[str, dict[str, str]]:
    result = await run(READINESS, {"code": code}, today=today, **options)
    assert result["errors"] == [], result["errors"]
    return {check["code"]: check for check in result["data"]["school"]["readiness"]}


async def test_every_check_is_ok_at_a_school_that_is_ready(engine: AsyncEngine, run: Run) -> None:
    school = await ready_school(engine)
    checks = await _checks(run, school.code)
    assert list(checks) == CODES
    assert {code: check["status"] for code, check in checks.items()} == dict.fromkeys(CODES, "OK")
    assert checks["STUDENTS_MOVED"]["message"].startswith("3 leerlingen zitten in een groep van 2026-2027")
    assert checks["ACTIVE_COORDINATOR"]["message"] == "De school heeft 1 actieve ICT-coördinator."


async def _member(engine: AsyncEngine, school: ReadySchool, key: str) -> int:
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(STAFF_MEMBERS.c.id).where(
                STAFF_MEMBERS.c.school_id == school.school_id, STAFF_MEMBERS.c.las_key == key
            )
        )
    assert found is not None
    return int(found)


async def _execute(engine: AsyncEngine, *statements: Any) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(statement)


async def _next_years_file(engine: AsyncEngine, school: ReadySchool) -> None:
    await import_school(engine, roster(school.code, school_year=NEXT_YEAR, **_fields(READY)))


async def _student_without_group(engine: AsyncEngine, school: ReadySchool) -> None:
    async with engine.connect() as connection:
        g2 = await connection.scalar(
            select(GROUPS.c.id).where(GROUPS.c.school_id == school.school_id, GROUPS.c.las_key == "G2")
        )
    await _execute(engine, delete(GROUP_STUDENTS).where(GROUP_STUDENTS.c.group_id == g2))


async def _group_without_teacher(engine: AsyncEngine, school: ReadySchool) -> None:
    await _execute(
        engine, delete(GROUP_STAFF).where(GROUP_STAFF.c.staff_id == await _member(engine, school, "T2"))
    )


async def _shared_address(engine: AsyncEngine, school: ReadySchool) -> None:
    staff_id = await _member(engine, school, "T2")
    await _execute(
        engine, update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == staff_id).values(email="T1@school.example")
    )


async def _no_address(engine: AsyncEngine, school: ReadySchool) -> None:
    staff_id = await _member(engine, school, "T2")
    await _execute(engine, update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == staff_id).values(email=None))


async def _not_activated(engine: AsyncEngine, school: ReadySchool) -> None:
    staff_id = await _member(engine, school, "T2")
    await _execute(engine, update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id == staff_id).values(active=False))


async def _invited(engine: AsyncEngine, school: ReadySchool) -> None:
    await _not_activated(engine, school)
    await _execute(
        engine,
        insert(ACCOUNT_LINKS).values(
            token_hash="0" * 64,
            purpose="activation",
            staff_member_id=await _member(engine, school, "T2"),
            email="t2@school.example",
            created_at=now_on(TODAY),
            expires_at=now_on(TODAY + dt.timedelta(days=7)),
        ),
    )


async def _closed(engine: AsyncEngine, school: ReadySchool) -> None:
    await _execute(engine, update(SCHOOLS).where(SCHOOLS.c.id == school.school_id).values(active=False))


async def _no_coordinator(engine: AsyncEngine, school: ReadySchool) -> None:
    await _execute(
        engine, update(STAFF_ACCOUNTS).where(STAFF_ACCOUNTS.c.id == school.account_id).values(active=False)
    )


async def _uncoupled(engine: AsyncEngine, school: ReadySchool) -> None:
    async with engine.connect() as connection:
        license_id = await connection.scalar(
            select(LICENSES.c.id).where(LICENSES.c.school_id == school.school_id)
        )
    await _execute(engine, delete(LICENSE_GROUPS).where(LICENSE_GROUPS.c.license_id == license_id))


def _request(days_ago: int) -> Callable[[AsyncEngine, ReadySchool], Awaitable[None]]:
    async def ask(engine: AsyncEngine, school: ReadySchool) -> None:
        await _execute(
            engine,
            insert(CONSENT_REQUESTS).values(
                school_id=school.school_id,
                partner_id=school.partner_id,
                categories=["STUDENT_BASIC"],
                purpose="Rekenen",
                requested_at=now_on(TODAY - dt.timedelta(days=days_ago)),
            ),
        )

    return ask


async def _unsigned(engine: AsyncEngine, school: ReadySchool) -> None:
    await _execute(engine, update(BOARDS).where(BOARDS.c.id == school.board_id).values(dpa_signed_at=None))


async def _suspended(engine: AsyncEngine, school: ReadySchool) -> None:
    await _execute(
        engine, update(SCHOOLS).where(SCHOOLS.c.id == school.school_id).values(las_coupling_suspended=True)
    )


async def _nothing(engine: AsyncEngine, school: ReadySchool) -> None:
    return None


Spoil = Callable[[AsyncEngine, ReadySchool], Awaitable[None]]
#: (check, what goes wrong, the hub's date, the status it gives, a phrase of its message).
CASES: list[tuple[str, Spoil, dt.date, str, str]] = [
    ("GROUPS_NEXT_YEAR", _nothing, dt.date(2027, 8, 20), "PROBLEM", "groepen van 2026-2027 gelden nog"),
    (
        "GROUPS_NEXT_YEAR",
        _nothing,
        dt.date(2027, 6, 15),
        "WARNING",
        "vóór de eerste schooldag (1 augustus 2027)",
    ),
    ("GROUPS_NEXT_YEAR", _next_years_file, dt.date(2027, 6, 15), "OK", "gaan in op 1 augustus 2027"),
    ("STUDENTS_MOVED", _nothing, dt.date(2027, 8, 20), "PROBLEM", "niemand is doorgeschoven"),
    ("STUDENTS_MOVED", _student_without_group, TODAY, "PROBLEM", "1 leerling zit in geen enkele groep"),
    ("GROUP_TEACHERS", _group_without_teacher, TODAY, "PROBLEM", "Zonder leerkracht: Groep 5a."),
    ("TEACHER_EMAILS", _shared_address, TODAY, "PROBLEM", "als een collega: Bram Bakker, Bram Visser."),
    ("TEACHER_EMAILS", _no_address, TODAY, "PROBLEM", "Zonder e-mailadres: Bram Visser."),
    ("TEACHERS_ACTIVATED", _not_activated, TODAY, "PROBLEM", "geen activatiemail onderweg: Bram Visser."),
    ("TEACHERS_ACTIVATED", _invited, TODAY, "WARNING", "nog niet geactiveerd: Bram Visser."),
    ("LOCATION_OFFICIAL", _closed, TODAY, "PROBLEM", "opgeheven of beëindigd"),
    ("ACTIVE_COORDINATOR", _no_coordinator, TODAY, "PROBLEM", "geen actieve ICT-coördinator"),
    ("LICENSES_COUPLED", _uncoupled, TODAY, "PROBLEM", "gekoppeld: Rekenrijk."),
    ("CONSENT_REQUESTS", _request(2), TODAY, "WARNING", "1 toestemmingsverzoek wacht op uw besluit."),
    ("CONSENT_REQUESTS", _request(20), TODAY, "PROBLEM", "het oudste al sinds 9 november 2026"),
    ("DPA_SIGNED", _unsigned, TODAY, "PROBLEM", "niet getekend"),
    ("LAS_COUPLING", _suspended, TODAY, "PROBLEM", "staat uit"),
]


@pytest.mark.parametrize(
    ("code", "spoil", "today", "status", "phrase"),
    CASES,
    ids=[f"{case[0]}-{case[1].__name__.strip('_')}-{case[3]}" for case in CASES],
)
async def test_a_check_reports_what_went_wrong(
    engine: AsyncEngine, run: Run, code: str, spoil: Spoil, today: dt.date, status: str, phrase: str
) -> None:
    school = await ready_school(engine)
    await spoil(engine, school)
    check = (await _checks(run, school.code, today=today))[code]
    assert check["status"] == status, check
    assert phrase in check["message"], check


async def test_only_the_schools_administrators_get_the_check(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school = await ready_school(engine)
    elsewhere = await ready_school(engine)
    coordinator = staff_scope(Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset({school.school_id})))
    assert len(await _checks(run, school.code, scope=coordinator)) == len(CODES)
    other = await run(READINESS, {"code": elsewhere.code}, scope=coordinator)
    assert other["data"]["school"] is None

    partner_id, client_id = await new_partner(engine)
    await grant(engine, school.school_id, partner_id, [])
    partner = await scope_of_partner(engine, settings, client_id)
    assert await _checks(run, school.code, scope=partner) == {}


async def test_a_board_coordinator_sees_the_check_of_every_school_it_manages_in_two_statements(
    engine: AsyncEngine, run: Run, count_statements: Any
) -> None:
    first = await ready_school(engine)
    await _suspended(engine, first)
    schools = [first]
    for _ in range(2):
        school_id, code = await new_school(engine, first.board_id)
        await import_school(engine, roster(code, **_fields(READY)))
        schools.append(ReadySchool(school_id, code, first.board_id, 0, 0))
    async with engine.connect() as connection:
        number = await connection.scalar(select(BOARDS.c.number).where(BOARDS.c.id == first.board_id))
    managed = frozenset(school.school_id for school in schools[:2])
    board_coordinator = staff_scope(
        Viewer(ViewerKind.STAFF, "2"), StaffFacts(2, frozenset(), {first.board_id: managed})
    )
    query = """query($n: String!) { board(number: $n) { schools(first: 10) { edges { node { code
        readiness { code status } } } } } }"""
    counter = count_statements()
    result = await run(query, {"n": number}, scope=board_coordinator)
    assert result["errors"] == []
    overview = {
        edge["node"]["code"]: {check["code"]: check["status"] for check in edge["node"]["readiness"]}
        for edge in result["data"]["board"]["schools"]["edges"]
    }
    assert set(overview) == {first.code, schools[1].code}
    assert overview[first.code]["LAS_COUPLING"] == "PROBLEM"
    assert overview[schools[1].code]["LAS_COUPLING"] == "OK"
    assert overview[schools[1].code]["ACTIVE_COORDINATOR"] == "PROBLEM"
    readiness_statements = [
        text for text in counter.statements if "las_coupling_suspended" in text or "UNION ALL" in text
    ]
    assert len(readiness_statements) == 2
