"""Abuse limits of a GraphQL request (API.md "Settings"): tokens, depth, aliases and cost.

Every refusal is an error with `extensions.code` LIMIT_EXCEEDED whose message names the limit and its
value, and it comes before any resolver runs:

- **tokens** (5,000): the parser stops at the limit, so an oversized document costs no more than that;
- **depth** (10): the fields with a selection of their own on the deepest path of an operation (a leaf
  adds no level, as in graphql-depth-limit; a Relay hop `students { edges { node {` takes three);
  introspection fields are left out, because the explorer's own introspection query is deeper than any
  data query, and graphql-core's introspection-depth rule bounds them instead;
- **aliases** (20): over the whole document, a fragment counted each time it is spread;
- **cost** (100,000), computed for the operation being run:

  a field costs 1 x the `first` of every connection above it, and the cost of a query is the sum over
  its fields. A connection field is one whose type's name ends in `Connection`; its `first` is the
  literal, or the variable's value, or the variable's default, else the default page of 100 (a value
  below 1 counts as 1). Its multiplier applies to the fields inside it, not to the field itself.
  `_entities` multiplies by the number of representations it is given, for the same reason.
  Fragments and inline fragments count where they are spread. Example from API.md, a page of 1,000
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

Depth, aliases and introspection depth are validation rules: they depend on the document alone, so
strawberry's validation cache may remember them (which is why each rule class is made only once). The
cost depends on the variables too (`first: $n`), so it is checked in `on_execute` instead, on every
request, after the (possibly cached) validation passed. Every walk here visits each selection once and
each fragment once (memoised, iterative): a document that spreads fragments into each other twice over
cannot make them exponential, nor a long chain of fragments exhaust the recursion limit.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from graphql import (
    SKIP,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    VisitorAction,
    get_named_type,
    get_operation_ast,
    parse,
)
from graphql.validation import ASTValidationRule, MaxIntrospectionDepthRule, ValidationRule
from strawberry.extensions import SchemaExtension

from errors import LimitExceeded

#: The page a connection returns when `first` is absent (API.md "Graph").
DEFAULT_FIRST: Final = 100
#: How many parsed documents to keep: partners repeat the same few documents.
PARSE_CACHE_SIZE: Final = 256
#: Longer documents are parsed afresh: one long string token would otherwise let a client pin the whole
#: request body (up to 1 MB) in each cache entry.
CACHED_DOCUMENT_LENGTH: Final = 50_000
#: The introspection fields that are off for partners in production (`__typename` stays: clients need it).
INTROSPECTION_FIELDS: Final = frozenset({"__schema", "__type"})


def limit_error(message: str, nodes: Node | Collection[Node] | None = None) -> GraphQLError:
    """A LIMIT_EXCEEDED error: the code both in `extensions` and as the public original error, so every
    consumer (our `format_error`, `process_errors`, tests reading `original_error.code`) sees it."""
    return GraphQLError(
        message, nodes, original_error=LimitExceeded(message), extensions={"code": LimitExceeded.code}
    )


# --- tokens -------------------------------------------------------------------------------------------


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """Parse a document, refusing more than `max_tokens` tokens (comments included); memoised, and a
    failure is never cached. Raises GraphQLSyntaxError, whose message says when the limit was hit."""
    if len(query) > CACHED_DOCUMENT_LENGTH:
        return parse(query, max_tokens=max_tokens)
    return _cached_parse(query, max_tokens)


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _cached_parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


def _is_token_limit(error: GraphQLError, max_tokens: int) -> bool:
    # graphql-core signals the limit only through a syntax error's wording (pinned by a test).
    return f"Document contains more than {max_tokens} tokens" in error.message


class TokenLimitedParser(SchemaExtension):
    """Parses through a shared cache under the token limit and rewords the limit's syntax error.

    It replaces strawberry's ParserCache and MaxTokensLimiter: the first raises its parse error from
    `on_parse`, outside the error handling of strawberry's streaming (WebSocket) path, and neither says
    LIMIT_EXCEEDED. A document that does not parse is left to
    strawberry's own parse (same limit), which reports the error on every transport; this hook then gives
    that error its code on the way out.
    """

    def __init__(self, max_tokens: int) -> None:
        """Refuse documents of more than `max_tokens` tokens."""
        super().__init__()
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        """Parse before strawberry does, so a repeated document is parsed once."""
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        if context.graphql_document is None and context.query:
            # On failure strawberry parses again and reports the error where every transport expects it.
            with contextlib.suppress(GraphQLError):
                context.graphql_document = parse_document(context.query, self.max_tokens)
        yield
        for error in context.pre_execution_errors or ():
            if _is_token_limit(error, self.max_tokens):
                # Strawberry has already put this very object in its result: reword it in place.
                reworded = limit_error(
                    f"the query has more than {self.max_tokens:,} tokens; the limit is {self.max_tokens:,}"
                )
                error.message = reworded.message
                error.extensions = reworded.extensions
                error.original_error = reworded.original_error


# --- depth and aliases ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Shape:
    """How deep a selection nests and how many aliases it uses (fragments included)."""

    depth: int
    aliases: int


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The names of the fragments spread anywhere inside a selection set."""
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                pending.append(selection.selection_set)


