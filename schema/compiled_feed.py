"""The compiled path of the change feed: `changes(after:, first:)` answered without the general executor.

A partner that follows its feed reads pages of 1,000 events, most with their `node`; the general executor
spends ~90% of such a request on per-field work (issue 14's profile of `bench/feed.py`: an info object, a
completion and a wrapper per field per event). For a `changes` selection made only of the fields below,
`plan` builds one function per selection of `Change` and one per selection of each node type; `answer`
reads the page through the very same resolvers as the general path (`resolvers.changes.feed`: the
permission, the page size, the cursor, the events due first, `reading.feed_page` with the viewer's
`Scope`) and the page's nodes through the same loaders (`resolvers.changes.nodes`: one statement per
entity type, the same disclosure tally), and builds the JSON straight from the records.

It gives what `schema.changes` gives, field by field: the event's cursor sealed for the viewer, the entity
id as the viewer sees it, `lostCategories` for LEFT_SCOPE only, the node only for CREATED, UPDATED and
ENTERED_SCOPE, null when its entity has gone or its row now holds someone else (the node's id differs from
the event's), the page's cursors as `schema.changes.connection_of` sets them. A node's selection may use
inline fragments on `Node` or the five types the feed names (no directives, no named fragments, no field
twice under one key); anything else falls back to the general path (`schema.compiled`'s rules).
`tests/schema/test_compiled_feed.py` proves both paths give the same bytes and the same disclosures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from graphql import FieldNode, InlineFragmentNode

from auth.categories import DataCategory
from datasources.feed.events import LEFT_SCOPE
from datasources.store.pagination import FEED, decode_cursor
from resolvers import changes, schools
from schema.compiled_selection import (
    NAMESPACE,
    Build,
    ConnectionShape,
    NodeFactory,
    NotCompiled,
    connection_shape,
    leaf,
    object_builder,
    response_key,
    same,
    student_row_builder,
)

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from datasources.feed.reading import ChangeRecord, FeedPage
    from resolvers.context import Context

#: The entity types a feed's event names, each with a node (`resolvers.changes._node_loader`).
NODE_TYPES: Final = ("School", "Group", "Student", "StaffMember", "License")

#: A `Change`'s scalar fields as Python expressions over its record `r` and the entity's id `e` as the
#: viewer sees it (computed once per event, only when selected or needed to check a node).
_CHANGE: Final[Mapping[str, str]] = {
    "__typename": repr("Change"),
    "cursor": "_cursor(r.seq)",
    "kind": "r.kind",
    "entityType": "r.entity_type",
    "entityId": "_gid(r.entity_type, e)",
    "schoolCode": "r.school_code",
    "lostCategories": f"([_category(name) for name in r.categories] if r.kind == {LEFT_SCOPE!r} else [])",
    "occurredAt": "r.occurred_at.isoformat()",
}


def _category(name: str) -> str:
    # As `DataCategory[name]` in `schema.changes.change_of`: a name the policy does not know fails alike.
    return DataCategory[name].name


@dataclass(frozen=True, slots=True)
class FeedPlan:
    """A `changes` field: its arguments and how to build its JSON from a page of events."""

    #: Its arguments and what the connection, an edge and `pageInfo` select.
    shape: ConnectionShape
    #: Makes the per-request builder of one event: (cursor sealer, node builders) -> build(record, id).
    change: Callable[..., Callable[[Any, str | None], dict[str, Any]]] | None
    #: Per selection of `node` (in the order the change's builder names them): a builder per node type
    #: (students' from their rows: `student_row_builder`).
    nodes: tuple[Mapping[str, NodeFactory], ...]
    #: Whether the change's builder needs the entity id as the viewer sees it.
    needs_entity_id: bool
    #: Whether a student node's selection asks for its main group (else its rows are read without it).
    student_main_group: bool

    def with_main_group(self) -> FeedPlan:
        """The same plan, reading students with their main group (for a document whose other feed asks
        for it: `schema.compiled._plan`)."""
        return dataclasses.replace(self, student_main_group=True)

    def check(self, context: Context, variables: Mapping[str, Any]) -> None:
        """Refuse (with the resolver's error) what `changes.feed` would refuse, before anything is read."""
        first, after = self.shape.page(variables)
        changes.feed_arguments(context, after, first)

    async def answer(self, context: Context, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The field's JSON: the page read as the general path reads it, built from its records."""
        first, after = self.shape.page(variables)
        page = await changes.feed(context, after, first)
        out: dict[str, Any] = {}
        for key, what in self.shape.fields:
            if what == "edges":
                out[key] = await self._edges(context, page)
            elif what == "pageInfo":
                out[key] = self._page_info(context, page, after)
            else:
                out[key] = what[1]
        return out

    async def _edges(self, context: Context, page: FeedPage) -> list[dict[str, Any]]:
        events = page.events
        scope = context.scope
        cursor = scope.identifiers.cursor
        built: list[dict[str, Any]] = []
        changes_json: list[dict[str, Any] | None] = [None] * len(events)
        if self.change is not None:
            found = (
                await changes.nodes(context, events, student_rows=True, main_group=self.student_main_group)
                if self.nodes
                else {}
            )
            shown = _shown_ids(context)
            build = self.change(
                lambda seq: cursor(FEED, seq),
                tuple(
                    self._node_builder({name: make(context) for name, make in types.items()}, shown, found)
                    for types in self.nodes
                ),
            )
            entity_id = changes.entity_id
            needs_id = self.needs_entity_id
            changes_json = [build(event, entity_id(context, event) if needs_id else None) for event in events]
        for event, change in zip(events, changes_json, strict=True):
            edge: dict[str, Any] = {}
            for key, what in self.shape.edge:
                if what == "node":
                    edge[key] = change
                elif what == "cursor":
                    edge[key] = cursor(FEED, event.seq)
                else:
                    edge[key] = what[1]
            built.append(edge)
        return built

    @staticmethod
    def _node_builder(
        types: Mapping[str, Build], shown: Mapping[str, Callable[[Any], str]], found: Mapping[int, Any]
    ) -> Callable[[Any, str], Any]:
        """An event's node as `schema.changes.Change.node` gives it from the page's records (and rows)."""

        def build(event: ChangeRecord, entity_id: str) -> Any:
            record = found.get(event.seq)
            # The row may hold someone else by now (`Change._as_node`): then it is not this event's node.
            if record is None or shown[event.entity_type](record) != entity_id:
                return None
            return types[event.entity_type](record)

        return build

    def _page_info(self, context: Context, page: FeedPage, after: str | None) -> dict[str, Any]:
        """As `schema.changes.connection_of` sets it: the end cursor moves past everything the page read."""
        assert self.shape.page_info is not None
        scope = context.scope
        start = end = after
        if page.events:
            start = scope.identifiers.cursor(FEED, page.events[0].seq)
        if page.last_seq > (decode_cursor(scope, after, FEED) if after else 0):
            end = scope.identifiers.cursor(FEED, page.last_seq)
        values = {"has_next": page.has_next, "has_previous": after is not None, "start": start, "end": end}
        fields = self.shape.page_info.fields
        return {key: values[what] if not isinstance(what, tuple) else what[1] for key, what in fields}


# --- planning ---------------------------------------------------------------------------------------------


def plan(schema: GraphQLSchema, field: FieldNode) -> FeedPlan:
    """The plan of a `changes` field; NotCompiled when it selects what this module does not build."""
    shape = connection_shape(schema, "ChangeConnection", field)
    fields = shape.node_fields
    change, nodes, needs_id = _change(fields) if fields is not None else (None, (), False)
    main_group = any(
        field.name.value == "mainGroup"
        for node in fields or ()
        if node.name.value == "node" and node.selection_set is not None
        for field in _collect("Student", node.selection_set.selections, set())
    )
    return FeedPlan(
        shape=shape, change=change, nodes=nodes, needs_entity_id=needs_id, student_main_group=main_group
    )


def _change(
    fields: list[FieldNode],
) -> tuple[Callable[..., Callable[[Any, str | None], dict[str, Any]]], tuple[Mapping[str, Build], ...], bool]:
    """The maker of a change's builder, the node builders its `node` selections use, and whether it needs
    the entity id. The builder is one dict display (one call per event, as `schema.compiled._compile`)."""
    parts: list[tuple[str, str]] = []
    nodes: list[Mapping[str, Build]] = []
    needs_id = False
    for sub in fields:
        name = sub.name.value
        needs_id = needs_id or name in ("node", "entityId")
        if name == "node" and not sub.arguments:
            parts.append((response_key(sub), f"_nodes[{len(nodes)}](r, e)"))
            nodes.append({type_name: _node_of_type(type_name, sub) for type_name in NODE_TYPES})
        else:
            leaf(sub)
            if name not in _CHANGE:
                raise NotCompiled
            parts.append((response_key(sub), _CHANGE[name]))
    items = ", ".join(f"{key!r}: {expression}" for key, expression in parts)
    scope = {**NAMESPACE, "_category": _category}
    source = (
        f"def make(_cursor, _nodes):\n    def build(r, e):\n        return {{{items}}}\n    return build\n"
    )
    exec(source, scope)  # noqa: S102 - names through `repr`, expressions of this module's table
    make: Callable[..., Callable[[Any, str | None], dict[str, Any]]] = scope["make"]
    return make, tuple(nodes), needs_id


def _node_of_type(type_name: str, node: FieldNode) -> NodeFactory:
    """The builder of `node`'s selection for a node of `type_name`: its own fields and those of the inline
    fragments that apply to the type, in document order, as graphql-core collects them."""
    if node.selection_set is None:
        raise NotCompiled
    fields = _collect(type_name, node.selection_set.selections, set())
    if type_name == "Student":
        return student_row_builder(fields)
    return same(object_builder(type_name, fields))


def _record_id(record: Any) -> str:
    return str(record.public_id)


def _shown_ids(context: Context) -> Mapping[str, Callable[[Any], str]]:
    """Per node type, the id a node shows this viewer, from what `changes.nodes` read (a student's row)."""
    shown: dict[str, Callable[[Any], str]] = dict.fromkeys(NODE_TYPES, _record_id)
    shown["Student"] = schools.student_identity(context).public_id
    return shown


def _collect(type_name: str, selections: Any, keys: set[str]) -> list[FieldNode]:
    found: list[FieldNode] = []
    for selection in selections:
        if selection.directives:
            raise NotCompiled
        if isinstance(selection, FieldNode):
            key = response_key(selection)
            if key in keys:
                raise NotCompiled  # the executor merges same-named fields; not worth repeating here
            keys.add(key)
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition.name.value if selection.type_condition else None
            if condition in (None, "Node", type_name):
                found += _collect(type_name, selection.selection_set.selections, keys)
            elif condition not in NODE_TYPES:
                raise NotCompiled  # an interface or union the planner does not know
        else:
            raise NotCompiled  # a named fragment
    return found


__all__ = ["NODE_TYPES", "FeedPlan", "plan"]
