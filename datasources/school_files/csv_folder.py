"""The CSV template (reference/csv-template/README.md): a folder of four files for a school whose LAS has no
EDEXML export, read into the same `SchoolFile` with the same checks and the same words as EDEXML.

school.csv holds the school location and year; groups.csv, students.csv and staff.csv one record a line.
UTF-8 with or without a byte order mark; comma- or semicolon-separated (Excel in a Dutch locale saves
with semicolons), decided per file from its header line. Lists inside a cell (composite groups, roles,
a staff member's groups) are separated by "|". Line numbers in messages are the file's own lines.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import TYPE_CHECKING, Final, TypeVar

from datasources.school_files.checks import SchoolFileBuilder, check_school_year, parse_date
from datasources.school_files.model import ImportedGroup, ImportedStaff, ImportedStudent, ImportFileError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from datasources.school_files.model import SchoolFile

#: Each file's columns, the required ones first; a column that is not listed is refused (a misspelt
#: column would otherwise lose its data without a word).
COLUMNS: Final = {
    "school.csv": (("brin", "school_year"), ("location_code", "reference_date")),
    "groups.csv": (("key", "name"), ("year_level", "composite")),
    "students.csv": (
        ("key", "last_name"),
        (
            "eck_id",
            "first_name",
            "prefix",
            "initials",
            "date_of_birth",
            "year_level",
            "main_group",
            "composite_groups",
        ),
    ),
    "staff.csv": (("key", "last_name"), ("eck_id", "first_name", "prefix", "email", "las_roles", "groups")),
}
_YES: Final = frozenset({"yes", "ja", "true", "1"})
_NO: Final = frozenset({"", "no", "nee", "false", "0"})
_BRIN: Final = re.compile(r"[0-9]{2}[A-Z]{2}")
_LOCATION: Final = re.compile(r"[0-9]{2}")

_Row = dict[str, str]
_T = TypeVar("_T")


def read_csv_folder(folder: Path, *, max_bytes: int = 50_000_000) -> SchoolFile:
    """Read the CSV template in `folder` (school.csv, groups.csv, students.csv, staff.csv).

    Raises ImportFileError naming the file and its line for anything the hub refuses: a missing file, more
    than `max_bytes` together, bytes that are not UTF-8, an unknown or missing column, a row with the wrong
    number of cells, a BRIN or location code of the wrong form, a school year that is not two consecutive
    years, a bad date, and everything the EDEXML reader refuses too (unknown year-level or role codes,
    duplicate keys, references to groups not in groups.csv). Staff whose only role is OUD are left out.
    """
    texts = _texts(folder, max_bytes)
    builder = SchoolFileBuilder(
        "CSV", places={"group": "groups.csv", "student": "students.csv", "staff": "staff.csv"}
    )
    school = list(_rows(texts, "school.csv"))
    if len(school) != 1:
        raise ImportFileError("school.csv: must hold exactly one school below its header", 2)
    line, row = school[0]
    brin, location = row["brin"], row.get("location_code") or "00"
    if not _BRIN.fullmatch(brin):
        raise ImportFileError(
            "school.csv: brin must be two digits and two capital letters, such as 16AH", line
        )
    if not _LOCATION.fullmatch(location):
        raise ImportFileError("school.csv: location_code must be two digits, such as 00", line)
    year = _at("school.csv", lambda: check_school_year(row["school_year"], line))
    day = row.get("reference_date")
    reference_date = _at("school.csv", lambda: parse_date(day, "reference_date", line)) if day else None
    for line, row in _rows(texts, "groups.csv"):
        builder.add_group(_group(row, line), line)
    for line, row in _rows(texts, "students.csv"):
        builder.add_student(_student(row, line), line)
    for line, row in _rows(texts, "staff.csv"):
        builder.add_staff(_staff(row), line)
    return builder.build(brin=brin, location_code=location, school_year=year, reference_date=reference_date)


def _group(row: _Row, line: int) -> ImportedGroup:
    flag = (row.get("composite") or "").lower()
    if flag not in _YES | _NO:
        raise ImportFileError("groups.csv: composite must be yes or no (or empty for no)", line)
    composite = flag in _YES
    year_level = row.get("year_level") or None
    if composite and year_level is not None:
        raise ImportFileError("groups.csv: a composite group has no year_level; leave it empty", line)
    return ImportedGroup(key=row["key"], name=row["name"], year_level=year_level, composite=composite)


def _student(row: _Row, line: int) -> ImportedStudent:
    birth = row.get("date_of_birth")
    return ImportedStudent(
        key=row["key"],
        eck_id=row.get("eck_id") or None,
        first_name=row.get("first_name") or None,
        prefix=row.get("prefix") or None,
        last_name=row["last_name"],
        initials=row.get("initials") or None,
        date_of_birth=_at("students.csv", lambda: parse_date(birth, "date_of_birth", line))
        if birth
        else None,
        year_level=row.get("year_level") or None,
        main_group=row.get("main_group") or None,
        composite_groups=_list(row.get("composite_groups")),
    )


def _staff(row: _Row) -> ImportedStaff:
    return ImportedStaff(
        key=row["key"],
        eck_id=row.get("eck_id") or None,
        first_name=row.get("first_name") or None,
        prefix=row.get("prefix") or None,
        last_name=row["last_name"],
        email=row.get("email") or None,
        las_roles=tuple(role.upper() for role in _list(row.get("las_roles"))),
        groups=_list(row.get("groups")),
    )


def _list(cell: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item.strip() for item in (cell or "").split("|") if item.strip()))


def _at(name: str, check: Callable[[], _T]) -> _T:
    """Run a shared check and put the file's name in front of its message."""
    try:
        return check()
    except ImportFileError as error:
        failure = ImportFileError(f"{name}: {error.message}", error.line)
    raise failure


