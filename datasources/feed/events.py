"""What the feed records: the kinds of event, and the entry a writer hands in for each change."""

from __future__ import annotations

from dataclasses import dataclass

CREATED, UPDATED, DELETED, ENTERED_SCOPE, LEFT_SCOPE = (
    "CREATED",
    "UPDATED",
    "DELETED",
    "ENTERED_SCOPE",
    "LEFT_SCOPE",
)


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """A change to record: which entity of which school, what happened, and the categories it touches."""

    school_id: int
    entity_type: str
    entity_id: int
    kind: str
    categories: tuple[str, ...] = ()
    person_id: int | None = None
    partner_id: int | None = None
