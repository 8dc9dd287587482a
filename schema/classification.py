"""Every field of the graph is classified: under a data category, or as public metadata.

`data(...)` and `public(...)` declare a field together with its class; `unclassified_fields` lists any
field that was declared without one, and the schema assembly refuses to build while that list is not
empty. A field under a category can be withheld, so it must be nullable.
"""

from __future__ import annotations

from typing import Any, Final

import strawberry
from strawberry.types.base import StrawberryOptional, StrawberryType
from strawberry.types.private import is_private

from auth.categories import DataCategory

CATEGORY: Final = "leerpoort.category"
#: The class of fields that carry no data of a school (structure, metadata, the hub's own facts).
PUBLIC: Final = "public"
ROWS: Final = "leerpoort.rows"


def data(category: DataCategory, description: str, **options: Any) -> Any:
    """A field whose value belongs to `category` (null when the viewer was not granted it)."""
    return strawberry.field(description=description, metadata={CATEGORY: category}, **options)


def rows(category: DataCategory, description: str, **options: Any) -> Any:
    """A list or connection whose rows exist for the viewer only under `category` (empty when withheld)."""
    return strawberry.field(description=description, metadata={CATEGORY: category, ROWS: True}, **options)


def public(description: str, **options: Any) -> Any:
    """A field that is structure or metadata rather than a school's data (ids, paging, names of types)."""
    return strawberry.field(description=description, metadata={CATEGORY: PUBLIC}, **options)


def unclassified_fields(types: list[Any]) -> list[str]:
    """`Type.field` names declared without a class, and category fields that are not nullable."""
    problems: list[str] = []
    for definition in types:
        for field in definition.fields:
            if is_private(field.type):
                continue  # not part of the graph
            category = (field.metadata or {}).get(CATEGORY)
            name = f"{definition.name}.{field.python_name}"
            if category is None:
                problems.append(f"{name} has no data category")
            elif category != PUBLIC and not field.metadata.get(ROWS) and not _nullable(field.type):
                problems.append(f"{name} is under {category.name} but not nullable")
    return problems


def _nullable(field_type: StrawberryType | type | Any) -> bool:
    return isinstance(field_type, StrawberryOptional)