def _fragments_in_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
    """The document's fragments, each after every fragment it spreads, so one pass can measure them all.

    Iterative, so a long chain of fragments cannot exhaust Python's recursion; a cycle (which validation
    refuses anyway) is cut where it closes.
    """
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    ordered: list[FragmentDefinitionNode] = []
    seen: set[str] = set()
    for root, definition in fragments.items():
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, _spread_names(definition.selection_set))]
        while stack:
            name, spreads = stack[-1]
            for spread in spreads:
                if spread in fragments and spread not in seen:
                    seen.add(spread)
                    stack.append((spread, _spread_names(fragments[spread].selection_set)))
                    break
            else:
                stack.pop()
                ordered.append(fragments[name])
    return ordered


def _shape(selection_set: SelectionSetNode, fragments: Mapping[str, _Shape]) -> _Shape:
    """Measure a selection set; a fragment's shape comes from `fragments` (memoised, so a document that
    spreads fragments into each other twice over stays linear instead of exponential)."""
    depth = aliases = 0
    pending: list[tuple[SelectionSetNode, int, bool]] = [(selection_set, 0, True)]
    while pending:
        selections, level, counts_depth = pending.pop()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                if selection.alias:
                    aliases += 1
                if selection.selection_set:
                    # Introspection nests deeper than any data query; IntrospectionDepthRule bounds it.
                    nested = counts_depth and selection.name.value not in INTROSPECTION_FIELDS
                    if nested:
                        depth = max(depth, level + 1)
                    pending.append((selection.selection_set, level + 1, nested))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, level, counts_depth))
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
                spread = fragments[selection.name.value]
                aliases += spread.aliases
                if counts_depth:
                    depth = max(depth, level + spread.depth)
    return _Shape(depth=depth, aliases=aliases)


