"""The compiled read path: operations whose whole selection the hub understands, answered without the
general GraphQL executor.

A partner's full sync asks the same few documents over and over: pages of schools, each with a page of
its students (`bench/graph.py`), then pages of its change feed (`bench/feed.py`; the `changes` root field is
planned by `schema.compiled_feed`). graphql-core and strawberry spend most of such a request on per-field
work (an info object, a completion, a wrapper per field per record: issue 14's profile). For a document
made only of the fields below, this module plans the document once (cached by its text, its operation
name and the limits it was validated under) into plain builders, and answers a request by reading the
very same pages through the same resolvers and per-request loaders as the general path (so the same SQL
statements with the viewer's `Scope` compiled into them, one per connection page, the same sealed ids,
pseudonyms and cursors, and the same disclosure tally), then building the JSON with one generated
function per object type: a dict display per record. A page of students is read as the rows of the
general path's own statement and built straight from them (no record objects: a frozen dataclass costs
microseconds to make, and a full sync makes two per student), with the ids and the pseudonym derived as
`student_record` derives them (`datasources.graph.people.student_identity`).

Correctness first: anything it does not fully understand falls back to the general executor, which then
answers it exactly as before. That is: a document that does not parse or validate (under the same depth,
alias and token limits), several operations or an operation name it does not define, fragments,
directives, any field or argument outside the tables below, a duplicate response key, a field that holds a
selection (`edges`, `node`, `pageInfo`) asked twice under two keys, a mutation or
subscription, variables that do not coerce, a cost over the limit, and any argument the resolvers would
refuse (a page size out of bounds, a cursor that is not the viewer's own, a malformed school code): the
general path answers those with its own errors. Arguments are all checked before anything is read, so a
fallback never counts a disclosure twice; should a read fail half way, the tally is put back and the
general path runs on fresh loaders, unless the database is out of reach: that is answered 503 at once
(`schema.http`), since reading again would only meet the same outage. `tests/schema/test_compiled.py`
proves both paths give the same bytes and the same disclosures for drawn grants.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    specified_rules,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation import MaxIntrospectionDepthRule

from datasources.store.database import is_outage
from errors import PublicError
from resolvers import schools
from schema import compiled_feed
from schema.compiled_feed import FeedPlan
from schema.compiled_selection import (
    SCALARS,
    Argument,
    Build,
    ConnectionShape,
    NodeFactory,
    NotCompiled,
    arguments_of,
    connection_shape,
    constant,
    expression_of,
    field_type_name,
    leaf,
    object_builder,
    response_key,
    same,
    student_row_builder,
    sub_fields,
)
from schema.costs import query_cost
from schema.limits import IntrospectionDepthRule, parse_document, shape_rule

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from auth.policy import Scope
    from datasources.store.records import Page, SchoolRecord
    from resolvers.context import Context
    from schema.assembly import LeerpoortSchema
    from schema.graphql_requests import GraphQLRequest

#: How many planned documents are kept (as many as the parse cache keeps parsed ones).
PLAN_CACHE_SIZE: Final = 256

Fetch: TypeAlias = Callable[["Context", "SchoolRecord", Any, Any], Awaitable["Page[Any]"]]


async def _groups_of_school(context: Context, school: SchoolRecord, first: Any, after: Any) -> Page[Any]:
    # `School.groups` without `schoolYear` (a document that passes one falls back).
    return await schools.groups_of_school(context, school, None, first, after)


#: A school's connections the planner knows: the resolver the general path calls, and the node type.
#: Students are read as rows (the very statement of `students_of_school`) and built from the row.
_SCHOOL_CONNECTIONS: Final[Mapping[str, tuple[Fetch, str]]] = {
    "students": (schools.student_rows_of_school, "Student"),
    "staff": (schools.staff_of_school, "StaffMember"),
    "groups": (_groups_of_school, "Group"),
}


@dataclass(frozen=True, slots=True)
class _ConnectionPlan:
    """A connection field: its page arguments and how to build its JSON from a page and its nodes."""

    #: Its arguments and what the connection, an edge and `pageInfo` select.
    shape: ConnectionShape

    @property
    def node_selected(self) -> bool:
        """Whether an edge selects its node."""
        return self.shape.node_fields is not None

    def build(self, scope: Scope, page: Page[Any], nodes: list[Any]) -> dict[str, Any]:
        """The connection's JSON, its cursors sealed for the viewer as `schema.relay.connection` does."""
        identifiers = scope.identifiers
        out: dict[str, Any] = {}
        for key, what in self.shape.fields:
            if what == "edges":
                out[key] = self._edges(identifiers, page, nodes)
            elif what == "pageInfo":
                assert self.shape.page_info is not None
                out[key] = self._page_info(identifiers, page)
            else:
                out[key] = what[1]
        return out

    def _edges(self, identifiers: Any, page: Page[Any], nodes: list[Any]) -> list[dict[str, Any]]:
        edge = self.shape.edge
        if len(edge) == 1 and edge[0][1] == "node":
            only = edge[0][0]
            return [{only: node} for node in nodes]
        edges = []
        for (item_key, _), node in zip(page.items, nodes, strict=True):
            built: dict[str, Any] = {}
            for key, what in edge:
                if what == "node":
                    built[key] = node
                elif what == "cursor":
                    built[key] = identifiers.cursor("page", item_key)
                else:
                    built[key] = what[1]
            edges.append(built)
        return edges

    def _page_info(self, identifiers: Any, page: Page[Any]) -> dict[str, Any]:
        assert self.shape.page_info is not None
        start = end = None
        if page.items:
            start = identifiers.cursor("page", page.items[0][0])
            end = start if len(page.items) == 1 else identifiers.cursor("page", page.items[-1][0])
        values = {"has_next": page.has_next, "has_previous": page.has_previous, "start": start, "end": end}
        return {
            key: values[what] if not isinstance(what, tuple) else what[1]
            for key, what in self.shape.page_info.fields
        }


