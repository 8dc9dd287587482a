"""The change events of an import, recorded in the import's own transaction.

Each event names the categories the change touches, so the feed can leave out an update of fields a
partner was not granted (not even naming them). Groups of a coming school year are scheduled for their
effective date instead: nobody hears of them before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from datasources.feed import recording, schedule
from datasources.feed.events import CREATED, DELETED, UPDATED, ChangeEntry
from datasources.imports.plan import group_changed
from datasources.store.calendar import first_day, school_year_of
from datasources.store.tables import STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.imports.memberships import MembershipPlan

_STUDENT_FIELDS = {
    "STUDENT_BASIC": ("key", "eck_id", "year_level"),
    "STUDENT_NAME": ("first_name", "prefix", "last_name", "initials"),
    "STUDENT_DEMOGRAPHICS": ("date_of_birth",),
}
_STAFF_FIELDS = {
    "STAFF_BASIC": ("key", "eck_id", "las_roles"),
    "STAFF_NAME": ("first_name", "prefix", "last_name"),
    "STAFF_COMMUNICATION": ("email",),
}


def changed_categories(stored: Any, imported: Any, fields: dict[str, tuple[str, ...]]) -> set[str]:
    """The categories whose fields differ between a stored row and its imported record."""
    return {
        category
        for category, names in fields.items()
        if any(getattr(stored, name) != getattr(imported, name) for name in names)
    }


#: The order of an import's events (stable within a kind).
_ORDER = {DELETED: 0, CREATED: 1, UPDATED: 2}


def _next_school_year(school_year: str) -> str:
    start = int(school_year[:4]) + 1
    return f"{start}-{start + 1}"


def _members(links: frozenset[tuple[int, int]] | set[tuple[int, int]]) -> dict[int, set[int]]:
    by_member: dict[int, set[int]] = {}
    for group_id, member_id in links:
        by_member.setdefault(member_id, set()).add(group_id)
    return by_member


async def record_import_changes(
    connection: AsyncConnection,
    *,
    school_id: int,
    future: bool,
    effective_from: dt.date,
    plan: Any,
    group_ids: dict[str, int],
    links: tuple[
        frozenset[tuple[int, int]], set[tuple[int, int]], frozenset[tuple[int, int]], set[tuple[int, int]]
    ],
    memberships: tuple[MembershipPlan, MembershipPlan],
    turnover: bool,
    now: dt.datetime,
) -> None:
    """Record (or schedule) the events of an applied import. `plan` holds the group, student and staff
    matchings; `links` the student and staff group links before and after; `memberships` the students'
    and staff's membership dates (whose changes the scheduler publishes on their date). `turnover` says
    that this is the first file of the current school year at a school that kept an older year's groups
    (its LAS sent the file late): those leave the current view now."""
    groups, students, staff = plan
    entries: list[ChangeEntry] = []
    group_basic = ("GROUP_BASIC",)

    new_groups = [
        ChangeEntry(school_id, "Group", group_ids[group.key], CREATED, group_basic) for group in groups.added
    ]
    removed_groups = [group.id for group in groups.removed]
    # Unschedule before scheduling: on SQLite a new group may have the id of a removed one.
    never_published = await schedule.unschedule(connection, "Group", removed_groups)
    if future:
        await schedule.schedule(connection, effective_from, new_groups)
    else:
        entries += new_groups
    # The file's groups stop being current when the next school year starts (and a coming year's become
    # current when it starts): partners hear of it on that day, whether or not an import comes then.
    year = school_year_of(effective_from)
    for starting in (_next_school_year(year), year) if future else (_next_school_year(year),):
        await schedule.schedule_school_year(connection, school_id, starting, first_day(starting))
    entries += [
        ChangeEntry(school_id, "Group", group_id, DELETED, group_basic)
        for group_id in removed_groups
        if group_id not in never_published
    ]
    entries += [
        ChangeEntry(school_id, "Group", stored.id, UPDATED, group_basic)
        for stored, imported in groups.pairs
        if group_changed(stored, imported) and not future
    ]

    # A group that becomes composite (or main) changes its members' main group and the order of their
    # groups, without any change of their own.
    flipped = {stored.id for stored, imported in groups.pairs if stored.composite != imported.composite}
    persons = await _persons(connection, school_id)
    student_links_before, student_links_after, staff_links_before, staff_links_after = links
    entries += _people_changes(
        school_id, "Student", students, fields=_STUDENT_FIELDS, basic="STUDENT_BASIC", persons=persons[0],
        memberships=(_members(student_links_before), _members(student_links_after)), dates=memberships[0],
        flipped=flipped,
    )  # fmt: skip
    entries += _people_changes(
        school_id, "StaffMember", staff, fields=_STAFF_FIELDS, basic="STAFF_BASIC", persons=persons[1],
        memberships=(_members(staff_links_before), _members(staff_links_after)), dates=memberships[1],
        flipped=flipped,
    )  # fmt: skip
    if turnover:
        told = {(entry.entity_type, entry.entity_id) for entry in entries}
        entries += await schedule.year_turnover(connection, school_id, year, effective_from, skip=told)
    # Deletions first: SQLite may give a new row the id of a row deleted in the same import, and a
    # client applying CREATED before DELETED of that id would delete what was just created.
    entries.sort(key=lambda entry: _ORDER[entry.kind])
    await recording.record(connection, entries, now)


def _people_changes(
    school_id: int,
    entity_type: str,
    matching: Any,
    *,
    fields: dict[str, tuple[str, ...]],
    basic: str,
    persons: dict[str, tuple[int, int]],
    memberships: tuple[dict[int, set[int]], dict[int, set[int]]],
    dates: MembershipPlan,
    flipped: set[int],
) -> list[ChangeEntry]:
    before, after = memberships
    future = dates.future
    # A coming year's new people are CREATED on its first day, by the scheduler (they are unseen before).
    entries = (
        []
        if future
        else [
            ChangeEntry(
                school_id,
                entity_type,
                persons[record.key][0],
                CREATED,
                (basic,),
                person_id=persons[record.key][1],
            )
            for record in matching.added
            if record.key in persons
        ]
    )
    entries += [
        ChangeEntry(school_id, entity_type, stored.id, DELETED, (basic,), person_id=stored.person_id)
        for stored in matching.removed
        if stored.id not in dates.silent
    ]
    if future:
        return entries
    for stored, imported in matching.pairs:
        if stored.id in dates.joining:
            # Not seen before (next year's, or gone): a member from now on.
            entries.append(
                ChangeEntry(school_id, entity_type, stored.id, CREATED, (basic,), person_id=stored.person_id)
            )
            continue
        categories = changed_categories(stored, imported, fields)
        if getattr(stored, "active", False) and not (imported.email and stored.email == imported.email):
            categories.add(basic)  # a new address deactivates the account (`active` is staff.basic)
        groups = after.get(stored.id, set())
        if before.get(stored.id, set()) != groups or groups & flipped:
            categories.add(basic)  # group memberships belong to student.basic / staff.basic
        if categories:
            entries.append(
                ChangeEntry(
                    school_id, entity_type, stored.id, UPDATED, tuple(sorted(categories)), stored.person_id
                )
            )
    return entries


async def _persons(
    connection: AsyncConnection, school_id: int
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """LAS key → (row id, person id) of the school's students and staff after the import."""
    found: list[dict[str, tuple[int, int]]] = []
    for table in (STUDENTS, STAFF_MEMBERS):
        rows = await connection.execute(
            select(table.c.las_key, table.c.id, table.c.person_id).where(table.c.school_id == school_id)
        )
        found.append({row.las_key: (row.id, row.person_id) for row in rows})
    return found[0], found[1]
