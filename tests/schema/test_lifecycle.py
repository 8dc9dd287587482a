"""School lifecycle: mergers, splits, closures and board transfers keep every child's identity, tell
partners through their feed, and refuse bad input without changing anything."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlmodel import SQLModel

from auth.categories import DataCategory
from auth.credentials import hash_secret
from auth.policy import Scope, StaffFacts, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access.consent_lifecycle import record_dpa_signature
from datasources.access.student_logins import save_student_login
from datasources.imports.identities import persons_for
from datasources.imports.report import ImportRefused
from datasources.imports.sync import import_lock
from datasources.registry.locations import set_school_active
from datasources.store.tables import BOARDS, GROUP_STUDENTS, SCHOOLS, STUDENTS
from errors import Conflict, Unauthenticated
from resolvers.lifecycle import purge_due
from resolvers.student_logins import authenticate_student
from schema.relay import to_global_id
from tests.schema.conftest import TODAY
from tests.schema.test_feed import (
    FULL,
    grant,
    group,
    import_school,
    new_board,
    new_partner,
    new_school,
    now_on,
    read_feed,
    school_file,
    scope_of_partner,
    student,
    teacher,
)
from tests.schema.test_feed_replay import Replica, expected_state
from tests.schema.test_leaks import categories_of_fields

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema
    from settings import Settings
    from tests.schema.conftest import Run

EVERYTHING = tuple(DataCategory)
REPORT = (
    "operation dryRun schoolCodes targetCode counts { kind count }"
    " consents { partnerId partnerName schoolCode outcome categories }"
)
MERGE = (
    "mutation($sources: [String!]!, $target: String!, $dryRun: Boolean) {"
    f" mergeSchools(sourceCodes: $sources, targetCode: $target, dryRun: $dryRun) {{ {REPORT} }} }}"
)
SPLIT = (
    "mutation($source: String!, $target: String!, $groups: [ID!]!, $copy: [ID!], $dryRun: Boolean) {"
    " splitSchool(sourceCode: $source, targetCode: $target, groupIds: $groups, copyConsentsOf: $copy,"
    f" dryRun: $dryRun) {{ {REPORT} }} }}"
)
CLOSE = (
    "mutation($code: String!, $dryRun: Boolean) {"
    f" closeSchool(code: $code, dryRun: $dryRun) {{ {REPORT} }} }}"
)
TRANSFER = (
    "mutation($code: String!, $board: String!, $dryRun: Boolean) {"
    f" transferSchool(code: $code, boardNumber: $board, dryRun: $dryRun) {{ {REPORT} }} }}"
)
FINISH = f"mutation($code: String!) {{ finishLifecycle(code: $code) {{ {REPORT} }} }}"
NODE = (
    "query($id: ID!) { node(id: $id) { __typename id"
    " ... on Student { pseudonym } ... on StaffMember { pseudonym } } }"
)
SCHOOL = (
    "query($code: String!) { school(code: $code) { code active lasCouplingSuspended"
    " mergedInto { code } groups(first: 50) { edges { node { id name } } } } }"
)


def roster(code: str, *, surname: str = "Jansen") -> Any:
    """A school's file: two main groups, a composite group, three students and two teachers, all with
    keys and ECK-iDs of their own (so no two schools share a person)."""
    return school_file(
        code,
        groups=[
            group("G1"),
            group("G2", year_level="5"),
            group("GC", "Combinatie", year_level=None, composite=True),
        ],
        students=[
            student(f"{code}-L1", last_name=surname),
            student(f"{code}-L2", main_group="G2", composite_groups=("GC",), last_name=surname),
            student(f"{code}-L3", last_name=surname),
        ],
        staff=[
            teacher(f"{code}-T1", groups=("G1",), last_name=surname),
            teacher(f"{code}-T2", groups=("G1", "G2"), last_name=surname),
        ],
    )


async def two_schools(engine: AsyncEngine, settings: Settings, *, surname: str = "Jansen") -> dict[str, Any]:
    """Schools A and B of one signed board, each with a roster (A's people named `surname`), and two
    partners with consent (every category) at both."""
    board = await new_board(engine)
    a_id, a = await new_school(engine, board)
    b_id, b = await new_school(engine, board)
    await import_school(engine, roster(a, surname=surname))
    await import_school(engine, roster(b))
    partners = []
    for _ in range(2):
        partner_id, client_id = await new_partner(engine)
        for school_id in (a_id, b_id):
            await grant(engine, school_id, partner_id, EVERYTHING)
        partners.append((partner_id, Partner(engine, settings, client_id)))
    return {"board": board, "a": (a_id, a), "b": (b_id, b), "partners": partners}


class Partner:
    """A partner whose scope is computed afresh for every request, as the server does."""

    def __init__(self, engine: AsyncEngine, settings: Settings, client_id: str) -> None:
        self.engine, self.settings, self.client_id = engine, settings, client_id

    async def scope(self) -> Scope:
        """The partner's scope now."""
        return await scope_of_partner(self.engine, self.settings, self.client_id)


async def people(run: Run, partner: Partner) -> dict[str, tuple[str, str, str]]:
    """Every student and staff member the partner reads: id → (type, pseudonym, school code)."""
    result = await run(FULL, scope=await partner.scope())
    assert result["errors"] == [], result["errors"]
    found = {}
    for edge in result["data"]["schools"]["edges"]:
        school = edge["node"]
        for connection in ("students", "staff"):
            for item in school[connection]["edges"]:
                node = item["node"]
                found[node["id"]] = (node["__typename"], node["pseudonym"], school["code"])
    return found


async def dump(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every row of every table, for comparing before and after."""
    async with engine.connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in await connection.execute(select(table)))
            for table in SQLModel.metadata.sorted_tables
        }


def counts(report: dict[str, Any]) -> dict[str, int]:
    """A report's counts by kind."""
    return {item["kind"]: item["count"] for item in report["counts"]}


def group_id(data: dict[str, Any], name: str) -> str:
    """The id of a group by its name, from SCHOOL's result."""
    return str(
        next(edge["node"]["id"] for edge in data["school"]["groups"]["edges"] if edge["node"]["name"] == name)
    )


# --- mergers ------------------------------------------------------------------------------------------


async def test_after_a_merger_every_partner_sees_the_same_ids_and_pseudonyms_for_the_people_who_moved(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    before = {partner: await people(run, scope) for partner, scope in world["partners"]}
    assert all(len(found) == 10 for found in before.values())

    result = await run(MERGE, {"sources": [a], "target": b})

    assert result["errors"] == [], result["errors"]
    report = result["data"]["mergeSchools"]
    assert (report["operation"], report["dryRun"], report["schoolCodes"]) == ("MERGE", False, [a, b])
    assert {key: counts(report)[key] for key in ("students", "staff", "groups")} == {
        "students": 3, "staff": 2, "groups": 3,
    }  # fmt: skip
    outcomes = sorted((item["schoolCode"], item["outcome"]) for item in report["consents"])
    assert outcomes == [(a, "ENDED"), (a, "ENDED"), (b, "KEPT"), (b, "KEPT")]
    for partner, scope in world["partners"]:
        after = await people(run, scope)
        # The same ids and pseudonyms, the moved people now at B.
        assert {key: value[:2] for key, value in after.items()} == {
            key: value[:2] for key, value in before[partner].items()
        }
        assert {value[2] for value in after.values()} == {b}
        for shown_id, (type_name, pseudonym, _) in before[partner].items():
            node = (await run(NODE, {"id": shown_id}, scope=await scope.scope()))["data"]["node"]
            assert node == {"__typename": type_name, "id": shown_id, "pseudonym": pseudonym}
    # Two partners still cannot join on what they were given.
    (_, first), (_, second) = world["partners"]
    assert not {p for _, p, _ in (await people(run, first)).values()} & {
        p for _, p, _ in (await people(run, second)).values()
    }


async def test_a_partner_that_replays_its_feed_across_a_merger_holds_what_a_fresh_read_returns(
    engine: AsyncEngine, run: Run, settings: Settings, schema: LeerpoortSchema
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, scope = world["partners"][0]
    replica = Replica(categories_of_fields(schema))
    await replica.read(run, await scope.scope(), 7, TODAY)

    assert (await run(MERGE, {"sources": [a], "target": b}))["errors"] == []
    await replica.read(run, await scope.scope(), 7, TODAY)

    full = await run(FULL, scope=await scope.scope())
    assert replica.held == expected_state(full["data"]), replica.log
    moves = [line for line in replica.log if " Student " in line or " StaffMember " in line][-5:]
    assert all(line.startswith("UPDATED") and f" {b} " in line for line in moves), moves
    assert replica.log[-1].startswith("LEFT_SCOPE School")
    assert f" {a} " in replica.log[-1]


async def test_a_merger_into_a_new_location_copies_the_consents_the_sources_share_and_marks_them_merged(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, new = await new_school(engine, world["board"])
    before = {partner: await people(run, scope) for partner, scope in world["partners"]}

    result = await run(MERGE, {"sources": [a, b], "target": new})

    assert result["errors"] == [], result["errors"]
    report = result["data"]["mergeSchools"]
    assert counts(report)["students"] == 6
    assert sorted((item["schoolCode"], item["outcome"]) for item in report["consents"]) == sorted(
        [(a, "ENDED")] * 2 + [(b, "ENDED")] * 2 + [(new, "COPIED")] * 2
    )
    for partner, scope in world["partners"]:
        after = await people(run, scope)
        assert {key: value[:2] for key, value in after.items()} == {
            key: value[:2] for key, value in before[partner].items()
        }
    for code in (a, b):
        school = (await run(SCHOOL, {"code": code}))["data"]["school"]
        assert (school["active"], school["mergedInto"], school["lasCouplingSuspended"]) == (
            False, {"code": new}, True,
        )  # fmt: skip
    merged = (await run(SCHOOL, {"code": new}))["data"]["school"]
    assert merged["lasCouplingSuspended"] is True
    async with engine.connect() as connection:
        refs = (await connection.execute(select(SCHOOLS.c.code, SCHOOLS.c.instelling_ref))).all()
    assert len({ref for _, ref in refs}) == len(refs), "the merged location has an INSTELLING_REF of its own"

    finished = await run(FINISH, {"code": new})
    assert finished["errors"] == [], finished["errors"]
    assert (await run(SCHOOL, {"code": new}))["data"]["school"]["lasCouplingSuspended"] is False


async def test_a_later_import_of_the_merged_location_matches_people_by_eck_id_and_by_their_keys(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, scope = world["partners"][0]
    assert (await run(MERGE, {"sources": [a], "target": b}))["errors"] == []
    before = await people(run, scope)

    # The merged school's LAS renumbers A's children (their ECK-iDs identify them) and keeps B's keys;
    # A's teachers come with the keys they had at A (no ECK-iD: their keys within the sources).
    file = roster(b)
    renumbered = [
        dataclasses.replace(student(f"{a}-L{n}"), key=f"N{n}", main_group="G1", composite_groups=())
        for n in (1, 2, 3)
    ]
    teachers = [teacher(f"{a}-T1", groups=("G1",))]
    await import_school(
        engine,
        school_file(
            b, groups=file.groups, students=(*file.students, *renumbered), staff=(*file.staff, *teachers)
        ),
    )

    after = await people(run, scope)
    assert {key for key, value in after.items() if value[0] == "Student"} == {
        key for key, value in before.items() if value[0] == "Student"
    }, "nobody got a new identity"
    assert {key for key, value in after.items() if value[0] == "StaffMember"} < {
        key for key, value in before.items() if value[0] == "StaffMember"
    }


# --- splits -------------------------------------------------------------------------------------------


async def test_a_split_keeps_pseudonyms_for_copied_partners_and_gives_the_others_left_scope(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a) = world["a"]
    _, new = await new_school(engine, world["board"])
    (copied, copied_scope), (other, other_scope) = world["partners"]
    before = {partner: await people(run, scope) for partner, scope in world["partners"]}
    _, other_cursor = await read_feed(run, await other_scope.scope())
    g1 = group_id((await run(SCHOOL, {"code": a}))["data"], "Groep G1")
    partner_global = to_global_id("Partner", str(copied))

    result = await run(SPLIT, {"source": a, "target": new, "groups": [g1], "copy": [partner_global]})

    assert result["errors"] == [], result["errors"]
    report = result["data"]["splitSchool"]
    assert {key: counts(report).get(key) for key in ("groups", "students", "staff")} == {
        "groups": 1, "students": 2, "staff": 2,
    }  # fmt: skip
    assert sorted((c["schoolCode"], c["outcome"]) for c in report["consents"]) == [
        (a, "KEPT"), (a, "KEPT"), (new, "COPIED"),
    ]  # fmt: skip
    moved_students = {
        key for key, (type_name, _, code) in before[copied].items() if type_name == "Student" and code == a
    }
    after = await people(run, copied_scope)
    at_new = {key: value for key, value in after.items() if value[2] == new}
    assert {key for key, value in at_new.items() if value[0] == "Student"} == {
        key for key in moved_students if before[copied][key][1] in {v[1] for v in at_new.values()}
    }
    assert len([value for value in at_new.values() if value[0] == "Student"]) == 2
    for key, value in at_new.items():
        assert before[copied][key][:2] == value[:2], "same id and pseudonym at the new location"
    # T2 teaches G1 (moved) and G2 (stays): one person, a member of both schools, with one id.
    full = (await run(FULL, scope=await copied_scope.scope()))["data"]["schools"]["edges"]
    staff_by_school = {
        edge["node"]["code"]: {item["node"]["id"] for item in edge["node"]["staff"]["edges"]} for edge in full
    }
    assert len(staff_by_school[a] & staff_by_school[new]) == 1
    assert len(staff_by_school[new]) == 2

    # The partner whose consent was not copied loses the moved children, told as LEFT_SCOPE.
    events, _ = await read_feed(run, await other_scope.scope(), other_cursor)
    left = {e["entityId"] for e in events if e["kind"] == "LEFT_SCOPE" and e["entityType"] == "Student"}
    other_after = await people(run, other_scope)
    gone = set(before[other]) - set(other_after)
    assert {before[other][key][0] for key in gone} == {"Student", "StaffMember"}
    assert left == {key for key in gone if before[other][key][0] == "Student"}
    assert len(left) == 2
    assert new not in {value[2] for value in other_after.values()}


async def test_a_split_refuses_bad_groups_and_changes_nothing(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, new = await new_school(engine, world["board"])
    groups_a = (await run(SCHOOL, {"code": a}))["data"]
    groups_b = (await run(SCHOOL, {"code": b}))["data"]
    snapshot = await dump(engine)
    cases = [
        ({"groups": [group_id(groups_b, "Groep G1")]}, "not groups of"),
        ({"groups": [group_id(groups_a, "Combinatie")]}, "without a main group"),
        ({"groups": [group_id(groups_a, "Groep G1")], "target": a}, "into itself"),
        ({"groups": []}, "at least one group"),
        ({"groups": [group_id(groups_a, "Groep G1")], "copy": ["UGFydG5lcjo5OTk5OQ"]}, "without consent"),
        ({"groups": ["bm9wZQ"]}, "Group ids"),
    ]
    for change, message in cases:
        variables = {"source": a, "target": new} | change
        result = await run(SPLIT, variables)
        assert result["data"] is None
        assert [(error["code"], message in error["message"]) for error in result["errors"]] == [
            ("BAD_USER_INPUT", True)
        ], (change, result["errors"])
    assert await dump(engine) == snapshot


# --- closures -----------------------------------------------------------------------------------------


async def test_a_closed_school_is_lost_to_partners_at_once_and_its_personal_data_goes_after_retention(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    surname = f"Zwaluw{uuid.uuid4().hex[:8]}"
    world = await two_schools(engine, settings, surname=surname)
    (a_id, a), (_, b) = world["a"], world["b"]
    _, scope = world["partners"][0]
    _, cursor = await read_feed(run, await scope.scope())

    result = await run(CLOSE, {"code": a})

    assert result["errors"] == [], result["errors"]
    assert counts(result["data"]["closeSchool"])["consentsEnded"] == 2
    assert {value[2] for value in (await people(run, scope)).values()} == {b}
    events, _ = await read_feed(run, await scope.scope(), cursor)
    assert ("LEFT_SCOPE", "School", a) in {(e["kind"], e["entityType"], e["schoolCode"]) for e in events}
    assert (await run(CLOSE, {"code": a}))["errors"][0]["code"] == "BAD_USER_INPUT", "closed already"

    # Not before the retention period has passed (LEERPOORT_CLOSED_RETENTION_DAYS, 90 by default) ...
    assert settings.closed_retention_days == 90
    closed_at = now_on(TODAY)
    assert await purge_due(engine, settings, closed_at + dt.timedelta(days=89)) == []
    assert surname in str(await dump(engine))
    # ... then none of its personal data remains in any table; the deletion is recorded.
    reports = await purge_due(engine, settings, closed_at + dt.timedelta(days=91))
    assert [report.target_code for report in reports] == [a]
    assert reports[0].counts["deleted.students"] == 3
    everything = await dump(engine)
    holding = {name for name, rows in everything.items() if any(surname in row for row in rows)}
    assert holding == set(), f"{sorted(holding)} still hold a closed school's personal data"
    async with engine.connect() as connection:
        for name in ("students", "staff_members", "groups", "past_memberships", "account_requests"):
            table = SQLModel.metadata.tables[name]
            assert (await connection.execute(select(table).where(table.c.school_id == a_id))).first() is None
    assert "PURGE" in str(everything["lifecycle_operations"])
    assert await purge_due(engine, settings, closed_at + dt.timedelta(days=200)) == [], "once"


# --- board transfers ----------------------------------------------------------------------------------


async def test_a_transfer_to_a_board_without_a_dpa_gives_left_scope_and_signing_brings_it_back(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a) = world["a"]
    _, scope = world["partners"][0]
    async with engine.begin() as connection:
        await connection.execute(insert(BOARDS).values(number="60606", name="Nieuw bestuur"))
    _, cursor = await read_feed(run, await scope.scope())

    result = await run(TRANSFER, {"code": a, "board": "60606"})

    assert result["errors"] == [], result["errors"]
    events, cursor = await read_feed(run, await scope.scope(), cursor)
    assert ("LEFT_SCOPE", "School", a) in {(e["kind"], e["entityType"], e["schoolCode"]) for e in events}
    assert a not in {value[2] for value in (await people(run, scope)).values()}

    await record_dpa_signature(
        engine, board_number="60606", signed_by="Directeur", chamber_of_commerce_number="12345678",
        version="2026-1", now=now_on(TODAY),
    )  # fmt: skip
    events, _ = await read_feed(run, await scope.scope(), cursor)
    assert ("ENTERED_SCOPE", "School", a) in {(e["kind"], e["entityType"], e["schoolCode"]) for e in events}
    assert a in {value[2] for value in (await people(run, scope)).values()}

    # And back to a signed board: the flows continue, nothing left the partner's scope.
    _, cursor = await read_feed(run, await scope.scope())
    back = await run(TRANSFER, {"code": a, "board": await board_number(engine, world["board"])})
    assert back["errors"] == [], back["errors"]
    events, _ = await read_feed(run, await scope.scope(), cursor)
    assert "LEFT_SCOPE" not in {e["kind"] for e in events}


async def board_number(engine: AsyncEngine, board_id: int) -> str:
    """A board's number."""
    async with engine.connect() as connection:
        return str(await connection.scalar(select(BOARDS.c.number).where(BOARDS.c.id == board_id)))


# --- refusals -----------------------------------------------------------------------------------------


async def test_bad_lifecycle_input_is_refused_with_a_clear_error_and_changes_nothing(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (b_id, b) = world["a"], world["b"]
    closed_id, closed = await new_school(engine, world["board"])
    merged_id, merged = await new_school(engine, world["board"])
    async with engine.begin() as connection:
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == closed_id).values(active=False, closed_at=now_on(TODAY))
        )
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == merged_id).values(active=False, merged_into_id=b_id)
        )
    snapshot = await dump(engine)
    cases = [
        (MERGE, {"sources": [a], "target": a}, "BAD_USER_INPUT", "into itself"),
        (MERGE, {"sources": [a], "target": "99ZZ00"}, "BAD_USER_INPUT", "no location has code 99ZZ00"),
        (MERGE, {"sources": ["nonsense"], "target": b}, "BAD_USER_INPUT", "is not a school code"),
        (MERGE, {"sources": [], "target": b}, "BAD_USER_INPUT", "at least one school"),
        (MERGE, {"sources": [a], "target": merged}, "BAD_USER_INPUT", "merged into another"),
        (MERGE, {"sources": [a], "target": closed}, "BAD_USER_INPUT", "is closed"),
        (MERGE, {"sources": [closed], "target": b}, "BAD_USER_INPUT", "is closed"),
        (CLOSE, {"code": merged}, "BAD_USER_INPUT", "merged into another"),
        (CLOSE, {"code": closed}, "BAD_USER_INPUT", "closed already"),
        (TRANSFER, {"code": a, "board": "99999"}, "BAD_USER_INPUT", "no board has number 99999"),
        (TRANSFER, {"code": a, "board": "x1"}, "BAD_USER_INPUT", "not a number"),
        (TRANSFER, {"code": closed, "board": "99999"}, "BAD_USER_INPUT", "is closed"),
        (FINISH, {"code": merged}, "BAD_USER_INPUT", "merged into another"),
    ]
    for document, variables, code, message in cases:
        result = await run(document, variables)
        found = [(error["code"], message in error["message"]) for error in result["errors"]]
        assert found == [(code, True)], (variables, result["errors"])
    assert await dump(engine) == snapshot


async def test_only_the_operator_may_change_a_schools_lifecycle(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (a_id, a), (_, b) = world["a"], world["b"]
    _, partner = world["partners"][0]
    coordinator = staff_scope(
        Viewer(ViewerKind.STAFF, "7"), StaffFacts(account_id=7, coordinator_of=frozenset({a_id}))
    )
    snapshot = await dump(engine)
    for scope in (await partner.scope(), coordinator):
        for document, variables in (
            (MERGE, {"sources": [a], "target": b}),
            (CLOSE, {"code": a}),
            (TRANSFER, {"code": a, "board": "60606"}),
            (FINISH, {"code": a}),
            (SPLIT, {"source": a, "target": b, "groups": ["R3JvdXA6MQ"]}),
        ):
            result = await run(document, variables, scope=scope)
            assert [error["code"] for error in result["errors"]] == ["FORBIDDEN"], result["errors"]
    assert await dump(engine) == snapshot
    # Whether the coupling is suspended is the school's administration: not a partner's business.
    coupling = "query($c: String!) { school(code: $c) { lasCouplingSuspended } }"
    school = await run(coupling, {"c": a}, scope=await partner.scope())
    assert school["data"]["school"] == {"lasCouplingSuspended": None}
    school = await run(coupling, {"c": a}, scope=coordinator)
    assert school["data"]["school"] == {"lasCouplingSuspended": False}


async def test_a_lifecycle_operation_while_an_import_of_an_involved_school_runs_is_a_conflict(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (a_id, a), (_, b) = world["a"], world["b"]
    snapshot = await dump(engine)
    async with import_lock(engine, a_id):
        for document, variables in ((MERGE, {"sources": [a], "target": b}), (CLOSE, {"code": a})):
            result = await run(document, variables)
            assert [error["code"] for error in result["errors"]] == ["CONFLICT"], result["errors"]
            assert "import of" in result["errors"][0]["message"]
    assert await dump(engine) == snapshot


async def test_a_dry_run_reports_what_each_operation_would_do_and_changes_nothing(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, new = await new_school(engine, world["board"])
    async with engine.begin() as connection:
        await connection.execute(insert(BOARDS).values(number="60607", name="Ander bestuur"))
    g1 = group_id((await run(SCHOOL, {"code": a}))["data"], "Groep G1")
    snapshot = await dump(engine)
    dry = [
        (MERGE, "mergeSchools", {"sources": [a], "target": b}),
        (SPLIT, "splitSchool", {"source": a, "target": new, "groups": [g1]}),
        (CLOSE, "closeSchool", {"code": a}),
        (TRANSFER, "transferSchool", {"code": a, "board": "60607"}),
    ]
    reports = {}
    for document, field, variables in dry:
        result = await run(document, variables | {"dryRun": True})
        assert result["errors"] == [], result["errors"]
        assert result["data"][field]["dryRun"] is True
        reports[field] = counts(result["data"][field])
    assert await dump(engine) == snapshot
    assert reports["mergeSchools"]["students"] == 3
    assert reports["splitSchool"]["students"] == 2
    assert reports["closeSchool"]["consentsEnded"] == 2
    assert reports["transferSchool"]["feedEvents"] > 0
    # The same operation applied reports the same counts.
    applied = await run(MERGE, {"sources": [a], "target": b})
    assert counts(applied["data"]["mergeSchools"]) == reports["mergeSchools"]


async def test_a_merger_of_schools_whose_las_used_the_same_keys_keeps_both_children_apart(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    board = await new_board(engine)
    schools = [await new_school(engine, board) for _ in range(2)]
    partner_id, client_id = await new_partner(engine)
    for school_id, code in schools:
        # The same LAS key, another child (no ECK-iD) at each school.
        await import_school(
            engine,
            school_file(
                code, groups=[group("G1")], students=[student("1001", eck_id=None, first_name=code)],
                staff=[teacher("T9", email=f"t9@{code.lower()}.example")],
            ),
        )  # fmt: skip
        await grant(engine, school_id, partner_id, EVERYTHING)
    partner = Partner(engine, settings, client_id)
    before = await people(run, partner)
    (_, a), (b_id, b) = schools

    result = await run(MERGE, {"sources": [a], "target": b})

    assert result["errors"] == [], result["errors"]
    after = await people(run, partner)
    assert {key: value[:2] for key, value in after.items()} == {
        key: value[:2] for key, value in before.items()
    }
    assert len(after) == 4
    async with engine.connect() as connection:
        keys = sorted(
            await connection.scalars(select(STUDENTS.c.las_key).where(STUDENTS.c.school_id == b_id))
        )
    assert keys == [f"#{a}:1001", "1001"], "the source's key is kept as a dummy, never a match key"
    # B's next file still has its own 1001: the same child as before, A's child untouched.
    await import_school(
        engine,
        school_file(
            b, groups=[group("G1")],
            students=[
                student("1001", eck_id=None, first_name=b), student(f"#{a}:1001", eck_id=None, first_name=a),
            ],
            staff=[teacher("T9", email=f"t9@{b.lower()}.example")],
        ),
    )  # fmt: skip
    assert {key for key, value in (await people(run, partner)).items() if value[0] == "Student"} == {
        key for key, value in before.items() if value[0] == "Student"
    }


async def test_a_location_closed_for_good_or_merged_cannot_be_reopened(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    assert (await run(MERGE, {"sources": [a], "target": b}))["errors"] == []
    assert (await run(CLOSE, {"code": b}))["errors"] == []
    for code in (a, b):
        with pytest.raises(Conflict, match="cannot be reopened"):
            await set_school_active(engine, code=code, active=True, now=now_on(TODAY))


@pytest.mark.parametrize(
    "operation", ["merge into a new location", "split, consent copied", "split, not copied"]
)
async def test_a_partner_that_replays_its_feed_across_an_operation_holds_what_a_fresh_read_returns(
    engine: AsyncEngine, run: Run, settings: Settings, schema: LeerpoortSchema, operation: str
) -> None:
    world = await two_schools(engine, settings)
    (_, a), (_, b) = world["a"], world["b"]
    _, new = await new_school(engine, world["board"])
    replicas = [Replica(categories_of_fields(schema)) for _ in world["partners"]]
    for replica, (_, partner) in zip(replicas, world["partners"], strict=True):
        await replica.read(run, await partner.scope(), 5, TODAY)

    if operation.startswith("merge"):
        result = await run(MERGE, {"sources": [a, b], "target": new})
    else:
        g1 = group_id((await run(SCHOOL, {"code": a}))["data"], "Groep G1")
        copied = operation == "split, consent copied"
        chosen = [to_global_id("Partner", str(world["partners"][0][0]))] if copied else []
        result = await run(SPLIT, {"source": a, "target": new, "groups": [g1], "copy": chosen})
    assert result["errors"] == [], result["errors"]

    for replica, (_, partner) in zip(replicas, world["partners"], strict=True):
        scope = await partner.scope()
        await replica.read(run, scope, 5, TODAY)
        full = await run(FULL, scope=scope)
        assert replica.held == expected_state(full["data"]), replica.log


async def test_a_teacher_of_both_merging_schools_becomes_one_member_of_the_merged_school(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    board = await new_board(engine)
    schools = [await new_school(engine, board) for _ in range(2)]
    partner_id, client_id = await new_partner(engine)
    eck = "https://ketenid.nl/201703/both-schools-teacher"
    for school_id, code in schools:
        await import_school(
            engine,
            school_file(
                code, groups=[group("G1")], students=[student(f"{code}-L1")],
                staff=[teacher(f"{code}-T", eck_id=eck, email=f"t@{code.lower()}.example")],
            ),
        )  # fmt: skip
        await grant(engine, school_id, partner_id, EVERYTHING)
    partner = Partner(engine, settings, client_id)
    before = await people(run, partner)
    assert len([value for value in before.values() if value[0] == "StaffMember"]) == 1, "one person"
    (_, a), (_, b) = schools

    result = await run(MERGE, {"sources": [a], "target": b})

    assert result["errors"] == [], result["errors"]
    full = (await run(FULL, scope=await partner.scope()))["data"]["schools"]["edges"]
    (school,) = [edge["node"] for edge in full]
    (member,) = [item["node"] for item in school["staff"]["edges"]]
    assert (member["id"], member["pseudonym"]) == next(
        (key, value[1]) for key, value in before.items() if value[0] == "StaffMember"
    )
    assert len(member["groups"]) == 2, "the teacher keeps the groups of both schools"


async def test_a_child_who_leaves_the_merged_location_and_returns_keeps_their_identity(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    _, a = await new_school(engine, await new_board(engine))
    b_id, b = await new_school(engine, await new_board(engine))
    await import_school(engine, school_file(a, groups=[group("G1")], students=[student("K7", eck_id=None)]))
    partner_id, client_id = await new_partner(engine)
    await grant(engine, b_id, partner_id, EVERYTHING)
    assert (await run(MERGE, {"sources": [a], "target": b}))["errors"] == []
    partner = Partner(engine, settings, client_id)
    (moved,) = (await people(run, partner)).items()

    bob = student("B1", eck_id=None, first_name="Bob")
    await import_school(engine, school_file(b, groups=[group("G1")], students=[bob]))
    await import_school(
        engine, school_file(b, groups=[group("G1")], students=[bob, student("K7", eck_id=None)])
    )

    assert (await people(run, partner))[moved[0]] == moved[1], "the same person: the same id and pseudonym"


async def test_a_newcomer_to_the_merged_location_is_recognised_by_their_key_at_a_source_of_another_board(
    engine: AsyncEngine, run: Run
) -> None:
    a_id, a = await new_school(engine, await new_board(engine))
    b_id, b = await new_school(engine, await new_board(engine))
    await import_school(engine, school_file(a, groups=[group("G1")], students=[student("K7", eck_id=None)]))
    async with engine.connect() as connection:
        person = await connection.scalar(select(STUDENTS.c.person_id).where(STUDENTS.c.school_id == a_id))
    assert (await run(MERGE, {"sources": [a], "target": b}))["errors"] == []
    async with engine.begin() as connection:
        # The membership at the target is gone without a trace there; only the source remembers the key.
        await connection.execute(delete(GROUP_STUDENTS))
        await connection.execute(delete(STUDENTS).where(STUDENTS.c.school_id == b_id))
        found = await persons_for(connection, "student", b_id, [student("K7", eck_id=None)], staying=())
        elsewhere = await persons_for(
            connection, "student", a_id + b_id + 1000, [student("K7", eck_id=None)], staying=()
        )
    assert found == [person], "a key within the sources names the person"
    assert elsewhere != [person]


async def test_an_import_that_waited_for_a_merger_of_its_school_is_refused(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    a_id, a = world["a"]
    lock = import_lock(engine, a_id)
    await lock.acquire()  # as a merger of A holds it while it runs
    waiting = asyncio.ensure_future(import_school(engine, roster(a)))
    await asyncio.sleep(0)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == a_id).values(active=False))
    finally:
        lock.release()
    with pytest.raises(ImportRefused) as refused:
        await waiting
    assert refused.value.report.errors == [f"{a} was closed or merged meanwhile; nothing was changed"]


async def test_a_coordinator_cannot_resume_the_coupling_before_the_helpdesk_finishes_a_split(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (a_id, a) = world["a"]
    new_id, new = await new_school(engine, world["board"])
    g1 = group_id((await run(SCHOOL, {"code": a}))["data"], "Groep G1")
    assert (await run(SPLIT, {"source": a, "target": new, "groups": [g1]}))["errors"] == []
    coordinator = staff_scope(
        Viewer(ViewerKind.STAFF, "7"), StaffFacts(account_id=7, coordinator_of=frozenset({a_id, new_id}))
    )
    resume = """mutation($c: String!, $s: Boolean!) {
        setLasCoupling(schoolCode: $c, suspended: $s) { lasCouplingSuspended } }"""
    for code in (a, new):
        refused = await run(resume, {"c": code, "s": False}, scope=coordinator)
        assert [error["code"] for error in refused["errors"]] == ["CONFLICT"], refused["errors"]
        assert "finishLifecycle" in refused["errors"][0]["message"]
        assert (await run(SCHOOL, {"code": code}))["data"]["school"]["lasCouplingSuspended"] is True
        # Suspending stays the coordinator's to do.
        suspended = await run(resume, {"c": code, "s": True}, scope=coordinator)
        assert suspended["errors"] == [], suspended["errors"]
    # Once the helpdesk finished at the new location, its coordinator decides again there (not yet at a).
    assert (await run(FINISH, {"code": new}))["errors"] == []
    assert (await run(resume, {"c": new, "s": True}, scope=coordinator))["errors"] == []
    resumed = await run(resume, {"c": new, "s": False}, scope=coordinator)
    assert resumed["errors"] == [], resumed["errors"]
    assert [e["code"] for e in (await run(resume, {"c": a, "s": False}, scope=coordinator))["errors"]] == [
        "CONFLICT"
    ]


async def _login(engine: AsyncEngine, student_id: int, school_id: int, username: str) -> None:
    await save_student_login(
        engine,
        student_id=student_id,
        school_id=school_id,
        username=username,
        password_hash=hash_secret(f"wachtwoord-{username}-{student_id}"),
        picture_hash=None,
        picture_sealed=None,
        now=now_on(TODAY),
        by="test",
    )


async def _signs_in(
    engine: AsyncEngine, settings: Settings, code: str, username: str, secret: str
) -> str | None:
    """The student id a password sign-in at the school gives, None when it is refused."""
    try:
        viewer, _school = await authenticate_student(
            engine, settings, code, username, password=secret, picture_code=None, address="192.0.2.1"
        )
    except Unauthenticated:
        return None
    return viewer.subject_id


async def test_children_who_move_in_a_merger_keep_their_logins_and_a_taken_username_gets_a_number(
    engine: AsyncEngine, run: Run, settings: Settings
) -> None:
    world = await two_schools(engine, settings)
    (a_id, a), (b_id, b) = world["a"], world["b"]
    async with engine.connect() as connection:
        ids = {
            school_id: list(
                await connection.scalars(
                    select(STUDENTS.c.id).where(STUDENTS.c.school_id == school_id).order_by(STUDENTS.c.id)
                )
            )
            for school_id in (a_id, b_id)
        }
    anna_a, bram_a = ids[a_id][:2]
    anna_b = ids[b_id][0]
    await _login(engine, anna_a, a_id, "anna")
    await _login(engine, bram_a, a_id, "bram")
    await _login(engine, anna_b, b_id, "anna")  # B has an "anna" of its own

    result = await run(MERGE, {"sources": [a], "target": b})

    assert result["errors"] == [], result["errors"]
    # The report tells the coordinator whose cards to print again.
    assert counts(result["data"]["mergeSchools"])["studentLoginsRenamed"] == 1
    at = settings.model_copy(update={"now_override": now_on(TODAY)})
    # Bram signs in at the merged school with the login he had; A's Anna with the next free name.
    assert await _signs_in(engine, at, b, "bram", f"wachtwoord-bram-{bram_a}") == str(bram_a)
    assert await _signs_in(engine, at, b, "anna2", f"wachtwoord-anna-{anna_a}") == str(anna_a)
    assert await _signs_in(engine, at, b, "anna", f"wachtwoord-anna-{anna_b}") == str(anna_b)
    # A's printed cards name A, which now answers as the merged school: Bram's card keeps working, and
    # the "anna" on A's Anna's card is B's Anna now, whose password hers is not.
    assert await _signs_in(engine, at, a, "bram", f"wachtwoord-bram-{bram_a}") == str(bram_a)
    assert await _signs_in(engine, at, a, "anna", f"wachtwoord-anna-{anna_a}") is None
