"""Dated events: changes kept until the day they fall due (a school year's groups on 1 August), and the
scheduler that records them on that day, numbered then (ARCHITECTURE.md, the feed's order)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select

from datasources.feed.events import DELETED, UPDATED, ChangeEntry
from datasources.feed.recording import record
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    PENDING_CHANGES,
    STAFF_MEMBERS,
    STUDENTS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: The kind of a pending row that stands for the start of a school year at a school (never published as
#: such): on that date the ending year's groups stop being current and the new year's become current.
SCHOOL_YEAR_STARTS = "SCHOOL_YEAR_STARTS"


async def schedule(connection: AsyncConnection, due_on: dt.date, entries: Iterable[ChangeEntry]) -> None:
    """Keep changes that fall due on a date; `publish_due` numbers them when it arrives."""
    rows = [
        {
            "due_on": due_on,
            "school_id": entry.school_id,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "kind": entry.kind,
            "categories": list(entry.categories),
        }
        for entry in entries
    ]
    if rows:
        await connection.execute(insert(PENDING_CHANGES), rows)


async def unschedule(connection: AsyncConnection, entity_type: str, entity_ids: Sequence[int]) -> set[int]:
    """Drop pending changes of entities (removed before their date); returns the ids that had one."""
    if not entity_ids:
        return set()
    found = await connection.execute(
        select(PENDING_CHANGES.c.entity_id).where(
            PENDING_CHANGES.c.entity_type == entity_type, PENDING_CHANGES.c.entity_id.in_(entity_ids)
        )
    )
    pending = {row.entity_id for row in found}
    if pending:
        await connection.execute(
            delete(PENDING_CHANGES).where(
                PENDING_CHANGES.c.entity_type == entity_type, PENDING_CHANGES.c.entity_id.in_(sorted(pending))
            )
        )
    return pending


async def schedule_school_year(
    connection: AsyncConnection, school_id: int, school_year: str, starts_on: dt.date
) -> None:
    """Keep the start of `school_year` at a school for `publish_due` (once, however many imports ask)."""
    p = PENDING_CHANGES.c
    already = await connection.scalar(
        select(p.id)
        .where(p.school_id == school_id, p.kind == SCHOOL_YEAR_STARTS, p.due_on == starts_on)
        .limit(1)
    )
    if already is None:
        await connection.execute(
            insert(PENDING_CHANGES).values(
                due_on=starts_on, school_id=school_id, entity_type="School", entity_id=school_id,
                kind=SCHOOL_YEAR_STARTS, categories=[school_year],
            )
        )  # fmt: skip


async def _school_year_changes(
    connection: AsyncConnection, school_id: int, school_year: str
) -> list[ChangeEntry]:
    """What the start of a school year changes at a school, without any import on that day: the ending
    year's groups leave the current view (DELETED), and every student and staff member linked to a group of
    either year has other current groups (UPDATED under student.basic / staff.basic)."""
    start = int(school_year[:4])
    years = (f"{start - 1}-{start}", school_year)
    g = GROUPS.c
    ending = await connection.execute(
        select(g.id).where(g.school_id == school_id, g.school_year == years[0]).order_by(g.id)
    )
    entries = [ChangeEntry(school_id, "Group", row.id, DELETED, ("GROUP_BASIC",)) for row in ending]
    either = select(g.id).where(g.school_id == school_id, g.school_year.in_(years))
    for entity_type, table, link, member, basic in (
        ("Student", STUDENTS, GROUP_STUDENTS, "student_id", "STUDENT_BASIC"),
        ("StaffMember", STAFF_MEMBERS, GROUP_STAFF, "staff_id", "STAFF_BASIC"),
    ):
        members = await connection.execute(
            select(table.c.id, table.c.person_id)
            .where(table.c.id.in_(select(link.c[member]).where(link.c.group_id.in_(either))))
            .order_by(table.c.id)
        )
        entries += [
            ChangeEntry(school_id, entity_type, row.id, UPDATED, (basic,), person_id=row.person_id)
            for row in members
        ]
    return entries


async def publish_due(engine: AsyncEngine, today: dt.date, now: dt.datetime) -> int:
    """The scheduler: record every pending change due on or before `today`; returns how many events."""
    async with engine.connect() as connection:
        due = await connection.scalar(
            select(PENDING_CHANGES.c.id).where(PENDING_CHANGES.c.due_on <= today).limit(1)
        )
    if due is None:
        return 0
    async with engine.begin() as connection:
        # Taking the rows by deleting them makes a concurrent scheduler find none (it waits for this
        # transaction, then deletes nothing), so nothing is published twice.
        taken = await connection.execute(
            delete(PENDING_CHANGES).where(PENDING_CHANGES.c.due_on <= today).returning(*PENDING_CHANGES.c)
        )
        entries: list[ChangeEntry] = []
        # In the order they fell due: a late scheduler that publishes two school years at once must still
        # create the first year's groups before the second year's start removes them.
        for row in sorted(taken.all(), key=lambda row: (row.due_on, row.id)):
            if row.kind == SCHOOL_YEAR_STARTS:
                entries += await _school_year_changes(connection, row.school_id, row.categories[0])
            else:
                entries.append(
                    ChangeEntry(
                        row.school_id, row.entity_type, row.entity_id, row.kind, tuple(row.categories)
                    )
                )
        await record(connection, entries, now)
    return len(entries)
