"""A board transfer (overname): a location moves to another board, whose DPA governs its flows from that
moment (partners get LEFT_SCOPE when the new board has not signed, ENTERED_SCOPE when it has and the old
one had not); and the end of a lifecycle operation, which resumes the automatic LAS coupling."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from datasources.lifecycle.announcements import Announcer
from datasources.lifecycle.consents import keep_consents
from datasources.lifecycle.guards import run_operation
from datasources.lifecycle.report import LifecycleReport
from datasources.registry.duo import normalise_board_number
from datasources.registry.locations import parse_school_code
from datasources.store.tables import BOARDS, SCHOOLS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.lifecycle.guards import Location


async def transfer_school(
    engine: AsyncEngine,
    *,
    code: str,
    board_number: str,
    dry_run: bool,
    performed_by: str,
    require_dpa: bool,
    now: dt.datetime,
) -> LifecycleReport:
    """Move the location to the board `board_number` in one transaction. Refuses a malformed or unknown
    board number, the board it belongs to already, a closed or merged location, and (Conflict) one whose
    import runs. Consents stay (the school's decision); what flows follows the new board's DPA."""
    school_code = parse_school_code(code)
    number = normalise_board_number(board_number)
    if number is None:
        raise BadUserInput(f"board number {board_number.strip()!r} is not a number of at most 5 digits")

    async def work(connection: AsyncConnection, locations: dict[str, Location]) -> LifecycleReport:
        school = locations[school_code]
        school.refuse_unless_open()
        board_id = await connection.scalar(select(BOARDS.c.id).where(BOARDS.c.number == number))
        if board_id is None:
            raise BadUserInput(f"no board has number {number}")
        if board_id == school.board_id:
            raise BadUserInput(f"{school_code} belongs to board {number} already")
        report = LifecycleReport("TRANSFER", dry_run, (school_code,), target_code=school_code)
        announcer = Announcer([school.id], require_dpa=require_dpa, now=now)
        await announcer.start(connection)
        await connection.execute(update(SCHOOLS).where(SCHOOLS.c.id == school.id).values(board_id=board_id))
        await keep_consents(connection, school, report)
        report.add("schools", 1)
        report.add("feedEvents", await announcer.finish(connection))
        return report

    return await run_operation(
        engine, [school_code], work, dry_run=dry_run, performed_by=performed_by, now=now
    )


async def finish_lifecycle(
    engine: AsyncEngine, *, code: str, performed_by: str, now: dt.datetime
) -> LifecycleReport:
    """The operator is done with a merger or split at this location: its automatic LAS coupling resumes.
    Refuses a closed or merged location (their coupling stays suspended)."""
    school_code = parse_school_code(code)

    async def work(connection: AsyncConnection, locations: dict[str, Location]) -> LifecycleReport:
        school = locations[school_code]
        school.refuse_unless_open()
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == school.id).values(las_coupling_suspended=False)
        )
        report = LifecycleReport("FINISH", False, (school_code,), target_code=school_code)
        report.add("schools", 1)
        return report

    return await run_operation(engine, [school_code], work, dry_run=False, performed_by=performed_by, now=now)
