"""`node(id:)` and federation `_entities`: from an identifier the viewer was shown back to a record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auth.permissions import may_look_up_partner
from auth.viewer import ViewerKind
from datasources.graph import partners
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
    every other read; None when it does not exist or is not visible (the two are indistinguishable).
    Partners and products, which belong to no school, answer only the viewers `may_look_up_partner`
    lets see them, so nobody walks the partner directory id by id."""
    loader = _loader(ctx.loaders, type_name)
    if ctx.scope.partner_id is not None and type_name in _BY_PERSON:
        # A partner's student and staff ids are derived from the person, not from the membership row.
        loader = _BY_PERSON[type_name](ctx.loaders)
    row_id = internal_id(ctx.scope, type_name, shown_id)
    if loader is None or row_id is None:
        return None
    if type_name == "Partner" and not await _may_look_up(ctx, row_id):
        return None  # refused before anything is read
    record = await loader.get(row_id)
    if type_name == "Product" and record is not None and not await _may_look_up(ctx, record.partner_id):
        return None
    return record


async def _may_look_up(ctx: Context, partner_id: int) -> bool:
    """Whether this viewer may look up the partner (or one of its products) by id; for a coordinator the
    store says which partners deal with its schools."""
    dealing_with = (
        await partners.partners_dealing_with(ctx.reader, [partner_id], ctx.scope.managed_school_ids)
        if ctx.viewer.kind is ViewerKind.STAFF
        else frozenset[int]()
    )
    return may_look_up_partner(ctx.viewer, ctx.scope, partner_id, partners_at_schools=dealing_with)
