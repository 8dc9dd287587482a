"""The pieces the compiled read path plans with (`schema.compiled`, `schema.compiled_feed`): reading a
selection (plain fields only, their arguments as literals or variables), and building a record's JSON with
one generated function per selection from the tables of the fields the planner knows.

Whatever a planner meets that these tables do not hold raises `NotCompiled`: the general executor then
answers the whole document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from graphql import (
    FieldNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)

from datasources.graph.people import MAIN_GROUP, STUDENT
from resolvers import schools
from schema.relay import to_global_id

if TYPE_CHECKING:
    from graphql import GraphQLSchema

    from resolvers.context import Context


Build: TypeAlias = Callable[[Any], Any]
"""Turns one record into the JSON value of a selection."""


def _date(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _list(value: Any) -> Any:
    return None if value is None else list(value)


#: The names the expressions below may use besides the record `r`.
NAMESPACE: Final[Mapping[str, Any]] = {"_gid": to_global_id, "_date": _date, "_list": _list}


def compile_dict(parts: list[tuple[str, str]], namespace: Mapping[str, Any]) -> Build:
    """One function building the dict of `parts` ((response key, Python expression over the record `r`))
    as a dict display: a record costs one call, not one per field. The keys are GraphQL names (letters,
    digits, underscores: the parser accepts nothing else) and the expressions come from this module's
    tables, so the source holds nothing a client wrote but names, and those through `repr`."""
    items = ", ".join(f"{key!r}: {expression}" for key, expression in parts)
    scope = {**NAMESPACE, **namespace}
    exec(f"def build(r):\n    return {{{items}}}\n", scope)  # noqa: S102 - see the docstring
    built: Build = scope["build"]
    return built


def expression_of(expression: str) -> Build:
    """A function of one record from one of the tables' expressions."""
    built: Build = eval(f"lambda r: {expression}", dict(NAMESPACE))  # noqa: S307 - the module's own tables
    return built


#: The scalar fields of each object type the planner knows, as Python expressions over its record `r`. Only
#: plain attributes of records (or values derived from them without I/O) belong here; a field the
#: general path resolves with a resolver of its own (`groups`, `products`, `board`, `grantedCategories`
#: …) is absent, so a document that selects it falls back.
SCALARS: Final[Mapping[str, Mapping[str, str]]] = {
    "School": {
        "id": '_gid("School", r.public_id)',
        "code": "r.code",
        "brin": "r.brin",
        "locationCode": "r.location_code",
        "name": "r.name",
        "active": "r.active",
    },
    "Student": {
        "id": '_gid("Student", r.public_id)',
        "pseudonym": "r.pseudonym",
        "eckId": "r.eck_id",
        "firstName": "r.first_name",
        "prefix": "r.prefix",
        "lastName": "r.last_name",
        "initials": "r.initials",
        "dateOfBirth": "_date(r.date_of_birth)",
        "yearLevel": "r.year_level",
    },
    "StaffMember": {
        "id": '_gid("StaffMember", r.public_id)',
        "pseudonym": "r.pseudonym",
        "eckId": "r.eck_id",
        "firstName": "r.first_name",
        "prefix": "r.prefix",
        "lastName": "r.last_name",
        "email": "r.email",
        "lasRoles": "_list(r.las_roles)",
        "active": "r.active",
    },
    "Group": {
        "id": '_gid("Group", r.public_id)',
        "name": "r.name",
        "yearLevel": "r.year_level",
        "schoolYear": "r.school_year",
        "composite": "r.composite",
        "effectiveFrom": "_date(r.effective_from)",
    },
    "License": {
        "id": '_gid("License", r.public_id)',
        "seats": "r.seats",
        "validFrom": "_date(r.valid_from)",
        "validUntil": "_date(r.valid_until)",
    },
}

#: Fields of one object type that hold another object of a record's attribute (null stays null).
OBJECTS: Final[Mapping[str, Mapping[str, tuple[str, str]]]] = {
    "Student": {"mainGroup": ("main_group", "Group")},
}


