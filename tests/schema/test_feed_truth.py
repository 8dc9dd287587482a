"""The feed tells the truth over time (issue 9, items 5-7), tried as a partner that wants more than it was
given: rewinding after a widening, after a DPA signature, or across a board move; and reading consent
receipts, its own and another partner's.

Each test builds its own small world with the helpers of tests/schema/test_feed.py.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from auth.categories import DataCategory
from auth.policy import StaffFacts, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import consent_lifecycle
from datasources.registry.duo import RegistryLocation, load_registry
from datasources.registry.locations import set_school_active
from datasources.store.tables import BOARDS, SCHOOLS
from tests.schema.conftest import TODAY
from tests.schema.test_feed import (
    ROSTER,
    grant,
    import_school,
    new_partner,
    now_on,
    read_feed,
    revoke,
    roster,
    scope_of_partner,
    student,
    summary,
    world,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from settings import Settings
    from tests.schema.conftest import Run

C = DataCategory
#: The events of a roster entering a partner's scope with groups, students and staff granted.
EVERYTHING_ENTERS = (
    [("ENTERED_SCOPE", "School")]
    + [("ENTERED_SCOPE", "Group")] * 3
    + [("ENTERED_SCOPE", "Student")] * 4
    + [("ENTERED_SCOPE", "StaffMember")]
)
PEOPLE_AND_GROUPS = [C.GROUP_BASIC, C.STUDENT_BASIC, C.STUDENT_NAME, C.STAFF_BASIC]


def renamed_roster(code: str) -> Any:
    """The roster with a fourth student and everyone renamed: a CREATED and name UPDATEs."""
    students = [dataclasses.replace(s, first_name="Zoë") for s in ROSTER.students]
    return roster(code, students=[*students, student("L9")])


async def board_of(engine: AsyncEngine, school_id: int) -> str:
    """The number of the school's board."""
    async with engine.connect() as connection:
        number = await connection.scalar(
            select(BOARDS.c.number)
            .join(SCHOOLS, SCHOOLS.c.board_id == BOARDS.c.id)
            .where(SCHOOLS.c.id == school_id)
        )
    assert number is not None
    return str(number)


async def unsign(engine: AsyncEngine, board_number: str) -> None:
    """A board whose DPA was never signed (as the registry creates boards)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(BOARDS).where(BOARDS.c.number == board_number).values(dpa_signed_at=None)
        )


async def sign(engine: AsyncEngine, board_number: str) -> None:
    """The operator records the board's signed DPA."""
    await consent_lifecycle.record_dpa_signature(
        engine,
        board_number=board_number,
        signed_by="Directeur",
        chamber_of_commerce_number="12345678",
        version="2026-1",
        now=now_on(TODAY),
    )


async def test_rewinding_after_a_widening_shows_no_earlier_change_in_the_new_categories(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [C.GROUP_BASIC])
    # While the partner may read groups only, a student arrives and everyone is renamed.
    await import_school(engine, renamed_roster(code))
    await grant(engine, school_id, partner_id, [C.GROUP_BASIC, C.STUDENT_BASIC, C.STUDENT_NAME])
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope)  # from the very start (cursor 0)
    students = [event for event in events if event["entityType"] == "Student"]
    # The students enter with the widening, in their current state; what happened to them before is not
    # the partner's to know (no CREATED of L9, no renames).
    assert [event["kind"] for event in students] == ["ENTERED_SCOPE"] * 4
    assert {event["node"]["firstName"] for event in students} == {"Zoë", "Anna"}


async def test_rewinding_after_a_field_is_granted_shows_no_earlier_change_of_that_field(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, [C.STUDENT_BASIC])
    renamed = [dataclasses.replace(s, first_name="Zoë") for s in ROSTER.students]
    await import_school(engine, roster(code, students=renamed))
    await grant(engine, school_id, partner_id, [C.STUDENT_BASIC, C.STUDENT_NAME])
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope)
    assert [
        event for event in events if event["kind"] == "UPDATED" and event["entityType"] == "Student"
    ] == []
    # The new field comes with an ENTERED_SCOPE per student instead.
    assert summary(events).count(("ENTERED_SCOPE", "Student")) == 3 + 3


