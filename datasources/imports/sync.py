"""Full sync of one school location and one school year from a school file, in one transaction.

The plan (datasources.imports.plan) says what differs from the stored state (`state`); this module applies
the guards (a known location, the current or next school year, unique teacher e-mail, the removal limit),
has the difference written (`writes`) and its change events recorded (`events`), and reports (`report`).
A dry run, a held import and a refused one all roll back, so the database is exactly as before.

A file for a coming school year adds that year's groups and the people new to the school, both current
from the year's effective date only, and dates the end of the memberships of the people it no longer has
(the day before): the summer's leavers leave on that date without another import (`memberships`).
It changes nobody's data: changes are taken over with the first import of that school year.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import OperationalError

from datasources.feed import schedule
from datasources.feed.recording import record
from datasources.imports import writes
from datasources.imports.couplings import follow_couplings
from datasources.imports.events import record_import_changes
from datasources.imports.memberships import apply_memberships, leaving_warning, load_dates, plan_memberships
from datasources.imports.plan import (
    duplicate_emails,
    group_changed,
    match_groups,
    match_staff,
    match_students,
)
from datasources.imports.report import Counts, ImportRefused, ImportReport
from datasources.imports.state import hand_staff_links, load_state
from datasources.store.calendar import first_day, last_day, school_year_of
from datasources.store.license_rules import apply_rules, coupled_students
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    LICENSES,
    PRODUCTS,
    SCHOOL_FILE_YEARS,
    SCHOOL_YEARS,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.school_files.model import SchoolFile

#: By default an import that would remove more than this share of a school's students is held.
DEFAULT_REMOVAL_LIMIT = 0.3


class _Rollback(Exception):  # noqa: N818 - control flow: leave the transaction without committing
    pass


# Imports of one school never interleave: a process-wide lock per engine and school (the sandbox's
# single process), plus a transaction-scoped advisory lock on PostgreSQL for several workers.
_LOCKS: weakref.WeakKeyDictionary[Any, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(engine: AsyncEngine, school_id: int) -> asyncio.Lock:
    return _LOCKS.setdefault(engine.sync_engine, {}).setdefault(school_id, asyncio.Lock())


def import_lock(engine: AsyncEngine, school_id: int) -> asyncio.Lock:
    """The process-wide lock an import of the school holds while it runs: other work that must not
    interleave with an import (a merger, a split) takes it too, or refuses while it is held."""
    return _lock(engine, school_id)


async def exclusive(connection: AsyncConnection, school_id: int) -> None:
    """Take the school's import lock across processes (PostgreSQL's advisory lock, for the rest of the
    transaction); Conflict while an import of the school runs elsewhere. SQLite serialises writers itself."""
    await _exclusive(connection, school_id)


async def school_of_file(engine: AsyncEngine, code: str) -> int | None:
    """The id of the active location a file is for (a DUO or a managed location), or None."""
    async with engine.connect() as connection:
        found = await connection.execute(select(SCHOOLS.c.id).where(SCHOOLS.c.code == code, SCHOOLS.c.active))
        return found.scalar_one_or_none()


async def sync_school(
    engine: AsyncEngine,
    school_file: SchoolFile,
    *,
    today: dt.date,
    dry_run: bool = False,
    confirm: bool = False,
    removal_limit: float = DEFAULT_REMOVAL_LIMIT,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Apply `school_file` as the whole truth of its school and year; returns the report. Raises
    ImportRefused (nothing changed) for a file that cannot be applied, Conflict while another import of
    the school runs elsewhere."""
    school_file = _normalised(school_file)
    report = ImportReport(school_file.code, school_file.school_year, dry_run=dry_run)
    school_id = await school_of_file(engine, school_file.code)
    if school_id is None:
        report.errors.append(
            f"{school_file.code} is neither a location in the DUO registry nor a managed location of the hub"
        )
        raise ImportRefused(report)
    if school_file.school_year < school_year_of(today):
        report.errors.append(
            f"{school_file.school_year} is a past school year; the hub imports the current or next"
        )
        raise ImportRefused(report)
    if duplicates := duplicate_emails(school_file.staff):
        for keys in duplicates.values():
            report.errors.append(
                f"staff {', '.join(keys)} share one e-mail address; each teacher needs their own"
            )
        raise ImportRefused(report)
    if not dry_run:
        # What fell due before today (a school year's start) comes before this import's own events: a
        # client must hear of next year's groups becoming current before an import that replaces them.
        await schedule.publish_due(engine, today, now or dt.datetime.now(dt.UTC))
    async with _lock(engine, school_id):
        try:
            async with engine.begin() as connection:
                await _exclusive(connection, school_id)
                if not await connection.scalar(select(SCHOOLS.c.active).where(SCHOOLS.c.id == school_id)):
                    # Closed or merged away while this import waited for the school's lock (a lifecycle
                    # operation holds it too): the file is for a location that takes no imports now.
                    report.errors.append(
                        f"{school_file.code} was closed or merged meanwhile; nothing was changed"
                    )
                    raise ImportRefused(report)
                await _plan_and_apply(
                    connection,
                    report,
                    school_file,
                    school_id=school_id,
                    today=today,
                    confirm=confirm,
                    removal_limit=removal_limit,
                    # The hub's clock (LEERPOORT_NOW in the sandbox) dates the change events.
                    now=now or dt.datetime.now(dt.UTC),
                )
                if not report.applied:
                    raise _Rollback
        except _Rollback:
            pass
        except OperationalError as error:
            if "locked" in str(error).lower():
                raise Conflict(
                    "another import of this school is running; try again when it has finished"
                ) from None
            raise
    return report