@dataclass(frozen=True, slots=True)
class _SchoolPlan:
    """What a school selects: scalars (builders) and connections (read per page of schools)."""

    fields: tuple[tuple[str, Build | None], ...]
    connections: tuple[tuple[str, Fetch, _ConnectionPlan, NodeFactory], ...]


@dataclass(frozen=True, slots=True)
class _RootField:
    key: str
    #: "schools", "school", "changes" or a constant `__typename`.
    kind: Any
    arguments: Mapping[str, Argument]
    connection: _ConnectionPlan | None
    school: _SchoolPlan | None
    feed: FeedPlan | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A planned operation: its root fields, and what the request must still pass (variables, cost)."""

    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None
    fields: tuple[_RootField, ...]


# --- planning ---------------------------------------------------------------------------------------------


def _connection(
    schema: GraphQLSchema, connection_type: str, field: FieldNode
) -> tuple[_ConnectionPlan, list[FieldNode]]:
    """The plan of a connection field, and the node's fields (for the caller to plan by node type)."""
    shape = connection_shape(schema, connection_type, field)
    return _ConnectionPlan(shape), shape.node_fields or []


def _school_plan(schema: GraphQLSchema, fields: list[FieldNode]) -> _SchoolPlan:
    scalars = SCALARS["School"]
    parts: list[tuple[str, Build | None]] = []
    connections: list[tuple[str, Fetch, _ConnectionPlan, NodeFactory]] = []
    for sub in fields:
        name = sub.name.value
        if name == "__typename":
            leaf(sub)
            parts.append((response_key(sub), constant("School")))
        elif name in scalars:
            leaf(sub)
            parts.append((response_key(sub), expression_of(scalars[name])))
        elif name in _SCHOOL_CONNECTIONS:
            fetch, node_type = _SCHOOL_CONNECTIONS[name]
            plan, node_fields = _connection(schema, field_type_name(schema, "School", name), sub)
            node: NodeFactory
            if not plan.node_selected:
                node = _no_nodes
            elif node_type == "Student":
                node = student_row_builder(node_fields)
            else:
                node = same(object_builder(node_type, node_fields))
            parts.append((response_key(sub), None))
            connections.append((response_key(sub), fetch, plan, node))
        else:
            raise NotCompiled
    return _SchoolPlan(tuple(parts), tuple(connections))


