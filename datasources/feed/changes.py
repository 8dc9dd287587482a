"""The change feed's store: numbering and recording changes, scheduling dated ones, reading a viewer's feed.

Numbers come from one counter row that a writer updates inside the transaction of the change itself:
on PostgreSQL the row lock makes writers take numbers in commit order, on SQLite writers are serialised
anyway, so a reader never passes an event that later commits with a lower number (ARCHITECTURE.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from auth.categories import DataCategory
from datasources.store.tables import (
    CHANGE_COUNTER,
    CHANGE_EVENTS,
    CONSENTS,
    DELETION_ACKNOWLEDGEMENTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    PENDING_CHANGES,
    SCHOOLS,
    STAFF_MEMBERS,
    STUDENTS,
)
from errors import BadUserInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from auth.policy import Scope
    from datasources.store.reader import Reader

CREATED, UPDATED, DELETED, ENTERED_SCOPE, LEFT_SCOPE = (
    "CREATED",
    "UPDATED",
    "DELETED",
    "ENTERED_SCOPE",
    "LEFT_SCOPE",
)

#: The category without which a viewer sees no row of an entity type at all.
ROW_CATEGORY: dict[str, DataCategory] = {
    "School": DataCategory.SCHOOL_BASIC,
    "Group": DataCategory.GROUP_BASIC,
    "Student": DataCategory.STUDENT_BASIC,
    "StaffMember": DataCategory.STAFF_BASIC,
    "License": DataCategory.LICENSE,
}


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """A change to record: which entity of which school, what happened, and the categories it touches."""

    school_id: int
    entity_type: str
    entity_id: int
    kind: str
    categories: tuple[str, ...] = ()
    person_id: int | None = None
    partner_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A recorded event as the feed reads it."""

    seq: int
    occurred_at: dt.datetime
    school_id: int
    school_code: str
    entity_type: str
    entity_id: int
    person_id: int | None
    kind: str
    categories: tuple[str, ...]
    partner_id: int | None


@dataclass
class FeedPage:
    """Events of one feed page, in order, and whether more follow."""

    events: list[ChangeRecord] = field(default_factory=list)
    has_next: bool = False
    #: Where the next page starts: the last event returned when more follow, else the last event read
    #: (which may be one the viewer may not see: reading it again next time would find nothing new).
    last_seq: int = 0


async def _ensure_counter(connection: AsyncConnection) -> None:
    values = {"id": 1, "last_seq": 0, "pruned_through": 0}
    if connection.dialect.name == "postgresql":
        await connection.execute(pg_insert(CHANGE_COUNTER).values(**values).on_conflict_do_nothing())
    else:
        await connection.execute(sqlite_insert(CHANGE_COUNTER).values(**values).on_conflict_do_nothing())


async def take_numbers(connection: AsyncConnection, count: int) -> int:
    """Reserve `count` numbers in this transaction; returns the first. The counter row stays locked until
    the transaction ends, which is what keeps the feed in commit order."""
    await _ensure_counter(connection)
    last = await connection.scalar(
        update(CHANGE_COUNTER)
        .where(CHANGE_COUNTER.c.id == 1)
        .values(last_seq=CHANGE_COUNTER.c.last_seq + count)
        .returning(CHANGE_COUNTER.c.last_seq)
    )
    return int(last or 0) - count + 1


async def current_seq(connection: AsyncConnection) -> int:
    """The highest number handed out so far (a consent's feed starts after it)."""
    await _ensure_counter(connection)
    return int(
        await connection.scalar(select(CHANGE_COUNTER.c.last_seq).where(CHANGE_COUNTER.c.id == 1)) or 0
    )


