"""A closure (opheffing): every flow of the location stops at once (partners get LEFT_SCOPE and are
asked to delete), its people lose access, and once the retention period has passed its personal data is
deleted (`purge_closed_schools`, run by the server's maintenance loop), the deletion itself recorded in
`lifecycle_operations`. What stays is what holds no personal data: the location, its consent receipts,
its licenses, the feed's and the audit's records (ids, counts, categories)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select, update

from datasources.lifecycle.announcements import Announcer
from datasources.lifecycle.consents import end_consents
from datasources.lifecycle.guards import run_operation
from datasources.lifecycle.report import LifecycleReport
from datasources.registry.locations import parse_school_code
from datasources.store.tables import (
    ACCOUNT_LINKS,
    ACCOUNT_REQUESTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    PAST_MEMBERSHIPS,
    PENDING_CHANGES,
    SCHOOL_FILE_YEARS,
    SCHOOLS,
    STAFF_ACCOUNT_ROLES,
    STAFF_MEMBERS,
    STUDENTS,
)
from errors import BadUserInput

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.lifecycle.guards import Location


async def close_school(
    engine: AsyncEngine, *, code: str, dry_run: bool, performed_by: str, require_dpa: bool, now: dt.datetime
) -> LifecycleReport:
    """Close the location for good in one transaction. A location closed for now (`location close`) may be
    closed for good; one closed for good or merged already is refused, as is (Conflict) one whose import
    runs."""
    school_code = parse_school_code(code)

    async def work(connection: AsyncConnection, locations: dict[str, Location]) -> LifecycleReport:
        school = locations[school_code]
        if school.merged_into_id is not None:
            raise BadUserInput(f"{school_code} has merged into another location")
        if school.closed_at is not None:
            raise BadUserInput(f"{school_code} is closed already")
        report = LifecycleReport("CLOSE", dry_run, (school_code,), target_code=school_code)
        announcer = Announcer([school.id], require_dpa=require_dpa, now=now)
        await announcer.start(connection)
        await connection.execute(
            update(SCHOOLS)
            .where(SCHOOLS.c.id == school.id)
            .values(active=False, closed_at=now, las_coupling_suspended=True)
        )
        # People lose access: coordinators' roles end, staff accounts can no longer be activated or used.
        roles = await connection.execute(
            delete(STAFF_ACCOUNT_ROLES).where(STAFF_ACCOUNT_ROLES.c.school_id == school.id)
        )
        report.add("roles", roles.rowcount or 0)
        await connection.execute(
            update(STAFF_MEMBERS).where(STAFF_MEMBERS.c.school_id == school.id).values(active=False)
        )
        for kind, table in (("groups", GROUPS), ("students", STUDENTS), ("staff", STAFF_MEMBERS)):
            report.add(
                kind,
                await connection.scalar(
                    select(func.count()).select_from(table).where(table.c.school_id == school.id)
                )
                or 0,
            )
        await end_consents(connection, school, report, now)
        report.add("feedEvents", await announcer.finish(connection))
        return report

    return await run_operation(
        engine, [school_code], work, dry_run=dry_run, performed_by=performed_by, now=now
    )


async def purge_closed_schools(
    engine: AsyncEngine, *, now: dt.datetime, retention_days: int, performed_by: str = "scheduler"
) -> list[LifecycleReport]:
    """Delete the personal data of every location closed for good at least `retention_days` ago (and not
    purged yet), one transaction per location; returns a report per location (counts of rows deleted
    per table). Idempotent: run it as often as you like."""
    cutoff = now - dt.timedelta(days=retention_days)
    async with engine.connect() as connection:
        due = list(
            await connection.scalars(
                select(SCHOOLS.c.code)
                .where(
                    SCHOOLS.c.closed_at.is_not(None),
                    SCHOOLS.c.closed_at <= cutoff,
                    SCHOOLS.c.purged_at.is_(None),
                )
                .order_by(SCHOOLS.c.code)
            )
        )
    reports = []
    for code in due:

        async def work(
            connection: AsyncConnection, locations: dict[str, Location], code: str = code
        ) -> LifecycleReport:
            report = LifecycleReport("PURGE", False, (code,), target_code=code)
            await _purge(connection, locations[code].id, report)
            await connection.execute(
                update(SCHOOLS).where(SCHOOLS.c.id == locations[code].id).values(purged_at=now)
            )
            return report

        reports.append(
            await run_operation(engine, [code], work, dry_run=False, performed_by=performed_by, now=now)
        )
    return reports


async def _purge(connection: AsyncConnection, school_id: int, report: LifecycleReport) -> None:
    """Delete what identifies or describes people of the school, children first where keys point."""
    groups = select(GROUPS.c.id).where(GROUPS.c.school_id == school_id)
    students = select(STUDENTS.c.id).where(STUDENTS.c.school_id == school_id)
    staff = select(STAFF_MEMBERS.c.id).where(STAFF_MEMBERS.c.school_id == school_id)
    steps = (
        ("account_links", delete(ACCOUNT_LINKS).where(ACCOUNT_LINKS.c.staff_member_id.in_(staff))),
        (
            "group_students",
            delete(GROUP_STUDENTS).where(
                or_(GROUP_STUDENTS.c.group_id.in_(groups), GROUP_STUDENTS.c.student_id.in_(students))
            ),
        ),
        (
            "group_staff",
            delete(GROUP_STAFF).where(
                or_(GROUP_STAFF.c.group_id.in_(groups), GROUP_STAFF.c.staff_id.in_(staff))
            ),
        ),
        ("license_groups", delete(LICENSE_GROUPS).where(LICENSE_GROUPS.c.group_id.in_(groups))),
        ("pending_changes", delete(PENDING_CHANGES).where(PENDING_CHANGES.c.school_id == school_id)),
        ("students", delete(STUDENTS).where(STUDENTS.c.school_id == school_id)),
        ("staff_members", delete(STAFF_MEMBERS).where(STAFF_MEMBERS.c.school_id == school_id)),
        ("past_memberships", delete(PAST_MEMBERSHIPS).where(PAST_MEMBERSHIPS.c.school_id == school_id)),
        ("groups", delete(GROUPS).where(GROUPS.c.school_id == school_id)),
        ("school_file_years", delete(SCHOOL_FILE_YEARS).where(SCHOOL_FILE_YEARS.c.school_id == school_id)),
        (
            "staff_account_roles",
            delete(STAFF_ACCOUNT_ROLES).where(STAFF_ACCOUNT_ROLES.c.school_id == school_id),
        ),
        # The board's signed request names its director and the first coordinator.
        ("account_requests", delete(ACCOUNT_REQUESTS).where(ACCOUNT_REQUESTS.c.school_id == school_id)),
    )
    for table, statement in steps:
        result = await connection.execute(statement)
        report.add(f"deleted.{table}", result.rowcount or 0)
