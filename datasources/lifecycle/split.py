"""A split (splitsing): chosen groups of a school, with their people, move to another location. The
children keep their identities (and so every partner's ids and pseudonyms); consents do not carry over
silently: the new location gets copies of only the consents the operator chose."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from datasources.lifecycle.announcements import Announcer
from datasources.lifecycle.consents import split_consents
from datasources.lifecycle.guards import run_operation
from datasources.lifecycle.moves import (
    carry_file_years,
    carry_pending,
    drop_links_behind,
    end_couplings,
    move_groups,
    move_members,
)
from datasources.lifecycle.report import LifecycleReport
from datasources.registry.locations import parse_school_code
from datasources.store.tables import GROUP_STAFF, GROUP_STUDENTS, GROUPS, SCHOOLS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.lifecycle.guards import Location


async def split_school(
    engine: AsyncEngine,
    *,
    source_code: str,
    target_code: str,
    group_ids: Sequence[int],
    copy_partner_ids: Collection[int],
    dry_run: bool,
    performed_by: str,
    require_dpa: bool,
    now: dt.datetime,
) -> LifecycleReport:
    """Move the groups `group_ids` of the source, their students and staff, to the target in one
    transaction. A student moves with their main group (stamgroep) and leaves the source's groups that
    stay; a teacher of moving and staying groups becomes a member of both schools (one person). Refuses
    groups of another school, no groups, a composite group whose students' main groups stay (they would
    be left without a main group), a closed or merged school, a split into itself, a partner to copy
    without consent at the source, and (Conflict) a running import of either school."""
    source, target = parse_school_code(source_code), parse_school_code(target_code)
    if source == target:
        raise BadUserInput(f"cannot split {source} into itself")
    chosen = sorted(set(group_ids))
    if not chosen:
        raise BadUserInput("name at least one group to move")

    async def work(connection: AsyncConnection, locations: dict[str, Location]) -> LifecycleReport:
        origin, into = locations[source], locations[target]
        origin.refuse_unless_open()
        into.refuse_unless_open()
        students, staff, partly = await _who_moves(connection, origin, chosen)
        report = LifecycleReport("SPLIT", dry_run, (source, target), target_code=target)
        announcer = Announcer([origin.id, into.id], require_dpa=require_dpa, now=now)
        await announcer.start(connection)
        moved = await move_groups(connection, chosen, origin, into.id)
        renamed: list[tuple[str, str]] = []
        moved += await move_members(
            connection, "student", students, origin, into.id, now=now, renamed=renamed
        )
        report.add("studentLoginsRenamed", len(renamed))
        moved += await move_members(
            connection, "staff", staff, origin, into.id, now=now, copy_ids=partly, copy_groups=chosen
        )
        report.add("links", await drop_links_behind(connection, moved, origin.id))
        report.add("couplings", await end_couplings(connection, chosen, origin.id))
        await carry_file_years(connection, origin.id, into.id)
        await carry_pending(connection, moved, origin.id, into.id)
        await connection.execute(
            update(SCHOOLS).where(SCHOOLS.c.id.in_([origin.id, into.id])).values(las_coupling_suspended=True)
        )
        await split_consents(connection, origin, into, copy_partner_ids, report=report, now=now)
        report.add("groups", len(chosen))
        report.add("students", len(students))
        report.add("staff", len(staff) + len(partly))
        report.add("feedEvents", await announcer.finish(connection, moved=moved, target_id=into.id))
        return report

    return await run_operation(
        engine, [source, target], work, dry_run=dry_run, performed_by=performed_by, now=now
    )


async def _who_moves(
    connection: AsyncConnection, source: Location, group_ids: list[int]
) -> tuple[list[int], list[int], list[int]]:
    """(students who move, staff who move, staff who also stay), or a refusal."""
    groups = {
        row.id: row
        for row in await connection.execute(
            select(GROUPS.c.id, GROUPS.c.school_id, GROUPS.c.composite).where(GROUPS.c.id.in_(group_ids))
        )
    }
    if len(groups) != len(group_ids) or any(row.school_id != source.id for row in groups.values()):
        raise BadUserInput(f"`groupIds` names groups that are not groups of {source.code}")
    main = {group_id for group_id, row in groups.items() if not row.composite}
    links = (
        await connection.execute(
            select(GROUP_STUDENTS.c.student_id, GROUP_STUDENTS.c.group_id).where(
                GROUP_STUDENTS.c.group_id.in_(group_ids)
            )
        )
    ).all()
    students = sorted({link.student_id for link in links if link.group_id in main})
    stranded = {link.student_id for link in links} - set(students)
    if stranded:
        raise BadUserInput(
            f"{len(stranded)} student(s) of the composite groups to move would be left without a main group"
            f" at {source.code}'s new location: move their main groups too"
        )
    teaching = (
        await connection.execute(
            select(GROUP_STAFF.c.staff_id, GROUP_STAFF.c.group_id).where(
                GROUP_STAFF.c.staff_id.in_(
                    select(GROUP_STAFF.c.staff_id).where(GROUP_STAFF.c.group_id.in_(group_ids))
                )
            )
        )
    ).all()
    staying: set[int] = {link.staff_id for link in teaching if link.group_id not in groups}
    everyone = {link.staff_id for link in teaching}
    return students, sorted(everyone - staying), sorted(staying)
