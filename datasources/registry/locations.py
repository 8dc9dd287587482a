"""Operator changes to school locations (vestigingen) outside a registry load.

Three changes live here. A *managed location* is one DUO does not list (a test or inspection location): the
helpdesk adds it by hand. A *new BRIN* is DUO giving an existing location another code: the DUO file does not
say which new BRIN replaced which old one, so the operator records it, and the location keeps its identity
(row id, people, consents, licenses, `INSTELLING_REF`, and thereby every partner-scoped id) under the new
code. The old code is not kept: afterwards it resolves to nothing. A *closure* (and a reopening) is decided
by people, never by a missing line in DUO's file: a closed location discloses nothing, so partners with
consent there are told to delete what they hold of it (and get it back when it reopens).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from datasources.feed.scope_changes import bring_in_line
from datasources.registry.duo import (
    BRIN_PATTERN,
    LOCATION_CODE_PATTERN,
    ensure_boards,
    normalise_board_number,
)
from datasources.store.tables import BOARDS, SCHOOLS
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Column
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_NAME_MAX = 200
_CODE_LENGTH = 6
_BRIN_LENGTH = 4
#: How a refusal names what a row holds, where the table's own name would mislead.
_HOLDINGS = {"schools": "locations merged into it", "staff_account_roles": "coordinators"}


@dataclass(frozen=True, slots=True)
class ManagedLocation:
    """A location the helpdesk added by hand; `board_created` says whether its board was new to the hub."""

    school_id: int
    code: str
    name: str
    board_number: str
    instelling_ref: str
    board_created: bool


@dataclass(frozen=True, slots=True)
class LinkedLocation:
    """A location that took a new code. `merged` says whether an empty row that a registry load had already
    made for the new code was folded into it; its name and board are then the registry's."""

    school_id: int
    old_code: str
    new_code: str
    name: str
    board_number: str
    merged: bool


def parse_school_code(text: str) -> str:
    """A school code as stored ("16ah00 " → "16AH00"); refuses anything but BRIN plus location code."""
    code = text.strip().upper()
    if not (
        len(code) == _CODE_LENGTH
        and BRIN_PATTERN.fullmatch(code[:_BRIN_LENGTH])
        and LOCATION_CODE_PATTERN.fullmatch(code[_BRIN_LENGTH:])
    ):
        raise BadUserInput(f"{text.strip()!r} is not a school code (2 digits, 2 letters, 2 digits: 16AH00)")
    return code


def _parse_brin_or_code(text: str) -> str:
    value = text.strip().upper()
    if len(value) == _BRIN_LENGTH and BRIN_PATTERN.fullmatch(value):
        return value
    if len(value) == _CODE_LENGTH:
        return parse_school_code(value)
    raise BadUserInput(f"{text.strip()!r} is neither a BRIN (16AH) nor a school code (16AH00)")


async def add_managed_location(
    engine: AsyncEngine, *, code: str, name: str, board_number: str
) -> ManagedLocation:
    """Add a location DUO does not list, under `board_number` (created, named after its number, when the hub
    does not know it). Refuses a malformed code, name or board number, and a code the hub already has,
    whether DUO listed it or someone added it by hand."""
    school_code = parse_school_code(code)
    school_name = " ".join(name.split())
    if not school_name:
        raise BadUserInput("a location needs a name")
    if len(school_name) > _NAME_MAX:
        raise BadUserInput(f"the name is longer than {_NAME_MAX} characters")
    number = normalise_board_number(board_number)
    if number is None:
        raise BadUserInput(f"board number {board_number.strip()!r} is not a number of at most 5 digits")
    # Opaque and random, as for DUO locations: a login shortcut must not reveal or follow the code.
    instelling_ref = uuid.uuid4().hex
    try:
        async with engine.begin() as connection:
            existing = await _school_rows(connection, SCHOOLS.c.code == school_code)
            if existing:
                raise Conflict(f"school {school_code} already exists ({_describe(existing[0])})")
            boards = await ensure_boards(connection, [number])
            inserted = await connection.execute(
                insert(SCHOOLS)
                .values(
                    brin=school_code[:_BRIN_LENGTH],
                    location_code=school_code[_BRIN_LENGTH:],
                    code=school_code,
                    name=school_name,
                    board_id=boards.by_number[number],
                    instelling_ref=instelling_ref,
                    source="manual",
                )
                .returning(SCHOOLS.c.id)
            )
            school_id = int(inserted.scalar_one())
    except IntegrityError:
        # Another process added the code (or the board) between the check and the insert.
        raise Conflict(
            f"school {school_code} was added by someone else just now; nothing was changed"
        ) from None
    return ManagedLocation(
        school_id=school_id,
        code=school_code,
        name=school_name,
        board_number=number,
        instelling_ref=instelling_ref,
        board_created=bool(boards.created),
    )


