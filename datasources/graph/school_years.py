"""The school year a school's current groups belong to, and the warning its coordinator gets when that is
not the school year the calendar is in (its LAS has not sent this year's file: datasources.store.current)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from datasources.store.calendar import school_year_of
from datasources.store.tables import GROUPS, SCHOOL_FILE_YEARS, SCHOOL_YEARS

if TYPE_CHECKING:
    import datetime as dt

    from datasources.store.reader import Reader


async def current_school_year(reader: Reader, school_id: int, today: dt.date) -> str | None:
    """The latest school year that has begun at the school (a file came for it, or it has effective groups
    of it): the year its current groups are of. None for a school the hub holds nothing of."""
    g, f, y = GROUPS.c, SCHOOL_FILE_YEARS.c, SCHOOL_YEARS.c
    by_groups = select(func.max(g.school_year)).where(g.school_id == school_id, g.effective_from <= today)
    by_files = (
        select(func.max(f.school_year))
        .join(SCHOOL_YEARS, y.name == f.school_year)
        .where(f.school_id == school_id, y.starts_on <= today)
    )
    rows = await reader.rows(select(by_groups.scalar_subquery(), by_files.scalar_subquery()))
    years = [year for year in rows[0] if year is not None]
    return max(years) if years else None


async def received_files(reader: Reader, school_id: int) -> list[tuple[str, dt.datetime]]:
    """The school years a file (a LAS push or a hand upload) was applied for at the school, newest year
    first, each with when its latest file arrived: the school's import history as the store keeps it."""
    f = SCHOOL_FILE_YEARS.c
    rows = await reader.rows(
        select(f.school_year, f.received_at).where(f.school_id == school_id).order_by(f.school_year.desc())
    )
    return [(row.school_year, row.received_at) for row in rows]


async def school_year_warning(reader: Reader, school_id: int, today: dt.date) -> str | None:
    """A warning when the school still shows an older school year's groups, else None."""
    shown, calendar = await current_school_year(reader, school_id, today), school_year_of(today)
    if shown is None or shown >= calendar:
        return None
    return (
        f"No file for {calendar} has come from the school administration system (LAS) yet: the groups"
        f" of {shown} stay current, for partners too, until it does. Pupils who left in the summer are"
        " still shown until then; send the file for this school year."
    )