PAGE_INFO: Final = {
    "hasNextPage": "has_next",
    "hasPreviousPage": "has_previous",
    "startCursor": "start",
    "endCursor": "end",
}


class NotCompiled(Exception):  # noqa: N818 - a signal inside the planner, never raised past it
    """The document holds something the planner does not fully understand: the general path answers."""


@dataclass(frozen=True, slots=True)
class Argument:
    """An argument's literal value, or the variable it comes from."""

    value: Any = None
    variable: str | None = None

    def of(self, variables: Mapping[str, Any]) -> Any:
        """The argument's value under the request's coerced variables (absent: the default, None)."""
        return variables.get(self.variable) if self.variable is not None else self.value


@dataclass(frozen=True, slots=True)
class PageInfoPlan:
    """What a `pageInfo` selects: (response key, what) pairs."""

    fields: tuple[tuple[str, str], ...]


def argument(node: ValueNode) -> Argument:
    """An argument as the plan keeps it: a literal (int, string, null) or the variable it names."""
    if isinstance(node, VariableNode):
        return Argument(variable=node.name.value)
    if isinstance(node, IntValueNode):
        return Argument(value=int(node.value))
    if isinstance(node, StringValueNode):
        return Argument(value=node.value)
    if isinstance(node, NullValueNode):
        return Argument(value=None)
    raise NotCompiled


def sub_fields(node: FieldNode | OperationDefinitionNode) -> list[FieldNode]:
    """The sub-fields of a selection: plain fields only, no directives, no duplicate response keys."""
    selection_set = node.selection_set
    if selection_set is None:
        raise NotCompiled
    found: list[FieldNode] = []
    keys: set[str] = set()
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            raise NotCompiled
        key = (selection.alias or selection.name).value
        if key in keys:
            raise NotCompiled  # the executor merges same-named fields; not worth repeating here
        keys.add(key)
        found.append(selection)
    return found


def once(fields: list[FieldNode], *names: str) -> list[FieldNode]:
    """`fields`, refusing (NotCompiled) a level that asks for one of `names` twice under two keys: a plan
    keeps one selection of each (an edge's `node`, a connection's `edges` and `pageInfo`), and a second
    one may select something else (found by the attacker review of the compiled feed)."""
    asked = [field.name.value for field in fields]
    if any(asked.count(name) > 1 for name in names):
        raise NotCompiled
    return fields


def response_key(field: FieldNode) -> str:
    """The key a field answers under: its alias, else its name."""
    return (field.alias or field.name).value


def arguments_of(field: FieldNode, allowed: frozenset[str]) -> dict[str, Argument]:
    """A field's arguments by name; NotCompiled when it passes one outside `allowed`."""
    arguments = {given.name.value: argument(given.value) for given in field.arguments or ()}
    if not set(arguments) <= allowed:
        raise NotCompiled
    return arguments


def leaf(field: FieldNode) -> None:
    """A scalar field: no sub-selection and no arguments, else NotCompiled."""
    if field.selection_set is not None or field.arguments:
        raise NotCompiled


def constant(value: str) -> Build:
    """A builder that gives `value` whatever the record (a `__typename`)."""
    return lambda _record: value


def object_builder(type_name: str, fields: list[FieldNode]) -> Build:
    """A builder of one object of `type_name` (scalars and plain nested objects) from its record."""
    scalars, objects = SCALARS[type_name], OBJECTS.get(type_name, {})
    parts: list[tuple[str, str]] = []
    namespace: dict[str, Any] = {}
    for sub in fields:
        name = sub.name.value
        if name == "__typename":
            leaf(sub)
            parts.append((response_key(sub), repr(type_name)))
        elif name in scalars:
            leaf(sub)
            parts.append((response_key(sub), scalars[name]))
        elif name in objects and not sub.arguments:
            attribute, target = objects[name]
            inner = f"_inner{len(namespace)}"
            namespace[inner] = object_builder(target, sub_fields(sub))
            value = f"_v{len(namespace)}"
            parts.append(
                (response_key(sub), f"(None if ({value} := r.{attribute}) is None else {inner}({value}))")
            )
        else:
            raise NotCompiled
    return compile_dict(parts, namespace)


