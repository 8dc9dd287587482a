"""The compiled feed (`schema.compiled_feed`) against the general executor: on one feed holding every kind
of event (CREATED, UPDATED, DELETED, ENTERED_SCOPE, LEFT_SCOPE with lost categories, a license's own
event, nodes that are gone or out of scope by now), drawn `changes` documents (fields in any order, under
aliases, nodes through fragments on any of the five types, any page size) read page by page give the same
response bytes and the same disclosure tally on both paths, for two partners with different grants, a
coordinator and the operator; refused arguments and documents the planner does not know fall back to the
general path, which answers them as before.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auth.categories import DataCategory
from auth.policy import Scope, StaffFacts, empty_scope, operator_scope, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access import license_admin
from datasources.feed import reading
from schema.graphql_requests import GraphQLRequest
from tests.conftest import examples
from tests.schema.conftest import OPERATOR, TODAY
from tests.schema.test_compiled import Both, _answer
from tests.schema.test_compiled import both as both  # noqa: PLC0414 - a fixture, used by its name
from tests.schema.test_feed import (
    ROSTER,
    grant,
    import_school,
    new_board,
    new_partner,
    new_school,
    now_on,
    revoke,
    roster,
    scope_of_partner,
    student,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema
    from settings import Settings

#: The fields of `Change`, and of each node type, that the drawn documents choose from.
CHANGE_FIELDS = ("__typename", "cursor", "kind", "entityType", "entityId", "schoolCode", "lostCategories")
NODE_FIELDS = {
    # School's name and active under keys of their own: Group's name and StaffMember's active are nullable,
    # and two fragments may not give one key two types.
    "School": ("id", "code", "brin", "locationCode", "schoolName: name", "schoolActive: active"),
    "Group": ("id", "name", "yearLevel", "schoolYear", "composite", "effectiveFrom"),
    "Student": ("id", "pseudonym", "eckId", "firstName", "prefix", "lastName", "initials", "dateOfBirth",
                "yearLevel", "mainGroup { id name }"),
    "StaffMember": ("id", "pseudonym", "eckId", "firstName", "prefix", "lastName", "email", "lasRoles",
                    "active"),
    "License": ("id", "seats", "validFrom", "validUntil"),
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class FeedWorld:
    """Who reads the feed: two partners with different grants, a coordinator of one school, the operator."""

    scopes: tuple[Scope, ...]


@pytest.fixture
async def feed_world(engine: AsyncEngine, settings: Settings) -> FeedWorld:
    """Two schools and two partners; a history that puts every kind of event in the feeds."""
    board = await new_board(engine)
    (first_id, first_code), (second_id, second_code) = [await new_school(engine, board) for _ in range(2)]
    everything = tuple(DataCategory)
    partner_id, client_id = await new_partner(engine, everything, eck_chain=True)
    other_id, other_client = await new_partner(engine, everything, eck_chain=False)
    for code in (first_code, second_code):
        await import_school(engine, roster(code))
    await grant(engine, first_id, partner_id, everything)
    await grant(engine, second_id, partner_id, everything)
    await grant(engine, first_id, other_id, [DataCategory.STUDENT_BASIC, DataCategory.GROUP_BASIC])
    # Updates, a deletion and a new student; one student's name changes twice (the first node is the
    # second state), one leaves (its earlier events' nodes are null by now).
    students = list(ROSTER.students)
    renamed = dataclasses.replace(students[0], first_name="Anne")
    await import_school(
        engine,
        roster(first_code, students=[renamed, students[1], student("L9", last_name="de Vries", prefix="de")]),
    )
    await import_school(
        engine, roster(first_code, students=[dataclasses.replace(renamed, last_name="Smit"), students[1]])
    )
    # A new student after L9, the last row, was deleted: SQLite gives it L9's row id, so L9's events now
    # point at a row that holds someone else (their nodes must be null, not the newcomer).
    newcomer = student("L10", first_name="Noor")
    await import_school(engine, roster(first_code, students=[*students[1:2], newcomer]))
    # A license of the partner's product at the first school (the partner's own event).
    product = await license_admin.create_product(
        engine, operator_scope(OPERATOR), partner_id, name="Rekenen", allowed_at_home=True,
        launch_url="https://rekenen.example/start",
    )  # fmt: skip
    await license_admin.create_license(
        engine, operator_scope(OPERATOR), school_id=first_id, product_id=product.id, partner_id=partner_id,
        seats=30, valid_from=TODAY, valid_until=None, now=now_on(TODAY),
    )  # fmt: skip
    # A narrowing (LEFT_SCOPE with lost categories) and a revoke (the school's nodes gone).
    await grant(engine, second_id, partner_id, [DataCategory.STUDENT_BASIC])
    await import_school(engine, roster(second_code, students=list(ROSTER.students[:2])))
    await revoke(engine, first_id, other_id)
    coordinator = staff_scope(
        Viewer(ViewerKind.STAFF, "7"), StaffFacts(account_id=7, coordinator_of=frozenset({second_id}))
    )
    return FeedWorld(
        (
            await scope_of_partner(engine, settings, client_id),
            await scope_of_partner(engine, settings, other_client),
            coordinator,
            operator_scope(OPERATOR),
        )
    )


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A `changes` document the compiled path understands: drawn fields, aliases and node fragments."""

    aliases = [2]  # the document's own two (`more`, `next`); the limit is 20 (schema.limits)

    def some(fields: tuple[str, ...], prefix: str = "a") -> list[str]:
        # Aliases are the type's own (`Group3: name`), so that two fragments never give a key two types.
        chosen = draw(st.lists(st.sampled_from(fields), unique=True, max_size=len(fields)))
        named = []
        for index, field in enumerate(chosen):
            aliases[0] += ":" in field
            if ":" not in field and aliases[0] < 18 and draw(st.booleans()):
                aliases[0] += 1
                named.append(f"{prefix}{index}: {field}")
            else:
                named.append(field)
        return named

    change = some(CHANGE_FIELDS)
    if draw(st.booleans()):
        direct = some(("__typename", "id"))
        fragments = []
        for type_name in draw(st.lists(st.sampled_from(sorted(NODE_FIELDS)), unique=True)):
            # A fragment's fields must not repeat a direct one under the same key: the planner falls back.
            own = [name for name in some(NODE_FIELDS[type_name], type_name) if name not in direct]
            if own:
                fragments.append(f"... on {type_name} {{ {' '.join(own)} }}")
        if direct or fragments:
            change.append(f"node {{ {' '.join([*direct, *fragments])} }}")
    if draw(st.booleans()):
        change.append("occurredAt")
    edge = [*draw(st.sampled_from([[], ["cursor"], ["__typename", "cursor"]]))]
    if change:
        edge.append(f"node {{ {' '.join(change)} }}")
    page_fields = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]
    page_info = " ".join(draw(st.lists(st.sampled_from(page_fields), unique=True)))
    parts = [f"edges {{ {' '.join(edge)} }}"] if edge else []
    # Every document reads `pageInfo { hasNextPage endCursor }` under its own keys, to follow the feed.
    parts.append(f"pageInfo {{ {page_info} more: hasNextPage next: endCursor }}")
    return (
        "query Drawn($after: String, $first: Int) { feed: changes(after: $after, first: $first) {"
        f" {' '.join(parts)} }} }}"
    )


