"""The abuse limits (API.md "Settings"): depth 10, aliases 20, tokens 5,000, cost 100,000.

A refused document never reaches a resolver, so most tests execute it straight against the schema with no
context at all; what must be answered runs through the `run` fixture against a real database, and what a
client sees over HTTP goes through `schema.http.execute`.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, cast

import pytest
from graphql import get_introspection_query, parse, validate
from strawberry.extensions.validation_cache import _get_validate_cache

from auth.policy import operator_scope
from datasources.store.pagination import PageArgs
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema import limits
from schema.assembly import build_schema
from schema.costs import DEFAULT_FIRST, query_cost
from schema.http import GRAPHQL_RESPONSE, GraphQLRequest, execute, format_error
from schema.limits import introspection_fields
from settings import Settings
from tests.schema.conftest import OPERATOR, TODAY

if TYPE_CHECKING:
    import functools
    from collections.abc import AsyncIterator

    from graphql import GraphQLError
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.sandbox.world import SeedSummary
    from resolvers.context import Context
    from schema.assembly import LeerpoortSchema
    from tests.schema.conftest import Run

LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

#: schools, edges, node, groups, edges, node, students, edges, node, mainGroup: ten levels.
DEPTH_10 = """{ schools(first: 1) { edges { node { groups(first: 1) { edges { node {
  students(first: 1) { edges { node { mainGroup { name } } } } } } } } } } }"""
#: One level more: the main group's students.
DEPTH_11 = DEPTH_10.replace("mainGroup { name }", "mainGroup { students(first: 1) { __typename } }")
#: The same eleven levels, reached through a named fragment and an inline fragment.
DEPTH_11_IN_FRAGMENTS = """{ schools(first: 1) { edges { node { ...Groups } } } }
fragment Groups on School { groups(first: 1) { edges { node { ... on Group {
  students(first: 1) { edges { node { mainGroup { students(first: 1) { __typename } } } } } } } } } }"""

#: API.md's example: a page of 1,000 students with ten fields and their main group (the module docstring
#: adds it up to 18,002).
API_EXAMPLE = """query Page($code: String!) { school(code: $code) { students(first: 1000) {
  pageInfo { hasNextPage endCursor }
  edges { node {
    __typename id pseudonym eckId firstName prefix lastName initials dateOfBirth yearLevel
    mainGroup { name yearLevel }
  } }
} } }"""
#: 1 + 3 x 100 + 7 x 100,000 = 700,301: a hundred schools of a thousand students, five fields each.
NESTED_PAGES = """{ schools(first: 100) { edges { node { students(first: 1000) { edges { node {
  id firstName lastName yearLevel dateOfBirth } } } } } } }"""
#: The same query with the inner parts in a fragment and an inline fragment.
NESTED_PAGES_IN_FRAGMENTS = """{ schools(first: 100) { edges { node { ...Pupils } } } }
fragment Pupils on School { students(first: 1000) { edges { node { ... on Student { ...Names } } } } }
fragment Names on Student { id firstName lastName yearLevel dateOfBirth }"""
#: Both page sizes from one variable.
PAGES_OF_N = """query Pages($n: Int) { schools(first: $n) { edges { node {
  students(first: $n) { edges { node { id } } } } } } }"""


def _aliases(count: int) -> str:
    return "{ " + " ".join(f"a{number}: __typename" for number in range(count)) + " }"


def _fields_document(tokens: int) -> str:
    # `{`, the fields and `}`: every token a real one (graphql-core's overlapping-fields rule gives up on
    # thousands of equal fields, so only a refusal can be shown with this one).
    return "{ " + "__typename " * (tokens - 2) + "}"


def _list_document(tokens: int) -> str:
    # Real tokens that validate: twelve around a list literal of representations (each resolves to null).
    return "{ _entities(representations: [" + "1 " * (tokens - 12) + "]) { __typename } }"


def _comments_document(tokens: int) -> str:
    # Comments count as tokens too, or a document could be padded with them for free.
    return "#\n" * (tokens - 3) + "{ __typename }"


def _doubling_fragments(levels: int) -> str:
    """Each fragment spreads the next one twice: 2^levels leaves from a few hundred tokens."""
    fragments = [
        f"fragment F{level} on Query {{ ...F{level + 1} ...F{level + 1} }}" for level in range(levels)
    ]
    return "{ ...F0 }\n" + "\n".join([*fragments, f"fragment F{levels} on Query {{ __typename }}"])


async def _refusals(
    schema: LeerpoortSchema, query: str, variables: dict[str, Any] | None = None
) -> list[GraphQLError]:
    """The errors of a document that must be refused before execution (no context: nothing may resolve)."""
    result = await schema.execute(query, variable_values=variables)
    assert result.data is None
    return list(result.errors or ())


def _limit_messages(errors: list[GraphQLError]) -> list[str]:
    assert errors
    assert all((error.extensions or {}).get("code") == LIMIT_EXCEEDED for error in errors), errors
    assert all(getattr(error.original_error, "code", None) == LIMIT_EXCEEDED for error in errors)
    return [error.message for error in errors]


@pytest.fixture
async def context(engine: AsyncEngine, settings: Settings) -> AsyncIterator[Context]:
    """An operator's request context, for going through `schema.http.execute` as the server does."""
    services = Services(settings, engine, Keys(engine, settings))
    now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    async with open_request(services, OPERATOR, now=now) as context:
        yield context


