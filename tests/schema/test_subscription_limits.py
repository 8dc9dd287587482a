"""A subscription's limits: its selection is costed once for every event a poll cycle delivers, and the
depth, alias and token limits refuse it as they refuse a query, before anything resolves.

Refused documents never reach a resolver, so they run against the schema without any context: a refusal
that came later would fail on the missing context instead of answering LIMIT_EXCEEDED.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graphql import parse

from schema.costs import query_cost
from schema.subscriptions import CYCLE_EVENTS

if TYPE_CHECKING:
    from graphql import GraphQLError

    from schema.assembly import LeerpoortSchema

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

#: Each event's school with a page of 1,000 students: over HTTP, a page of 1,000 such events costs
#: 5,006,001 and is refused; a subscription delivering them cycle after cycle cost 14.9 s of CPU.
SCHOOL_PAGE_PER_EVENT = """subscription { changes { cursor kind node { ... on School {
    students(first: 1000) { edges { node { id firstName lastName } } } } } } }"""
#: The selection of one event, as a page of the feed query selects it for each of its events.
EVENT_SELECTION = """cursor kind node { ... on School {
    students(first: 1000) { edges { node { id firstName lastName } } } } }"""
#: What the tests' and the bench's subscribers ask for: a few fields and the node's name.
EVERYDAY = """subscription Feed($after: String) { changes(after: $after) {
    cursor kind entityType entityId schoolCode lostCategories
    node { __typename ... on Student { firstName } } } }"""


async def _refusal(schema: LeerpoortSchema, query: str) -> list[GraphQLError]:
    """The errors of the first (and only) result of a subscription that must be refused."""
    stream = await schema.subscribe(query)
    async for result in stream:
        assert result.data is None
        return list(result.errors or ())
    raise AssertionError("the subscription ended without an answer")


def _limit_messages(errors: list[GraphQLError]) -> list[str]:
    assert errors
    assert all((error.extensions or {}).get("code") == LIMIT_EXCEEDED for error in errors), errors
    assert all(getattr(error.original_error, "code", None) == LIMIT_EXCEEDED for error in errors)
    return [error.message for error in errors]


def test_a_subscription_costs_its_event_selection_once_for_every_event_of_a_poll_cycle(
    schema: LeerpoortSchema,
) -> None:
    page_of_events = f"{{ changes(first: {CYCLE_EVENTS}) {{ edges {{ node {{ {EVENT_SELECTION} }} }} }} }}"

    subscription = query_cost(schema._schema, parse(SCHOOL_PAGE_PER_EVENT))
    query = query_cost(schema._schema, parse(page_of_events))

    assert subscription == 500_401
    # The same events over HTTP cost the same, plus the page's own edges and node hops.
    assert query == subscription + 2 * CYCLE_EVENTS


def test_an_everyday_subscription_is_well_within_the_limit(schema: LeerpoortSchema) -> None:
    assert query_cost(schema._schema, parse(EVERYDAY)) == 1 + 9 * CYCLE_EVENTS


async def test_a_subscription_whose_cycle_costs_more_than_the_limit_is_refused_before_anything_resolves(
    schema: LeerpoortSchema,
) -> None:
    errors = await _refusal(schema, SCHOOL_PAGE_PER_EVENT)

    assert _limit_messages(errors)[0].startswith(
        "the subscription costs 500,401 per poll cycle; the limit is 100,000"
    )


async def test_a_subscription_obeys_the_depth_alias_and_token_limits_of_a_query(
    schema: LeerpoortSchema,
) -> None:
    deep = """subscription { changes { node { ... on Student { mainGroup { students { edges { node {
        mainGroup { students { edges { node { mainGroup { name } } } } } } } } } } } } }"""
    aliases = "subscription { changes { " + " ".join(f"a{n}: cursor" for n in range(21)) + " } }"
    tokens = "subscription { changes { " + "cursor " * 5_000 + "} }"

    assert _limit_messages(await _refusal(schema, deep)) == [
        "the subscription is 11 levels deep; the limit is 10"
    ]
    assert _limit_messages(await _refusal(schema, aliases)) == ["the query uses 21 aliases; the limit is 20"]
    assert _limit_messages(await _refusal(schema, tokens)) == [
        "the query has more than 5,000 tokens; the limit is 5,000"
    ]
