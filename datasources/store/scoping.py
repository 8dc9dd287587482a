"""How a scope becomes SQL: row filters, minimised columns, and the identifiers a viewer sees.

Every query in the datasource layer builds its WHERE clause and its selected columns through these
helpers, so what the policy withholds is never read from the database in the first place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, false, literal, null, true

from datasources.store.id_lists import among

if TYPE_CHECKING:
    from collections.abc import Iterable

    from auth.categories import DataCategory
    from auth.policy import Scope


def visible_schools(scope: Scope, school_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """The row filter: only rows of schools the scope makes visible."""
    ids = scope.visible_school_ids
    if ids is None:
        return true()
    if not ids:
        return false()
    return among(school_id, ids)


def granted(
    scope: Scope, category: DataCategory, column: ColumnElement[Any], school_id: ColumnElement[Any]
) -> ColumnElement[Any]:
    """A column as the scope allows it: the value where `category` is granted for the row's school,
    NULL elsewhere (decided by the database, so withheld values never leave it)."""
    label = column.key or "value"
    schools = scope.schools_granting(category)
    if schools is None or schools == scope.visible_school_ids:
        return column.label(label)
    if not schools:
        return null().label(label)
    return case((among(school_id, schools), column), else_=null()).label(label)


def granted_flag(
    scope: Scope, category: DataCategory, school_id: ColumnElement[Any], label: str
) -> ColumnElement[Any]:
    """A boolean column telling, per row, whether `category` is granted at the row's school."""
    schools = scope.schools_granting(category)
    if schools is None or schools == scope.visible_school_ids:
        return literal(True).label(label)
    if not schools:
        return literal(False).label(label)
    return case((among(school_id, schools), True), else_=False).label(label)


def public_id(scope: Scope, entity_type: str, row_id: int) -> str:
    """The identifier of a row as this viewer sees it (the policy decides: the hub's ids for its own
    staff, per-partner sealed values for a partner)."""
    return scope.identifiers.show(entity_type, row_id)


def person_public_id(scope: Scope, entity_type: str, row_id: int, person_id: int) -> str:
    """The identifier of a student or staff member: a partner's value is derived from the person, so it
    survives re-imports, school years, mergers and splits; the hub's own staff see the row id."""
    return scope.identifiers.show(entity_type, person_id if scope.partner_id is not None else row_id)


def pseudonym(scope: Scope, kind: str, person_id: int, school_id: int, category: DataCategory) -> str | None:
    """The person's pseudonym for this viewer where `category` is granted at the school, else None."""
    if category not in scope.categories_for(school_id):
        return None
    return scope.identifiers.pseudonym(kind, person_id)


def internal_id(scope: Scope, entity_type: str, shown: str) -> int | None:
    """The id behind an identifier this viewer was shown (a person's id for a partner's student or staff
    member), or None if it names nothing the viewer may resolve."""
    return scope.identifiers.resolve(entity_type, shown)


def schools_with(
    scope: Scope, categories: Iterable[DataCategory], school_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """The row filter for data that exists only under a category (a person, a membership, a license):
    rows of schools where at least one of `categories` is granted."""
    if scope.is_unrestricted:
        return true()
    ids = set().union(*(scope.schools_granting(category) or () for category in categories))
    if not ids:
        return false()
    return among(school_id, ids)


def visible_schools_with(
    scope: Scope, categories: Iterable[DataCategory], school_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """`visible_schools` and `schools_with` in one condition: rows of visible schools where at least one
    of `categories` is granted. Two conditions on the one column (two lists of 400 schools) made
    PostgreSQL's planner give up the school index and read every student for a page of four schools
    (issue 14: ~10 ms of a 1,000-student page at 100,000 students)."""
    if scope.is_unrestricted:
        return true()
    visible = scope.visible_school_ids or frozenset()
    ids = visible & set().union(*(scope.schools_granting(category) or () for category in categories))
    if not ids:
        return false()
    return among(school_id, ids)