# --- depth ----------------------------------------------------------------------------------------------


async def test_an_operation_ten_levels_deep_is_answered(run: Run) -> None:
    result = await run(DEPTH_10)

    assert result["errors"] == []
    assert result["data"] == {"schools": {"edges": []}}


@pytest.mark.parametrize("query", [DEPTH_11, DEPTH_11_IN_FRAGMENTS], ids=["inline", "fragments"])
async def test_an_operation_eleven_levels_deep_is_refused_naming_its_depth_and_the_limit(
    schema: LeerpoortSchema, query: str
) -> None:
    messages = _limit_messages(await _refusals(schema, query))

    assert messages == ["the query is 11 levels deep; the limit is 10"]


async def test_the_explorers_introspection_query_is_answered_despite_its_depth(
    schema: LeerpoortSchema,
) -> None:
    result = await schema.execute(get_introspection_query(descriptions=True))

    assert result.errors is None
    assert result.data is not None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


async def test_introspection_that_nests_type_lists_three_deep_is_refused_once(
    schema: LeerpoortSchema,
) -> None:
    query = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"

    messages = _limit_messages(await _refusals(schema, query))

    assert len(messages) == 1
    assert "the limit is 2" in messages[0]


# --- aliases --------------------------------------------------------------------------------------------


async def test_twenty_aliases_are_answered(schema: LeerpoortSchema) -> None:
    result = await schema.execute(_aliases(20))

    assert result.errors is None
    assert result.data == {f"a{number}": "Query" for number in range(20)}


async def test_twenty_one_aliases_are_refused_naming_the_count_and_the_limit(schema: LeerpoortSchema) -> None:
    messages = _limit_messages(await _refusals(schema, _aliases(21)))

    assert messages == ["the query uses 21 aliases; the limit is 20"]


async def test_aliases_in_a_fragment_count_each_time_it_is_spread(schema: LeerpoortSchema) -> None:
    eleven = " ".join(f"a{number}: __typename" for number in range(11))
    query = f"{{ ...Eleven ... on Query {{ ...Eleven }} }} fragment Eleven on Query {{ {eleven} }}"

    messages = _limit_messages(await _refusals(schema, query))

    assert messages == ["the query uses 22 aliases; the limit is 20"]


# --- tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [_list_document, _comments_document], ids=["values", "comments"])
async def test_a_document_of_5000_tokens_is_answered(schema: LeerpoortSchema, document: Any) -> None:
    result = await schema.execute(document(5000))

    assert result.errors is None
    assert result.data is not None


@pytest.mark.parametrize(
    "document", [_fields_document, _list_document, _comments_document], ids=["fields", "values", "comments"]
)
async def test_a_document_of_5001_tokens_is_refused_naming_the_limit(
    schema: LeerpoortSchema, document: Any
) -> None:
    messages = _limit_messages(await _refusals(schema, document(5001)))

    assert messages == ["the query has more than 5,000 tokens; the limit is 5,000"]


