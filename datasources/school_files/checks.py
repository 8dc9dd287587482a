"""The checks every import file passes, whatever its format, and the codes EDEXML knows.

The EDEXML and CSV readers hand each record to a `SchoolFileBuilder` with its line, so both refuse the
same things with the same words: duplicate keys and ECK-iDs, unknown year-level and role codes, a
reference to a group that is not in the file, values longer than EDEXML can hold (so that every
`SchoolFile` can be written out as EDEXML again). Messages name keys, fields and lines, never values
that describe a person.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import TYPE_CHECKING, Final

from datasources.school_files.model import (
    ImportedGroup,
    ImportedStaff,
    ImportedStudent,
    ImportFileError,
    SchoolFile,
)
from datasources.store.calendar import is_school_year

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Year-level codes (EDEXJaargroepType, equal in EDEXML 2.0 and 2.1): B and D are baby and toddler
#: groups, 0-8 the primary years, 11-16 secondary, S special (S)BO, V special secondary, C a combination
#: group (year level per student), N not primary or secondary, H historical.
YEAR_LEVELS: Final = frozenset(
    {"B", "D", *map(str, range(9)), *map(str, range(11, 17)), "S", "V", "C", "N", "H"}
)
#: Staff role codes (EDEXLeerkrachtRolType of 2.1; TAL, the test leader, is new in 2.1).
LAS_ROLES: Final = frozenset(
    {"ADJ", "ADM", "CON", "DIR", "ICT", "IB", "KLA", "LRK", "LOS", "LOC", "OWA", "OUD", "RT", "SMW", "STA"}
    | {"TAL", "VAK"}
)
#: A parent (ouder) in the staff list: never imported.
PARENT_ROLE: Final = "OUD"
#: The longest value EDEXML 2.1 holds per field, and the field's name in a message.
_LIMITS: Final = {
    "key": (256, "key"),
    "eck_id": (256, "ECK-iD (eckid)"),
    "name": (64, "name (naam)"),
    "first_name": (64, "first name (roepnaam)"),
    "prefix": (10, "surname prefix (voorvoegsel)"),
    "last_name": (200, "surname (achternaam)"),
    "initials": (6, "initials (voorletters-1)"),
    "email": (256, "e-mail address (emailadres)"),
}
_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:Z|[+-]\d{2}:\d{2})?")
_PRINTABLE: Final = re.compile(r"[\w.#:/@+()&,-](?:[\w .#:/@+()&,-]{0,62}[\w.#:/@+()&,-])?")


def check_school_year(value: str, line: int | None) -> str:
    """`value` when it names a school year of two consecutive years ("2025-2026"), else ImportFileError.

    EDEXML 2.1 lists its school years and the list ends at 2024-2025; the hub takes any such pair."""
    if not is_school_year(value):
        raise ImportFileError(
            "the school year (schooljaar) must be two consecutive years, such as 2025-2026", line
        )
    return value


def parse_date(value: str, field: str, line: int | None) -> dt.date:
    """A date written as XML Schema writes it (YYYY-MM-DD, an optional time zone is ignored)."""
    match = _DATE.fullmatch(value)
    try:
        if match:
            return dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        pass
    raise ImportFileError(f"{field} is not a valid date (YYYY-MM-DD)", line)


def shown(name: object) -> str:
    """A key or element name as a message may quote it: quoted when it is short and plain, else a
    placeholder, so a message never carries whatever text a file put in a key."""
    text = str(name)
    return f"'{text}'" if _PRINTABLE.fullmatch(text) else "(an unusual name)"


@dataclasses.dataclass(slots=True)
class _Seen:
    """What the builder remembers of a record: its line, and for a group whether it is composite."""

    line: int | None
    composite: bool = False


class SchoolFileBuilder:
    """Collects a file's records with their lines and checks them as they come; `build` checks the group
    references (groups may follow the records that use them) and returns the `SchoolFile`."""

    def __init__(self, source: str, places: Mapping[str, str] | None = None) -> None:
        """`source` names the format in the result; `places` names the file of each kind of record
        ("group", "student", "staff") for readers that spread a school over several files."""
        self._source = source
        self._places = dict(places or {})
        #: Per kind ("group", "student", "staff", "location"), each key with where it was first seen.
        self._seen: dict[str, dict[str, _Seen]] = {"group": {}, "student": {}, "staff": {}, "location": {}}
        self._groups: list[ImportedGroup] = []
        self._students: list[tuple[ImportedStudent, int | None]] = []
        self._staff: list[tuple[ImportedStaff, int | None]] = []
        self._eck_ids: dict[tuple[str, str], str] = {}
        self._parents = 0
        self._warnings: list[str] = []

    def warn(self, warning: str) -> None:
        """Add a warning for the import report (it must not contain personal data)."""
        self._warnings.append(warning)

    def add_group(self, group: ImportedGroup, line: int | None) -> None:
        """A main group (groep) or a composite group (samengestelde_groep)."""
        self._fits(group, "group", line)
        self._unique(group.key, "group", line, composite=group.composite)
        if not group.name:
            raise self._error("group", f"group {shown(group.key)} has no name (naam)", line)
        if not group.composite and group.year_level is None:
            raise self._error("group", f"group {shown(group.key)} has no year level (jaargroep)", line)
        self._year_level(group.year_level, "group", group.key, line)
        self._groups.append(group)

    def add_location(self, key: str, line: int | None) -> None:
        """A location (vestiging) of the school: the hub does not keep them, but students refer to them."""
        self._unique(key, "location", line)

    def check_location(self, key: str, student: str, line: int | None) -> None:
        """A student's location (vestiging) must be one the file lists, as the schema requires."""
        if key not in self._seen["location"]:
            raise self._error(
                "student",
                f"student {shown(student)} refers to location (vestiging) {shown(key)},"
                " which is not in the file",
                line,
            )

    def add_student(self, student: ImportedStudent, line: int | None) -> None:
        """A student (leerling); its group references are checked by `build`."""
        self._fits(student, "student", line)
        self._unique(student.key, "student", line)
        self._eck_id(student.eck_id, "student", student.key, line)
        self._year_level(student.year_level, "student", student.key, line)
        self._surname(student.last_name, student.first_name, "student", student.key, line)
        self._students.append((student, line))

    def add_staff(self, member: ImportedStaff, line: int | None) -> None:
        """A staff member (leerkracht). A record whose only role is OUD is a parent and is left out; OUD
        is never kept as a role of anyone else either."""
        self._fits(member, "staff", line)
        self._unique(member.key, "staff", line)
        for role in member.las_roles:
            if role not in LAS_ROLES:
                raise self._error(
                    "staff",
                    f"staff {shown(member.key)} has an unknown role code {shown(role)} (rol);"
                    f" known codes: {', '.join(sorted(LAS_ROLES))}",
                    line,
                )
        if PARENT_ROLE in member.las_roles and set(member.las_roles) == {PARENT_ROLE}:
            self._parents += 1
            return
        self._eck_id(member.eck_id, "staff", member.key, line)
        self._surname(member.last_name, member.first_name, "staff", member.key, line)
        roles = tuple(role for role in member.las_roles if role != PARENT_ROLE)
        self._staff.append((dataclasses.replace(member, las_roles=roles), line))

    def check_references(self) -> None:
        """Every group a student or staff member names is in the file, and of the right kind."""
        for student, line in self._students:
            if student.main_group is not None:
                self._reference(student.main_group, False, f"student {shown(student.key)}", "student", line)
            for key in student.composite_groups:
                self._reference(key, True, f"student {shown(student.key)}", "student", line)
        for member, line in self._staff:
            for key in member.groups:
                self._reference(key, None, f"staff {shown(member.key)}", "staff", line)

    def build(
        self, *, brin: str, location_code: str, school_year: str, reference_date: dt.date | None
    ) -> SchoolFile:
        """The checked `SchoolFile`; ImportFileError for a group reference that does not resolve."""
        self.check_references()
        warnings = list(self._warnings)
        if self._parents:
            warnings.append(f"{self._parents} parent record(s) (role OUD) were not imported")
        nameless = sum(1 for student, _ in self._students if not student.last_name)
        nameless += sum(1 for member, _ in self._staff if not member.last_name)
        if nameless:
            warnings.append(f"{nameless} person(s) have a first name (roepnaam) only and no surname")
        return SchoolFile(
            brin=brin,
            location_code=location_code,
            school_year=school_year,
            reference_date=reference_date,
            groups=tuple(self._groups),
            students=tuple(student for student, _ in self._students),
            staff=tuple(member for member, _ in self._staff),
            source=self._source,
            warnings=tuple(warnings),
        )

    def _reference(self, key: str, composite: bool | None, who: str, kind: str, line: int | None) -> None:
        group = self._seen["group"].get(key)
        if group is None:
            where = self._places.get("group", "the file")
            raise self._error(kind, f"{who} refers to group {shown(key)}, which is not in {where}", line)
        if composite is not None and group.composite != composite:
            wanted = "a composite group (samengestelde_groep)" if composite else "a main group (groep)"
            raise self._error(kind, f"{who} lists group {shown(key)} as {wanted}, which it is not", line)

    def _unique(self, key: str, kind: str, line: int | None, *, composite: bool = False) -> None:
        if not key:
            raise self._error(kind, f"a {kind} record has no key", line)
        seen = self._seen[kind]
        if key in seen:
            first = seen[key].line
            also = f" (first on line {first})" if first else ""
            raise self._error(kind, f"duplicate {kind} key {shown(key)}{also}", line)
        seen[key] = _Seen(line, composite)

    def _eck_id(self, eck_id: str | None, kind: str, key: str, line: int | None) -> None:
        if eck_id is None:
            return
        other = self._eck_ids.setdefault((kind, eck_id), key)
        if other != key:
            raise self._error(kind, f"{kind} {shown(key)} has the same ECK-iD as {kind} {shown(other)}", line)

    def _year_level(self, code: str | None, kind: str, key: str, line: int | None) -> None:
        if code is not None and code not in YEAR_LEVELS:
            raise self._error(
                kind,
                f"{kind} {shown(key)} has an unknown year-level code {shown(code)} (jaargroep);"
                " known codes: 0-8, 11-16, B, D, S, V, C, N, H",
                line,
            )

    def _surname(self, last_name: str, first_name: str | None, kind: str, key: str, line: int | None) -> None:
        # EDEXML allows a person with a roepnaam only, never one without any name.
        if not last_name and not first_name:
            raise self._error(kind, f"{kind} {shown(key)} has neither a surname nor a first name", line)

    def _fits(self, record: object, kind: str, line: int | None) -> None:
        for field, (limit, label) in _LIMITS.items():
            value = getattr(record, field, None)
            if isinstance(value, str) and len(value) > limit:
                raise self._error(
                    kind, f"the {label} of a {kind} record is longer than {limit} characters", line
                )

    def _error(self, kind: str, message: str, line: int | None) -> ImportFileError:
        place = self._places.get(kind)
        return ImportFileError(f"{place}: {message}" if place else message, line)