async def _follow(both: Both, scope: Scope, query: str, first: int) -> int:
    """Read the whole feed with `query` on both paths (they must agree); returns the pages read."""
    after: str | None = None
    pages = 0
    while True:
        body = await both(scope, query, {"after": after, "first": first})
        assert body["compiled"], (query, body.get("errors"))
        assert "errors" not in body, body["errors"]
        pages += 1
        info = body["data"]["feed"]["pageInfo"]
        if not info["more"]:
            return pages
        after = info["next"]


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=documents(), first=st.integers(min_value=6, max_value=60), viewer=st.integers(0, 3))
async def test_the_compiled_feed_answers_as_the_executor_for_drawn_documents(
    query: str, first: int, viewer: int, feed_world: FeedWorld, both: Both
) -> None:
    await _follow(both, feed_world.scopes[viewer], query, first)


#: Every field and fragment at once, in one page of 1,000 (a partner's full read of its feed).
EVERYTHING = (
    "query Drawn($after: String, $first: Int) { feed: changes(after: $after, first: $first) { __typename"
    " edges { __typename cursor node { "
    + " ".join(CHANGE_FIELDS)
    + " occurredAt node { __typename id "
    + " ".join(
        f"... on {name} {{ {' '.join(field for field in fields if field != 'id')} }}"
        for name, fields in NODE_FIELDS.items()
    )
    + " } again: node { ... on Node { id } } } }"
    " pageInfo { __typename hasPreviousPage startCursor more: hasNextPage next: endCursor } } }"
)


async def test_every_kind_of_event_and_node_is_answered_alike(feed_world: FeedWorld, both: Both) -> None:
    partner = feed_world.scopes[0]
    body = await both(partner, EVERYTHING, {"first": 1000})
    assert body["compiled"]
    events = [edge["node"] for edge in body["data"]["feed"]["edges"]]
    kinds = {(event["kind"], event["entityType"]) for event in events}
    assert {("CREATED", "Student"), ("UPDATED", "Student"), ("DELETED", "Student")} <= kinds
    assert {("CREATED", "License"), ("LEFT_SCOPE", "School"), ("ENTERED_SCOPE", "School")} <= kinds
    assert any(event["lostCategories"] for event in events)
    # Nodes of what is still there, and null nodes of what has gone or changed since.
    nodes = [event["node"] for event in events if event["kind"] in ("CREATED", "UPDATED", "ENTERED_SCOPE")]
    assert any(node is None for node in nodes)
    # No event of another student shows the newcomer: its node is null where the row changed hands.
    noor = {
        event["entityId"] for event in events if event["node"] and event["node"].get("firstName") == "Noor"
    }
    assert len(noor) == 1
    assert {node["__typename"] for node in nodes if node} >= {"School", "Group", "Student", "License"}
    for scope in feed_world.scopes:
        await _follow(both, scope, EVERYTHING, 4)