def _nothing(record: Any) -> None:
    del record


def _no_nodes(context: Context) -> Build:
    del context
    return _nothing


def _plan(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None) -> Plan:
    if len(document.definitions) != 1:
        raise NotCompiled
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation is not OperationType.QUERY
        or operation.directives
        or any(definition.directives for definition in operation.variable_definitions or ())
    ):
        raise NotCompiled
    name = operation.name.value if operation.name else None
    if operation_name is not None and operation_name != name:
        raise NotCompiled
    roots: list[_RootField] = []
    for field in sub_fields(operation):
        root = field.name.value
        if root == "__typename":
            leaf(field)
            roots.append(_RootField(response_key(field), ("typename", "Query"), {}, None, None))
        elif root == "schools":
            connection, node_fields = _connection(schema, field_type_name(schema, "Query", "schools"), field)
            school = _school_plan(schema, node_fields) if connection.node_selected else None
            roots.append(_RootField(response_key(field), "schools", {}, connection, school))
        elif root == "school":
            arguments = arguments_of(field, frozenset({"code"}))
            roots.append(
                _RootField(
                    response_key(field), "school", arguments, None, _school_plan(schema, sub_fields(field))
                )
            )
        elif root == "changes":
            feed = compiled_feed.plan(schema, field)
            roots.append(_RootField(response_key(field), "changes", {}, None, None, feed))
        else:
            raise NotCompiled
    # A document's feeds read their pages' students through one loader, so that a student two of them name
    # is read, and audited, once: with the main group when any of them asks for it (the attacker review).
    if any(root.feed is not None and root.feed.student_main_group for root in roots):
        roots = [
            root if root.feed is None else dataclasses.replace(root, feed=root.feed.with_main_group())
            for root in roots
        ]
    return Plan(document=document, operation=operation, operation_name=operation_name, fields=tuple(roots))


_plans: collections.OrderedDict[tuple[str, str | None, int, int, int], Plan | None] = (
    collections.OrderedDict()
)


def plan_of(schema: LeerpoortSchema, request: GraphQLRequest, context: Context) -> Plan | None:
    """The plan of a request's document, or None when the general path must answer it; planned once per
    document, operation name and limits (an LRU of `PLAN_CACHE_SIZE`)."""
    settings = context.settings
    key = (
        request.query,
        request.operation_name,
        settings.max_tokens,
        settings.max_depth,
        settings.max_aliases,
    )
    if key in _plans:
        _plans.move_to_end(key)
        return _plans[key]
    plan: Plan | None
    try:
        document = parse_document(request.query, settings.max_tokens)
        rules = (
            *(rule for rule in specified_rules if rule is not MaxIntrospectionDepthRule),
            IntrospectionDepthRule,
            shape_rule(settings.max_depth, settings.max_aliases),
        )
        if validate(schema._schema, document, rules):
            raise NotCompiled
        plan = _plan(schema._schema, document, request.operation_name)
    except (NotCompiled, GraphQLError):
        plan = None
    _plans[key] = plan
    if len(_plans) > PLAN_CACHE_SIZE:
        _plans.popitem(last=False)
    return plan


# --- answering ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Checked:
    """A root field's arguments, checked as the resolvers check them (before anything is read)."""

    field: _RootField
    first: Any = None
    after: Any = None
    code: str | None = None


def _check(plan: Plan, context: Context, variables: Mapping[str, Any]) -> list[_Checked]:
    """Every argument of the plan as the resolvers would take it; a PublicError when one would refuse it."""
    checked = []
    for field in plan.fields:
        school = field.school
        if field.kind == "schools":
            assert field.connection is not None
            first, after = field.connection.shape.page(variables)
            context.page_args(first, after)
            checked.append(_Checked(field, first=first, after=after))
        elif field.kind == "school":
            checked.append(_Checked(field, code=schools.school_code(field.arguments["code"].of(variables))))
        elif field.kind == "changes":
            assert field.feed is not None
            field.feed.check(context, variables)
            checked.append(_Checked(field))
        else:
            checked.append(_Checked(field))
        for _, _, connection, _ in school.connections if school is not None else ():
            context.page_args(*connection.shape.page(variables))
    return checked