async def record(connection: AsyncConnection, entries: Sequence[ChangeEntry], now: dt.datetime) -> None:
    """Record changes in the caller's transaction, numbered in order."""
    if not entries:
        return
    first = await take_numbers(connection, len(entries))
    await connection.execute(
        insert(CHANGE_EVENTS),
        [
            {
                "seq": first + index,
                "occurred_at": now,
                "school_id": entry.school_id,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "person_id": entry.person_id,
                "kind": entry.kind,
                "partner_id": entry.partner_id,
                "categories": list(entry.categories),
            }
            for index, entry in enumerate(entries)
        ],
    )


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
    pending = {row[0] for row in found}
    if pending:
        await connection.execute(
            delete(PENDING_CHANGES).where(
                PENDING_CHANGES.c.entity_type == entity_type, PENDING_CHANGES.c.entity_id.in_(sorted(pending))
            )
        )
    return pending


#: The kind of a pending row that stands for the start of a school year at a school (never published as
#: such): on that date the ending year's groups stop being current and the new year's become current.
SCHOOL_YEAR_STARTS = "SCHOOL_YEAR_STARTS"


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
    entries = [ChangeEntry(school_id, "Group", row[0], DELETED, ("GROUP_BASIC",)) for row in ending]
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
            ChangeEntry(school_id, entity_type, row[0], UPDATED, (basic,), person_id=row[1])
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


async def prune(engine: AsyncEngine, older_than: dt.datetime) -> int:
    """Drop events older than the retention period; a cursor before them must then resync."""
    async with engine.begin() as connection:
        newest = await connection.scalar(
            select(CHANGE_EVENTS.c.seq)
            .where(CHANGE_EVENTS.c.occurred_at < older_than)
            .order_by(CHANGE_EVENTS.c.seq.desc())
            .limit(1)
        )
        if newest is None:
            return 0
        result = await connection.execute(delete(CHANGE_EVENTS).where(CHANGE_EVENTS.c.seq <= newest))
        await _ensure_counter(connection)
        await connection.execute(
            update(CHANGE_COUNTER).where(CHANGE_COUNTER.c.id == 1).values(pruned_through=newest)
        )
        return int(result.rowcount or 0)


def _visible(scope: Scope, event: ChangeRecord) -> bool:
    """Whether an event is within the scope now: its school visible, its row category granted, and for an
    update at least one category of what changed (so withheld fields are not even named). Consent events
    are written for the partner they concern; of those, LEFT_SCOPE always reaches it (it must delete), but
    what enters its scope only while the school may disclose (a board without a signed DPA, or a closed
    school, discloses nothing, not even the ids of what a grant would open)."""
    if event.partner_id is not None and event.kind == LEFT_SCOPE:
        return True
    granted = scope.categories_for(event.school_id)
    row_category = ROW_CATEGORY.get(event.entity_type)
    if row_category is None or row_category not in granted:
        return False
    if event.partner_id is not None:
        return True
    if event.kind == UPDATED and event.categories:
        return any(
            name in DataCategory.__members__ and DataCategory[name] in granted for name in event.categories
        )
    return True


_BATCH = 1000


async def feed_page(reader: Reader, scope: Scope, after: int, first: int) -> FeedPage:
    """The next events after `after` that this viewer may see, at most `first` (plus whether more follow)."""
    pruned = await reader.rows(select(CHANGE_COUNTER.c.pruned_through).where(CHANGE_COUNTER.c.id == 1))
    if pruned and after < int(pruned[0][0]) and after != 0:
        raise BadUserInput(
            "this cursor is older than the feed keeps events: resync with a full query, then follow the feed"
            " again from its start (without `after`)"
        )
    e, c = CHANGE_EVENTS.c, CONSENTS.c
    columns: tuple[Any, ...] = (
        e.seq, e.occurred_at, e.school_id, SCHOOLS.c.code, e.entity_type, e.entity_id, e.person_id, e.kind,
        e.categories, e.partner_id,
    )  # fmt: skip
    page = FeedPage(last_seq=after)
    position = after
    while len(page.events) <= first:
        statement = select(*columns).join(SCHOOLS, SCHOOLS.c.id == e.school_id).where(e.seq > position)
        if scope.partner_id is not None:
            # Global events of schools in the partner's consent, from the moment it began; and its own.
            in_consent = and_(
                c.school_id == e.school_id, c.partner_id == scope.partner_id, c.revoked_at.is_(None)
            )
            statement = statement.outerjoin(CONSENTS, in_consent).where(
                or_(
                    e.partner_id == scope.partner_id,
                    and_(e.partner_id.is_(None), c.id.is_not(None), e.seq > func_coalesce(c.feed_since)),
                )
            )
        elif not scope.is_unrestricted:
            visible = sorted(scope.visible_school_ids or ())
            statement = statement.where(e.partner_id.is_(None), e.school_id.in_(visible))
        else:
            statement = statement.where(e.partner_id.is_(None))
        rows = await reader.rows(statement.order_by(e.seq).limit(_BATCH))
        for row in rows:
            event = ChangeRecord(
                seq=row[0],
                occurred_at=row[1],
                school_id=row[2],
                school_code=row[3],
                entity_type=row[4],
                entity_id=row[5],
                person_id=row[6],
                kind=row[7],
                categories=tuple(row[8]),
                partner_id=row[9],
            )
            position = event.seq
            if _visible(scope, event):
                page.events.append(event)
                if len(page.events) > first:
                    break
        if len(rows) < _BATCH:
            break
    page.has_next = len(page.events) > first
    page.events = page.events[:first]
    page.last_seq = page.events[-1].seq if page.has_next else position
    return page


