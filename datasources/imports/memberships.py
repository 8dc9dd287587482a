"""The dates of memberships an import sets: next school year's file brings its new people with their first
day and gives the people it no longer has their last day, so the school year turns over on its date with
no import then (datasources.store.current says what is current; the scheduler tells partners on the day).

Only dates are decided here; who matches whom is the plan's (datasources.imports.plan). For each member
type this module adjusts the plan's `removed` (what the import deletes) and says which rows get which
dates and which planned events differ:

- a coming year's file: the members it no longer has stay until the day before the year starts
  (`leaving`), members it has again lose that end (`staying`), people who had left come back on the first
  day (`returning`), and next year's new people it no longer has are deleted (never shown: `silent`);
- this year's file: next year's new people are not removals (another year's file brought them); a row
  that had not begun or had ended and is in the file is a member from now on (`joining`: CREATED, not
  UPDATED), and an ended row that is removed was DELETED on its last day already (`silent`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection

#: A membership's first and last day (null: open on that side).
Dates = tuple[dt.date | None, dt.date | None]


@dataclass
class MembershipPlan:
    """What an import does to the dates of one member type's rows, and which of its events differ."""

    starts_on: dt.date
    future: bool
    leaving: list[int] = field(default_factory=list)
    staying: list[int] = field(default_factory=list)
    returning: list[int] = field(default_factory=list)
    joining: set[int] = field(default_factory=set)
    #: Removed rows whose removal partners never hear of: never shown, or already DELETED.
    silent: set[int] = field(default_factory=set)


async def load_dates(connection: AsyncConnection, table: Table, school_id: int) -> dict[int, Dates]:
    """The membership dates of the school's rows that have any (the rest are open: plain members)."""
    c = table.c
    rows = await connection.execute(
        select(c.id, c.effective_from, c.effective_until).where(
            c.school_id == school_id, (c.effective_from.is_not(None)) | (c.effective_until.is_not(None))
        )
    )
    return {row.id: (row.effective_from, row.effective_until) for row in rows}


def plan_memberships(
    matching: Any, dates: dict[int, Dates], *, today: dt.date, future: bool, starts_on: dt.date
) -> MembershipPlan:
    """Decide the dates for one member type's matching (a `plan.Matching` of stored rows with `id`), and
    leave in `matching.removed` only the rows the import really deletes."""
    plan = MembershipPlan(starts_on=starts_on, future=future)
    not_begun = {row_id for row_id, (begins, _) in dates.items() if begins is not None and begins > today}
    ended = {row_id for row_id, (_, ends) in dates.items() if ends is not None and ends < today}
    if future:
        plan.leaving = [row.id for row in matching.removed if row.id not in not_begun and row.id not in ended]
        matching.removed = [row for row in matching.removed if row.id in not_begun]
        plan.silent = {row.id for row in matching.removed}
        for stored, _ in matching.pairs:
            if stored.id in ended:
                plan.returning.append(stored.id)
            elif stored.id in dates and dates[stored.id][1] is not None:
                plan.staying.append(stored.id)
        return plan
    matching.removed = [row for row in matching.removed if row.id not in not_begun]
    plan.silent = {row.id for row in matching.removed if row.id in ended}
    plan.joining = {stored.id for stored, _ in matching.pairs if stored.id in not_begun | ended}
    return plan


async def apply_memberships(
    connection: AsyncConnection, table: Table, plan: MembershipPlan, added: Iterable[int]
) -> None:
    """Write the planned dates; `added` are the ids of the rows the import inserted."""
    last_day = plan.starts_on - dt.timedelta(days=1)
    changes: list[tuple[list[int], dict[str, dt.date | None]]] = [
        (plan.leaving, {"effective_until": last_day}),
        (plan.staying, {"effective_until": None}),
        (plan.returning, {"effective_from": plan.starts_on, "effective_until": None}),
        (sorted(plan.joining), {"effective_from": None, "effective_until": None}),
    ]
    if plan.future:
        changes.append((sorted(added), {"effective_from": plan.starts_on}))
    for ids, values in changes:
        if ids:
            await connection.execute(update(table).where(table.c.id.in_(ids)).values(**values))


def leaving_warning(year: str, starts_on: dt.date, students: int, staff: int) -> str | None:
    """The report's note on the people a coming year's file no longer has, if any."""
    if not students and not staff:
        return None
    return (
        f"{students} students and {staff} staff members are not in the {year} file: they leave the school"
        f" on {(starts_on - dt.timedelta(days=1)).isoformat()} and partners stop seeing them on"
        f" {starts_on.isoformat()}"
    )
