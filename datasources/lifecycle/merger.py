"""A merger (fusie): two or more schools become one location, an existing one or one with a new BRIN
that the registry load brought in. People, groups, licenses, hub roles and consents move to the target;
the sources say `mergedInto` and stop; every school's automatic LAS coupling is suspended until the
operator finishes (`finish_lifecycle`), so no push of an old LAS undoes the merger meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from datasources.lifecycle.announcements import Announcer
from datasources.lifecycle.consents import merge_consents
from datasources.lifecycle.guards import run_operation, school_codes
from datasources.lifecycle.moves import (
    carry_file_years,
    carry_pending,
    move_groups,
    move_licenses,
    move_members,
    move_roles,
)
from datasources.lifecycle.report import LifecycleReport
from datasources.registry.locations import parse_school_code
from datasources.store.tables import GROUPS, SCHOOLS, STAFF_MEMBERS, STUDENTS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.imports.identities import Kind
    from datasources.lifecycle.guards import Location
    from datasources.lifecycle.moves import Moved


async def merge_schools(
    engine: AsyncEngine,
    *,
    source_codes: Sequence[str],
    target_code: str,
    dry_run: bool,
    performed_by: str,
    require_dpa: bool,
    now: dt.datetime,
) -> LifecycleReport:
    """Merge the sources into the target in one transaction (a dry run reports and changes nothing).
    Refuses an unknown or malformed code, no source, a school merged into itself, a source or target
    that is closed or merged already, and (Conflict) a running import of any of them."""
    sources = school_codes(source_codes)
    target = parse_school_code(target_code)
    if not sources:
        raise BadUserInput("name at least one school to merge")
    if target in sources:
        raise BadUserInput(f"cannot merge {target} into itself")

    async def work(connection: AsyncConnection, locations: dict[str, Location]) -> LifecycleReport:
        into = locations[target]
        for code in [*sources, target]:
            locations[code].refuse_unless_open()
        report = LifecycleReport("MERGE", dry_run, (*sources, target), target_code=target)
        announcer = Announcer(
            [location.id for location in locations.values()], require_dpa=require_dpa, now=now
        )
        await announcer.start(connection)
        moved: list[Moved] = []
        for code in sources:
            moved += await _merge_one(connection, locations[code], into, report, now)
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id == into.id).values(las_coupling_suspended=True)
        )
        await merge_consents(connection, [locations[code] for code in sources], into, report, now)
        for entity_type, kind in (
            ("Group", "groups"),
            ("Student", "students"),
            ("StaffMember", "staff"),
            ("License", "licenses"),
        ):
            report.add(kind, len({entity.row_id for entity in moved if entity.entity_type == entity_type}))
        report.add("feedEvents", await announcer.finish(connection, moved=moved, target_id=into.id))
        return report

    return await run_operation(
        engine, [*sources, target], work, dry_run=dry_run, performed_by=performed_by, now=now
    )


async def _merge_one(
    connection: AsyncConnection, source: Location, target: Location, report: LifecycleReport, now: dt.datetime
) -> list[Moved]:
    """Move everything of one source to the target and mark the source merged into it."""
    group_ids = list(await connection.scalars(select(GROUPS.c.id).where(GROUPS.c.school_id == source.id)))
    moved = await move_groups(connection, group_ids, source, target.id)
    members: tuple[tuple[Kind, Table], ...] = (("student", STUDENTS), ("staff", STAFF_MEMBERS))
    renamed: list[tuple[str, str]] = []
    for kind, table in members:
        ids = list(await connection.scalars(select(table.c.id).where(table.c.school_id == source.id)))
        moved += await move_members(connection, kind, ids, source, target.id, now=now, renamed=renamed)
    # Their login cards show the old username: the coordinator prints those groups' cards again.
    report.add("studentLoginsRenamed", len(renamed))
    moved += await move_licenses(connection, source, target.id)
    report.add("roles", await move_roles(connection, source.id, target.id))
    await carry_file_years(connection, source.id, target.id)
    await carry_pending(connection, moved, source.id, target.id)
    await connection.execute(
        update(SCHOOLS)
        .where(SCHOOLS.c.id == source.id)
        .values(active=False, merged_into_id=target.id, las_coupling_suspended=True)
    )
    return moved