def func_coalesce(column: Any) -> Any:
    """A consent without a recorded start follows from the beginning (receipts older than the feed)."""
    return func.coalesce(column, 0)


@dataclass(frozen=True, slots=True)
class DeletionStatus:
    """Whether a partner confirmed deleting what left its scope at a school."""

    partner_id: int
    left_scope_at: dt.datetime
    confirmed_at: dt.datetime | None


async def acknowledge_deletion(
    engine: AsyncEngine, *, school_id: int, partner_id: int, now: dt.datetime
) -> int:
    """Record that the partner deleted everything that left its scope at the school so far; returns the
    feed position the confirmation covers."""
    async with engine.begin() as connection:
        through = await connection.scalar(
            select(func.max(CHANGE_EVENTS.c.seq)).where(
                CHANGE_EVENTS.c.school_id == school_id,
                CHANGE_EVENTS.c.partner_id == partner_id,
                CHANGE_EVENTS.c.kind == LEFT_SCOPE,
            )
        )
        if through is None:
            raise BadUserInput("nothing of this school has left your scope: there is nothing to confirm")
        await connection.execute(
            insert(DELETION_ACKNOWLEDGEMENTS).values(
                school_id=school_id, partner_id=partner_id, through_seq=through, acknowledged_at=now
            )
        )
    return int(through)


async def deletion_statuses(reader: Reader, school_id: int) -> list[DeletionStatus]:
    """Per partner that lost scope at the school: when, and whether (and when) it confirmed deleting."""
    e, a = CHANGE_EVENTS.c, DELETION_ACKNOWLEDGEMENTS.c
    left = (
        select(e.partner_id, func.max(e.seq).label("seq"), func.max(e.occurred_at).label("at"))
        .where(e.school_id == school_id, e.kind == LEFT_SCOPE, e.partner_id.is_not(None))
        .group_by(e.partner_id)
        .subquery()
    )
    acknowledged = (
        select(
            a.partner_id, func.max(a.through_seq).label("through"), func.max(a.acknowledged_at).label("at")
        )
        .where(a.school_id == school_id)
        .group_by(a.partner_id)
        .subquery()
    )
    rows = await reader.rows(
        select(left.c.partner_id, left.c.at, left.c.seq, acknowledged.c.through, acknowledged.c.at)
        .outerjoin(acknowledged, acknowledged.c.partner_id == left.c.partner_id)
        .order_by(left.c.partner_id)
    )
    return [
        DeletionStatus(
            partner_id=row[0],
            left_scope_at=_aware(row[1]),
            confirmed_at=_aware(row[4]) if row[3] is not None and row[3] >= row[2] else None,
        )
        for row in rows
    ]


def _aware(moment: dt.datetime) -> dt.datetime:
    # An aggregate loses the column's type on SQLite: its text comes back naive (it is UTC).
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