def page_info_plan(field: FieldNode) -> PageInfoPlan:
    """What a `pageInfo` selects, as (response key, `PAGE_INFO` value or a typename constant)."""
    info: list[tuple[str, Any]] = []
    for item in sub_fields(field):
        leaf(item)
        if item.name.value == "__typename":
            info.append((response_key(item), ("typename", "PageInfo")))
        elif item.name.value in PAGE_INFO:
            info.append((response_key(item), PAGE_INFO[item.name.value]))
        else:
            raise NotCompiled
    return PageInfoPlan(tuple(info))


#: The arguments of a connection field the planners know.
PAGE_ARGUMENTS: Final = frozenset({"first", "after"})


@dataclass(frozen=True, slots=True)
class ConnectionShape:
    """What a connection field selects, as both planners read it (the schools' pages, the feed)."""

    first: Argument
    after: Argument
    #: (response key, what): "edges", "pageInfo" or a typename constant.
    fields: tuple[tuple[str, Any], ...]
    #: What an edge selects: (response key, "cursor" | "node" | a typename constant).
    edge: tuple[tuple[str, Any], ...]
    page_info: PageInfoPlan | None
    #: The node's fields, or None when no edge selects its node.
    node_fields: list[FieldNode] | None

    def page(self, variables: Mapping[str, Any]) -> tuple[Any, Any]:
        """`first` and `after` under the request's coerced variables."""
        return self.first.of(variables), self.after.of(variables)


def connection_shape(schema: GraphQLSchema, connection_type: str, field: FieldNode) -> ConnectionShape:
    """The shape of a connection field of type `connection_type`; NotCompiled for anything else than its
    `first` and `after`, `__typename`, `edges { cursor node __typename }` and `pageInfo`, each once."""
    arguments = arguments_of(field, PAGE_ARGUMENTS)
    parts: list[tuple[str, Any]] = []
    edge: list[tuple[str, Any]] = []
    page_info: PageInfoPlan | None = None
    node_fields: list[FieldNode] | None = None
    for sub in once(sub_fields(field), "edges", "pageInfo"):
        name = sub.name.value
        if name == "__typename":
            leaf(sub)
            parts.append((response_key(sub), ("typename", connection_type)))
        elif name == "edges" and not sub.arguments:
            parts.append((response_key(sub), "edges"))
            node_fields = _edges(field_type_name(schema, connection_type, "edges"), sub, edge)
        elif name == "pageInfo" and not sub.arguments:
            parts.append((response_key(sub), "pageInfo"))
            page_info = page_info_plan(sub)
        else:
            raise NotCompiled
    return ConnectionShape(
        first=arguments.get("first", Argument()),
        after=arguments.get("after", Argument()),
        fields=tuple(parts),
        edge=tuple(edge),
        page_info=page_info,
        node_fields=node_fields,
    )


def _edges(edge_type: str, field: FieldNode, edge: list[tuple[str, Any]]) -> list[FieldNode] | None:
    """What an edge selects (appended to `edge`); the node's fields, or None when it selects no node."""
    node_fields = None
    for item in once(sub_fields(field), "node"):
        if item.name.value == "node" and not item.arguments:
            edge.append((response_key(item), "node"))
            node_fields = sub_fields(item)
        elif item.name.value == "cursor":
            leaf(item)
            edge.append((response_key(item), "cursor"))
        elif item.name.value == "__typename":
            leaf(item)
            edge.append((response_key(item), ("typename", edge_type)))
        else:
            raise NotCompiled
    return node_fields