async def link_new_brin(
    engine: AsyncEngine,
    *,
    old: str,
    new: str,
    require_dpa: bool = True,
    now: dt.datetime | None = None,
) -> tuple[LinkedLocation, ...]:
    """Record that DUO gave existing locations a new code, in one transaction; returns them by old code.

    `old` and `new` are both BRINs (every location of the old BRIN moves, keeping its location code) or both
    school codes (that one location moves). A location keeps its row, and with it everything attached to
    it; only its BRIN, location code and code change. When a registry load already made a row for a new
    code, that row is merged away if it is empty (the location takes its official name and board) and the
    whole link is refused if it holds anything. Nothing changes on a refusal. A location that thereby
    takes another board falls under that board's DPA: partners' feeds are brought in line (at `now`).
    """
    old_value, new_value = _parse_brin_or_code(old), _parse_brin_or_code(new)
    if len(old_value) != len(new_value):
        raise BadUserInput("give two BRINs (16AH 30XY) or two school codes (16AH00 30XY00), not one of each")
    if old_value == new_value:
        raise BadUserInput(f"{old_value} is both the old and the new code")
    try:
        async with engine.begin() as connection:
            linked = await _link(connection, old_value, new_value)
            await bring_in_line(
                connection,
                school_ids=[location.school_id for location in linked if location.merged],
                require_dpa=require_dpa,
                now=now or dt.datetime.now(dt.UTC),
            )
            return linked
    except IntegrityError:
        # A concurrent import or load touched one of the rows after the checks; the transaction is undone.
        raise Conflict(
            f"{old_value} or {new_value} changed while linking; nothing was changed, try again"
        ) from None


async def _link(connection: AsyncConnection, old: str, new: str) -> tuple[LinkedLocation, ...]:
    by_brin = len(old) == _BRIN_LENGTH
    column = SCHOOLS.c.brin if by_brin else SCHOOLS.c.code
    moving = await _school_rows(connection, column == old)
    if not moving:
        raise BadUserInput(f"no location has {'BRIN' if by_brin else 'code'} {old}")
    targets = {
        row.code: row
        for row in await _school_rows(
            connection, SCHOOLS.c.code.in_([_new_code(row.code, new) for row in moving])
        )
    }
    # Check every target before changing anything, so a refusal names the problem and leaves no trace.
    for row in moving:
        target = targets.get(_new_code(row.code, new))
        if target is not None:
            await _refuse_unless_empty(connection, target, row.code)
    linked: list[LinkedLocation] = []
    for row in moving:
        new_code = _new_code(row.code, new)
        target = targets.get(new_code)
        values: dict[str, Any] = {
            "brin": new_code[:_BRIN_LENGTH],
            "location_code": new_code[_BRIN_LENGTH:],
            "code": new_code,
        }
        name, board_number = row.name, row.board_number
        if target is not None:
            # The empty row goes first: the code and (brin, location_code) are unique.
            await connection.execute(delete(SCHOOLS).where(SCHOOLS.c.id == target.id))
            values |= {"name": target.name, "board_id": target.board_id, "source": target.source}
            name, board_number = target.name, target.board_number
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == row.id).values(**values))
        linked.append(LinkedLocation(row.id, row.code, new_code, name, board_number, target is not None))
    return tuple(linked)


async def set_school_active(
    engine: AsyncEngine, *, code: str, active: bool, now: dt.datetime, require_dpa: bool = True
) -> int:
    """Close (`active=False`) or reopen a location; returns its id. A closed location discloses nothing and
    takes no imports: partners with consent there get LEFT_SCOPE, and ENTERED_SCOPE when it reopens.
    Its consents, people and data stay. Refuses an unknown code, and reopening a location closed for good
    or merged into another (datasources.lifecycle); nothing changes then."""
    school_code = parse_school_code(code)
    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(SCHOOLS.c.id, SCHOOLS.c.closed_at, SCHOOLS.c.merged_into_id)
                .where(SCHOOLS.c.code == school_code)
                .with_for_update()
            )
        ).one_or_none()
        if found is None:
            raise BadUserInput(f"no location has code {school_code}")
        if active and (found.closed_at is not None or found.merged_into_id is not None):
            # A closure for good (opheffing) or a merger is final: its people have gone or will be deleted.
            what = "was closed for good" if found.closed_at is not None else "merged into another location"
            raise Conflict(f"{school_code} {what}; it cannot be reopened")
        school_id = found.id
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == school_id).values(active=active))
        await bring_in_line(connection, school_ids=[school_id], require_dpa=require_dpa, now=now)
    return int(school_id)


