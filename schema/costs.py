"""The cost limit of a GraphQL request (API.md "Settings": 100,000).

The cost is computed for the operation being run: a field costs 1 x the `first` of every connection above
it, and the cost of a query is the sum over its fields. A connection field is one whose type's name ends
in `Connection`; its `first` is the literal, or the variable's value, or the variable's default, else the
default page of 100 (a value below 1 counts as 1). Its multiplier applies to the fields inside it, not to
the field itself. `_entities` multiplies by the number of representations it is given, for the same
reason. Fragments and inline fragments count where they are spread. Example from API.md, a page of 1,000
students with ten fields and their main group:

    school(code: "16AH00") {                          1
      students(first: 1000) {                         1
        pageInfo { hasNextPage endCursor }            3 x 1,000 =  3,000
        edges { node {                                2 x 1,000 =  2,000
          __typename id pseudonym eckId firstName
          prefix lastName initials dateOfBirth
          yearLevel                                  10 x 1,000 = 10,000
          mainGroup { name yearLevel }                3 x 1,000 =  3,000
    } } } }                                           total       18,002: accepted

whereas `schools(first: 100) { edges { node { students(first: 1000) { edges { node { five fields }`
costs 1 (schools) + 3 x 100 (edges, node, students) + 7 x 100,000 (edges, node and the five fields)
= 700,301: refused.

A subscription is costed per event it delivers. It delivers exactly what `changes(first:)` pages through,
a poll cycle of up to `CYCLE_EVENTS` (100) events at a time, each with the subscription's selection, and
every cycle is a request of its own (`schema.subscriptions`). So the fields under the subscription's root
field count once for each event of a cycle, as they would under `changes(first: 100)` over HTTP: a
selection the query refuses for a page of 100 events is refused as a subscription too, before any event is
read, and an accepted subscription never does more work in a cycle than one accepted request may. With
the selection of the issue that found this (each event's school with a page of 1,000 students and three
fields each, plus `cursor` and `kind`):

    subscription { changes {                          1
      cursor kind                                     2 x 100 =       200
      node { ... on School {                          1 x 100 =       100
        students(first: 1000) {                       1 x 100 =       100
          edges { node { id firstName lastName }      5 x 100,000 = 500,000
    } } } } }                                         total         500,401: refused

The cost depends on the variables too (`first: $n`), so it is checked in `on_execute`, on every request,
after the (possibly cached) validation passed; the walk visits each selection and each fragment once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from schema.limits import fragments_in_order, limit_error
from schema.subscriptions import CYCLE_EVENTS

#: The page a connection returns when `first` is absent (API.md "Graph").
DEFAULT_FIRST: Final = 100

# --- cost ---------------------------------------------------------------------------------------------


def _number(value: ValueNode, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode]) -> object:
    """The Python value of an argument: a literal, a variable's value, or that variable's default."""
    if isinstance(value, VariableNode):
        name = value.name.value
        if name in variables:
            return variables[name]
        default = defaults.get(name)
        return None if default is None else _number(default, variables, {})
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, ListValueNode):
        return value.values
    return None


def _page_size(field: FieldNode, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode]) -> int:
    """The `first` of a connection field, as the resolver will read it (at least 1: no discounts)."""
    for argument in field.arguments or ():
        if argument.name.value == "first":
            raw = _number(argument.value, variables, defaults)
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)  # JSON may carry 1000.0, which GraphQL's Int accepts
            # A non-integer is refused when execution coerces it; until then it counts as the default.
            size = raw if isinstance(raw, int) and not isinstance(raw, bool) else DEFAULT_FIRST
            return max(size, 1)
    return DEFAULT_FIRST


def _representations(
    field: FieldNode, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode]
) -> int:
    """How many representations `_entities` resolves: each one is a root of its own selection."""
    for argument in field.arguments or ():
        if argument.name.value == "representations":
            raw = _number(argument.value, variables, defaults)
            return max(len(raw), 1) if isinstance(raw, list | tuple) else 1
    return 1


def _field_type(parent: GraphQLNamedType | None, name: str) -> GraphQLNamedType | None:
    """The named type a field returns, or None where the walk cannot tell (introspection)."""
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field = parent.fields.get(name)
        if field is not None:
            named: GraphQLNamedType = get_named_type(field.type)
            return named
    return None


@dataclass(frozen=True, slots=True)
class _CostWalk:
    """One cost computation: the schema to read field types from, and the request's variables."""

    schema: GraphQLSchema
    variables: Mapping[str, Any]
    defaults: Mapping[str, ValueNode]
    #: The subscription root type: what its fields select is delivered once per event of a poll cycle.
    subscription: GraphQLObjectType | None

    def cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, fragments: Mapping[str, int]
    ) -> int:
        """The cost of a selection set at multiplier 1; a fragment's cost comes from `fragments`
        (costs are linear in the multiplier, so each fragment is walked once)."""
        total = 0
        pending: list[tuple[SelectionSetNode, GraphQLNamedType | None, int]] = [(selection_set, parent, 1)]
        while pending:
            selections, parent_type, multiplier = pending.pop()
            for selection in selections.selections:
                if isinstance(selection, FieldNode):
                    total += multiplier
                    if selection.selection_set:
                        field_type = _field_type(parent_type, selection.name.value)
                        inner = multiplier * self._multiplier(selection, parent_type, field_type)
                        pending.append((selection.selection_set, field_type, inner))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner_type = self.schema.get_type(condition.name.value) if condition else parent_type
                    pending.append((selection.selection_set, inner_type, multiplier))
                elif isinstance(selection, FragmentSpreadNode):
                    total += multiplier * fragments.get(selection.name.value, 0)
        return total

    def _multiplier(
        self, field: FieldNode, parent: GraphQLNamedType | None, field_type: GraphQLNamedType | None
    ) -> int:
        if parent is not None and parent is self.subscription:
            # A root subscription field's selection is resolved for every event a poll cycle delivers.
            return CYCLE_EVENTS
        if field_type is not None and field_type.name.endswith("Connection"):
            return _page_size(field, self.variables, self.defaults)
        if field.name.value == "_entities":
            return _representations(field, self.variables, self.defaults)
        return 1


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> int:
    """The cost of the operation a request runs (see the module's docstring). When the name does not
    single one out, the dearest operation of the document: whichever the executor picks is covered."""
    operation = get_operation_ast(document, operation_name)
    operations = (
        [operation]
        if operation is not None
        else [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    )
    return max((_operation_cost(schema, document, node, variables or {}) for node in operations), default=0)


def _operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any],
) -> int:
    walk = _CostWalk(
        schema=schema,
        variables=variables,
        subscription=schema.subscription_type,
        # Fragments cost with this operation's variable defaults, so they are walked per operation.
        defaults={
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
            if definition.default_value is not None
        },
    )
    costs: dict[str, int] = {}
    for fragment in fragments_in_order(document):
        costs[fragment.name.value] = walk.cost(
            fragment.selection_set, schema.get_type(fragment.type_condition.name.value), costs
        )
    return walk.cost(operation.selection_set, schema.get_root_type(operation.operation), costs)


