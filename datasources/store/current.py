"""What is current on a date: a school's groups of the school year it is in, and the memberships of
students and staff that have begun and not ended.

A school's current groups are those of the school year `today` falls in once they are effective. A school
whose LAS has not sent that year's file yet keeps the groups of the last year it sent (its last known
state) rather than none, and its coordinator is warned (datasources.graph.school_years). A
membership is current from its `effective_from` through its `effective_until` (null: open on that side);
a file for a coming school year sets them, so next year's new pupils stay unseen until their first day and
the pupils that file no longer has (group-8 leavers) go on the first day of that year, with no import then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from datasources.store.tables import GROUPS, SCHOOL_FILE_YEARS, SCHOOL_YEARS

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy import FromClause


def later_year_started(today: dt.date, school_id: Any, school_year: Any) -> ColumnElement[bool]:
    """Whether a school year later than `school_year` has begun at the school on `today`: a file was
    delivered for it, or (for data that came otherwise) the school has effective groups of it. Names such
    as "2026-2027" sort as the years they name."""
    started = GROUPS.alias("started")
    files, years = SCHOOL_FILE_YEARS.alias("files"), SCHOOL_YEARS.alias("file_year")
    with_groups = exists(
        select(started.c.id).where(
            started.c.school_id == school_id,
            started.c.school_year > school_year,
            started.c.effective_from <= today,
        )
    )
    with_file = exists(
        select(files.c.school_id)
        .join(years, years.c.name == files.c.school_year)
        .where(files.c.school_id == school_id, files.c.school_year > school_year, years.c.starts_on <= today)
    )
    return or_(with_groups, with_file)


def current_groups(today: dt.date, groups: Any = GROUPS) -> ColumnElement[bool]:
    """The condition on `groups` (the table or an alias) that a group is one of its school's current groups:
    those of the latest school year that has begun there, which is the year `today` falls in once its
    file came, and the last year a file came for while the LAS has not sent this year's."""
    return and_(
        groups.c.effective_from <= today,
        ~later_year_started(today, groups.c.school_id, groups.c.school_year),
    )


def current_members(table: FromClause, today: dt.date) -> ColumnElement[bool]:
    """The condition that a student's or staff member's membership of the school is current on `today`."""
    return and_(
        or_(table.c.effective_from.is_(None), table.c.effective_from <= today),
        or_(table.c.effective_until.is_(None), table.c.effective_until >= today),
    )
