"""The SDL breaks no partner by accident: a breaking change against the last release must be acknowledged.

`schema/released.graphql` is the SDL of the last release; graphql-core's `find_breaking_changes` lists what
the current schema breaks of it (a removed field, a changed type, a new required argument, ...). Each must be
listed in `schema/acknowledged-breaking-changes.txt`, so a breaking change is a decision, never an accident.
"""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLObjectType, GraphQLSchema, find_breaking_changes
from graphql import build_schema as build_sdl

from schema.assembly import build_schema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"
RELEASED = SCHEMA_DIR / "released.graphql"
ACKNOWLEDGED = SCHEMA_DIR / "acknowledged-breaking-changes.txt"


def _loaded(sdl: str) -> GraphQLSchema:
    # The federation SDL names @link and @key without defining them: skip the SDL's own validation.
    return build_sdl(sdl, assume_valid_sdl=True)


def breaking_changes(released: str, current: str) -> list[str]:
    """Each breaking change of `current` against `released`, as "TYPE: description"."""
    return sorted(
        f"{change.type.name}: {change.description}"
        for change in find_breaking_changes(_loaded(released), _loaded(current))
    )


def _acknowledged() -> set[str]:
    lines = (line.strip() for line in ACKNOWLEDGED.read_text("utf-8").splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def test_the_schema_breaks_nothing_of_the_released_sdl_that_is_not_acknowledged() -> None:
    changes = breaking_changes(RELEASED.read_text("utf-8"), build_schema().as_str())
    unacknowledged = [change for change in changes if change not in _acknowledged()]
    assert unacknowledged == [], (
        "breaking changes against schema/released.graphql: list each in"
        " schema/acknowledged-breaking-changes.txt if it is meant (and tell partners), else undo it"
    )


def test_the_check_sees_a_removed_field() -> None:
    released = RELEASED.read_text("utf-8")
    current = _loaded(released)
    student = current.type_map["Student"]
    assert isinstance(student, GraphQLObjectType)
    del student.fields["firstName"]
    changes = [
        f"{change.type.name}: {change.description}"
        for change in find_breaking_changes(_loaded(released), current)
    ]
    assert changes == ["FIELD_REMOVED: Field Student.firstName was removed."]
    assert breaking_changes(released, released) == []


def test_every_acknowledged_change_is_still_a_change() -> None:
    """An acknowledgement that no longer matches anything is stale: it would excuse a future break."""
    changes = set(breaking_changes(RELEASED.read_text("utf-8"), build_schema().as_str()))
    assert _acknowledged() - changes == set()
