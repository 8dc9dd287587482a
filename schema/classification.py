"""Every field of the graph is classified: under a data category, or as public metadata.

Fields are declared through these helpers only: `data`, `rows` and `public` for attributes, and
`resolves_data`, `resolves_rows` and `resolves_public` for fields with a resolver. `unclassified_fields`
lists any field declared otherwise, and the schema assembly refuses to build while that list is not
empty. A field under a category can be withheld, so it must be nullable; a `rows` field is a list or
connection whose rows exist only under the category, so it is empty, not null, when withheld.

The same classification writes the SDL's account of the categories (`describe_categories`): each
`DataCategory` value lists the fields it opens, and each field under a category names it, so what a partner
reads in the schema is what the policy does and cannot drift from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import strawberry
from graphql import GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType, GraphQLSchema
from strawberry.types.base import StrawberryObjectDefinition, StrawberryOptional, StrawberryType
from strawberry.types.field import StrawberryField
from strawberry.types.private import is_private

from auth.categories import DataCategory

CATEGORY: Final = "leerpoort.category"
ROWS: Final = "leerpoort.rows"
#: The class of fields that carry no data of a school (structure, metadata, the hub's own facts).
PUBLIC: Final = "public"

F = TypeVar("F", bound=Callable[..., Any])


def data(category: DataCategory, description: str, **options: Any) -> Any:
    """An attribute whose value belongs to `category` (null when the viewer was not granted it)."""
    return strawberry.field(description=description, metadata={CATEGORY: category}, **options)


def rows(category: DataCategory, description: str, **options: Any) -> Any:
    """An attribute that exists only with its row, which the viewer sees only under `category`."""
    return strawberry.field(description=description, metadata={CATEGORY: category, ROWS: True}, **options)


def public(description: str, **options: Any) -> Any:
    """An attribute that is structure or metadata rather than a school's data (ids, paging, type names)."""
    return strawberry.field(description=description, metadata={CATEGORY: PUBLIC}, **options)


def _resolver(metadata: dict[str, Any], description: str) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        # strawberry replaces the function with its field object; the cast keeps the method's type for mypy.
        return cast("F", strawberry.field(description=description, metadata=metadata)(function))

    return decorate


def resolves_data(category: DataCategory, description: str) -> Callable[[F], F]:
    """A resolved field whose value belongs to `category`."""
    return _resolver({CATEGORY: category}, description)


def resolves_rows(category: DataCategory, description: str) -> Callable[[F], F]:
    """A resolved list or connection whose rows exist for the viewer only under `category`."""
    return _resolver({CATEGORY: category, ROWS: True}, description)


def resolves_public(description: str) -> Callable[[F], F]:
    """A resolved field that is structure or metadata (a root entry point, a relation to metadata)."""
    return _resolver({CATEGORY: PUBLIC}, description)


def unclassified_fields(definitions: list[StrawberryObjectDefinition]) -> list[str]:
    """`Type.field` names declared without a class, and category fields that are not nullable."""
    problems: list[str] = []
    for definition in definitions:
        for field in definition.fields:
            if is_private(field.type):
                continue  # not part of the graph
            metadata: dict[str, Any] = dict(field.metadata or {})
            category = metadata.get(CATEGORY)
            name = f"{definition.name}.{field.python_name}"
            if category is None:
                problems.append(f"{name} has no data category")
            elif category != PUBLIC and not metadata.get(ROWS) and not _nullable(field.type):
                problems.append(f"{name} is under {category.name} but not nullable")
    return problems


def _nullable(field_type: StrawberryType | type | Any) -> bool:
    return isinstance(field_type, StrawberryOptional)


@dataclass(frozen=True)
class CategoryField:
    """A field of the graph under a data category: `rows` when its rows, not its value, need the category."""

    type_name: str
    field_name: str
    category: DataCategory
    rows: bool

    @property
    def coordinate(self) -> str:
        """The field's schema coordinate, such as `Student.firstName`."""
        return f"{self.type_name}.{self.field_name}"


def category_fields(
    graphql_schema: GraphQLSchema,
    definitions: Iterable[StrawberryObjectDefinition],
    graphql_name: Callable[[StrawberryField], str],
) -> list[CategoryField]:
    """Every field of `definitions` under a category, by its GraphQL name (as `graphql_name` makes it)."""
    found: list[CategoryField] = []
    for definition in definitions:
        graphql_type = graphql_schema.type_map.get(definition.name)
        if not isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for field in definition.fields:
            metadata: dict[str, Any] = dict(field.metadata or {})
            category = metadata.get(CATEGORY)
            if isinstance(category, DataCategory) and not is_private(field.type):
                found.append(
                    CategoryField(definition.name, graphql_name(field), category, bool(metadata.get(ROWS)))
                )
    return sorted(found, key=lambda field: field.coordinate)


def describe_categories(graphql_schema: GraphQLSchema, fields: list[CategoryField]) -> None:
    """Write the classification into the built schema's descriptions (and so into the SDL).

    Each field under a category gets "Category: NAME." appended; each `DataCategory` value gets the list of
    the fields it opens (their values, or for a list or connection its rows).
    """
    for field in fields:
        graphql_type = graphql_schema.type_map[field.type_name]
        assert isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType)
        graphql_field = graphql_type.fields[field.field_name]
        graphql_field.description = (
            f"{graphql_field.description or ''} Category: {field.category.name}.".strip()
        )
    enum_type = graphql_schema.type_map.get("DataCategory")
    if not isinstance(enum_type, GraphQLEnumType):
        return
    for category in DataCategory:
        opened = [field.coordinate for field in fields if field.category is category]
        enum_type.values[category.name].description = (
            f"Opens {', '.join(opened) if opened else 'no field'}. When you lose {category.name}"
            " (`Change.lostCategories`), delete what you hold of these fields."
        )
