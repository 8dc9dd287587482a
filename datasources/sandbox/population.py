"""The people of one sandbox school: its groups, students and staff, as rows ready for a bulk insert.

Everything is drawn from the caller's `random.Random`, so a world is a pure function of its seed. Ids are
handed out here rather than read back from the database: the seed inserts hundreds of thousands of rows
with executemany, which cannot return generated keys cheaply.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from datasources.sandbox.names import (
    NO_PREFIX_WEIGHT,
    PREFIXES,
    STAFF_FIRST_NAMES,
    STUDENT_FIRST_NAMES,
    SURNAMES,
)

ECK_ID_PREFIX = "https://ketenid.nl/201703/"
YEAR_LEVELS = tuple(range(1, 9))
#: The pairs of year levels a school may also teach together in a composite group (combinatiegroep).
_COMPOSITE_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8))
_STUDENTS_WITH_ECK_ID = 0.9
_STAFF_WITH_ECK_ID = 0.8
_IN_COMPOSITE_GROUP = 0.35
#: EDEXML role codes of the staff beyond the group teachers (information only: they grant nothing).
_EXTRA_LAS_ROLES: tuple[tuple[str, ...], ...] = (
    ("IB",),
    ("ICT", "LRK"),
    ("RT",),
    ("DIR",),
    ("VAK",),
    ("OWA",),
)
_EXTRA_STAFF = 2
# Prefixes drawn from a pool in proportion to their weight; most surnames have none.
_PREFIX_POOL: tuple[str | None, ...] = (None,) * NO_PREFIX_WEIGHT + tuple(
    prefix for prefix, weight in PREFIXES for _ in range(weight)
)


@dataclass(slots=True)
class IdSequence:
    """The next free id per table, starting above what the database holds."""

    next_ids: dict[str, int]

    def take(self, table: str, count: int = 1) -> int:
        """Reserve `count` consecutive ids of `table` and return the first."""
        first = self.next_ids[table]
        self.next_ids[table] = first + count
        return first


@dataclass(slots=True)
class Rows:
    """Rows waiting for insertion, per table, in the order the foreign keys need."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def extend(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Queue `rows` for `table`."""
        self.tables.setdefault(table, []).extend(rows)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


@dataclass(frozen=True, slots=True)
class SchoolYearSpan:
    """A school year's name and the dates it runs (1 August to 31 July)."""

    name: str
    starts_on: dt.date
    ends_on: dt.date