#: `changes` documents the compiled path leaves to the general executor.
NOT_COMPILED = [
    "{ changes { edges { node { node { ...F } } } } } fragment F on Student { firstName }",
    "{ changes { edges { node { kind @include(if: true) } } } }",
    "{ changes { edges { node { node { ... on Student @skip(if: false) { firstName } } } } } }",
    "{ changes { edges { node { node { ... on Student { groups { id } } } } } } }",
    "{ changes { edges { node { node { id ... on Student { id } } } } } }",
    "{ changes { edges { node { kind kind } } } }",
    "{ changes { edges { node { kind } } more: edges { cursor } } }",
    "{ changes { edges { node { node { ... on Board { number } } } } } }",
    # A field that holds a selection asked twice under two keys (the attacker review: the plan kept the
    # last one's selection for both, and a first one it could not plan went unseen).
    "{ changes(first: 50) { edges { a: node { kind } b: node { entityId node { id } } } } }",
    "{ changes(first: 50) { edges { a: node { node { ... on Student { firstName } } } b: node { kind } } } }",
    "{ changes(first: 3) { p: pageInfo { hasNextPage } q: pageInfo { endCursor } } }",
    "{ changes(first: 50) { edges { a: node { node { ... on Student { groups { id } } } }"
    " b: node { kind } } } }",
]


async def test_refused_arguments_and_other_documents_fall_back(feed_world: FeedWorld, both: Both) -> None:
    """Another partner's cursor, a hub cursor shown to a partner, a forged cursor, pages out of bounds, a
    viewer without a feed, and documents the planner does not know: the general path answers, with its
    errors; both paths still agree."""
    partner, other, _, operator = feed_world.scopes
    own = await both(partner, EVERYTHING, {"first": 2})
    assert own["compiled"]
    cursor = own["data"]["feed"]["pageInfo"]["next"]
    hub_cursor = (await both(operator, EVERYTHING, {"first": 2}))["data"]["feed"]["pageInfo"]["next"]
    refused = [
        (other, {"after": cursor}),
        (partner, {"after": hub_cursor}),
        (operator, {"after": cursor}),
        (partner, {"after": "forged"}),
        (partner, {"after": cursor[:-2] + "AA"}),
        (partner, {"first": 0}),
        (partner, {"first": 1001}),
        (partner, {"first": "one"}),
    ]
    for scope, variables in refused:
        result = await both(scope, EVERYTHING, variables)
        assert not result["compiled"], variables
        assert result["errors"], variables
    pupil = empty_scope(Viewer(ViewerKind.STUDENT, "8"))  # a student has no feed
    refused_viewer = await both(pupil, EVERYTHING, {"first": 2})
    assert not refused_viewer["compiled"]
    assert refused_viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for query in NOT_COMPILED:
        assert not (await both(partner, query))["compiled"], query
    # A cursor this partner was given still works once the compiled path is known to answer it.
    assert (await both(partner, EVERYTHING, {"after": cursor, "first": 3}))["compiled"]
    # A document that mixes the feed with the schools' pages is answered whole on the compiled path.
    mixed = "{ changes(first: 3) { edges { node { kind } } } schools(first: 1) { edges { node { code } } } }"
    assert (await both(partner, mixed))["compiled"]


async def test_a_feed_page_costs_the_same_statements_on_both_paths(
    feed_world: FeedWorld,
    schema: LeerpoortSchema,
    settings: Settings,
    engine: AsyncEngine,
    count_statements: Any,
) -> None:
    """The page of events, then one statement per entity type of its nodes: the compiled path reads them
    through the same loaders, so as many statements as the general path."""
    request = GraphQLRequest(query=EVERYTHING, variables={"first": 1000}, operation_name=None)
    counts = []
    for compiled_reads in (False, True):
        counter = count_statements()
        _, _, was_compiled = await _answer(
            schema, settings, engine, feed_world.scopes[0], request, compiled_reads=compiled_reads
        )
        assert was_compiled == compiled_reads
        counts.append(len(counter.statements))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("first", [1, 3])
async def test_pages_read_in_the_smallest_batches_neither_skip_nor_repeat_an_event(
    first: int, feed_world: FeedWorld, both: Both, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a feed page's smallest batch shrunk to one event, small pages read one after another give the
    events of one page of 1,000, each once and in order, for every viewer (from the attacker review)."""
    query = (
        "query Q($after: String, $first: Int) { changes(after: $after, first: $first) { edges { node { kind"
        " entityId occurredAt } } pageInfo { hasNextPage endCursor } } }"
    )
    for scope in feed_world.scopes:
        whole = await both(scope, query, {"first": 1000})
        expected = [edge["node"] for edge in whole["data"]["changes"]["edges"]]
        with monkeypatch.context() as patched:
            patched.setattr(reading, "_SMALLEST_BATCH", 1)
            found: list[dict[str, Any]] = []
            after = None
            while True:
                page = (await both(scope, query, {"after": after, "first": first}))["data"]["changes"]
                found += [edge["node"] for edge in page["edges"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
        assert found == expected
        assert expected
