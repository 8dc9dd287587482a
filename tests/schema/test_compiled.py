"""The compiled read path (`schema.compiled`) against the general executor: for drawn worlds of grants
(categories granted or not, DPA signed or not, revoked consent, closed schools, several partners), the
operator and a coordinator, every document gives the same response bytes (key order included) and the
same disclosure tally on both paths; documents it does not understand, and arguments the resolvers
refuse (another partner's cursor, a hub cursor, a forged one, a page out of bounds), fall back to the
general path, which answers them as before.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select

from auth.categories import DataCategory
from auth.policy import Scope, StaffFacts, operator_scope, partner_scope, staff_scope
from auth.viewer import Viewer, ViewerKind
from datasources.access.viewer_facts import partner_facts
from datasources.store.reader import Reader
from datasources.store.tables import PARTNERS, SCHOOLS
from resolvers.requests import Services, open_request
from resolvers.signing import Keys
from schema import compiled
from schema.graphql_requests import GraphQLRequest
from schema.http import JSON, execute
from tests.conftest import examples
from tests.schema.conftest import OPERATOR, TODAY
from tests.schema.test_leaks import PartnerSpec, World, _apply, seeded, worlds  # noqa: F401 - a fixture

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.assembly import LeerpoortSchema
    from settings import Settings

STUDENT = (
    "id pseudonym eckId firstName prefix lastName initials dateOfBirth yearLevel"
    " mainGroup { __typename id name yearLevel schoolYear composite effectiveFrom }"
)
PAGE_INFO = "pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }"
EVERYTHING = (
    "query Everything($first: Int, $after: String, $inner: String, $size: Int = 5) {"
    " __typename schools(first: $first, after: $after) { __typename edges { __typename cursor node {"
    " __typename id code brin locationCode name active"
    " students(first: $size, after: $inner) { __typename edges { __typename cursor node {"
    f" {STUDENT} }} }} {PAGE_INFO} }}"
    " staff(first: 3) { edges { cursor node { __typename id pseudonym eckId firstName prefix lastName email"
    f" lasRoles active }} }} {PAGE_INFO} }}"
    " groups(first: 2) { edges { node { id name yearLevel schoolYear composite effectiveFrom } } pageInfo {"
    f" hasNextPage }} }} }} }} {PAGE_INFO} }} }}"
)
#: The documents of `bench/graph.py`'s full sync.
BENCH_SCHOOLS = (
    "query BenchStudents($first: Int!, $after: String, $inner: String) { schools(first: $first, after:"
    " $after) { edges { node { code students(first: 1000, after: $inner) { edges { node { id pseudonym"
    " firstName prefix lastName yearLevel mainGroup { name } } } pageInfo { hasNextPage endCursor } } } }"
    " pageInfo { hasNextPage endCursor } } }"
)
BENCH_MORE = (
    "query BenchMoreStudents($code: String!, $inner: String) { school(code: $code) { students(first: 7,"
    " after: $inner) { edges { node { id pseudonym firstName lastName mainGroup { name } } } pageInfo {"
    " hasNextPage endCursor } } } }"
)
ALIASES = (
    "query Aliased($code: String!) { a: schools(first: 2) { edges { node { c: code s: students(first: 2) {"
    " e: edges { n: node { l: lastName g: mainGroup { n: name } } } } } } }"
    " b: school(code: $code) { name code staff(first: 1) { edges { node { lastName } } } } }"
)
#: The same school's students page twice in one request: the loaders read (and count) it once, on both paths.
TWICE = (
    "query Twice($code: String!) { schools(first: 3) { edges { node { students(first: 2) { edges { node {"
    " id } } } } } } school(code: $code) { students(first: 2) { edges { node { id lastName } } } } }"
)
#: Documents the compiled path must leave to the general executor.
NOT_COMPILED = [
    "{ schools(first: 2) { edges { node { ...F } } } } fragment F on School { code }",
    "{ schools(first: 2) { edges { node { code @include(if: true) } } } }",
    "{ schools(first: 2) { edges { node { grantedCategories } } } }",
    "{ schools(first: 2) { edges { node { students(first: 2) { edges { node { groups { name } } } } } } } }",
    "{ schools(first: 2) { edges { node { code code } } } }",
    '{ schools(first: 2) { edges { node { groups(schoolYear: "2026-2027") { edges { node { id } } } } } } }',
    "{ schools(first: 2) { edges { node { nope } } } }",
    "{ viewer { kind } }",
    "mutation { __typename }",
    "{ schools(first: 2) { edges { node { ... on School { code } } } } }",
    # A field that holds a selection asked twice under two keys (the plan keeps one selection of each).
    "{ schools(first: 5) { edges { a: node { name } b: node { code } } } }",
    "{ schools(first: 5) { edges { node { code } } e2: edges { cursor } } }",
    "{ schools(first: 5) { p: pageInfo { hasNextPage } q: pageInfo { endCursor } } }",
    "{ schools(first: 5) { edges { node { students(first: 5) { edges { a: node { firstName }"
    " b: node { id } } } } } } }",
]


async def _answer(
    schema: LeerpoortSchema,
    settings: Settings,
    engine: AsyncEngine,
    scope: Scope,
    request: GraphQLRequest,
    *,
    compiled_reads: bool,
) -> tuple[str, collections.Counter[int], bool]:
    """The response text (as the server serialises it), the disclosure tally, and whether the compiled
    path answered."""
    chosen = settings.model_copy(update={"compiled_reads": compiled_reads})
    services = Services(chosen, engine, Keys(engine, chosen))
    now = dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC)
    async with open_request(services, scope.viewer, now=now, scope=scope) as context:
        body, fallback = await compiled.answer(schema, request, context)
        was_compiled = body is not None
        if body is None:
            answered = await execute(schema, request, fallback, JSON)
            body = answered.body
        tally = collections.Counter(context.reader.disclosed)
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text, tally, was_compiled


class Both:
    """Runs a request on both paths and asserts they agree."""

    def __init__(self, schema: LeerpoortSchema, settings: Settings, engine: AsyncEngine) -> None:
        self.schema, self.settings, self.engine = schema, settings, engine
        self.compiled = 0

    async def __call__(
        self,
        scope: Scope,
        query: str,
        variables: dict[str, Any] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        request = GraphQLRequest(query=query, variables=variables, operation_name=operation_name)
        general, general_tally, _ = await _answer(
            self.schema, self.settings, self.engine, scope, request, compiled_reads=False
        )
        fast, fast_tally, was_compiled = await _answer(
            self.schema, self.settings, self.engine, scope, request, compiled_reads=True
        )
        assert fast == general, f"{query[:80]} {variables}"
        assert fast_tally == general_tally
        self.compiled += was_compiled
        body: dict[str, Any] = json.loads(general)
        body["compiled"] = was_compiled
        return body


@pytest.fixture
def both(schema: LeerpoortSchema, settings: Settings, engine: AsyncEngine) -> Both:
    return Both(schema, settings, engine)


async def _partner_scopes(engine: AsyncEngine, settings: Settings, partner_ids: list[int]) -> list[Scope]:
    scopes = []
    for partner_id in partner_ids:
        async with engine.connect() as connection:
            client_id = (
                await connection.execute(select(PARTNERS.c.client_id).where(PARTNERS.c.id == partner_id))
            ).scalar_one()
        reader = Reader(engine)
        facts = await partner_facts(reader, client_id)
        await reader.close()
        assert facts is not None
        scopes.append(
            partner_scope(
                Viewer(ViewerKind.PARTNER, client_id),
                facts,
                require_dpa=True,
                pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
            )
        )
    return scopes


async def _codes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(SCHOOLS.c.code).order_by(SCHOOLS.c.id))).scalars())


async def _walk(both: Both, scope: Scope, codes: list[str]) -> None:
    """Everything, a full sync page by page (following both cursors), and `school(code:)` of every school."""
    everything = await both(scope, EVERYTHING, {"first": 2}, "Everything")
    schools = everything["data"]["schools"]
    after = schools["pageInfo"]["endCursor"]
    await both(scope, EVERYTHING, {"first": 2, "after": after, "size": 1})
    for edge in schools["edges"]:
        students = edge["node"]["students"]
        if students["pageInfo"]["hasNextPage"]:
            inner = students["pageInfo"]["endCursor"]
            await both(scope, EVERYTHING, {"first": 1, "inner": inner, "size": 20})
            await both(scope, BENCH_MORE, {"code": edge["node"]["code"], "inner": inner})
    await both(scope, BENCH_SCHOOLS, {"first": 4})
    for code in [*codes, "zz99zz", " 16ah00 "]:
        await both(scope, BENCH_MORE, {"code": code})
        await both(scope, ALIASES, {"code": code})
        await both(scope, TWICE, {"code": code})


@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
async def test_the_compiled_path_answers_as_the_executor_for_drawn_grants(
    world: World,
    engine: AsyncEngine,
    seeded: tuple[list[int], list[int]],  # noqa: F811 - the fixture imported above
    both: Both,
    settings: Settings,
) -> None:
    school_ids, board_ids = seeded
    partner_ids = await _apply(engine, world, school_ids, board_ids)
    codes = await _codes(engine)
    for scope in await _partner_scopes(engine, settings, partner_ids):
        await _walk(both, scope, codes)
    assert both.compiled > 0


async def test_operator_and_coordinator_get_the_same_answers(
    engine: AsyncEngine,
    seeded: tuple[list[int], list[int]],  # noqa: F811 - the fixture imported above
    both: Both,
) -> None:
    school_ids, _ = seeded
    codes = await _codes(engine)
    coordinator = staff_scope(
        Viewer(ViewerKind.STAFF, "7"), StaffFacts(account_id=7, coordinator_of=frozenset(school_ids[:1]))
    )
    for scope in (operator_scope(OPERATOR), coordinator):
        await _walk(both, scope, codes)
    result = await both(operator_scope(OPERATOR), BENCH_SCHOOLS, {"first": 4})
    assert result["compiled"]
    assert len(result["data"]["schools"]["edges"]) == 3


async def test_refused_arguments_and_other_documents_fall_back(
    engine: AsyncEngine,
    seeded: tuple[list[int], list[int]],  # noqa: F811 - the fixture imported above
    both: Both,
    settings: Settings,
) -> None:
    """Another partner's cursor, a hub cursor shown to a partner, a forged cursor, pages out of bounds, a
    malformed code, bad variables and a cost over the limit: the general path answers, with its errors."""
    school_ids, board_ids = seeded
    everything = frozenset(DataCategory)
    world = World(
        partners=(PartnerSpec(everything, eck_chain=True), PartnerSpec(everything, eck_chain=False)),
        consents={(school, partner): everything for school in range(3) for partner in range(2)},
        revoked=frozenset(),
        dpa_signed=(True, True, True),
        active=(True, True, True),
    )
    partner_ids = await _apply(engine, world, school_ids, board_ids)
    first, second = await _partner_scopes(engine, settings, partner_ids)
    operator = operator_scope(OPERATOR)
    own = await both(first, BENCH_SCHOOLS, {"first": 1})
    assert own["compiled"]
    cursor = own["data"]["schools"]["pageInfo"]["endCursor"]
    hub = await both(operator, BENCH_SCHOOLS, {"first": 1})
    hub_cursor = hub["data"]["schools"]["pageInfo"]["endCursor"]
    refused = [
        (second, {"first": 1, "after": cursor}),  # another partner's cursor
        (second, {"first": 1, "inner": cursor}),
        (first, {"first": 1, "after": hub_cursor}),  # a hub cursor shown to a partner
        (operator, {"first": 1, "after": cursor}),  # a partner's cursor shown to the hub
        (first, {"first": 1, "after": "forged"}),
        (first, {"first": 1, "inner": cursor[:-2] + "AA"}),
        (first, {"first": 0}),
        (first, {"first": 1001}),
        (first, {"first": "one"}),
        (first, {}),
    ]
    for scope, variables in refused:
        result = await both(scope, BENCH_SCHOOLS, variables)
        assert not result["compiled"]
        assert result["errors"]
    # A cursor of this partner from one school continues another's students after the same key: the
    # same rows on both paths (the key is only a position).
    inner = own["data"]["schools"]["edges"][0]["node"]["students"]["pageInfo"]["endCursor"]
    codes = await _codes(engine)
    for code in codes:
        await both(first, BENCH_MORE, {"code": code, "inner": inner})
    assert not (await both(first, BENCH_MORE, {"code": "bad"}))["compiled"]
    costly = "{ schools(first: 1000) { edges { node { students(first: 1000) { edges { node { id } } } } } } }"
    assert not (await both(first, costly))["compiled"]
    for query in NOT_COMPILED:
        assert not (await both(first, query))["compiled"], query
    # Several operations without a name, or a name the document does not define.
    two = "query A { __typename } query B { __typename }"
    assert not (await both(first, two, None, "C"))["compiled"]
    assert (await both(first, two.split(" query B", maxsplit=1)[0], None, "A"))["compiled"]


async def test_a_full_sync_page_costs_the_same_statements_on_both_paths(
    engine: AsyncEngine,
    seeded: tuple[list[int], list[int]],  # noqa: F811 - the fixture imported above
    schema: LeerpoortSchema,
    settings: Settings,
    count_statements: Any,
) -> None:
    """One statement for the page of schools and one for all their students' pages (with their main
    groups), however many schools and students: the compiled path batches as the loaders do."""
    request = GraphQLRequest(query=BENCH_SCHOOLS, variables={"first": 4}, operation_name=None)
    counts = []
    for compiled_reads in (False, True):
        counter = count_statements()
        _, _, was_compiled = await _answer(
            schema, settings, engine, operator_scope(OPERATOR), request, compiled_reads=compiled_reads
        )
        assert was_compiled == compiled_reads
        counts.append(len(counter.statements))
    assert counts[0] == counts[1] == 2
