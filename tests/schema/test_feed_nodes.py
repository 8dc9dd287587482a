"""The nodes of a feed page: read for the whole page at once, the same answer as reading them one by one.

Built on the small worlds of tests/schema/test_feed.py (a school with the test roster, a partner granted
every category): each grant puts a school, three groups, three students and a teacher in the feed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from auth.categories import DataCategory
from schema.graphql_requests import GraphQLRequest
from tests.schema.test_compiled import _answer
from tests.schema.test_feed import FEED, grant, import_school, new_board, new_school, roster, scope_of_partner
from tests.schema.test_feed import world as feed_world

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.policy import Scope
    from schema.assembly import LeerpoortSchema
    from settings import Settings
    from tests.schema.conftest import Run, StatementCounter


async def _two_schools(engine: AsyncEngine, settings: Settings) -> Scope:
    """A partner granted every category at two schools, one after the other (16 events, 4 entity types)."""
    first_id, _, partner_id, client_id = await feed_world(engine)
    await grant(engine, first_id, partner_id, DataCategory)
    second_id, second_code = await new_school(engine, await new_board(engine))
    await import_school(engine, roster(second_code))
    await grant(engine, second_id, partner_id, DataCategory)
    return await scope_of_partner(engine, settings, client_id)


def _page(result: dict[str, Any]) -> list[dict[str, Any]]:
    assert result["errors"] == [], result["errors"]
    return [edge["node"] for edge in result["data"]["changes"]["edges"]]


async def test_a_feed_page_reads_its_nodes_in_a_fixed_number_of_statements_whatever_its_size(
    engine: AsyncEngine, run: Run, settings: Settings, count_statements: Any
) -> None:
    scope = await _two_schools(engine, settings)

    small: StatementCounter = count_statements()
    one_school = _page(await run(FEED, {"first": 8}, scope=scope))
    small_count = len(small.statements)
    large: StatementCounter = count_statements()
    two_schools = _page(await run(FEED, {"first": 16}, scope=scope))

    assert [event["entityType"] for event in one_school] == [
        "School", "Group", "Group", "Group", "Student", "Student", "Student", "StaffMember",
    ]  # fmt: skip
    assert len(two_schools) == 16
    assert all(event["node"] is not None for event in two_schools)
    # What fell due, the feed's retention mark and the page of events; one statement per entity type for
    # the page's nodes (schools, groups, students, staff), the students' and the staff's groups; the
    # disclosure record: the same for 8 events as for 16.
    assert small_count == len(large.statements) == 10


async def test_a_node_under_a_directive_is_read_event_by_event_with_the_same_answer(
    engine: AsyncEngine, run: Run, settings: Settings, count_statements: Any
) -> None:
    scope = await _two_schools(engine, settings)
    included = FEED.replace(" node { __typename", " node @include(if: $with) { __typename").replace(
        "$first: Int)", "$first: Int, $with: Boolean!)"
    )
    assert included.count("$with") == 2

    whole = _page(await run(FEED, {"first": 16}, scope=scope))
    one_by_one = _page(await run(included, {"first": 16, "with": True}, scope=scope))
    counter: StatementCounter = count_statements()
    without = _page(await run(included, {"first": 16, "with": False}, scope=scope))

    assert one_by_one == whole
    assert [{**event, "node": None} for event in whole] == [{**event, "node": None} for event in without]
    assert all("node" not in event for event in without)
    # Nothing is read (or audited) of a node that is not sent.
    assert not any("FROM students" in statement for statement in counter.statements)


WITH_GROUP = "edges { node { kind node { ... on Student { id mainGroup { id } } } } }"
WITHOUT_GROUP = "edges { node { kind node { ... on Student { id } } } }"


@pytest.mark.parametrize("compiled", [False, True], ids=["general", "compiled"])
async def test_two_feeds_of_one_request_read_and_audit_each_node_once(
    engine: AsyncEngine, settings: Settings, schema: LeerpoortSchema, compiled: bool
) -> None:
    # Found by the attacker review: the general executor runs both fields at once, and a node one of them
    # was still reading was read again by the other; on the compiled path, a feed without the students'
    # main group read them through a loader of its own. Either way the audit counted them twice.
    school_id, _, partner_id, client_id = await feed_world(engine)
    await grant(engine, school_id, partner_id, DataCategory)
    scope = await scope_of_partner(engine, settings, client_id)

    async def tally(query: str) -> dict[int, int]:
        request = GraphQLRequest(query=query, variables=None, operation_name=None)
        text, counted, was_compiled = await _answer(
            schema, settings, engine, scope, request, compiled_reads=compiled
        )
        assert '"errors"' not in text, text
        assert was_compiled == compiled
        return dict(counted)

    one = await tally(f"{{ changes(first: 100) {{ {WITH_GROUP} }} }}")
    assert sum(one.values()) == 8  # the school, three groups, three students, a teacher
    for first, second in ((WITHOUT_GROUP, WITH_GROUP), (WITH_GROUP, WITHOUT_GROUP), (WITH_GROUP, WITH_GROUP)):
        both = f"{{ a: changes(first: 100) {{ {first} }} b: changes(first: 100) {{ {second} }} }}"
        assert await tally(both) == one, both