def _normalised(school_file: SchoolFile) -> SchoolFile:
    """E-mail addresses as the hub stores and compares them (trimmed, lower-case), so that a LAS that
    writes `Anna@School.nl` does not look like a new address (and deactivate the teacher) every import."""
    staff = tuple(
        dataclasses.replace(member, email=member.email.strip().lower() if member.email else None)
        for member in school_file.staff
    )
    return dataclasses.replace(school_file, staff=staff)


async def _exclusive(connection: AsyncConnection, school_id: int) -> None:
    if connection.dialect.name != "postgresql":
        return
    acquired = await connection.scalar(
        text("SELECT pg_try_advisory_xact_lock(4242, :school)"), {"school": school_id}
    )
    if not acquired:
        raise Conflict("another import of this school is running; try again when it has finished")


async def _plan_and_apply(
    connection: AsyncConnection,
    report: ImportReport,
    school_file: SchoolFile,
    *,
    school_id: int,
    today: dt.date,
    confirm: bool,
    removal_limit: float,
    now: dt.datetime,
) -> None:
    year = school_file.school_year
    effective_from = await _school_year(connection, year)
    future = year > school_year_of(today)
    state = await load_state(connection, school_id, year)
    # The first file of the current year at a school still showing an older year's groups.
    turnover = not future and not await schedule.year_begun(connection, school_id, year, today)
    groups = match_groups(state, school_file)
    students = match_students(state, school_file)
    staff = match_staff(state, school_file)
    # Membership dates: a coming year's file dates its new people and its leavers instead of adding and
    # removing them now; this year's file leaves next year's new people alone (memberships).
    student_plan, staff_plan = [
        plan_memberships(matching, dates, today=today, future=future, starts_on=effective_from)
        for matching, dates in (
            (students, await load_dates(connection, STUDENTS, school_id)),
            (staff, await load_dates(connection, STAFF_MEMBERS, school_id)),
        )
    ]
    if future:
        report.warnings.append(
            f"{year} starts on {effective_from.isoformat()}: its groups and new people become current"
            " then; changes to people are taken over with the first import of that school year"
        )
        leaving = leaving_warning(year, effective_from, len(student_plan.leaving), len(staff_plan.leaving))
        if leaving:
            report.warnings.append(leaving)
    # Rows that had already left are no removal of this import.
    removing = len(students.removed) - len(student_plan.silent if not future else ())
    if state.students and removing / len(state.students) > removal_limit and not confirm:
        report.held = True
        report.warnings.append(
            f"the import would remove {removing} of {len(state.students)} students"
            f" (more than {removal_limit:.0%}); send it again with confirm to apply it"
        )
    for member in school_file.staff:
        if not member.email:
            report.warnings.append(
                f"staff {member.key} has no e-mail address and stays inactive until the LAS delivers one"
            )

    # Groups.
    report.groups = Counts(added=len(groups.added), removed=len(groups.removed))
    for stored, imported in groups.pairs:
        if group_changed(stored, imported):
            report.groups.changed += 1
        else:
            report.groups.unchanged += 1
    group_ids = {stored.key: stored.id for stored, _ in groups.pairs}
    if not report.dry_run and not report.held:
        known = set(group_ids.values())
        await writes.write_groups(
            connection, groups, group_ids, school_id=school_id, year=year, effective_from=effective_from
        )
        await follow_couplings(connection, school_id, year, set(group_ids.values()) - known)

    # People (new group ids are known from here on; a dry run has none, which only affects links).
    student_ids = await writes.sync_students(connection, report, school_id, students, future, now=now)
    staff_ids = await writes.sync_staff(connection, report, school_id, staff, future, now=now)
    if report.dry_run or report.held:
        return
    await _received(connection, school_id, year, now)
    for plan, ids, matching, table in (
        (student_plan, student_ids, students, STUDENTS),
        (staff_plan, staff_ids, staff, STAFF_MEMBERS),
    ):
        paired = {stored.id for stored, _ in matching.pairs}
        await apply_memberships(connection, table, plan, (row for row in ids.values() if row not in paired))
    wanted_students = {
        (group_ids[group_key], student_ids[student.key])
        for student in school_file.students
        for group_key in (student.main_group, *student.composite_groups)
        if group_key is not None and group_key in group_ids
    }
    wanted_staff = {
        (group_ids[group_key], staff_ids[member.key])
        for member in school_file.staff
        for group_key in member.groups
        if group_key in group_ids
    }
    await writes.sync_links(connection, GROUP_STUDENTS, "student_id", state.student_links, wanted_students)
    # Links a coordinator gave by hand are no file's to take away (datasources.access.staff_roles).
    wanted_staff |= await hand_staff_links(connection, school_id, year)
    await writes.sync_links(connection, GROUP_STAFF, "staff_id", state.staff_links, wanted_staff)
    await record_import_changes(
        connection,
        school_id=school_id,
        future=future,
        effective_from=effective_from,
        plan=(groups, students, staff),
        group_ids=group_ids,
        links=(state.student_links, wanted_students, state.staff_links, wanted_staff),
        memberships=(student_plan, staff_plan),
        turnover=turnover,
        now=now,
    )
    await _apply_license_rules(connection, report, school_id, today, now)


