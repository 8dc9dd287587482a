"""What an import file says about one school and one school year, as the hub keeps it.

Readers (EDEXML 2.0/2.1, the CSV template) produce a `SchoolFile`; the sync compares it with the store.
Only the fields the hub keeps exist here: everything else in a file (BSN, gender, addresses, ...) is
dropped by the reader and never reaches this shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


class ImportFileError(ValueError):
    """A file the hub refuses: a message a person understands, and the line where the parser knows it.

    The message never quotes personal data from the file (it names keys and line numbers instead).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.message = message
        self.line = line


@dataclass(frozen=True, slots=True)
class ImportedGroup:
    """A group (groep) as the file gives it; `key` is the LAS key within the school."""

    key: str
    name: str
    #: The EDEXML year-level code ("0"-"8", "S", "C", ...); None for a composite group or a mixed group.
    year_level: str | None
    composite: bool


@dataclass(frozen=True, slots=True)
class ImportedStudent:
    """A student (leerling); `main_group` and `composite_groups` are group keys of the same file."""

    key: str
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str
    initials: str | None
    date_of_birth: dt.date | None
    year_level: str | None
    main_group: str | None
    composite_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportedStaff:
    """A staff member (medewerker); `las_roles` are the EDEXML role codes, kept as information only."""

    key: str
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str
    email: str | None
    las_roles: tuple[str, ...]
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SchoolFile:
    """One school location's groups, students and staff for one school year: the whole truth for them."""

    brin: str
    location_code: str
    school_year: str
    reference_date: dt.date | None
    groups: tuple[ImportedGroup, ...]
    students: tuple[ImportedStudent, ...]
    staff: tuple[ImportedStaff, ...]
    #: "EDEXML 2.1", "EDEXML 2.0" or "CSV": for the report and the logs.
    source: str
    #: Things the reader accepted but a person should know (never containing personal data).
    warnings: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """BRIN plus location code, such as 16AH00."""
        return f"{self.brin}{self.location_code}"
