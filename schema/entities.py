"""Lookups of objects by the global ids a viewer was shown (for `node` and federation `_entities`)."""

from __future__ import annotations

from typing import Any

from resolvers import nodes
from schema.context import Info
from schema.relay import from_global_id


async def lookup(info: Info, type_name: str, global_id: object) -> Any | None:
    """The record behind a global id of `type_name`, within the viewer's scope; None otherwise."""
    if not isinstance(global_id, str):
        return None
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != type_name:
        return None
    return await nodes.node(info.context, type_name, decoded[1])