@functools.cache
def shape_rule(max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations deeper than `max_depth` and documents with more than
    `max_aliases` aliases. Memoised: strawberry's validation cache keys on the rule classes, so the same
    limits must give the very same class on every request."""

    class ShapeRule(ValidationRule):
        """Refuses too deep operations and too many aliases (one walk of the document)."""

        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            shapes: dict[str, _Shape] = {}
            for fragment in _fragments_in_order(node):
                shapes[fragment.name.value] = _shape(fragment.selection_set, shapes)
            aliases = 0
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                shape = _shape(definition.selection_set, shapes)
                aliases += shape.aliases
                if shape.depth > max_depth:
                    self.report_error(
                        limit_error(
                            f"the {definition.operation.value} is {shape.depth} levels deep;"
                            f" the limit is {max_depth}",
                            definition,
                        )
                    )
            if aliases > max_aliases:
                self.report_error(
                    limit_error(f"the query uses {aliases:,} aliases; the limit is {max_aliases:,}")
                )
            return SKIP  # measured in one go: nothing below the document to visit

    return ShapeRule


class IntrospectionDepthRule(MaxIntrospectionDepthRule):
    """graphql-core's guard against introspection that nests `fields`, `interfaces`, `possibleTypes` or
    `inputFields` three deep (each level multiplies the answer by the size of the schema), with our code."""

    def report_error(self, error: GraphQLError) -> None:
        """Report the refusal as LIMIT_EXCEEDED, naming the limit."""
        super().report_error(
            limit_error(
                "the introspection query nests fields, interfaces, possibleTypes or inputFields"
                " 3 levels deep; the limit is 2",
                error.nodes,
            )
        )


class LimitRules(SchemaExtension):
    """Adds the depth and alias rule to strawberry's validation and swaps graphql-core's introspection
    depth rule (already among the specified rules) for ours, so a refusal is reported once, with our code.

    The rule classes are the same objects on every request, so the validation cache keeps working.
    """

    def __init__(self, max_depth: int, max_aliases: int) -> None:
        """Refuse operations deeper than `max_depth` and documents with more than `max_aliases` aliases."""
        super().__init__()
        self.shape_rule = shape_rule(max_depth, max_aliases)

    def on_operation(self) -> Iterator[None]:
        """Set the rules before validation runs."""
        context = self.execution_context
        kept = tuple(rule for rule in context.validation_rules if rule is not MaxIntrospectionDepthRule)
        context.validation_rules = (*kept, IntrospectionDepthRule, self.shape_rule)
        yield


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
                        inner = multiplier * self._multiplier(selection, field_type)
                        pending.append((selection.selection_set, field_type, inner))
                elif isinstance(selection, InlineFragmentNode):
                    condition = selection.type_condition
                    inner_type = self.schema.get_type(condition.name.value) if condition else parent_type
                    pending.append((selection.selection_set, inner_type, multiplier))
                elif isinstance(selection, FragmentSpreadNode):
                    total += multiplier * fragments.get(selection.name.value, 0)
        return total

    def _multiplier(self, field: FieldNode, field_type: GraphQLNamedType | None) -> int:
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
        # Fragments cost with this operation's variable defaults, so they are walked per operation.
        defaults={
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
            if definition.default_value is not None
        },
    )
    costs: dict[str, int] = {}
    for fragment in _fragments_in_order(document):
        costs[fragment.name.value] = walk.cost(
            fragment.selection_set, schema.get_type(fragment.type_condition.name.value), costs
        )
    return walk.cost(operation.selection_set, schema.get_root_type(operation.operation), costs)


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
                    f"the query costs {cost:,}; the limit is {self.max_cost:,} (each field counts once"
                    " for every item that the `first` of each connection above it asks for)"
                )
        yield


# --- introspection --------------------------------------------------------------------------------------


def introspection_fields(query: str | DocumentNode, max_tokens: int) -> bool:
    """Whether a document selects `__schema` or `__type` anywhere (operations, fragments, inline
    fragments), for the server to refuse introspection to partners in production before executing.

    Parses through the same cache and token limit as execution (pass `settings.max_tokens`), so the
    document is parsed once. A document that does not parse answers False: execution then refuses it
    with the same syntax or token-limit error.
    """
    if isinstance(query, str):
        try:
            document = parse_document(query, max_tokens)
        except GraphQLError:
            return False
    else:
        document = query
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            continue
        pending = [definition.selection_set]
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode) and selection.name.value in INTROSPECTION_FIELDS:
                    return True
                if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                    pending.append(selection.selection_set)
    return False


__all__ = [
    "DEFAULT_FIRST",
    "CostLimiter",
    "IntrospectionDepthRule",
    "LimitRules",
    "TokenLimitedParser",
    "introspection_fields",
    "limit_error",
    "parse_document",
    "query_cost",
    "shape_rule",
]
