"""The graph as the operator reads it: nested connections, paging, ids, and the cost of a query."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from datasources.store.tables import STUDENTS

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from tests.schema.conftest import Run, StatementCounter

NESTED = """
query Nested($first: Int!) {
  schools(first: $first) {
    edges { node {
      code name board { number dataProcessingAgreement { signed } }
      groups(first: 20) { edges { node {
        name yearLevel composite
        students(first: 50) { edges { node {
          id firstName lastName yearLevel mainGroup { name } groups { name }
        } } }
        staff(first: 10) { edges { node { lastName email roles groups { name } } } }
      } } }
      licenses(first: 20) { edges { node {
        seats product { name partner { name } } coupledGroups { name }
      } } }
      consents(first: 20) { edges { node { categories grantedAt partner { name } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def _edges(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def test_nested_query_costs_a_fixed_number_of_statements_whatever_the_page_size(
    world: SeedSummary, run: Run, count_statements: Any
) -> None:
    small: StatementCounter = count_statements()
    one = await run(NESTED, {"first": 1})
    small_count = len(small.statements)
    large: StatementCounter = count_statements()
    three = await run(NESTED, {"first": 3})

    assert one["errors"] == []
    assert three["errors"] == []
    assert len(_edges(three["data"]["schools"])) == 3
    # schools, boards, groups, students, staff, the students' and staff's groups, licenses, products,
    # partners (of products and consents: one batch), coupled group ids, coupled groups, consents.
    assert small_count == len(large.statements) == 13


async def test_every_student_is_read_exactly_once_when_paging_through_a_school(
    engine: AsyncEngine, world: SeedSummary, run: Run
) -> None:
    query = """query($after: String) { schools(first: 1) { edges { node {
        students(first: 7, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } }
    } } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await run(query, {"after": after}))["data"]["schools"]["edges"][0]["node"]["students"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    async with engine.connect() as connection:
        first_school = (await connection.execute(select(func.min(STUDENTS.c.school_id)))).scalar_one()
        expected = (
            await connection.execute(select(func.count()).where(STUDENTS.c.school_id == first_school))
        ).scalar_one()
    assert len(seen) == len(set(seen)) == expected == 20


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("first: 0", "between 1 and 1000"),
        ("first: -5", "between 1 and 1000"),
        ("first: 1001", "between 1 and 1000"),
        ('after: "not-a-cursor"', "cursor is malformed"),
        ('after: "YzE6LTE"', "cursor is malformed"),  # "c1:-1"
    ],
)
async def test_bad_page_arguments_are_refused_with_bad_user_input(
    world: SeedSummary, run: Run, arguments: str, message: str
) -> None:
    result = await run(f"{{ schools({arguments}) {{ edges {{ node {{ name }} }} }} }}")
    assert result["data"] is None
    assert [error["code"] for error in result["errors"]] == ["BAD_USER_INPUT"]
    assert message in result["errors"][0]["message"]


async def test_node_resolves_every_kind_of_object_by_its_global_id(world: SeedSummary, run: Run) -> None:
    found = await run("""{
        boards(first: 1) { edges { node { id } } } partners(first: 1) { edges { node { id } } }
        schools(first: 1) { edges { node { id groups(first: 1) { edges { node { id
            students(first: 1) { edges { node { id } } } staff(first: 1) { edges { node { id } } } } } }
            licenses(first: 1) { edges { node { id product { id } } } } } } } }""")
    school = found["data"]["schools"]["edges"][0]["node"]
    group = school["groups"]["edges"][0]["node"]
    license_ = school["licenses"]["edges"][0]["node"]
    ids = {
        "Board": found["data"]["boards"]["edges"][0]["node"]["id"],
        "Partner": found["data"]["partners"]["edges"][0]["node"]["id"],
        "School": school["id"],
        "Group": group["id"],
        "Student": group["students"]["edges"][0]["node"]["id"],
        "StaffMember": group["staff"]["edges"][0]["node"]["id"],
        "License": license_["id"],
        "Product": license_["product"]["id"],
    }
    for type_name, global_id in ids.items():
        result = await run("query($id: ID!) { node(id: $id) { __typename id } }", {"id": global_id})
        assert result["data"]["node"] == {"__typename": type_name, "id": global_id}


def _global(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("global_id", "code"),
    [
        (_global("Student:999999"), "NOT_FOUND"),
        (_global("Student:abc"), "NOT_FOUND"),
        (_global("Student:\u0661"), "NOT_FOUND"),  # an Arabic-Indic digit one is not the hub's id 1
        (_global("Nonsense:1"), "BAD_USER_INPUT"),
        (_global("Student:"), "BAD_USER_INPUT"),
        ("%%%", "BAD_USER_INPUT"),
    ],
)
async def test_unknown_or_malformed_ids_are_null_with_a_stable_error_code(
    world: SeedSummary, run: Run, global_id: str, code: str
) -> None:
    result = await run("query($id: ID!) { node(id: $id) { id } }", {"id": global_id})
    assert result["data"] == {"node": None}
    assert [error["code"] for error in result["errors"]] == [code]


async def test_an_id_of_one_type_does_not_resolve_as_another(world: SeedSummary, run: Run) -> None:
    school_id = (await run("{ schools(first: 1) { edges { node { id } } } }"))["data"]["schools"]["edges"][0][
        "node"
    ]["id"]
    _, number = base64.urlsafe_b64decode(school_id + "==").decode().split(":")
    result = await run(
        'query($id: ID!) { _entities(representations: [{__typename: "Student", id: $id}]) { __typename } }',
        {"id": school_id},
    )
    assert result["data"]["_entities"] == [None]
    assert number.isdigit()


async def test_entities_resolve_schools_by_code_and_never_build_objects_from_input(
    world: SeedSummary, run: Run
) -> None:
    code = (await run("{ schools(first: 1) { edges { node { code } } } }"))["data"]["schools"]["edges"][0][
        "node"
    ]["code"]
    result = await run(
        """query($reps: [_Any!]!) { _entities(representations: $reps) {
            __typename ... on School { code name } ... on Student { firstName } } }""",
        {
            "reps": [
                {"__typename": "School", "code": code},
                {"__typename": "School", "code": "99ZZ99"},
                {"__typename": "PageInfo", "hasNextPage": True},
                {"__typename": "Student", "id": "forged", "firstName": "Forged"},
                {"__typename": "NoSuchType", "id": "1"},
            ]
        },
    )
    entities = result["data"]["_entities"]
    assert entities[0]["code"] == code
    assert entities[0]["name"]
    assert entities[1:] == [None, None, None, None]


async def test_students_carry_their_main_group_of_the_current_school_year(
    world: SeedSummary, run: Run
) -> None:
    result = await run("""{ schools(first: 3) { edges { node { students(first: 100) { edges { node {
        yearLevel mainGroup { name yearLevel composite } groups { composite } } } } } } } }""")
    students = [s for school in _edges(result["data"]["schools"]) for s in _edges(school["students"])]
    assert len(students) == 60
    for student in students:
        assert student["mainGroup"]["composite"] is False
        assert student["mainGroup"]["yearLevel"] == student["yearLevel"]
        assert student["groups"][0]["composite"] is False
        assert sum(1 for group in student["groups"] if not group["composite"]) == 1


async def test_the_operator_may_list_boards_and_partners(world: SeedSummary, run: Run) -> None:
    result = await run("{ boards { edges { node { number } } } partners { edges { node { name kind } } } }")
    assert len(result["data"]["boards"]["edges"]) == world.boards
    assert len(result["data"]["partners"]["edges"]) == world.partners


async def test_an_unknown_school_code_is_null_and_a_malformed_one_is_refused(
    world: SeedSummary, run: Run
) -> None:
    assert (await run('{ school(code: "99ZZ99") { name } }'))["data"] == {"school": None}
    refused = await run('{ school(code: "16AH") { name } }')
    assert [error["code"] for error in refused["errors"]] == ["BAD_USER_INPUT"]
