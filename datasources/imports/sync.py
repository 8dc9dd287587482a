"""Full sync of one school location and one school year from a school file, in one transaction.

The plan (datasources.imports.plan) says what differs; this module loads the state, applies the guards
(removal limit, unique teacher e-mail, a known location), and writes the difference. A dry run, a held
import and a refused one all roll back, so the database is exactly as before.

A file for a coming school year adds that year's groups (current from their effective date) and the
people new to the school, but removes and changes nobody: who leaves in the summer leaves with the
first import of the year they leave in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import OperationalError

from datasources.imports.events import record_import_changes
from datasources.imports.plan import (
    SchoolState,
    StoredGroup,
    StoredStaff,
    StoredStudent,
    duplicate_emails,
    group_changed,
    match_groups,
    match_staff,
    match_students,
    staff_changed,
    student_changed,
)
from datasources.store.calendar import first_day, last_day, school_year_of
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    PERSONS,
    SCHOOL_YEARS,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from datasources.school_files.model import SchoolFile

TEACHER = "TEACHER"
#: By default an import that would remove more than this share of a school's students is held.
DEFAULT_REMOVAL_LIMIT = 0.3


@dataclass
class Counts:
    """How many records an import added, changed, removed and left as they were."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """The report of one import (API.md, `ImportReport`)."""

    school_code: str
    school_year: str
    dry_run: bool
    held: bool = False
    groups: Counts = field(default_factory=Counts)
    students: Counts = field(default_factory=Counts)
    staff: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        """Whether the import changed the store (not a dry run, not held, not refused)."""
        return not (self.dry_run or self.held or self.errors)


class ImportRefused(Exception):  # noqa: N818 - reads as the verdict on the file
    """The file cannot be applied; the report says why and nothing was changed."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("; ".join(report.errors))
        self.report = report


class _Rollback(Exception):  # noqa: N818 - control flow: leave the transaction without committing
    pass


