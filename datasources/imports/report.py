"""The report of an import: what it added, changed, removed and left, its warnings, and whether it was
applied; and the refusal that carries it when a file cannot be applied."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counts:
    """How many records an import added, changed, removed and left as they were."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """The report of one import (API.md, `ImportReport`)."""

    school_code: str
    school_year: str
    dry_run: bool
    held: bool = False
    groups: Counts = field(default_factory=Counts)
    students: Counts = field(default_factory=Counts)
    staff: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        """Whether the import changed the store (not a dry run, not held, not refused)."""
        return not (self.dry_run or self.held or self.errors)


class ImportRefused(Exception):  # noqa: N818 - reads as the verdict on the file
    """The file cannot be applied; the report says why and nothing was changed."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("; ".join(report.errors))
        self.report = report