def _refusal(document: DocumentNode, operation_name: str | None, cost: int, limit: int) -> str:
    """The message of a refusal: the cost, the limit, and how the cost is counted."""
    operation = get_operation_ast(document, operation_name)
    if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
        return (
            f"the subscription costs {cost:,} per poll cycle; the limit is {limit:,} (each field of an"
            f" event counts once for every one of the up to {CYCLE_EVENTS} events a cycle delivers, and"
            " once more for every item that the `first` of each connection above it asks for)"
        )
    return (
        f"the query costs {cost:,}; the limit is {limit:,} (each field counts once"
        " for every item that the `first` of each connection above it asks for)"
    )


class CostLimiter(SchemaExtension):
    """Refuses an operation whose cost exceeds the limit, before anything resolves.

    It runs in `on_execute` because validation (cached per document) cannot see the variables; by then
    the document is known to be valid. Raising there is what strawberry turns into a pre-execution error
    on every transport (HTTP, and the WebSocket's subscriptions, which ignore a preset result).
    """

    def __init__(self, max_cost: int) -> None:
        """Refuse operations that cost more than `max_cost`."""
        super().__init__()
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        """Compute the cost of the operation about to run and refuse it when it is too high."""
        context = self.execution_context
        if context.graphql_document is not None:
            cost = query_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if cost > self.max_cost:
                raise limit_error(
                    _refusal(context.graphql_document, context.operation_name, cost, self.max_cost)
                )
        yield
