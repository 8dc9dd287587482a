"""Which staff-to-group links are in force on a day: a link a coordinator gave until a date (a
substitute's groups) ends after that date. Reads apply this filter, so no job has to remove the link."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_

from datasources.store.tables import GROUP_STAFF

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy import ColumnElement


def staff_link_in_force(today: dt.date) -> ColumnElement[bool]:
    """The row filter on `group_staff`: links without a last day, or whose last day is not yet past."""
    return or_(GROUP_STAFF.c.until.is_(None), GROUP_STAFF.c.until >= today)