async def _apply_license_rules(
    connection: AsyncConnection, report: ImportReport, school_id: int, today: dt.date, now: dt.datetime
) -> None:
    """Couple the groups the import brought by the licenses' year-level rules (the rules are the
    authority over their couplings, datasources.imports.couplings). An import is the school's truth and
    is not refused for a license's seats; the coordinator is told instead."""
    changed = await apply_rules(connection, school_id, today)
    await record(connection, await schedule.license_updates(connection, changed), now)
    for license_id in changed:
        found = await connection.execute(
            select(LICENSES.c.seats, PRODUCTS.c.name)
            .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
            .where(LICENSES.c.id == license_id)
        )
        seats, product = found.one()
        taken = await coupled_students(connection, license_id, today)
        if seats is not None and taken > seats:
            report.warnings.append(
                f"the license of {product} is coupled by year level to {taken} students but has {seats}"
                " seats; ask the publisher for more seats or uncouple a group"
            )


async def _received(connection: AsyncConnection, school_id: int, year: str, now: dt.datetime) -> None:
    """Note that a file of `year` came for the school (from the year's start its groups are current)."""
    f = SCHOOL_FILE_YEARS.c
    known = await connection.scalar(
        select(f.school_id).where(f.school_id == school_id, f.school_year == year)
    )
    if known is None:
        await connection.execute(
            insert(SCHOOL_FILE_YEARS).values(school_id=school_id, school_year=year, received_at=now)
        )


async def _school_year(connection: AsyncConnection, year: str) -> dt.date:
    """The start (the groups' effective date) of a school year, recording the year when it is new."""
    starts = await connection.scalar(select(SCHOOL_YEARS.c.starts_on).where(SCHOOL_YEARS.c.name == year))
    if starts is not None:
        return starts  # type: ignore[no-any-return]
    await connection.execute(
        insert(SCHOOL_YEARS).values(name=year, starts_on=first_day(year), ends_on=last_day(year))
    )
    return first_day(year)


async def count_students(engine: AsyncEngine, school_id: int) -> int:
    """How many students a school has (for tests and reports)."""
    async with engine.connect() as connection:
        return int(
            await connection.scalar(select(func.count()).where(STUDENTS.c.school_id == school_id)) or 0
        )


__all__ = ["BadUserInput", "count_students", "sync_school"]