# Imports of one school never interleave: a process-wide lock per engine and school (the sandbox's
# single process), plus a transaction-scoped advisory lock on PostgreSQL for several workers.
_LOCKS: weakref.WeakKeyDictionary[Any, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


def _lock(engine: AsyncEngine, school_id: int) -> asyncio.Lock:
    return _LOCKS.setdefault(engine.sync_engine, {}).setdefault(school_id, asyncio.Lock())


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
    async with _lock(engine, school_id):
        try:
            async with engine.begin() as connection:
                await _exclusive(connection, school_id)
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
    state = await _state(connection, school_id, year)
    groups = match_groups(state, school_file)
    students = match_students(state, school_file)
    staff = match_staff(state, school_file)
    if future:
        report.warnings.append(
            f"{year} starts on {effective_from.isoformat()}: its groups become current then; people"
            " leaving or changing are taken over with the first import of that school year"
        )
        students.removed, staff.removed = [], []
    if state.students and len(students.removed) / len(state.students) > removal_limit and not confirm:
        report.held = True
        report.warnings.append(
            f"the import would remove {len(students.removed)} of {len(state.students)} students"
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
        await _write_groups(
            connection, groups, group_ids, school_id=school_id, year=year, effective_from=effective_from
        )

    # People (new group ids are known from here on; a dry run has none, which only affects links).
    student_ids = await _sync_students(connection, report, school_id, students, future)
    staff_ids = await _sync_staff(connection, report, school_id, staff, future)
    if report.dry_run or report.held:
        return
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
    await _sync_links(connection, GROUP_STUDENTS, "student_id", state.student_links, wanted_students)
    await _sync_links(connection, GROUP_STAFF, "staff_id", state.staff_links, wanted_staff)
    await record_import_changes(
        connection,
        school_id=school_id,
        future=future,
        effective_from=effective_from,
        plan=(groups, students, staff),
        group_ids=group_ids,
        links=(state.student_links, wanted_students, state.staff_links, wanted_staff),
        now=now,
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


async def _state(connection: AsyncConnection, school_id: int, year: str) -> SchoolState:
    g, s, m = GROUPS.c, STUDENTS.c, STAFF_MEMBERS.c
    groups = [
        StoredGroup(**row._mapping)
        for row in await connection.execute(
            select(g.id, g.las_key.label("key"), g.name, g.year_level, g.composite).where(
                g.school_id == school_id, g.school_year == year
            )
        )
    ]
    students = [
        StoredStudent(**row._mapping)
        for row in await connection.execute(
            select(
                s.id, s.person_id, s.las_key.label("key"), s.eck_id, s.first_name, s.prefix, s.last_name,
                s.initials, s.date_of_birth, s.year_level,
            ).where(s.school_id == school_id)
        )
    ]  # fmt: skip
    staff = [
        StoredStaff(**(dict(row._mapping) | {"roles": tuple(row.roles), "las_roles": tuple(row.las_roles)}))
        for row in await connection.execute(
            select(
                m.id, m.person_id, m.las_key.label("key"), m.eck_id, m.first_name, m.prefix, m.last_name,
                m.email, m.roles, m.las_roles, m.active,
            ).where(m.school_id == school_id)
        )
    ]  # fmt: skip
    year_groups = select(g.id).where(g.school_id == school_id, g.school_year == year)
    student_links = {
        (row.group_id, row.student_id)
        for row in await connection.execute(
            select(GROUP_STUDENTS.c.group_id, GROUP_STUDENTS.c.student_id).where(
                GROUP_STUDENTS.c.group_id.in_(year_groups)
            )
        )
    }
    staff_links = {
        (row.group_id, row.staff_id)
        for row in await connection.execute(
            select(GROUP_STAFF.c.group_id, GROUP_STAFF.c.staff_id).where(
                GROUP_STAFF.c.group_id.in_(year_groups)
            )
        )
    }
    return SchoolState(
        school_id,
        tuple(groups),
        tuple(students),
        tuple(staff),
        frozenset(student_links),
        frozenset(staff_links),
    )


async def _write_groups(
    connection: AsyncConnection,
    groups: Any,
    group_ids: dict[str, int],
    *,
    school_id: int,
    year: str,
    effective_from: dt.date,
) -> None:
    removed = [group.id for group in groups.removed]
    if removed:
        for link in (GROUP_STUDENTS, GROUP_STAFF, LICENSE_GROUPS):
            await connection.execute(delete(link).where(link.c.group_id.in_(removed)))
        await connection.execute(delete(GROUPS).where(GROUPS.c.id.in_(removed)))
    for stored, imported in groups.pairs:
        if group_changed(stored, imported):
            await connection.execute(
                update(GROUPS)
                .where(GROUPS.c.id == stored.id)
                .values(name=imported.name, year_level=imported.year_level, composite=imported.composite)
            )
    if groups.added:
        inserted = await connection.execute(
            insert(GROUPS).returning(GROUPS.c.id, GROUPS.c.las_key, sort_by_parameter_order=True),
            [
                {
                    "school_id": school_id,
                    "school_year": year,
                    "las_key": group.key,
                    "name": group.name,
                    "year_level": group.year_level,
                    "composite": group.composite,
                    "effective_from": effective_from,
                }
                for group in groups.added
            ],
        )
        group_ids.update({row.las_key: row.id for row in inserted})


async def _new_persons(connection: AsyncConnection, eck_ids: list[str | None], table: Any) -> list[int]:
    """A person for each new member: the person already known by that ECK-iD (a move from another school
    keeps the identity), or a new one."""
    known: dict[str, int] = {}
    wanted = [eck for eck in eck_ids if eck]
    if wanted:
        rows = await connection.execute(
            select(table.c.eck_id, table.c.person_id).where(table.c.eck_id.in_(wanted))
        )
        known = {row.eck_id: row.person_id for row in rows if row.eck_id is not None}
    missing = sum(1 for eck in eck_ids if not eck or eck not in known)
    created: list[int] = []
    if missing:
        now = dt.datetime.now(dt.UTC)
        rows = await connection.execute(
            insert(PERSONS).returning(PERSONS.c.id, sort_by_parameter_order=True),
            [{"created_at": now}] * missing,
        )
        created = [row.id for row in rows]
    fresh = iter(created)
    return [known[eck] if eck and eck in known else next(fresh) for eck in eck_ids]


async def _rekey(connection: AsyncConnection, table: Any, pairs: Iterable[tuple[Any, Any]]) -> None:
    """Give rows their new LAS keys in two steps, so that keys swapped between rows never collide."""
    moving = [(stored.id, imported.key) for stored, imported in pairs if stored.key != imported.key]
    for row_id, _ in moving:
        await connection.execute(update(table).where(table.c.id == row_id).values(las_key=f"~rekey~{row_id}"))
    for row_id, key in moving:
        await connection.execute(update(table).where(table.c.id == row_id).values(las_key=key))


async def _sync_students(
    connection: AsyncConnection, report: ImportReport, school_id: int, students: Any, future: bool
) -> dict[str, int]:
    counts = report.students = Counts(added=len(students.added), removed=len(students.removed))
    changed = [(stored, imported) for stored, imported in students.pairs if student_changed(stored, imported)]
    counts.changed, counts.unchanged = len(changed), len(students.pairs) - len(changed)
    ids = {imported.key: stored.id for stored, imported in students.pairs}
    if report.dry_run or report.held:
        return ids
    removed = [student.id for student in students.removed]
    if removed:
        await connection.execute(delete(GROUP_STUDENTS).where(GROUP_STUDENTS.c.student_id.in_(removed)))
        await connection.execute(delete(STUDENTS).where(STUDENTS.c.id.in_(removed)))
    if not future:
        await _rekey(connection, STUDENTS, students.pairs)
        for stored, imported in changed:
            await connection.execute(
                update(STUDENTS).where(STUDENTS.c.id == stored.id).values(**_student_values(imported))
            )
    if students.added:
        persons = await _new_persons(connection, [student.eck_id for student in students.added], STUDENTS)
        inserted = await connection.execute(
            insert(STUDENTS).returning(STUDENTS.c.id, STUDENTS.c.las_key, sort_by_parameter_order=True),
            [
                {
                    "school_id": school_id,
                    "person_id": person,
                    "las_key": student.key,
                    **_student_values(student),
                }
                for person, student in zip(persons, students.added, strict=True)
            ],
        )
        ids.update({row.las_key: row.id for row in inserted})
    return ids


def _student_values(student: Any) -> dict[str, Any]:
    return {
        "eck_id": student.eck_id,
        "first_name": student.first_name,
        "prefix": student.prefix,
        "last_name": student.last_name,
        "initials": student.initials,
        "date_of_birth": student.date_of_birth,
        "year_level": student.year_level,
        "active": True,
    }


async def _sync_staff(
    connection: AsyncConnection, report: ImportReport, school_id: int, staff: Any, future: bool
) -> dict[str, int]:
    counts = report.staff = Counts(added=len(staff.added), removed=len(staff.removed))
    changed = [(stored, imported) for stored, imported in staff.pairs if staff_changed(stored, imported)]
    counts.changed, counts.unchanged = len(changed), len(staff.pairs) - len(changed)
    ids = {imported.key: stored.id for stored, imported in staff.pairs}
    if report.dry_run or report.held:
        return ids
    removed = [member.id for member in staff.removed]
    if removed:
        await connection.execute(delete(GROUP_STAFF).where(GROUP_STAFF.c.staff_id.in_(removed)))
        await connection.execute(delete(STAFF_MEMBERS).where(STAFF_MEMBERS.c.id.in_(removed)))
    if not future:
        await _rekey(connection, STAFF_MEMBERS, staff.pairs)
        for stored, imported in changed:
            # Roles added by a coordinator survive; a new address must be activated again.
            roles = sorted({TEACHER, *stored.roles})
            active = stored.active and stored.email == imported.email and bool(imported.email)
            await connection.execute(
                update(STAFF_MEMBERS)
                .where(STAFF_MEMBERS.c.id == stored.id)
                .values(**_staff_values(imported), roles=roles, active=active)
            )
    if staff.added:
        persons = await _new_persons(connection, [member.eck_id for member in staff.added], STAFF_MEMBERS)
        inserted = await connection.execute(
            insert(STAFF_MEMBERS).returning(
                STAFF_MEMBERS.c.id, STAFF_MEMBERS.c.las_key, sort_by_parameter_order=True
            ),
            [
                {
                    "school_id": school_id,
                    "person_id": person,
                    "las_key": member.key,
                    "roles": [TEACHER],
                    "active": False,  # until the teacher activates the account with this address
                    **_staff_values(member),
                }
                for person, member in zip(persons, staff.added, strict=True)
            ],
        )
        ids.update({row.las_key: row.id for row in inserted})
    return ids


def _staff_values(member: Any) -> dict[str, Any]:
    return {
        "eck_id": member.eck_id,
        "first_name": member.first_name,
        "prefix": member.prefix,
        "last_name": member.last_name,
        "email": member.email.strip().lower() if member.email else None,
        "las_roles": list(member.las_roles),
    }


async def _sync_links(
    connection: AsyncConnection,
    table: Any,
    member: str,
    current: frozenset[tuple[int, int]],
    wanted: set[tuple[int, int]],
) -> None:
    """Make this year's group links exactly `wanted`."""
    for group_id, member_id in current - wanted:
        await connection.execute(
            delete(table).where(table.c.group_id == group_id, table.c[member] == member_id)
        )
    missing = wanted - current
    if missing:
        await connection.execute(
            insert(table), [{"group_id": group, member: member_id} for group, member_id in missing]
        )


async def count_students(engine: AsyncEngine, school_id: int) -> int:
    """How many students a school has (for tests and reports)."""
    async with engine.connect() as connection:
        return int(
            await connection.scalar(select(func.count()).where(STUDENTS.c.school_id == school_id)) or 0
        )


__all__ = ["BadUserInput", "Counts", "ImportRefused", "ImportReport", "count_students", "sync_school"]