def _new_code(old_code: str, new: str) -> str:
    """The code a location moves to: a new BRIN keeps the location code, a new code is taken whole."""
    return new + old_code[_BRIN_LENGTH:] if len(new) == _BRIN_LENGTH else new


async def _refuse_unless_empty(connection: AsyncConnection, target: _Location, old_code: str) -> None:
    """Refuse the link when the row at the new code holds anything: merging two schools' data is a merger
    (fusie), decided by people, not a change of code."""
    holding = {
        _HOLDINGS.get(column.table.name, column.table.name.replace("_", " "))
        for column in _school_references()
        if (await connection.execute(select(exists().where(column == target.id)))).scalar()
    }
    if holding:
        raise Conflict(
            f"cannot link {old_code} to {target.code}: {target.code} already holds data "
            f"({', '.join(sorted(holding))}); that is a merger, not a new BRIN"
        )


def _school_references() -> list[Column[Any]]:
    """Every column that points at a school row. Read from the metadata, so a table added later counts as
    data too and a merge can never delete a row that something still refers to."""
    return [
        key.parent
        for table in SQLModel.metadata.sorted_tables
        for key in table.foreign_keys
        if key.column is SCHOOLS.c.id
    ]


@dataclass(frozen=True, slots=True)
class _Location:
    id: int
    code: str
    name: str
    board_id: int
    source: str
    board_number: str


async def _school_rows(connection: AsyncConnection, condition: Any) -> Sequence[_Location]:
    # FOR UPDATE holds the rows against a concurrent link on PostgreSQL; SQLite serialises writers itself.
    statement = (
        select(
            SCHOOLS.c.id,
            SCHOOLS.c.code,
            SCHOOLS.c.name,
            SCHOOLS.c.board_id,
            SCHOOLS.c.source,
            BOARDS.c.number.label("board_number"),
        )
        .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
        .where(condition)
        .order_by(SCHOOLS.c.code)
        .with_for_update(of=SCHOOLS)
    )
    return [_Location(**row._mapping) for row in await connection.execute(statement)]


def _describe(row: _Location) -> str:
    kind = "a DUO location" if row.source == "duo" else "a managed location"
    return f"{kind}: {row.name}"


async def rename_managed_location(engine: AsyncEngine, *, code: str, name: str) -> ManagedLocation:
    """Give a managed location another name. DUO's locations are named by DUO (a registry load would undo
    it), so only a location the helpdesk added can be renamed, and not once it has ended."""
    school_name = " ".join(name.split())
    if not school_name:
        raise BadUserInput("a location needs a name")
    if len(school_name) > _NAME_MAX:
        raise BadUserInput(f"the name is longer than {_NAME_MAX} characters")
    async with engine.begin() as connection:
        location = await _managed(connection, code)
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == location.id).values(name=school_name))
    return location.managed(name=school_name)


async def end_managed_location(engine: AsyncEngine, *, code: str) -> ManagedLocation:
    """End a managed location: it stays in the hub with its history (ids, audit), but is no longer active,
    so partners read nothing more of it. DUO's locations end when DUO no longer lists them."""
    async with engine.begin() as connection:
        location = await _managed(connection, code)
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == location.id).values(active=False))
    return location.managed(name=location.name)


@dataclass(frozen=True, slots=True)
class _ManagedRow:
    id: int
    code: str
    name: str
    board_number: str
    instelling_ref: str

    def managed(self, *, name: str) -> ManagedLocation:
        return ManagedLocation(
            school_id=self.id,
            code=self.code,
            name=name,
            board_number=self.board_number,
            instelling_ref=self.instelling_ref,
            board_created=False,
        )


async def _managed(connection: AsyncConnection, code: str) -> _ManagedRow:
    """The active managed location with this code, locked for the change; refused otherwise."""
    school_code = parse_school_code(code)
    found = (
        await connection.execute(
            select(
                SCHOOLS.c.id,
                SCHOOLS.c.code,
                SCHOOLS.c.name,
                SCHOOLS.c.source,
                SCHOOLS.c.active,
                SCHOOLS.c.instelling_ref,
                BOARDS.c.number.label("board_number"),
            )
            .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
            .where(SCHOOLS.c.code == school_code)
            .with_for_update(of=SCHOOLS)
        )
    ).one_or_none()
    if found is None:
        raise BadUserInput(f"no school with code {school_code}")
    if found.source != "manual":
        raise BadUserInput(
            f"{school_code} is a DUO location: DUO names and ends it, the registry load follows"
        )
    if not found.active:
        raise Conflict(f"the managed location {school_code} has ended")
    return _ManagedRow(found.id, found.code, found.name, found.board_number, found.instelling_ref)
