"""Built statements kept for reuse: a page's statement is built once per distinct input, not per request.

Building a SELECT in SQLAlchemy Core (its columns, the scope's CASE expressions, the subqueries' column
collections) cost a small partner request more CPU than the database spent answering it. A statement is
immutable and depends only on what it was built from, so `remembered` keeps the last few hundred by a key
that names every input of their builder: the builder's name, `scope_key(scope)` (every field of the scope
that SQL may read), the date, the parents and the page arguments. The kept objects hold ids and dates of
the query, never a row read from the database.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from auth.policy import Scope

S = TypeVar("S")

#: How many built statements are kept (least recently used first out). A page statement of students
#: weighs some tens of kB; a full sync builds a new one per page (its cursor differs), so the bound, not
#: the traffic, decides the memory this takes.
KEPT_STATEMENTS = 256

_kept: OrderedDict[Hashable, Any] = OrderedDict()


def scope_key(scope: Scope) -> Hashable:
    """Everything of `scope` that a statement may be built from: all of its fields but the identifiers,
    which are applied to rows after they are read and never enter SQL, and the allow-list, checked before
    anything runs. Two scopes with equal keys build equal statements. Computed once per scope (a partner
    of 80 schools made a set of 80 items, and hashed it, for every statement of its requests)."""
    return scope.derived("statements", _scope_key)


#: How many scope keys `_scope_key` keeps as the one object standing for its equals.
KEPT_SCOPE_KEYS = 1024

_scope_keys: OrderedDict[Hashable, Hashable] = OrderedDict()


def _scope_key(scope: Scope) -> Hashable:
    categories = scope.school_categories
    key = (
        None if categories is None else frozenset(categories.items()),
        scope.partner_id,
        scope.sees_eck_id,
        scope.managed_school_ids,
        scope.managed_board_ids,
        scope.viewer,
    )
    # The same object for equal keys of later requests: finding a kept statement then compares its key's
    # scope part by identity, where a new key was compared item by item (80 pairs for a partner of 80
    # schools, at every statement of its requests: ~3% of a small one).
    found = _scope_keys.get(key)
    if found is None:
        _scope_keys[key] = found = key
        if len(_scope_keys) > KEPT_SCOPE_KEYS:
            _scope_keys.popitem(last=False)
    else:
        _scope_keys.move_to_end(key)
    return found


def remembered(key: Hashable, build: Callable[[], S]) -> S:
    """The statement built for `key`: `build()` the first time, the same object while it is kept."""
    try:
        statement: S = _kept[key]
    except KeyError:
        statement = build()
        _kept[key] = statement
        if len(_kept) > KEPT_STATEMENTS:
            _kept.popitem(last=False)
        return statement
    _kept.move_to_end(key)
    return statement