async def test_a_document_too_long_to_cache_is_still_parsed_under_the_token_limit(
    schema: LeerpoortSchema,
) -> None:
    name = "x" * (limits.CACHED_DOCUMENT_LENGTH + 1)

    answered = await schema.execute(f'{{ __type(name: "{name}") {{ name }} }}')
    refused = await _refusals(schema, _fields_document(5001) + f"# {name}")

    assert answered.errors is None
    assert answered.data == {"__type": None}
    assert _limit_messages(refused) == ["the query has more than 5,000 tokens; the limit is 5,000"]


async def test_a_plain_syntax_error_is_still_a_bad_user_input(schema: LeerpoortSchema) -> None:
    errors = await _refusals(schema, "{ schools { ")

    assert [format_error(error)["extensions"] for error in errors] == [{"code": "BAD_USER_INPUT"}]
    assert errors[0].message.startswith("Syntax Error")


# --- cost -----------------------------------------------------------------------------------------------


def test_the_api_example_costs_18002(schema: LeerpoortSchema) -> None:
    assert query_cost(schema._schema, parse(API_EXAMPLE)) == 18_002


async def test_the_api_example_is_answered(world: SeedSummary, run: Run) -> None:
    first = await run("{ schools(first: 1) { edges { node { code } } } }")
    code = first["data"]["schools"]["edges"][0]["node"]["code"]

    result = await run(API_EXAMPLE, {"code": code})

    assert result["errors"] == []
    assert len(result["data"]["school"]["students"]["edges"]) == 20


async def test_a_hundred_schools_of_a_thousand_students_are_refused_naming_the_cost_and_the_limit(
    schema: LeerpoortSchema,
) -> None:
    messages = _limit_messages(await _refusals(schema, NESTED_PAGES))

    assert len(messages) == 1
    assert messages[0].startswith("the query costs 700,301; the limit is 100,000")


def test_fragments_and_inline_fragments_cost_where_they_are_spread(schema: LeerpoortSchema) -> None:
    assert query_cost(schema._schema, parse(NESTED_PAGES_IN_FRAGMENTS)) == 700_301


async def test_page_sizes_from_variables_count_at_every_level(schema: LeerpoortSchema) -> None:
    messages = _limit_messages(await _refusals(schema, PAGES_OF_N, {"n": 1000}))

    # 1 + 3 x 1,000 + 3 x 1,000,000
    assert messages[0].startswith("the query costs 3,003,001;")


async def test_a_variables_default_page_size_counts_when_the_variable_is_not_given(
    schema: LeerpoortSchema,
) -> None:
    query = PAGES_OF_N.replace("$n: Int)", "$n: Int = 1000)")

    messages = _limit_messages(await _refusals(schema, query))

    assert messages[0].startswith("the query costs 3,003,001;")


async def test_a_cached_validation_still_checks_the_cost_of_each_requests_variables(run: Run) -> None:
    small = await run(PAGES_OF_N, {"n": 10})
    large = await run(PAGES_OF_N, {"n": 1000})
    small_again = await run(PAGES_OF_N, {"n": 10})

    assert small["errors"] == small_again["errors"] == []
    assert [error["code"] for error in large["errors"]] == [LIMIT_EXCEEDED]
    assert large["data"] is None


async def test_the_parse_and_validation_caches_are_bounded_and_an_evicted_document_is_still_costed(
    run: Run, schema: LeerpoortSchema
) -> None:
    refused = await run(PAGES_OF_N, {"n": 1000})
    # More distinct documents than the caches keep (a client sending ever new texts).
    for number in range(limits.PARSE_CACHE_SIZE + 20):
        answered = await schema.execute(f"{{ __typename n{number}: __typename }}")
        assert answered.errors is None
    refused_again = await run(PAGES_OF_N, {"n": 1000})
    small = await run(PAGES_OF_N, {"n": 10})

    parsed = limits._cached_parse.cache_info()
    # strawberry's shared validation cache for that size (an lru_cache, typed as a plain callable).
    validated = cast(
        "functools._lru_cache_wrapper[Any]", _get_validate_cache(limits.PARSE_CACHE_SIZE)
    ).cache_info()
    assert parsed.maxsize == validated.maxsize == limits.PARSE_CACHE_SIZE
    assert parsed.currsize == validated.currsize == limits.PARSE_CACHE_SIZE
    assert [error["code"] for error in refused["errors"]] == [LIMIT_EXCEEDED]
    assert refused_again["errors"] == refused["errors"]
    assert small["errors"] == []