@dataclass(frozen=True, slots=True)
class SchoolGroups:
    """The ids of one school's groups: the main group per year level, and each composite group's levels."""

    main: dict[int, int]
    composite: dict[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class SchoolSetting:
    """What the people of one school are drawn with: the world's random source, ids and row queue."""

    rng: random.Random
    ids: IdSequence
    rows: Rows
    year: SchoolYearSpan
    created_at: dt.datetime


def populate_school(
    setting: SchoolSetting, *, school_id: int, email_domain: str, students: int
) -> SchoolGroups:
    """Queue one school's groups, `students` students and its staff; returns the group ids for licenses."""
    groups = _groups(setting, school_id)
    _students(setting, school_id, students, groups)
    _staff(setting, school_id, email_domain, groups)
    return groups


def _groups(setting: SchoolSetting, school_id: int) -> SchoolGroups:
    pairs = sorted(setting.rng.sample(_COMPOSITE_PAIRS, setting.rng.randint(1, 2)))
    first = setting.ids.take("groups", len(YEAR_LEVELS) + len(pairs))
    main = {level: first + index for index, level in enumerate(YEAR_LEVELS)}
    composite = {first + len(YEAR_LEVELS) + index: pair for index, pair in enumerate(pairs)}
    year = setting.year
    common = {"school_id": school_id, "school_year": year.name, "effective_from": year.starts_on}
    rows = [
        {
            **common,
            "id": main[level],
            "las_key": f"G{level}",
            "name": f"Groep {level}",
            "year_level": str(level),
        }
        | {"composite": False}
        for level in YEAR_LEVELS
    ]
    rows += [
        {**common, "id": group_id, "las_key": f"C{low}{high}", "name": f"Combinatiegroep {low}/{high}"}
        | {"year_level": None, "composite": True}
        for group_id, (low, high) in composite.items()
    ]
    setting.rows.extend("groups", rows)
    return SchoolGroups(main, composite)


def _students(setting: SchoolSetting, school_id: int, count: int, groups: SchoolGroups) -> None:
    rng, created_at = setting.rng, setting.created_at
    first_person = setting.ids.take("persons", count)
    first_student = setting.ids.take("students", count)
    # LAS keys are numbers from a per-school range, as ParnasSys and ESIS hand them out.
    first_key = rng.randrange(100_000, 900_000)
    # A child in group L in school year Y-(Y+1) was born between 1 October Y-L-4 and 30 September Y-L-3.
    start_year = setting.year.starts_on.year
    born_from = {level: dt.date(start_year - level - 4, 10, 1).toordinal() for level in YEAR_LEVELS}
    composite_of = {level: group_id for group_id, pair in groups.composite.items() for level in pair}
    persons, students, memberships = [], [], []
    # Bound methods as locals: this loop runs a quarter of a million times in the benchmark.
    random_, choice, randrange, getrandbits = rng.random, rng.choice, rng.randrange, rng.getrandbits
    for index in range(count):
        level = index * len(YEAR_LEVELS) // count + 1
        first_name = choice(STUDENT_FIRST_NAMES)
        second = "" if random_() < 0.7 else f"{choice(STUDENT_FIRST_NAMES)[0]}."
        person_id, student_id = first_person + index, first_student + index
        eck_id = f"{ECK_ID_PREFIX}{getrandbits(256):064x}" if random_() < _STUDENTS_WITH_ECK_ID else None
        persons.append({"id": person_id, "created_at": created_at})
        students.append({
            "id": student_id, "person_id": person_id, "school_id": school_id,
            "las_key": str(first_key + index), "eck_id": eck_id, "first_name": first_name,
            "prefix": choice(_PREFIX_POOL), "last_name": choice(SURNAMES),
            "initials": f"{first_name[0]}.{second}",
            "date_of_birth": dt.date.fromordinal(born_from[level] + randrange(365)),
            "year_level": str(level), "active": True,
        })  # fmt: skip
        memberships.append({"group_id": groups.main[level], "student_id": student_id})
        if level in composite_of and random_() < _IN_COMPOSITE_GROUP:
            memberships.append({"group_id": composite_of[level], "student_id": student_id})
    setting.rows.extend("persons", persons)
    setting.rows.extend("students", students)
    setting.rows.extend("group_students", memberships)


def _staff(setting: SchoolSetting, school_id: int, email_domain: str, groups: SchoolGroups) -> None:
    rng, created_at = setting.rng, setting.created_at
    taught = [*groups.main.values(), *groups.composite]
    las_roles = [("LRK",)] * len(taught) + rng.sample(_EXTRA_LAS_ROLES, _EXTRA_STAFF)
    first_person = setting.ids.take("persons", len(las_roles))
    first_staff = setting.ids.take("staff_members", len(las_roles))
    first_key = rng.randrange(1_000, 9_000)
    emails: set[str] = set()
    persons, staff, links = [], [], []
    for index, roles in enumerate(las_roles):
        first_name, prefix, last_name = (
            rng.choice(STAFF_FIRST_NAMES),
            rng.choice(_PREFIX_POOL),
            rng.choice(SURNAMES),
        )
        eck_id = f"{ECK_ID_PREFIX}{rng.getrandbits(256):064x}" if rng.random() < _STAFF_WITH_ECK_ID else None
        person_id, staff_id = first_person + index, first_staff + index
        persons.append({"id": person_id, "created_at": created_at})
        staff.append({
            "id": staff_id, "person_id": person_id, "school_id": school_id,
            "las_key": f"M{first_key + index}", "eck_id": eck_id,
            "first_name": first_name, "prefix": prefix, "last_name": last_name,
            "email": _unique_email(emails, first_name, prefix, last_name, email_domain),
            "roles": ["TEACHER"], "las_roles": list(roles), "active": True,
        })  # fmt: skip
        # One teacher per group; the extra staff (IB'er, director, ...) stand beside the groups.
        if index < len(taught):
            links.append({"group_id": taught[index], "staff_id": staff_id})
    setting.rows.extend("persons", persons)
    setting.rows.extend("staff_members", staff)
    setting.rows.extend("group_staff", links)


def _unique_email(taken: set[str], first_name: str, prefix: str | None, last_name: str, domain: str) -> str:
    """voornaam.achternaam@domain, numbered when the school already has that address."""
    local = f"{ascii_slug(first_name, '')}.{ascii_slug((prefix or '') + last_name, '')}"
    email, number = f"{local}@{domain}", 1
    while email in taken:
        number += 1
        email = f"{local}{number}@{domain}"
    taken.add(email)
    return email


def ascii_slug(text: str, separator: str = "-") -> str:
    """Lower-case ASCII letters and digits of `text` ("Zoë van 't Veen" → "zoe-van-t-veen")."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return (
        re.sub(r"[^a-z0-9]+", separator, folded).strip(separator)
        if separator
        else re.sub(r"[^a-z0-9]", "", folded)
    )