def _texts(folder: Path, max_bytes: int) -> dict[str, str]:
    if not folder.is_dir():
        raise ImportFileError(f"{folder.name or folder}: not a folder with the CSV template")
    contents: dict[str, bytes] = {}
    for name in COLUMNS:
        path = folder / name
        if not path.is_file():
            raise ImportFileError(
                f"{name} is missing: the template has {', '.join(COLUMNS)} (see reference/csv-template)"
            )
        if sum(map(len, contents.values())) + path.stat().st_size > max_bytes:
            raise ImportFileError(f"the CSV files are larger than the limit of {max_bytes:,} bytes together")
        contents[name] = path.read_bytes()
    texts: dict[str, str] = {}
    for name, content in contents.items():
        try:
            texts[name] = codecs.decode(content, "utf-8-sig")
        except UnicodeDecodeError as error:
            line = content.count(b"\n", 0, error.start) + 1
            failure = ImportFileError(f"{name}: the file is not UTF-8 (save it as CSV UTF-8)", line)
        else:
            continue
        raise failure  # outside the except block: the decode error quotes the bytes
    return texts


def _rows(texts: Mapping[str, str], name: str) -> Iterator[tuple[int, _Row]]:
    """Each non-empty row of a file as {column: trimmed cell}, with the line it starts on."""
    text = texts[name]
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns = _columns(name, _next(reader, name, 1) or [])
    while True:
        line = reader.line_num + 1
        cells = _next(reader, name, line)
        if cells is None:
            return
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            raise ImportFileError(f"{name}: the row has {len(cells)} cells, the header {len(columns)}", line)
        yield line, {column: cell.strip() for column, cell in zip(columns, cells, strict=True)}


def _next(reader: Iterator[list[str]], name: str, line: int) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error:
        failure = ImportFileError(f"{name}: the row is not valid CSV (check its quotes)", line)
    raise failure  # outside the except block: csv's message may quote the row


def _columns(name: str, header: list[str]) -> list[str]:
    required, optional = COLUMNS[name]
    columns = [column.strip().lower() for column in header]
    for column in columns:
        if column not in required + optional:
            shown = f"'{column}'" if re.fullmatch(r"[\w -]{1,40}", column) else "(an unusual name)"
            raise ImportFileError(
                f"{name}: unknown column {shown}; the columns are {', '.join(required + optional)}", 1
            )
        if columns.count(column) > 1:
            raise ImportFileError(f"{name}: the column '{column}' appears twice", 1)
    missing = [column for column in required if column not in columns]
    if missing:
        raise ImportFileError(f"{name}: the header lacks the column(s) {', '.join(missing)}", 1)
    return columns
