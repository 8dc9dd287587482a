"""The OneRoster 1.2 CSV bulk export of one school, as a partner may read it: a ZIP of CSV files.

The files and their headers are the CSV binding's (`vocabulary.CSV_HEADERS`): RFC 4180, UTF-8, a header
row, and no file without data rows (the binding forbids them), so a file whose data the partner was not
granted is absent from the ZIP and `absent` in manifest.csv: demographics.csv only where
student.demographics is granted (with the birth date; `sex` stays empty, as gender is never passed on);
classes, courses, academic sessions and enrollments only where group.basic is. users.csv comes with
roles.csv, where 1.2 keeps a user's role and school (users.csv no longer has them). It is a bulk file, so
`status` and `dateLastModified` stay empty.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.categories import DataCategory
from datasources.oneroster.objects import ECK_ID_TYPE, PSEUDONYM_ID_TYPE
from datasources.oneroster.records import (
    CLASSES,
    ENROLLMENTS,
    ORGS,
    USERS,
    RosterClass,
    RosterEnrollment,
    RosterOrg,
    RosterUser,
    session_dates,
)
from datasources.oneroster.rosters import read_school
from datasources.oneroster.vocabulary import CSV_HEADERS, MANIFEST_FILES, MANIFEST_HEADER

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import Reader

SYSTEM_NAME: Final = "Leerpoort"
SYSTEM_CODE: Final = "leerpoort"
Rows = list[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SchoolRoster:
    """Everything of one school that a viewer's scope shows, ready to be written."""

    orgs: list[RosterOrg]
    classes: list[RosterClass]
    users: list[RosterUser]
    enrollments: list[RosterEnrollment]
    #: Whether student.demographics is granted at the school (demographics.csv exists only then).
    demographics: bool

    @property
    def records(self) -> int:
        """How many records of the school the export holds (for the disclosure audit)."""
        schools = sum(org.school_id is not None for org in self.orgs)
        return schools + len(self.classes) + len(self.users) + len(self.enrollments)


async def school_roster(reader: Reader, scope: Scope, school_id: int, now: dt.datetime) -> SchoolRoster:
    """The roster of one school within `scope` (four statements, each minimised in SQL)."""
    return SchoolRoster(
        orgs=await read_school(reader, scope, ORGS, school_id, now),
        classes=await read_school(reader, scope, CLASSES, school_id, now),
        users=await read_school(reader, scope, USERS, school_id, now),
        enrollments=await read_school(reader, scope, ENROLLMENTS, school_id, now),
        demographics=DataCategory.STUDENT_DEMOGRAPHICS in scope.categories_for(school_id),
    )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _list(values: Sequence[str]) -> str:
    return ",".join(values)


def _orgs(roster: SchoolRoster) -> Rows:
    return [
        (org.sourced_id, "", "", org.name, org.type, org.identifier, _text(org.parent_sourced_id))
        for org in roster.orgs
    ]


def _sessions(roster: SchoolRoster) -> Rows:
    years = sorted({klass.school_year for klass in roster.classes if klass.school_year is not None})
    rows: Rows = []
    for year in years:
        start, end = session_dates(year)
        rows.append((year, "", "", year, "schoolYear", start.isoformat(), end.isoformat(), "", str(end.year)))
    return rows


def _courses(roster: SchoolRoster) -> Rows:
    return [
        (k.course_sourced_id, "", "", _text(k.school_year), _text(k.title), "", _list(k.grades),
         k.school_sourced_id, "", "")
        for k in roster.classes
    ]  # fmt: skip


def _classes(roster: SchoolRoster) -> Rows:
    return [
        (k.sourced_id, "", "", _text(k.title), _list(k.grades), k.course_sourced_id, "", _text(k.class_type),
         "", k.school_sourced_id, _text(k.school_year), "", "", "")
        for k in roster.classes
    ]  # fmt: skip


def _user_ids(user: RosterUser) -> str:
    found = [(PSEUDONYM_ID_TYPE, user.username), (ECK_ID_TYPE, user.eck_id)]
    return ",".join(f"{{{kind}:{value}}}" for kind, value in found if value is not None)


def _users(roster: SchoolRoster) -> Rows:
    return [
        (u.sourced_id, "", "", _text(u.enabled_user), _text(u.username), _user_ids(u), _text(u.given_name),
         _text(u.family_name), "", "", _text(u.email), "", "", "", _list(u.grades), "", "", "", "", "", "",
         u.school_sourced_id, "")
        for u in roster.users
    ]  # fmt: skip


def _roles(roster: SchoolRoster) -> Rows:
    return [
        (u.role_sourced_id, "", "", u.sourced_id, "primary", _text(u.role), "", "", u.school_sourced_id, "")
        for u in roster.users
        if u.role is not None
    ]


def _enrollments(roster: SchoolRoster) -> Rows:
    return [
        (e.sourced_id, "", "", e.class_sourced_id, e.school_sourced_id, e.user_sourced_id, _text(e.role), "",
         _text(e.begin_date and e.begin_date.isoformat()), _text(e.end_date and e.end_date.isoformat()))
        for e in roster.enrollments
    ]  # fmt: skip


def _demographics(roster: SchoolRoster) -> Rows:
    if not roster.demographics:
        return []
    blanks = ("",) * (len(CSV_HEADERS["demographics.csv"]) - 5)
    # `sex` (the fifth column) stays empty for every student: the hub never passes gender on.
    return [
        (u.sourced_id, "", "", _text(u.birth_date and u.birth_date.isoformat()), "", *blanks)
        for u in roster.users
        if u.kind == "student"
    ]


def bulk_files(roster: SchoolRoster) -> dict[str, Rows]:
    """The data files of the export by file name, each without its header; files without rows are left out."""
    files = {
        "orgs.csv": _orgs(roster),
        "academicSessions.csv": _sessions(roster),
        "courses.csv": _courses(roster),
        "classes.csv": _classes(roster),
        "users.csv": _users(roster),
        "roles.csv": _roles(roster),
        "enrollments.csv": _enrollments(roster),
        "demographics.csv": _demographics(roster),
    }
    return {name: rows for name, rows in files.items() if rows}


def _csv(header: tuple[str, ...], rows: Rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def bulk_zip(files: dict[str, Rows]) -> bytes:
    """The ZIP of a bulk export: manifest.csv first, then every data file with its header."""
    manifest: Rows = [("manifest.version", "1.0"), ("oneroster.version", "1.2")]
    manifest += [(f"file.{name}", "bulk" if f"{name}.csv" in files else "absent") for name in MANIFEST_FILES]
    manifest += [("source.systemName", SYSTEM_NAME), ("source.systemCode", SYSTEM_CODE)]
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", _csv(MANIFEST_HEADER, manifest))
        for name, rows in files.items():
            archive.writestr(name, _csv(CSV_HEADERS[name], rows))
    return output.getvalue()
