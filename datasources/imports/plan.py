"""The plan of a full sync: what a school file changes in the store, computed without writing anything.

A file is the whole truth for one school location and one school year. People are matched to the rows
the hub holds as ARCHITECTURE.md ("Identity") says: by ECK-iD first, then by LAS key within the school;
a dummy key (`#…`) without an ECK-iD is matched by name and date of birth (staff: name and e-mail). So a
re-import of the same file, dummy keys included, matches everyone and plans nothing, and a change of
LAS (new keys) keeps everyone's identity. Who a newcomer is (someone who left and comes back, or moves in
from another school) is decided when they are written (datasources.imports.identities).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Sequence

    from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, SchoolFile

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the imported record's type, next to T for the stored one


@dataclass(frozen=True, slots=True)
class StoredGroup:
    """A group of this school and year as stored."""

    id: int
    key: str
    name: str
    year_level: str | None
    composite: bool


@dataclass(frozen=True, slots=True)
class StoredStudent:
    """A student of this school as stored."""

    id: int
    person_id: int
    key: str
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str
    initials: str | None
    date_of_birth: dt.date | None
    year_level: str | None


@dataclass(frozen=True, slots=True)
class StoredStaff:
    """A staff member of this school as stored."""

    id: int
    person_id: int
    key: str
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str
    email: str | None
    roles: tuple[str, ...]
    las_roles: tuple[str, ...]
    active: bool


@dataclass(frozen=True, slots=True)
class SchoolState:
    """What the hub holds of one school for one school year, for the plan to compare with."""

    school_id: int
    groups: tuple[StoredGroup, ...]
    students: tuple[StoredStudent, ...]
    staff: tuple[StoredStaff, ...]
    #: (group id, student id) and (group id, staff id) links of this year's groups.
    student_links: frozenset[tuple[int, int]]
    staff_links: frozenset[tuple[int, int]]


@dataclass
class Matching(Generic[T, I]):
    """Imported records matched to stored rows: pairs, new ones, and stored rows the file no longer has."""

    pairs: list[tuple[T, I]] = field(default_factory=list)
    added: list[I] = field(default_factory=list)
    removed: list[T] = field(default_factory=list)


def is_dummy(key: str) -> bool:
    """LAS keys starting with `#` are dummies: not stable between exports."""
    return key.startswith("#")


def match(
    stored: Sequence[T],
    imported: Iterable[I],
    keys: Sequence[tuple[Callable[[T], Hashable | None], Callable[[I], Hashable | None]]],
) -> Matching[T, I]:
    """Match imported records to stored rows by the first key (in order of preference) that pairs them;
    each stored row is used at most once."""
    indexes = [
        {stored_key(row): row for row in stored if stored_key(row) is not None} for stored_key, _ in keys
    ]
    used: set[int] = set()
    result: Matching[T, I] = Matching()
    for record in imported:
        found = None
        for index, (_, imported_key) in zip(indexes, keys, strict=True):
            value = imported_key(record)
            candidate = index.get(value) if value is not None else None
            if candidate is not None and id(candidate) not in used:
                found = candidate
                break
        if found is None:
            result.added.append(record)
        else:
            used.add(id(found))
            result.pairs.append((found, record))
    result.removed = [row for row in stored if id(row) not in used]
    return result


def match_groups(state: SchoolState, school_file: SchoolFile) -> Matching[StoredGroup, ImportedGroup]:
    """Groups are matched by their LAS key."""
    return match(state.groups, school_file.groups, [(lambda g: g.key, lambda g: g.key)])


def match_students(state: SchoolState, school_file: SchoolFile) -> Matching[StoredStudent, ImportedStudent]:
    """Students: ECK-iD, then a stable LAS key, then (for dummy keys without ECK-iD) name and birth date."""
    return match(
        state.students,
        school_file.students,
        [
            (lambda s: s.eck_id, lambda s: s.eck_id),
            (lambda s: s.key, lambda s: None if is_dummy(s.key) else s.key),
            (
                lambda s: (s.first_name, s.prefix, s.last_name, s.date_of_birth),
                lambda s: (
                    (s.first_name, s.prefix, s.last_name, s.date_of_birth)
                    if is_dummy(s.key) and not s.eck_id
                    else None
                ),
            ),
        ],
    )


def match_staff(state: SchoolState, school_file: SchoolFile) -> Matching[StoredStaff, ImportedStaff]:
    """Staff: ECK-iD, then a stable LAS key, then (for dummy keys without ECK-iD) name and e-mail."""
    return match(
        state.staff,
        school_file.staff,
        [
            (lambda s: s.eck_id, lambda s: s.eck_id),
            (lambda s: s.key, lambda s: None if is_dummy(s.key) else s.key),
            (
                lambda s: (s.first_name, s.prefix, s.last_name, s.email),
                lambda s: (
                    (s.first_name, s.prefix, s.last_name, s.email)
                    if is_dummy(s.key) and not s.eck_id
                    else None
                ),
            ),
        ],
    )


def group_changed(stored: StoredGroup, imported: ImportedGroup) -> bool:
    """Whether a group's kept fields differ."""
    return (stored.name, stored.year_level, stored.composite) != (
        imported.name,
        imported.year_level,
        imported.composite,
    )


def student_changed(stored: StoredStudent, imported: ImportedStudent) -> bool:
    """Whether a student's kept fields differ (a new dummy key alone is no change)."""
    key_changed = stored.key != imported.key and not (is_dummy(stored.key) and is_dummy(imported.key))
    return key_changed or (
        stored.eck_id,
        stored.first_name,
        stored.prefix,
        stored.last_name,
        stored.initials,
        stored.date_of_birth,
        stored.year_level,
    ) != (
        imported.eck_id,
        imported.first_name,
        imported.prefix,
        imported.last_name,
        imported.initials,
        imported.date_of_birth,
        imported.year_level,
    )


def staff_changed(stored: StoredStaff, imported: ImportedStaff) -> bool:
    """Whether a staff member's kept fields differ (a new dummy key alone is no change)."""
    key_changed = stored.key != imported.key and not (is_dummy(stored.key) and is_dummy(imported.key))
    return key_changed or (
        stored.eck_id,
        stored.first_name,
        stored.prefix,
        stored.last_name,
        stored.email,
        stored.las_roles,
    ) != (
        imported.eck_id,
        imported.first_name,
        imported.prefix,
        imported.last_name,
        imported.email,
        imported.las_roles,
    )


def duplicate_emails(staff: Iterable[ImportedStaff]) -> dict[str, list[str]]:
    """E-mail addresses (compared case-insensitively) that more than one staff member of the file has,
    with the keys that share each; the import fails naming those keys."""
    by_email: dict[str, list[str]] = {}
    for member in staff:
        if member.email:
            by_email.setdefault(member.email.strip().lower(), []).append(member.key)
    return {email: keys for email, keys in by_email.items() if len(keys) > 1}
