"""Dated events: changes kept until the day they fall due (a school year's groups on 1 August), and the
scheduler that records them on that day, numbered then (ARCHITECTURE.md, the feed's order)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, insert, select

from datasources.feed.events import CREATED, DELETED, UPDATED, ChangeEntry
from datasources.feed.recording import record
from datasources.store.current import current_members
from datasources.store.license_rules import apply_rules
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    PENDING_CHANGES,
    PRODUCTS,
    SCHOOL_FILE_YEARS,
    STAFF_MEMBERS,
    STUDENTS,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

#: The kind of a pending row that stands for the start of a school year at a school (never published as
#: such): on that date the ending year's groups stop being current and the new year's become current.
SCHOOL_YEAR_STARTS = "SCHOOL_YEAR_STARTS"
#: The member types whose memberships a school year starts or ends: (entity type, table, row category).
_MEMBERS = (("Student", STUDENTS, "STUDENT_BASIC"), ("StaffMember", STAFF_MEMBERS, "STAFF_BASIC"))
_LINKS = {"Student": (GROUP_STUDENTS, "student_id"), "StaffMember": (GROUP_STAFF, "staff_id")}


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
    connection: AsyncConnection, school_id: int, school_year: str, starts_on: dt.date
) -> list[ChangeEntry]:
    """What the start of a school year changes at a school, without any import on that day.

    People whose membership ends the day before (not in the new year's file: group-8 leavers) are
    DELETED, those whose membership begins that day (new in it) CREATED. If the school has groups of the
    new year, the ending year's groups leave the current view too (`year_turnover`) and the licenses'
    year-level rules are re-applied (datasources.store.license_rules); if its LAS has not
    sent the new year's file, its groups stay current (datasources.store.current) and nothing else changes.
    """
    entries = await _memberships_on(connection, school_id, starts_on)
    if await year_begun(connection, school_id, school_year, starts_on):
        begun = {(entry.entity_type, entry.entity_id) for entry in entries}
        entries += await year_turnover(connection, school_id, school_year, starts_on, skip=begun)
        # The licenses' year-level rules now couple the groups of the year that began (and no longer
        # reach the ended year's, which keep their couplings as history).
        turned = {entry.entity_id for entry in entries if entry.entity_type == "License"}
        changed = [lic for lic in await apply_rules(connection, school_id, starts_on) if lic not in turned]
        entries += await license_updates(connection, changed)
    return entries


async def year_begun(connection: AsyncConnection, school_id: int, school_year: str, day: dt.date) -> bool:
    """Whether `school_year` has begun at a school on `day`: a file came for it, or it has effective
    groups of it (datasources.store.current)."""
    g, f = GROUPS.c, SCHOOL_FILE_YEARS.c
    groups = select(g.id).where(
        g.school_id == school_id, g.school_year == school_year, g.effective_from <= day
    )
    files = select(f.school_id).where(f.school_id == school_id, f.school_year == school_year)
    return bool(await connection.scalar(select(exists(groups) | exists(files))))


async def _memberships_on(connection: AsyncConnection, school_id: int, day: dt.date) -> list[ChangeEntry]:
    """DELETED for the school's memberships that ended the day before `day`, CREATED for those that
    begin on it (both dates were set by the import of a coming school year's file)."""
    entries: list[ChangeEntry] = []
    for kind, column, date in (
        (DELETED, "effective_until", day - dt.timedelta(days=1)),
        (CREATED, "effective_from", day),
    ):
        for entity_type, table, basic in _MEMBERS:
            found = await connection.execute(
                select(table.c.id, table.c.person_id)
                .where(table.c.school_id == school_id, table.c[column] == date)
                .order_by(table.c.id)
            )
            entries += [
                ChangeEntry(school_id, entity_type, row.id, kind, (basic,), person_id=row.person_id)
                for row in found
            ]
    return entries


async def year_turnover(
    connection: AsyncConnection,
    school_id: int,
    school_year: str,
    day: dt.date,
    *,
    skip: Collection[tuple[str, int]] = (),
) -> list[ChangeEntry]:
    """The events of a school's groups of `school_year` taking over from the last year's before it: those
    groups leave the current view (DELETED), and every current student and staff member linked to
    a group of either year has other current groups (UPDATED under student.basic / staff.basic), except
    the (entity type, id) pairs in `skip` (which have events of their own), and so has every license
    coupled to them (UPDATED for its partner only)."""
    g = GROUPS.c
    # The year whose groups were current: the one before, or an older one if a year's file never came.
    ended = await connection.scalar(
        select(func.max(g.school_year)).where(g.school_id == school_id, g.school_year < school_year)
    )
    years = (ended or school_year, school_year)
    ending = await connection.execute(
        select(g.id).where(g.school_id == school_id, g.school_year == ended).order_by(g.id)
    )
    entries = [ChangeEntry(school_id, "Group", row.id, DELETED, ("GROUP_BASIC",)) for row in ending]
    either = select(g.id).where(g.school_id == school_id, g.school_year.in_(years))
    for entity_type, table, basic in _MEMBERS:
        link, member = _LINKS[entity_type]
        members = await connection.execute(
            select(table.c.id, table.c.person_id)
            .where(
                table.c.id.in_(select(link.c[member]).where(link.c.group_id.in_(either))),
                current_members(table, day),
            )
            .order_by(table.c.id)
        )
        entries += [
            ChangeEntry(school_id, entity_type, row.id, UPDATED, (basic,), person_id=row.person_id)
            for row in members
            if (entity_type, row.id) not in skip
        ]
    # Licenses coupled to groups of either year now show other coupled groups: each partner hears of its
    # own (another partner's license is nothing it may know of).
    licenses = await connection.execute(
        select(LICENSES.c.id, PRODUCTS.c.partner_id)
        .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
        .where(
            LICENSES.c.id.in_(
                select(LICENSE_GROUPS.c.license_id).where(LICENSE_GROUPS.c.group_id.in_(either))
            )
        )
        .order_by(LICENSES.c.id)
    )
    entries += [
        ChangeEntry(school_id, "License", row.id, UPDATED, ("LICENSE",), partner_id=row.partner_id)
        for row in licenses
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
                entries += await _school_year_changes(
                    connection, row.school_id, row.categories[0], row.due_on
                )
            else:
                entries.append(
                    ChangeEntry(
                        row.school_id, row.entity_type, row.entity_id, row.kind, tuple(row.categories)
                    )
                )
        await record(connection, entries, now)
    return len(entries)


async def license_updates(connection: AsyncConnection, license_ids: Sequence[int]) -> list[ChangeEntry]:
    """UPDATED events of licenses whose couplings changed, each for its own product's partner only
    (another partner's license is nothing a partner may know of)."""
    if not license_ids:
        return []
    rows = await connection.execute(
        select(LICENSES.c.id, LICENSES.c.school_id, PRODUCTS.c.partner_id)
        .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
        .where(LICENSES.c.id.in_(license_ids))
        .order_by(LICENSES.c.id)
    )
    return [
        ChangeEntry(row.school_id, "License", row.id, UPDATED, ("LICENSE",), partner_id=row.partner_id)
        for row in rows
    ]
