"""Abuse limits of a GraphQL request (API.md "Settings"): tokens, depth, aliases and cost.

Every refusal is an error with `extensions.code` LIMIT_EXCEEDED whose message names the limit and its
value, and it comes before any resolver runs:

- **tokens** (5,000): the parser stops at the limit, so an oversized document costs no more than that;
- **depth** (10): the fields with a selection of their own on the deepest path of an operation (a leaf
  adds no level, as in graphql-depth-limit; a Relay hop `students { edges { node {` takes three);
  introspection fields are left out, because the explorer's own introspection query is deeper than any
  data query, and graphql-core's introspection-depth rule bounds them instead;
- **aliases** (20): over the whole document, a fragment counted each time it is spread;
- **cost** (100,000): see `schema.costs`.

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
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VisitorAction,
    parse,
)
from graphql.validation import ASTValidationRule, MaxIntrospectionDepthRule, ValidationRule
from strawberry.extensions import SchemaExtension

from errors import LimitExceeded

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


def fragments_in_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
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
            for fragment in fragments_in_order(node):
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
