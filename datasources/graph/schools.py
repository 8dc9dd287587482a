"""Boards and school locations, read within a scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select

from datasources.store.pagination import PageArgs, keyset_page, partitioned_page, single_page, split_pages
from datasources.store.records import BoardRecord, Page, SchoolRecord
from datasources.store.scoping import public_id, visible_schools
from datasources.store.tables import BOARDS, SCHOOLS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader

_SCHOOL_COLUMNS: tuple[ColumnElement[Any], ...] = (
    SCHOOLS.c.id,
    SCHOOLS.c.code,
    SCHOOLS.c.brin,
    SCHOOLS.c.location_code,
    SCHOOLS.c.name,
    SCHOOLS.c.board_id,
    SCHOOLS.c.active,
    SCHOOLS.c.merged_into_id,
)
_BOARD_COLUMNS: tuple[ColumnElement[Any], ...] = (
    BOARDS.c.id,
    BOARDS.c.number,
    BOARDS.c.name,
    BOARDS.c.dpa_signed_at,
    BOARDS.c.dpa_signed_by,
    BOARDS.c.dpa_chamber_of_commerce_number,
    BOARDS.c.dpa_version,
)


def _school(scope: Scope, row: AnyRow) -> SchoolRecord:
    return SchoolRecord(row[0], public_id(scope, "School", row[0]), *row[1:8])


def _board(scope: Scope, row: AnyRow) -> BoardRecord:
    return BoardRecord(row[0], public_id(scope, "Board", row[0]), *row[1:7])


def _schools(scope: Scope) -> Any:
    return select(*_SCHOOL_COLUMNS).where(visible_schools(scope, SCHOOLS.c.id))


async def schools_page(reader: Reader, scope: Scope, args: PageArgs) -> Page[SchoolRecord]:
    """A page of the schools the scope makes visible, in a stable order."""
    rows = await reader.rows(keyset_page(_schools(scope), SCHOOLS.c.id, args))
    return single_page(((row[0], _school(scope, row)) for row in rows), args)


async def schools_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, SchoolRecord]:
    """The visible schools among `ids`."""
    rows = await reader.rows(_schools(scope).where(SCHOOLS.c.id.in_(ids)))
    return {row[0]: _school(scope, row) for row in rows}


async def schools_by_code(reader: Reader, scope: Scope, codes: Sequence[str]) -> dict[str, SchoolRecord]:
    """The visible schools among `codes` (BRIN + location code)."""
    rows = await reader.rows(_schools(scope).where(SCHOOLS.c.code.in_(codes)))
    return {row[1]: _school(scope, row) for row in rows}


async def schools_by_board(
    reader: Reader, scope: Scope, board_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[SchoolRecord]]:
    """One page of visible schools for each board."""
    statement = partitioned_page(
        _schools(scope).where(SCHOOLS.c.board_id.in_(board_ids)), SCHOOLS.c.board_id, SCHOOLS.c.id, args
    )
    rows = await reader.rows(statement)
    return split_pages(((row[5], row[0], _school(scope, row)) for row in rows), board_ids, args)


def _boards(scope: Scope) -> Any:
    # A board is visible when one of its schools is; the operator sees every board.
    statement = select(*_BOARD_COLUMNS)
    if not scope.is_unrestricted:
        statement = statement.where(
            BOARDS.c.id.in_(select(SCHOOLS.c.board_id).where(visible_schools(scope, SCHOOLS.c.id)))
        )
    return statement


async def boards_page(reader: Reader, scope: Scope, args: PageArgs) -> Page[BoardRecord]:
    """A page of the visible boards."""
    rows = await reader.rows(keyset_page(_boards(scope), BOARDS.c.id, args))
    return single_page(((row[0], _board(scope, row)) for row in rows), args)


async def boards_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, BoardRecord]:
    """The visible boards among `ids`."""
    rows = await reader.rows(_boards(scope).where(BOARDS.c.id.in_(ids)))
    return {row[0]: _board(scope, row) for row in rows}
