"""How a scope becomes SQL: row filters, minimised columns, and the identifiers a viewer sees.

Every query in the datasource layer builds its WHERE clause and its selected columns through these
helpers, so what the policy withholds is never read from the database in the first place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, false, literal, null, true

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
    return school_id.in_(sorted(ids))


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
    return case((school_id.in_(sorted(schools)), column), else_=null()).label(label)


def granted_flag(
    scope: Scope, category: DataCategory, school_id: ColumnElement[Any], label: str
) -> ColumnElement[Any]:
    """A boolean column telling, per row, whether `category` is granted at the row's school."""
    schools = scope.schools_granting(category)
    if schools is None or schools == scope.visible_school_ids:
        return literal(True).label(label)
    if not schools:
        return literal(False).label(label)
    return case((school_id.in_(sorted(schools)), True), else_=False).label(label)


def public_id(scope: Scope, internal_id: int) -> str:
    """The identifier of a row as this viewer sees it. The operator sees the hub's own ids; other viewers
    get no internal ids at all (partner-scoped identifiers come with partner access)."""
    del scope  # every viewer with read access today is the operator
    return str(internal_id)


def internal_id(scope: Scope, shown: str) -> int | None:
    """The row id behind an identifier this viewer was shown, or None if it names nothing it may resolve."""
    del scope
    if not (shown.isascii() and shown.isdigit()) or len(shown) > 18:
        return None
    return int(shown)


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
    return school_id.in_(sorted(ids))
