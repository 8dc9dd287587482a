"""`node(id:)` and federation `_entities`: from an identifier the viewer was shown back to a record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datasources.store.scoping import internal_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from datasources.graph.loaders import KeyLoader, Loaders
    from resolvers.context import Context


def _loader(loaders: Loaders, type_name: str) -> KeyLoader[int, Any] | None:
    by_type: dict[str, KeyLoader[int, Any]] = {
        "Board": loaders.boards,
        "School": loaders.schools,
        "Group": loaders.groups,
        "Student": loaders.students,
        "StaffMember": loaders.staff,
        "Partner": loaders.partners,
        "Product": loaders.products,
        "License": loaders.licenses,
    }
    return by_type.get(type_name)


_BY_PERSON: dict[str, Callable[[Loaders], KeyLoader[int, Any]]] = {
    "Student": lambda loaders: loaders.students_by_person,
    "StaffMember": lambda loaders: loaders.staff_by_person,
}

NODE_TYPES = ("Board", "School", "Group", "Student", "StaffMember", "Partner", "Product", "License")


async def node(ctx: Context, type_name: str, shown_id: str) -> Any | None:
    """The record behind a (type, id) the viewer was shown, loaded through the same scoped loaders as
    every other read; None when it does not exist or is not visible (the two are indistinguishable)."""
    loader = _loader(ctx.loaders, type_name)
    if ctx.scope.partner_id is not None and type_name in _BY_PERSON:
        # A partner's student and staff ids are derived from the person, not from the membership row.
        loader = _BY_PERSON[type_name](ctx.loaders)
    row_id = internal_id(ctx.scope, type_name, shown_id)
    if loader is None or row_id is None:
        return None
    return await loader.get(row_id)
