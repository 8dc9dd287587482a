"""What a change of scope means for one partner's feed: everything of the school it may now see enters its
scope, everything it lost leaves it (whole entities, or just the categories it lost).

The same events for every cause (a grant or revoke, a DPA signed or withdrawn, a school moved to another
board, closed or reopened): `scope_changes.bring_in_line` works out what changed and asks for them here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from datasources.feed.events import ENTERED_SCOPE, LEFT_SCOPE, UPDATED, ChangeEntry
from datasources.store.current import current_groups, current_members
from datasources.store.tables import GROUPS, LICENSES, PRODUCTS, STAFF_MEMBERS, STUDENTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection

#: Per entity type within a school: the category its rows need, and all the categories its fields fall
#: under (the School itself has its own events, see `_school_events`).
_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "Group": ("GROUP_BASIC", frozenset({"GROUP_BASIC"})),
    "Student": ("STUDENT_BASIC", frozenset({"STUDENT_BASIC", "STUDENT_NAME", "STUDENT_DEMOGRAPHICS"})),
    "StaffMember": ("STAFF_BASIC", frozenset({"STAFF_BASIC", "STAFF_NAME", "STAFF_COMMUNICATION"})),
    "License": ("LICENSE", frozenset({"LICENSE"})),
}


#: The person types whose fields refer to groups: what they show follows group.basic too.
_RELATED_TO_GROUPS: frozenset[str] = frozenset({"Student", "StaffMember"})


async def _entities(
    connection: AsyncConnection, entity_type: str, school_id: int, partner_id: int, today: dt.date
) -> list[tuple[int, int | None]]:
    """(row id, person id) of the school's entities of a type, as a partner would see them now."""
    if entity_type == "Group":
        statement = select(GROUPS.c.id).where(GROUPS.c.school_id == school_id, current_groups(today))
        return [(row.id, None) for row in await connection.execute(statement)]
    if entity_type == "License":
        statement = select(LICENSES.c.id).where(
            LICENSES.c.school_id == school_id,
            LICENSES.c.product_id.in_(select(PRODUCTS.c.id).where(PRODUCTS.c.partner_id == partner_id)),
        )
        return [(row.id, None) for row in await connection.execute(statement)]
    table = STUDENTS if entity_type == "Student" else STAFF_MEMBERS
    rows = await connection.execute(
        select(table.c.id, table.c.person_id).where(
            table.c.school_id == school_id, current_members(table, today)
        )
    )
    return [(row.id, row.person_id) for row in rows]


async def consent_changes(
    connection: AsyncConnection,
    *,
    school_id: int,
    partner_id: int,
    before: Iterable[str],
    after: Iterable[str],
    today: dt.date,
    skip: frozenset[tuple[str, int]] = frozenset(),
) -> list[ChangeEntry]:
    """The partner's events for a change of what it may read at a school from `before` to `after`, both as
    the policy computes them (an empty `after` is the end of its scope there, an empty `before` a start).

    The School's own event comes first and speaks for the whole school: ENTERED_SCOPE when consent begins,
    LEFT_SCOPE with everything the partner held when it ends, and for a change in between a LEFT_SCOPE with
    the categories lost (if any) followed by an UPDATED (its `grantedCategories` changed). A client that
    fell behind cannot learn from per-entity events alone what to delete: an entity deleted while the
    partner still saw it, whose DELETED the partner no longer may read, has no LEFT_SCOPE of its own.
    `skip` are (entity type, row id) whose events the caller writes itself (people and groups a merger
    or split moved in, datasources.lifecycle).
    """
    old, new = frozenset(before), frozenset(after)
    if old == new:
        return []
    entries = _school_events(school_id, partner_id, old, new)
    for entity_type, (row_category, categories) in _TYPES.items():
        lost, gained = (old - new) & categories, (new - old) & categories
        if row_category in old and row_category not in new:
            moves = [(LEFT_SCOPE, old & categories)]  # the whole entity leaves
        elif row_category in new and row_category not in old:
            moves = [(ENTERED_SCOPE, new & categories)]  # the whole entity enters
        elif row_category in new:
            # Still visible: lost categories leave (delete those fields), gained ones enter.
            moves = [
                (kind, touched) for kind, touched in ((LEFT_SCOPE, lost), (ENTERED_SCOPE, gained)) if touched
            ]
            if entity_type in _RELATED_TO_GROUPS and "GROUP_BASIC" in old ^ new:
                # A person's `groups` (and a student's `mainGroup`) show only groups the partner may read:
                # with group.basic lost or gained they change without a category of the person's own
                # changing, so the person's new state is told as UPDATED.
                moves.append((UPDATED, new & categories))
        else:
            moves = []
        if moves:
            rows = await _entities(connection, entity_type, school_id, partner_id, today)
            if skip:
                rows = [row for row in rows if (entity_type, row[0]) not in skip]
            for kind, touched in moves:
                entries += _each(
                    rows, school_id, entity_type, kind, categories=touched, partner_id=partner_id
                )
    return entries


def _school_events(
    school_id: int, partner_id: int, old: frozenset[str], new: frozenset[str]
) -> list[ChangeEntry]:
    school: list[tuple[int, int | None]] = [(school_id, None)]
    if not new:
        return _each(school, school_id, "School", LEFT_SCOPE, categories=old, partner_id=partner_id)
    if not old:
        return _each(school, school_id, "School", ENTERED_SCOPE, categories=new, partner_id=partner_id)
    events: list[ChangeEntry] = []
    if old - new:
        events += _each(school, school_id, "School", LEFT_SCOPE, categories=old - new, partner_id=partner_id)
    return events + _each(school, school_id, "School", UPDATED, categories=new, partner_id=partner_id)


def _each(
    rows: list[tuple[int, int | None]],
    school_id: int,
    entity_type: str,
    kind: str,
    *,
    categories: frozenset[str],
    partner_id: int,
) -> list[ChangeEntry]:
    return [
        ChangeEntry(
            school_id,
            entity_type,
            row_id,
            kind,
            tuple(sorted(categories)),
            person_id=person_id,
            partner_id=partner_id,
        )
        for row_id, person_id in rows
    ]
