"""The one policy: from a viewer (and the consent facts loaded for it) compute what it may read.

Plain synchronous code without I/O. The result, a `Scope`, names the visible schools (rows), the granted
data categories per school (columns) and how identifiers are shown; every read path in `datasources`
applies it inside its SQL, so nothing outside the scope is ever loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from auth.categories import ALL_CATEGORIES, DataCategory
from auth.viewer import Viewer, ViewerKind


class NotAuthorised(Exception):  # noqa: N818 - a domain word, read as "not authorised to do this"
    """The viewer may not perform this operation at all (as opposed to a row that is simply not visible)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What one viewer may read during one request.

    `school_categories` is None when every school is visible with every category (the operator);
    otherwise it maps each visible school's id to the categories granted there. A school absent from
    the mapping is invisible.
    """

    viewer: Viewer
    school_categories: Mapping[int, frozenset[DataCategory]] | None
    #: The partner whose pseudonyms identifiers are shown in; None shows the hub's own ids (operator).
    partner_id: int | None = None
    #: Whether the viewer may read ECK-iDs (partners in the ECK chain; the hub's own staff).
    sees_eck_id: bool = True

    @property
    def is_unrestricted(self) -> bool:
        """Whether every school and category is visible (the hub's operator)."""
        return self.school_categories is None

    @property
    def visible_school_ids(self) -> frozenset[int] | None:
        """The ids of the visible schools, or None for all."""
        if self.school_categories is None:
            return None
        return frozenset(self.school_categories)

    def can_see_school(self, school_id: int) -> bool:
        """Whether the school's row is visible at all."""
        return self.school_categories is None or school_id in self.school_categories

    def categories_for(self, school_id: int) -> frozenset[DataCategory]:
        """The categories granted to the viewer at this school (empty when the school is invisible)."""
        if self.school_categories is None:
            return ALL_CATEGORIES
        return self.school_categories.get(school_id, frozenset())

    def schools_granting(self, category: DataCategory) -> frozenset[int] | None:
        """The visible schools where `category` is granted; None means every school."""
        if self.school_categories is None:
            return None
        return frozenset(school for school, granted in self.school_categories.items() if category in granted)


def operator_scope(viewer: Viewer) -> Scope:
    """The hub's own staff see every school and every category, with internal identifiers."""
    if viewer.kind is not ViewerKind.OPERATOR:
        raise NotAuthorised("only the operator has an unrestricted scope")
    return Scope(viewer=viewer, school_categories=None)


def scope_for(viewer: Viewer) -> Scope:
    """The scope of a viewer. Kinds other than the operator have no read access yet: their scope is empty,
    so a token of such a kind reads nothing rather than everything."""
    if viewer.kind is ViewerKind.OPERATOR:
        return operator_scope(viewer)
    return Scope(viewer=viewer, school_categories={}, sees_eck_id=False)
