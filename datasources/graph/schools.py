"""Boards and school locations, read within a scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, select

from datasources.store.columns import Columns
from datasources.store.id_lists import among
from datasources.store.pagination import (
    PageArgs,
    keyset_page,
    parent_pages,
    single_page,
    split_pages,
)
from datasources.store.records import BoardRecord, Page, SchoolRecord
from datasources.store.scoping import public_id, visible_schools
from datasources.store.statements import remembered, scope_key
from datasources.store.tables import BOARDS, SCHOOLS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader

SCHOOL = Columns.of(SchoolRecord, computed=["public_id"])
BOARD = Columns.of(BoardRecord, computed=["public_id"])


def school_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a school record (a school's own data is no category: any viewer of it sees them)."""
    s = SCHOOLS.c
    return SCHOOL.labelled(
        id=s.id,
        code=s.code,
        brin=s.brin,
        location_code=s.location_code,
        name=s.name,
        board_id=s.board_id,
        active=s.active,
        merged_into_id=s.merged_into_id,
    )


def board_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a board record."""
    b = BOARDS.c
    return BOARD.labelled(
        id=b.id,
        number=b.number,
        name=b.name,
        dpa_signed_at=b.dpa_signed_at,
        dpa_signed_by=b.dpa_signed_by,
        dpa_chamber_of_commerce_number=b.dpa_chamber_of_commerce_number,
        dpa_version=b.dpa_version,
    )


def school_record(scope: Scope, row: AnyRow) -> SchoolRecord:
    """A school record from a row that starts with `school_columns`."""
    return SchoolRecord(
        id=row[SCHOOL.id],
        public_id=public_id(scope, "School", row[SCHOOL.id]),
        code=row[SCHOOL.code],
        brin=row[SCHOOL.brin],
        location_code=row[SCHOOL.location_code],
        name=row[SCHOOL.name],
        board_id=row[SCHOOL.board_id],
        active=row[SCHOOL.active],
        merged_into_id=row[SCHOOL.merged_into_id],
    )


def board_record(scope: Scope, row: AnyRow) -> BoardRecord:
    """A board record from a row that starts with `board_columns`."""
    return BoardRecord(
        id=row[BOARD.id],
        public_id=public_id(scope, "Board", row[BOARD.id]),
        number=row[BOARD.number],
        name=row[BOARD.name],
        dpa_signed_at=row[BOARD.dpa_signed_at],
        dpa_signed_by=row[BOARD.dpa_signed_by],
        dpa_chamber_of_commerce_number=row[BOARD.dpa_chamber_of_commerce_number],
        dpa_version=row[BOARD.dpa_version],
    )


def _schools(scope: Scope) -> Any:
    return select(*school_columns()).where(visible_schools(scope, SCHOOLS.c.id))


async def schools_page(reader: Reader, scope: Scope, args: PageArgs) -> Page[SchoolRecord]:
    """A page of the schools the scope makes visible, in a stable order."""
    rows = await reader.rows(keyset_page(_schools(scope), SCHOOLS.c.id, args))
    return single_page(((row[SCHOOL.id], school_record(scope, row)) for row in rows), args)


async def schools_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, SchoolRecord]:
    """The visible schools among `ids`."""
    rows = await reader.rows(_schools(scope).where(among(SCHOOLS.c.id, ids)))
    return {row[SCHOOL.id]: school_record(scope, row) for row in rows}


async def schools_by_code(reader: Reader, scope: Scope, codes: Sequence[str]) -> dict[str, SchoolRecord]:
    """The visible schools among `codes` (BRIN + location code)."""
    statement = remembered(
        ("schools_by_code", scope_key(scope), tuple(codes)),
        lambda: _schools(scope).where(SCHOOLS.c.code.in_(codes)),
    )
    rows = await reader.rows(statement)
    return {row[SCHOOL.code]: school_record(scope, row) for row in rows}


async def schools_by_board(
    reader: Reader, scope: Scope, board_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[SchoolRecord]]:
    """One page of visible schools for each board."""
    statement = parent_pages(
        _schools(scope).where(SCHOOLS.c.board_id.in_(board_ids)),
        SCHOOLS.c.board_id,
        SCHOOLS.c.id,
        args,
        board_ids,
    )
    rows = await reader.rows(statement)
    return split_pages(
        ((row[SCHOOL.board_id], row[SCHOOL.id], school_record(scope, row)) for row in rows), board_ids, args
    )


def _boards(scope: Scope) -> Any:
    # A board is visible when one of its schools is; the operator sees every board.
    statement = select(*board_columns())
    if not scope.is_unrestricted:
        statement = statement.where(
            BOARDS.c.id.in_(select(SCHOOLS.c.board_id).where(visible_schools(scope, SCHOOLS.c.id)))
        )
    return statement


async def boards_page(
    reader: Reader, scope: Scope, args: PageArgs, *, dpa_signed: bool | None = None
) -> Page[BoardRecord]:
    """A page of the visible boards; with `dpa_signed`, only those whose DPA is (or is not) signed."""
    statement = _boards(scope)
    if dpa_signed is not None:
        signed = BOARDS.c.dpa_signed_at
        statement = statement.where(signed.is_not(None) if dpa_signed else signed.is_(None))
    rows = await reader.rows(keyset_page(statement, BOARDS.c.id, args))
    return single_page(((row[BOARD.id], board_record(scope, row)) for row in rows), args)


async def boards_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, BoardRecord]:
    """The visible boards among `ids`."""
    rows = await reader.rows(_boards(scope).where(BOARDS.c.id.in_(ids)))
    return {row[BOARD.id]: board_record(scope, row) for row in rows}


async def instelling_refs_by_school(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, str]:
    """The INSTELLING_REF of each school among `ids` that the scope manages (a coordinator's schools, every
    school for the operator): the reference of the school's sign-in shortcuts, read for nobody else."""
    statement = select(SCHOOLS.c.id, SCHOOLS.c.instelling_ref).where(SCHOOLS.c.id.in_(ids))
    if not scope.is_unrestricted:
        statement = statement.where(SCHOOLS.c.id.in_(sorted(scope.managed_school_ids) or [-1]))
    return {row.id: row.instelling_ref for row in await reader.rows(statement)}
