"""School years: a school year runs from 1 August to 31 July and is named "YYYY-YYYY"."""

from __future__ import annotations

import datetime as dt
import re

_SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


def school_year_of(day: dt.date) -> str:
    """The school year a date falls in: 2026-11-29 → "2026-2027", 2027-07-31 → "2026-2027"."""
    start = day.year if day.month >= 8 else day.year - 1
    return f"{start}-{start + 1}"


def is_school_year(name: str) -> bool:
    """Whether `name` is a well-formed school year of two consecutive years."""
    match = _SCHOOL_YEAR.match(name)
    return bool(match) and int(match.group(2)) == int(match.group(1)) + 1  # type: ignore[union-attr]


def first_day(school_year: str) -> dt.date:
    """The default effective date of a school year's groups: 1 August of its first year."""
    return dt.date(int(school_year[:4]), 8, 1)


def last_day(school_year: str) -> dt.date:
    """The last day of a school year: 31 July of its second year."""
    return dt.date(int(school_year[:4]) + 1, 7, 31)


def previous_school_year(school_year: str) -> str:
    """The school year before: "2027-2028" → "2026-2027"."""
    start = int(school_year[:4]) - 1
    return f"{start}-{start + 1}"


def next_school_year(school_year: str) -> str:
    """The school year after: "2026-2027" → "2027-2028"."""
    start = int(school_year[:4]) + 1
    return f"{start}-{start + 1}"