async def _schools_json(
    context: Context, plan: _SchoolPlan, records: list[SchoolRecord], variables: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The JSON of a list of schools, each connection read for all of them at once (one batch of the
    loaders, so one statement per connection and page arguments, as in the general path)."""
    built_connections: dict[str, list[dict[str, Any]]] = {}
    scope = context.scope
    for key, fetch, connection, factory in plan.connections:
        node = factory(context)
        first, after = connection.shape.page(variables)
        pages = await asyncio.gather(*(fetch(context, record, first, after) for record in records))
        built_connections[key] = [
            connection.build(scope, page, [node(item) for _, item in page.items]) for page in pages
        ]
    out = []
    for index, record in enumerate(records):
        school: dict[str, Any] = {}
        for key, build in plan.fields:
            school[key] = built_connections[key][index] if build is None else build(record)
        out.append(school)
    return out


async def _run(
    plan: Plan, context: Context, checked: list[_Checked], variables: Mapping[str, Any]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in checked:
        field = item.field
        if field.kind == "schools":
            assert field.connection is not None
            page = await schools.schools_page(context, item.first, item.after)
            records = [record for _, record in page.items]
            nodes: list[Any] = (
                await _schools_json(context, field.school, records, variables)
                if field.school is not None
                else [None] * len(records)
            )
            data[field.key] = field.connection.build(context.scope, page, nodes)
        elif field.kind == "school":
            assert field.school is not None
            assert item.code is not None
            record = await context.loaders.schools_by_code.get(item.code)
            data[field.key] = (
                None
                if record is None
                else (await _schools_json(context, field.school, [record], variables))[0]
            )
        elif field.kind == "changes":
            assert field.feed is not None
            data[field.key] = await field.feed.answer(context, variables)
        else:
            data[field.key] = field.kind[1]
    return data


def _prepare(
    schema: LeerpoortSchema, plan: Plan, request: GraphQLRequest, context: Context
) -> tuple[list[_Checked], Mapping[str, Any]] | None:
    """The request's checked arguments and coerced variables, or None when the general path must answer
    (it then reports the variables' errors, the cost limiter's refusal or the resolvers' errors)."""
    graphql_schema = schema._schema
    coerced = get_variable_values(
        graphql_schema, plan.operation.variable_definitions or (), request.variables or {}
    )
    if isinstance(coerced, list):
        return None
    cost = query_cost(graphql_schema, plan.document, request.operation_name, request.variables)
    if cost > context.settings.max_cost:
        return None
    try:
        return _check(plan, context, coerced.coerced), coerced.coerced
    except PublicError:
        return None


async def answer(
    schema: LeerpoortSchema, request: GraphQLRequest, context: Context
) -> tuple[dict[str, Any] | None, Context]:
    """The response body of a request the compiled path answers, or None (and the context the general path
    must then run on) when it does not: see the module's docstring for what falls back."""
    if not context.settings.compiled_reads:
        return None, context
    plan = plan_of(schema, request, context)
    if plan is None:
        return None, context
    prepared = _prepare(schema, plan, request, context)
    if prepared is None:
        return None, context
    checked, coerced = prepared
    disclosed = collections.Counter(context.reader.disclosed)
    try:
        data = await _run(plan, context, checked, coerced)
    except Exception as error:
        # Put the tally back: nothing of this attempt is sent.
        context.reader.disclosed.clear()
        context.reader.disclosed.update(disclosed)
        if is_outage(error):
            raise  # the general path would meet the same outage: `schema.http.execute` answers 503 now
        # Let the general path read again on loaders of its own (their caches would otherwise hand it
        # pages without counting them): its answer (a masked error) is the one the client gets.
        return None, context.with_fresh_loaders()
    return {"data": data}, context


__all__ = ["PLAN_CACHE_SIZE", "Plan", "answer", "plan_of"]