async def test_signing_the_dpa_brings_a_consent_granted_before_into_scope_and_nothing_from_before(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    board = await board_of(engine, school_id)
    await unsign(engine, board)
    await grant(engine, school_id, partner_id, PEOPLE_AND_GROUPS)
    await import_school(engine, renamed_roster(code))
    scope = await scope_of_partner(engine, settings, client_id)
    before, cursor = await read_feed(run, scope)
    assert before == []
    await sign(engine, board)
    scope = await scope_of_partner(engine, settings, client_id)
    events, _ = await read_feed(run, scope, cursor)
    assert summary(events) == EVERYTHING_ENTERS
    assert all(event["node"] is not None for event in events)
    # Rewound to the start: nothing of what happened while the board had not signed.
    rewound, _ = await read_feed(run, scope)
    assert {event["kind"] for event in rewound} == {"ENTERED_SCOPE"}
    assert summary(rewound)[-len(events) :] == EVERYTHING_ENTERS


async def test_withdrawing_the_dpa_tells_the_partner_to_delete_and_hides_what_happens_meanwhile(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    board = await board_of(engine, school_id)
    await grant(engine, school_id, partner_id, PEOPLE_AND_GROUPS)
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await consent_lifecycle.withdraw_dpa_signature(engine, board_number=board, now=now_on(TODAY))
    scope = await scope_of_partner(engine, settings, client_id)
    left, cursor = await read_feed(run, scope, cursor)
    assert summary(left)[0] == ("LEFT_SCOPE", "School")
    assert "SCHOOL_BASIC" in left[0]["lostCategories"]
    assert {event["kind"] for event in left} == {"LEFT_SCOPE"}
    assert len(left) == 1 + 3 + 3 + 1
    await import_school(engine, renamed_roster(code))  # while the board has no DPA
    await sign(engine, board)
    scope = await scope_of_partner(engine, settings, client_id)
    back, _ = await read_feed(run, scope, cursor)
    assert summary(back) == EVERYTHING_ENTERS
    rewound, _ = await read_feed(run, scope)
    assert not {"CREATED", "UPDATED"} & {event["kind"] for event in rewound}


async def test_only_the_operator_withdraws_a_dpa(engine: AsyncEngine, run: Run, settings: Settings) -> None:
    school_id, _, partner_id, client_id = await world(engine)
    board = await board_of(engine, school_id)
    await grant(engine, school_id, partner_id, [C.STUDENT_BASIC])
    withdraw = """mutation($n: String!) {
        withdrawDpa(boardNumber: $n) { number dataProcessingAgreement { signed signedAt } } }"""
    partner = await scope_of_partner(engine, settings, client_id)
    refused = await run(withdraw, {"n": board}, scope=partner)
    assert [error["code"] for error in refused["errors"]] == ["FORBIDDEN"]
    assert (await scope_of_partner(engine, settings, client_id)).can_see_school(school_id)  # nothing changed
    done = await run(withdraw, {"n": board})
    assert done["errors"] == [], done["errors"]
    assert done["data"]["withdrawDpa"]["dataProcessingAgreement"] == {"signed": False, "signedAt": None}
    assert not (await scope_of_partner(engine, settings, client_id)).can_see_school(school_id)
    unknown = await run(withdraw, {"n": "00000"})
    assert [error["code"] for error in unknown["errors"]] == ["NOT_FOUND"]


async def test_a_school_moved_to_an_unsigned_board_gives_left_scope_and_back_entered_scope(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    signed, unsigned = "31001", "31002"
    await load_registry(engine, [RegistryLocation("88QQ", "00", "De Verhuizer", signed)])
    await sign(engine, signed)
    async with engine.connect() as connection:
        school_id = int(await connection.scalar(select(SCHOOLS.c.id).where(SCHOOLS.c.code == "88QQ00")) or 0)
    await import_school(engine, roster("88QQ00"))
    partner_id, client_id = await new_partner(engine)
    await grant(engine, school_id, partner_id, PEOPLE_AND_GROUPS)
    scope = await scope_of_partner(engine, settings, client_id)
    _, cursor = await read_feed(run, scope)
    await load_registry(engine, [RegistryLocation("88QQ", "00", "De Verhuizer", unsigned)], now=now_on(TODAY))
    scope = await scope_of_partner(engine, settings, client_id)
    left, cursor = await read_feed(run, scope, cursor)
    assert summary(left) == [
        ("LEFT_SCOPE", "School"),
        *[("LEFT_SCOPE", "Group")] * 3,
        *[("LEFT_SCOPE", "Student")] * 3,
        ("LEFT_SCOPE", "StaffMember"),
    ]
    assert "SCHOOL_BASIC" in left[0]["lostCategories"]
    await load_registry(engine, [RegistryLocation("88QQ", "00", "De Verhuizer", signed)], now=now_on(TODAY))
    back, _ = await read_feed(run, await scope_of_partner(engine, settings, client_id), cursor)
    assert summary(back)[:1] == [("ENTERED_SCOPE", "School")]
    assert len(back) == len(left)


async def test_closing_a_school_gives_left_scope_and_reopening_it_entered_scope(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    await grant(engine, school_id, partner_id, PEOPLE_AND_GROUPS)
    _, cursor = await read_feed(run, await scope_of_partner(engine, settings, client_id))
    await set_school_active(engine, code=code, active=False, now=now_on(TODAY))
    left, cursor = await read_feed(run, await scope_of_partner(engine, settings, client_id), cursor)
    assert {event["kind"] for event in left} == {"LEFT_SCOPE"}
    assert summary(left)[0] == ("LEFT_SCOPE", "School")
    assert len(left) == 1 + 3 + 3 + 1
    await set_school_active(engine, code=code, active=True, now=now_on(TODAY))
    back, _ = await read_feed(run, await scope_of_partner(engine, settings, client_id), cursor)
    assert summary(back)[0] == ("ENTERED_SCOPE", "School")
    assert len(back) == len(left)


HISTORY = """query($after: String) { consentHistory(first: 10, after: $after) {
    edges { node { id schoolCode categories grantedBy grantedAt revokedAt revokedBy school { code }
        partner { name } } }
    pageInfo { hasNextPage endCursor } } }"""


async def test_a_partner_reads_its_own_consent_history_revocations_included_after_losing_the_school(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, code, partner_id, client_id = await world(engine)
    other_id, other_client = await new_partner(engine)
    await grant(engine, school_id, partner_id, [C.STUDENT_BASIC, C.STUDENT_NAME])
    await grant(engine, school_id, partner_id, [C.STUDENT_BASIC])  # a narrowing supersedes the receipt
    await grant(engine, school_id, other_id, [C.STUDENT_BASIC, C.GROUP_BASIC])
    await revoke(engine, school_id, partner_id)
    scope = await scope_of_partner(engine, settings, client_id)
    assert not scope.can_see_school(school_id)
    result = await run(HISTORY, scope=scope)
    assert result["errors"] == [], result["errors"]
    receipts = [edge["node"] for edge in result["data"]["consentHistory"]["edges"]]
    assert [receipt["categories"] for receipt in receipts] == [
        ["SCHOOL_BASIC", "STUDENT_BASIC", "STUDENT_NAME"],
        ["SCHOOL_BASIC", "STUDENT_BASIC"],
    ]
    assert {receipt["schoolCode"] for receipt in receipts} == {code}
    assert all(receipt["school"] is None for receipt in receipts)  # it no longer sees the school
    assert {receipt["partner"]["name"] for receipt in receipts} == {f"Feed partner {client_id}"}
    superseded, revoked = receipts
    assert superseded["revokedAt"] == revoked["grantedAt"]
    assert superseded["revokedBy"] == revoked["grantedBy"]
    # The revocation receipt: when, and by whom.
    assert revoked["revokedAt"] == now_on(TODAY).isoformat()
    # ... named as the grant is: the school's coordinator role and the school, never an account.
    assert revoked["revokedBy"] == revoked["grantedBy"]
    assert revoked["revokedBy"].startswith("ICT-coördinator, ")
    assert "staff:" not in revoked["revokedBy"]
    # The other partner's history holds its own receipt only, still in force.
    other = await run(HISTORY, scope=await scope_of_partner(engine, settings, other_client))
    (own,) = [edge["node"] for edge in other["data"]["consentHistory"]["edges"]]
    assert own["id"] not in {receipt["id"] for receipt in receipts}
    assert (own["categories"], own["revokedAt"], own["school"]) == (
        ["GROUP_BASIC", "SCHOOL_BASIC", "STUDENT_BASIC"],
        None,
        {"code": code},
    )


async def test_a_consent_history_pages_and_is_for_partners_only(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    school_id, _, partner_id, client_id = await world(engine)
    for categories in ([C.STUDENT_BASIC], [C.GROUP_BASIC], [C.STAFF_BASIC]):
        await grant(engine, school_id, partner_id, categories)
    scope = await scope_of_partner(engine, settings, client_id)
    paged = """query($after: String) { consentHistory(first: 2, after: $after) {
        edges { node { categories } } pageInfo { hasNextPage endCursor } } }"""
    first = (await run(paged, scope=scope))["data"]["consentHistory"]
    second = (await run(paged, {"after": first["pageInfo"]["endCursor"]}, scope=scope))["data"][
        "consentHistory"
    ]
    assert (len(first["edges"]), first["pageInfo"]["hasNextPage"]) == (2, True)
    assert [edge["node"]["categories"] for edge in second["edges"]] == [["SCHOOL_BASIC", "STAFF_BASIC"]]
    assert second["pageInfo"]["hasNextPage"] is False
    coordinator = staff_scope(Viewer(ViewerKind.STAFF, "1"), StaffFacts(1, frozenset({school_id})))
    for viewer in (coordinator, None):  # a school's coordinator, the operator
        refused = await run(HISTORY, scope=viewer)
        assert [error["code"] for error in refused["errors"]] == ["FORBIDDEN"]
        assert refused["data"] is None