def field_type_name(schema: GraphQLSchema, parent: str, name: str) -> str:
    """The named type (lists and non-nulls unwrapped) of field `name` of type `parent`."""
    graphql_type: Any = schema.get_type(parent).fields[name].type  # type: ignore[union-attr]
    while hasattr(graphql_type, "of_type"):
        graphql_type = graphql_type.of_type
    return str(graphql_type.name)


# --- students straight from their rows ---------------------------------------------------------------


NodeFactory: TypeAlias = Callable[["Context"], Build]
"""The builder of a connection's nodes for one request (a row's builder needs the request's scope)."""

#: A student's fields as Python expressions over its row `r` (`datasources.graph.people.STUDENT`'s
#: positions); `_sid`, `_ps` are the request's `StudentIdentity` (shown id, pseudonym).
STUDENT_ROW: Final[Mapping[str, str]] = {
    "__typename": repr("Student"),
    "id": '_gid("Student", _sid(r))',
    "pseudonym": "_ps(r)",
    "eckId": f"r[{STUDENT.eck_id}]",
    "firstName": f"r[{STUDENT.first_name}]",
    "prefix": f"r[{STUDENT.prefix}]",
    "lastName": f"r[{STUDENT.last_name}]",
    "initials": f"r[{STUDENT.initials}]",
    "dateOfBirth": f"_date(r[{STUDENT.date_of_birth}])",
    "yearLevel": f"r[{STUDENT.year_level}]",
}
#: The student's main group, from the same row (`MAIN_GROUP`'s positions; `_gpid` shows its id).
MAIN_GROUP_ROW: Final[Mapping[str, str]] = {
    "__typename": repr("Group"),
    "id": f'_gid("Group", _gpid(r[{MAIN_GROUP.id}]))',
    "name": f"r[{MAIN_GROUP.name}]",
    "yearLevel": f"r[{MAIN_GROUP.year_level}]",
    "schoolYear": f"r[{MAIN_GROUP.school_year}]",
    "composite": f"r[{MAIN_GROUP.composite}]",
    "effectiveFrom": f"_date(r[{MAIN_GROUP.effective_from}])",
}


def same(build: Build) -> NodeFactory:
    """The factory of a builder that needs nothing of the request."""
    return lambda _context: build


def student_row_builder(fields: list[FieldNode]) -> NodeFactory:
    """A student's JSON straight from its row of `students_of_school`'s statement (no record objects):
    the row's positions are those of `STUDENT` and `MAIN_GROUP`, and what `student_record` derives (the
    shown id, the pseudonym, the main group's shown id) comes from the request's `StudentIdentity`.
    Generated once per plan as a factory of the per-request builder."""
    parts: list[tuple[str, str]] = []
    for sub in fields:
        name = sub.name.value
        if name == "mainGroup" and not sub.arguments:
            group = [(response_key(item), _group_row(item)) for item in sub_fields(sub)]
            items = ", ".join(f"{key!r}: {expression}" for key, expression in group)
            parts.append((response_key(sub), f"(None if r[{MAIN_GROUP.id}] is None else {{{items}}})"))
        else:
            leaf(sub)
            if name not in STUDENT_ROW:
                raise NotCompiled
            parts.append((response_key(sub), STUDENT_ROW[name]))
    items = ", ".join(f"{key!r}: {expression}" for key, expression in parts)
    scope = dict(NAMESPACE)
    source = f"def make(_sid, _ps, _gpid):\n    def build(r):\n        return {{{items}}}\n    return build\n"
    exec(source, scope)  # noqa: S102 - as in `compile_dict`: names through `repr`, expressions of this module
    make = scope["make"]

    def factory(context: Context) -> Build:
        identity = schools.student_identity(context)
        built: Build = make(identity.public_id, identity.pseudonym, identity.group_public_id)
        return built

    return factory


def _group_row(field: FieldNode) -> str:
    leaf(field)
    expression = MAIN_GROUP_ROW.get(field.name.value)
    if expression is None:
        raise NotCompiled
    return expression
