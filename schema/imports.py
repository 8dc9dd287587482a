"""Imports in the graph: the report, the coordinator's upload, and the LAS coupling switch."""

from __future__ import annotations

import strawberry

from datasources.imports.report import Counts as CountsRecord
from datasources.imports.report import ImportReport as ImportReportRecord
from schema.classification import public


@strawberry.type(description="How many records an import added, changed, removed and left unchanged.")
class Counts:
    """Counts of one kind of record."""

    added: int = public("Records the file brought that the hub did not have.")
    changed: int = public("Records whose kept fields or group memberships changed.")
    removed: int = public("Records the hub had that the file no longer has (they lose access).")
    unchanged: int = public("Records the file and the hub agree on.")

    @classmethod
    def from_record(cls, record: CountsRecord) -> Counts:
        """The GraphQL object of a count."""
        return cls(
            added=record.added, changed=record.changed, removed=record.removed, unchanged=record.unchanged
        )


@strawberry.type(
    description="The report of an import; also the JSON of `import edex --json` and `POST /las/edex`."
)
class ImportReport:
    """What an import changed, or would change, or why it was refused or held."""

    school_code: str = public("The school the file is for (empty when the file could not be read).")
    school_year: str = public("The school year the file is for.")
    dry_run: bool = public("True when nothing was applied because a dry run was asked.")
    held: bool = public(
        "True when the import would remove too many students and waits: send it again with confirm."
    )
    groups: Counts = public("Groups.")
    students: Counts = public("Students.")
    staff: Counts = public("Staff members.")
    warnings: list[str] = public("What a person should know, without personal data.")
    errors: list[str] = public(
        "Why the file was refused (nothing was changed), with line numbers where known."
    )

    @classmethod
    def from_record(cls, record: ImportReportRecord) -> ImportReport:
        """The GraphQL object of an import report."""
        return cls(
            school_code=record.school_code,
            school_year=record.school_year,
            dry_run=record.dry_run,
            held=record.held,
            groups=Counts.from_record(record.groups),
            students=Counts.from_record(record.students),
            staff=Counts.from_record(record.staff),
            warnings=list(record.warnings),
            errors=list(record.errors),
        )
