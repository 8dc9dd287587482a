"""Every read applies the viewer's scope: invisible schools yield nothing, withheld columns are null.

Partner access (consent, tokens) comes later; these tests hand the graph a scope directly, as the
policy will compute it, and check that rows and columns outside it never come back by any path.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from auth.categories import DataCategory as C
from auth.policy import Scope, empty_scope
from auth.viewer import Viewer, ViewerKind

if TYPE_CHECKING:
    from datasources.sandbox.world import SeedSummary
    from tests.schema.conftest import Run

PARTNER = Viewer(ViewerKind.PARTNER, "test-partner")

SCHOOLS = """{ schools(first: 3) { edges { node { id code grantedCategories
    groups(first: 12) { edges { node { name students(first: 30) { edges { node { id } } } } } }
    students(first: 30) { edges { node { id firstName lastName initials dateOfBirth yearLevel eckId
        mainGroup { name } groups { name } } } }
    staff(first: 30) { edges { node { id lastName email } } }
    licenses(first: 30) { edges { node { id } } }
} } } }"""


async def _school_ids(run: Run) -> list[tuple[int, str]]:
    """(row id, code) of the seeded schools, read through the operator's global ids ("School:<id>")."""
    result = await run("{ schools(first: 3) { edges { node { id code } } } }")
    schools = [edge["node"] for edge in result["data"]["schools"]["edges"]]
    return [(int(_decoded(school["id"]).split(":")[1]), school["code"]) for school in schools]


def _decoded(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()


def _nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def test_a_scope_limits_rows_to_visible_schools_and_columns_to_granted_categories(
    world: SeedSummary, run: Run
) -> None:
    (first, first_code), (second, second_code), (third, third_code) = await _school_ids(run)
    scope = Scope(
        viewer=PARTNER,
        school_categories={
            first: frozenset({C.SCHOOL_BASIC, C.GROUP_BASIC, C.STUDENT_BASIC}),
            second: frozenset({C.SCHOOL_BASIC, C.STUDENT_BASIC, C.STUDENT_NAME}),
            third: frozenset({C.SCHOOL_BASIC, C.STUDENT_NAME, C.STAFF_NAME}),
        },
        sees_eck_id=False,
    )
    result = await run(SCHOOLS, scope=scope)
    assert result["errors"] == []
    schools = {school["code"]: school for school in _nodes(result["data"]["schools"])}
    assert set(schools) == {first_code, second_code, third_code}

    basic = schools[first_code]
    assert basic["grantedCategories"] == ["GROUP_BASIC", "SCHOOL_BASIC", "STUDENT_BASIC"]
    students = _nodes(basic["students"])
    assert len(students) == 20
    assert all(
        s["firstName"] is None and s["lastName"] is None and s["dateOfBirth"] is None for s in students
    )
    assert all(s["yearLevel"] is not None and s["mainGroup"]["name"] for s in students)
    assert all(s["eckId"] is None for s in students)  # not in the ECK chain
    assert _nodes(basic["staff"]) == []
    assert _nodes(basic["licenses"]) == []

    names = schools[second_code]
    students = _nodes(names["students"])
    assert len(students) == 20
    assert all(s["lastName"] and s["yearLevel"] and s["dateOfBirth"] is None for s in students)
    # Without group.basic there are no groups at all: not in the school's list, nor as a student's group.
    assert _nodes(names["groups"]) == []
    assert all(s["mainGroup"] is None for s in students)

    # Names without student.basic (the identity) are data about nobody: no student rows at all.
    nameless = schools[third_code]
    assert _nodes(nameless["students"]) == []
    assert _nodes(nameless["staff"]) == []


async def test_node_and_entities_return_null_outside_the_scope(world: SeedSummary, run: Run) -> None:
    operator_view = await run(SCHOOLS)
    schools = _nodes(operator_view["data"]["schools"])
    hidden_school = schools[2]
    hidden_student = _nodes(hidden_school["students"])[0]["id"]
    (first, _), *_ = await _school_ids(run)
    scope = Scope(viewer=PARTNER, school_categories={first: frozenset(C)}, sees_eck_id=False)

    by_node = await run(
        "query($a: ID!, $b: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } }",
        {"a": hidden_school["id"], "b": hidden_student},
        scope=scope,
    )
    assert by_node["data"] == {"a": None, "b": None}
    by_entities = await run(
        "query($reps: [_Any!]!) { _entities(representations: $reps) { __typename } }",
        {
            "reps": [
                {"__typename": "School", "id": hidden_school["id"]},
                {"__typename": "School", "code": hidden_school["code"]},
                {"__typename": "Student", "id": hidden_student},
            ]
        },
        scope=scope,
    )
    assert by_entities["data"]["_entities"] == [None, None, None]


async def test_viewers_without_read_access_see_nothing_and_may_not_list_boards(
    world: SeedSummary, run: Run
) -> None:
    scope = empty_scope(Viewer(ViewerKind.STUDENT, "1"))
    result = await run("{ schools { edges { node { code } } } }", scope=scope)
    assert result == {"data": {"schools": {"edges": []}}, "errors": []}
    forbidden = await run("{ boards { edges { node { number } } } }", scope=scope)
    assert [error["code"] for error in forbidden["errors"]] == ["FORBIDDEN"]
    forbidden = await run("{ partners { edges { node { name } } } }", scope=scope)
    assert [error["code"] for error in forbidden["errors"]] == ["FORBIDDEN"]