def test_a_connection_without_first_costs_the_default_page_that_the_resolvers_return(
    schema: LeerpoortSchema,
) -> None:
    cost = query_cost(schema._schema, parse("{ schools { edges { node { name } } } }"))

    assert PageArgs.parse(operator_scope(OPERATOR), None, None).first == DEFAULT_FIRST == 100
    assert cost == 1 + 3 * DEFAULT_FIRST


def test_a_page_size_below_one_earns_no_discount(schema: LeerpoortSchema) -> None:
    negative = query_cost(schema._schema, parse(PAGES_OF_N), variables={"n": -1000})
    one = query_cost(schema._schema, parse(PAGES_OF_N), variables={"n": 1})

    assert negative == one == 1 + 3 + 3


def test_entities_cost_once_per_representation(schema: LeerpoortSchema) -> None:
    query = parse("""query($r: [_Any!]!) { _entities(representations: $r) {
        ... on School { students(first: 1000) { edges { node { id } } } } } }""")
    representation = {"__typename": "School", "code": "16AH00"}

    one = query_cost(schema._schema, query, variables={"r": [representation]})
    hundred = query_cost(schema._schema, query, variables={"r": [representation] * 100})

    assert one == 1 + 1 + 3 * 1000
    assert hundred == 1 + 100 * (1 + 3 * 1000)


def test_only_the_operation_that_runs_is_costed(schema: LeerpoortSchema) -> None:
    document = parse(f"query Cheap {{ __typename }} query Dear {NESTED_PAGES}")

    assert query_cost(schema._schema, document, "Cheap") == 1
    assert query_cost(schema._schema, document, "Dear") == 700_301
    # Without a name that singles one out, whichever the executor picks must be covered.
    assert query_cost(schema._schema, document) == 700_301


async def test_fragments_spread_twice_over_are_refused_in_linear_time(schema: LeerpoortSchema) -> None:
    started = time.perf_counter()

    messages = _limit_messages(await _refusals(schema, _doubling_fragments(60)))

    assert time.perf_counter() - started < 2
    assert messages[0].startswith(f"the query costs {2**60:,};")


def test_a_long_chain_of_fragments_is_measured_without_exhausting_the_recursion_limit(
    schema: LeerpoortSchema,
) -> None:
    # Longer than the token limit allows, to show the walks themselves never recurse.
    chain = [f"fragment F{link} on Query {{ ...F{link + 1} }}" for link in range(3000)]
    document = parse(
        "{ ...F0 }\n" + "\n".join([*chain, "fragment F3000 on Query { a: __typename b: __typename }"])
    )

    errors = validate(schema._schema, document, [limits.shape_rule(10, 1)])

    assert query_cost(schema._schema, document) == 2
    # graphql-core's own check of fragment nesting gives up on such a chain ("Validation aborted.").
    assert errors[0].message == "the query uses 2 aliases; the limit is 1"


# --- what a client sees -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (DEPTH_11, None, "the query is 11 levels deep; the limit is 10"),
        (_aliases(21), None, "the query uses 21 aliases; the limit is 20"),
        (_fields_document(5001), None, "the query has more than 5,000 tokens; the limit is 5,000"),
        (PAGES_OF_N, {"n": 1000}, "the query costs 3,003,001; the limit is 100,000"),
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_a_refused_document_answers_400_with_limit_exceeded_and_no_data(
    schema: LeerpoortSchema, context: Context, query: str, variables: dict[str, Any] | None, message: str
) -> None:
    request = GraphQLRequest(query=query, variables=variables, operation_name=None)

    answer = await execute(schema, request, context, GRAPHQL_RESPONSE)

    assert answer.status == 400
    assert "data" not in answer.body
    [error] = answer.body["errors"]
    assert error["extensions"] == {"code": LIMIT_EXCEEDED}
    assert error["message"].startswith(message)


