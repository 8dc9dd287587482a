"""Keyset pagination: opaque cursors, page arguments, and the SQL that pages one or many parents at once.

Pages are ordered by a unique integer key and continue *after* a key, never by OFFSET, so a page costs
the same at the start and the end of a million rows. Nested connections of many parents are paged in one
statement with a window function (rank within each parent), which is what keeps a nested query at a
fixed number of statements whatever the page size.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select

from datasources.store.records import Page
from errors import BadUserInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

R = TypeVar("R")

_CURSOR_PREFIX = "c1:"
#: Keys are 64-bit integers in the database; a larger number cannot come from this API.
_LARGEST_KEY = 2**63 - 1


def encode_cursor(key: int) -> str:
    """The opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sort key of a cursor this hub issued; anything else is a BAD_USER_INPUT error."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput("the cursor is malformed; pass an endCursor this API returned") from None
    number = text.removeprefix(_CURSOR_PREFIX)
    if not text.startswith(_CURSOR_PREFIX) or not number.isdigit() or len(number) > 19:
        raise BadUserInput("the cursor is malformed; pass an endCursor this API returned")
    if int(number) > _LARGEST_KEY:
        raise BadUserInput("the cursor is malformed; pass an endCursor this API returned")
    return int(number)


@dataclass(frozen=True, slots=True)
class PageArgs:
    """Validated `first`/`after` arguments: how many items, after which key."""

    first: int
    after: int | None

    @classmethod
    def parse(cls, first: int | None, after: str | None, *, default: int = 100, cap: int = 1000) -> PageArgs:
        """Validate the client's arguments; a page outside 1..cap is refused, never silently clamped."""
        size = default if first is None else first
        if size < 1 or size > cap:
            raise BadUserInput(f"`first` must be between 1 and {cap}; got {size}")
        return cls(first=size, after=None if after is None else decode_cursor(after))


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
