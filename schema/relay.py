"""Relay plumbing: the Node interface, global ids, and keyset-paginated connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import strawberry

from auth.identifiers import decode_global_id, global_id
from auth.policy import Scope
from datasources.store.pagination import encode_cursor
from datasources.store.records import Page
from schema.classification import public

if TYPE_CHECKING:
    from schema.context import Info

T = TypeVar("T")
R = TypeVar("R")


def to_global_id(type_name: str, shown_id: str) -> strawberry.ID:
    """The opaque global id of an object: its type and the identifier this viewer sees."""
    return strawberry.ID(global_id(type_name, shown_id))


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """The (type, identifier) inside a global id, or None when it is not one this hub issued."""
    return decode_global_id(global_id)


@strawberry.interface(description="An object with a global id that `node(id:)` resolves (Relay).")
class Node:
    """An object with a global id."""

    id: strawberry.ID = public("The global id of the object, opaque and stable for this viewer.")


@strawberry.type(description="Where a page of a connection stands (Relay).")
class PageInfo:
    """Paging state of a connection."""

    has_next_page: bool = public("Whether more items follow; ask again with `after: endCursor`.")
    has_previous_page: bool = public("Whether items precede this page (true when `after` was given).")
    start_cursor: str | None = public("The cursor of the first item on this page.")
    end_cursor: str | None = public("The cursor of the last item on this page; pass it as `after`.")


def _edge_cursor(root: Edge[T]) -> str:
    # Sealed only when asked for: a page of a thousand edges whose cursors nobody selects costs no crypto.
    return encode_cursor(root.scope, root.key)


@strawberry.type(description="An item of a connection with its cursor.")
class Edge(Generic[T]):
    """One item of a page with the cursor that continues after it."""

    key: strawberry.Private[int]
    scope: strawberry.Private[Scope]
    cursor: str = public("The opaque cursor of this item.", resolver=_edge_cursor)
    node: T = public("The item.")


@strawberry.type(description="A page of a list, keyset-paginated with `first` (at most 1,000) and `after`.")
class Connection(Generic[T]):
    """One page of a list in a stable order."""

    edges: list[Edge[T]] = public("The items of this page with their cursors.")
    page_info: PageInfo = public("Where this page stands.")


def connection(info: Info, page: Page[R], convert: Callable[[R], T]) -> Connection[T]:
    """A GraphQL connection from a datasource page, converting each record to its GraphQL type; its
    cursors are the viewer's own (sealed for a partner)."""
    scope = info.context.scope
    edges = [Edge(key=key, scope=scope, node=convert(item)) for key, item in page.items]
    start = end = None
    if page.items:
        start = encode_cursor(scope, page.items[0][0])
        end = start if len(page.items) == 1 else encode_cursor(scope, page.items[-1][0])
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=start,
            end_cursor=end,
        ),
    )