async def test_an_unknown_field_is_refused_without_suggesting_a_name(run: Run) -> None:
    result = await run("{ schools { edges { node { nme } } } }")

    assert [error["message"] for error in result["errors"]] == ["Cannot query field 'nme' on type 'School'."]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ schools(frst: 1) { edges { node { name } } } }", None),
        ("query($first: Itn) { schools(first: $first) { edges { node { name } } } }", None),
        ("{ schools { edgs { node { name } } } }", None),
    ],
    ids=["argument", "type", "field"],
)
async def test_no_error_a_client_sees_suggests_a_name(
    schema: LeerpoortSchema, context: Context, query: str, variables: dict[str, Any] | None
) -> None:
    request = GraphQLRequest(query=query, variables=variables, operation_name=None)

    answer = await execute(schema, request, context, GRAPHQL_RESPONSE)

    assert answer.status == 400
    assert answer.body["errors"]
    assert "Did you mean" not in str(answer.body)
    assert {error["extensions"]["code"] for error in answer.body["errors"]} == {"BAD_USER_INPUT"}


# --- settings and caching -----------------------------------------------------------------------------


async def test_the_limits_follow_the_settings() -> None:
    strict = build_schema(
        Settings(
            LEERPOORT_MAX_DEPTH=1, LEERPOORT_MAX_ALIASES=1, LEERPOORT_MAX_TOKENS=10, LEERPOORT_MAX_COST=2
        )
    )

    depth = await _refusals(strict, "{ schools { edges { __typename } } }")
    aliases = await _refusals(strict, "{ a: __typename b: __typename }")
    tokens = await _refusals(strict, _fields_document(11))
    cost = await _refusals(strict, "{ __typename viewer { kind } }")

    assert _limit_messages(depth) == ["the query is 2 levels deep; the limit is 1"]
    assert _limit_messages(aliases) == ["the query uses 2 aliases; the limit is 1"]
    assert _limit_messages(tokens) == ["the query has more than 10 tokens; the limit is 10"]
    assert _limit_messages(cost)[0].startswith("the query costs 3; the limit is 2")


async def test_a_repeated_document_is_measured_once(
    schema: LeerpoortSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[object] = []
    shape = limits._shape

    def counting_shape(*args: Any) -> Any:
        measured.append(args)
        return shape(*args)

    monkeypatch.setattr(limits, "_shape", counting_shape)
    query = "{ onlyInThisTest: __typename }"

    await schema.execute(query)
    after_first = len(measured)
    await schema.execute(query)

    assert after_first > 0
    assert len(measured) == after_first


# --- introspection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "{ __schema { types { name } } }",
        '{ __type(name: "Student") { fields { name } } }',
        "{ ...Types } fragment Types on Query { __schema { types { name } } }",
        '{ ... on Query { __type(name: "School") { name } } }',
        '{ ...A } fragment A on Query { ...B } fragment B on Query { __type(name: "Group") { name } }',
        "query One { __typename } query Two { __schema { queryType { name } } }",
    ],
    ids=["schema", "type", "fragment", "inline-fragment", "nested-fragment", "other-operation"],
)
def test_introspection_is_detected_wherever_it_is_selected(query: str) -> None:
    assert introspection_fields(query, max_tokens=5000)
    assert introspection_fields(parse(query), max_tokens=5000)


@pytest.mark.parametrize(
    "query",
    [
        "{ __typename schools { edges { node { name } } } }",
        "{ viewer { kind } }",
        "{ __schema { ",
        "{ " + "__typename " * 5000 + "__schema { queryType { name } } }",
    ],
    ids=["typename", "plain", "syntax-error", "too-many-tokens"],
)
def test_a_document_without_introspection_or_that_does_not_parse_is_not_flagged(query: str) -> None:
    # A document that does not parse is refused by execution itself, with the same token limit.
    assert not introspection_fields(query, max_tokens=5000)
