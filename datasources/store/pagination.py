"""Keyset pagination: opaque cursors, page arguments, and the SQL that pages one or many parents at once.

Pages are ordered by a unique integer key and continue *after* a key, never by OFFSET, so a page costs
the same at the start and the end of a million rows. Nested connections of many parents are paged in one
statement with a window function (rank within each parent), which is what keeps a nested query at a
fixed number of statements whatever the page size.

A cursor is shown to each viewer in the viewer's own form (the policy's identifiers): a partner's is
sealed for that partner, so it neither tells a row id or a hub-wide count nor joins with another
partner's, and it is refused from anyone else. Pages still continue after the key inside it: one
cursor is sealed or opened per page argument or edge asked for, nothing per row read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, func, select

from datasources.store.records import Page
from errors import BadUserInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from auth.policy import Scope

R = TypeVar("R")

#: What a cursor points into: a connection (the sort key of a row) or the change feed (an event number).
#: A cursor of one kind is refused where the other is expected.
Position = Literal["page", "feed"]
PAGE: Final = "page"
FEED: Final = "feed"
#: Keys are 64-bit integers in the database; a larger number cannot come from this API.
_LARGEST_KEY = 2**63 - 1
_MALFORMED = "the cursor is malformed; pass an endCursor this API returned"


def encode_cursor(scope: Scope, key: int, position: Position = PAGE) -> str:
    """The opaque cursor of a sort key as this viewer is given it: sealed for a partner (its own, unreadable
    to anyone else), readable for the hub's staff (the policy's identifiers decide)."""
    return scope.identifiers.cursor(position, key)


def decode_cursor(scope: Scope, cursor: str, position: Position = PAGE) -> int:
    """The sort key of a cursor this hub issued to this viewer for this kind of position; anything else (a
    damaged cursor, another partner's, a hub cursor shown to a partner) is the same BAD_USER_INPUT error,
    so a refusal tells nothing about whose cursor it was."""
    key = scope.identifiers.cursor_key(position, cursor)
    if key is None or key > _LARGEST_KEY:
        raise BadUserInput(_MALFORMED)
    return key


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated `first`/`after` arguments: how many items, after which key."""

    first: int
    after: int | None

    @classmethod
    def parse(
        cls, scope: Scope, first: int | None, after: str | None, *, default: int = 100, cap: int = 1000
    ) -> PageArgs:
        """Validate the client's arguments (`after` must be a cursor this viewer was given); a page outside
        1..cap is refused, never silently clamped."""
        size = default if first is None else first
        if size < 1 or size > cap:
            raise BadUserInput(f"`first` must be between 1 and {cap}; got {size}")
        return cls(first=size, after=None if after is None else decode_cursor(scope, after))


def keyset_page(statement: Select[Any], key: ColumnElement[int], args: PageArgs) -> Select[Any]:
    """Restrict a statement to one page (plus one row to tell whether more follow)."""
    if args.after is not None:
        statement = statement.where(key > args.after)
    return statement.order_by(key).limit(args.first + 1)


def partitioned_page(
    statement: Select[Any], parent: ColumnElement[int], key: ColumnElement[int], args: PageArgs
) -> Select[Any]:
    """One page per parent in a single statement: rank rows within each parent and keep the first+1.

    The statement must select `parent` and `key`; the result adds a `_rank` column and is ordered by
    parent, then key.
    """
    if args.after is not None:
        statement = statement.where(key > args.after)
    ranked = statement.add_columns(
        func.row_number().over(partition_by=parent, order_by=key).label("_rank")
    ).subquery()
    return (
        select(ranked)
        .where(ranked.c._rank <= args.first + 1)
        .order_by(ranked.c[parent.key], ranked.c[key.key])  # type: ignore[index]
    )


def parent_pages(
    statement: Select[Any],
    parent: ColumnElement[int],
    key: ColumnElement[int],
    args: PageArgs,
    parents: Sequence[int],
) -> Select[Any]:
    """One page for each of `parents` (`statement` already narrowed to them): a plain keyset page when
    there is one (a `school(code:)`, one group: the database stops reading after `first` + 1 rows), else
    every parent's page in one statement (`partitioned_page`). Rows are ordered by parent, then key."""
    if len(parents) == 1:
        return keyset_page(statement, key, args)
    return partitioned_page(statement, parent, key, args)


def split_pages(
    rows: Iterable[tuple[int, int, R]], parents: Sequence[int], args: PageArgs
) -> dict[int, Page[R]]:
    """Group (parent, key, item) rows, already ordered, into one page per parent (empty pages included)."""
    grouped: dict[int, list[tuple[int, R]]] = {parent: [] for parent in parents}
    for parent, key, item in rows:
        grouped.setdefault(parent, []).append((key, item))
    return {parent: _page(items, args) for parent, items in grouped.items()}


def single_page(rows: Iterable[tuple[int, R]], args: PageArgs) -> Page[R]:
    """Turn (key, item) rows of `keyset_page` into a page."""
    return _page(list(rows), args)


def _page(items: list[tuple[int, R]], args: PageArgs) -> Page[R]:
    return Page(
        items=items[: args.first], has_next=len(items) > args.first, has_previous=args.after is not None
    )
