"""The one policy: from a viewer and the facts loaded for it, compute what it may read.

Plain synchronous code without I/O. The datasource layer loads the facts (a partner's consents, the DPA
state of their boards, a coordinator's schools); this module alone decides what they mean. The result, a
`Scope`, names the visible schools (rows), the granted data categories per school (columns), the schools
the viewer manages, and how identifiers are shown; every read path applies it inside its SQL, so nothing
outside the scope is ever loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from auth.categories import ALL_CATEGORIES, DataCategory
from auth.identifiers import HubIdentifiers, Identifiers, kept_partner_identifiers
from auth.viewer import Viewer, ViewerKind

T = TypeVar("T")

#: Granted with every consent (DOMAIN.md): without it a partner could not tell which school it reads.
ALWAYS_GRANTED = frozenset({DataCategory.SCHOOL_BASIC})


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
    #: The partner whose view this is; None for the hub's own staff and for school staff.
    partner_id: int | None = None
    #: Whether the viewer may read ECK-iDs (partners in the ECK chain; the hub's and the school's staff).
    sees_eck_id: bool = True
    #: The schools whose consent, coupling and audit the viewer manages (a coordinator's schools).
    managed_school_ids: frozenset[int] = frozenset()
    #: The boards the viewer coordinates as a board coordinator (bovenschools), whatever schools it chose.
    managed_board_ids: frozenset[int] = frozenset()
    identifiers: Identifiers = field(default_factory=HubIdentifiers)
    #: The SHA-256 hashes of the operations the viewer may run (a partner's allow-list); None: any. Never
    #: part of SQL: checked against the request's document before it runs (`schema.http`).
    allowed_operations: frozenset[str] | None = None
    #: Values derived from this scope, each computed once (a scope never changes): see `derived`.
    _derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived(self, name: str, compute: Callable[[Scope], T]) -> T:
        """`compute(self)`, computed once for this scope under `name`: for values that every statement of a
        request asks for (the key of its kept statements: `datasources.store.statements.scope_key`)."""
        try:
            value: T = self._derived[name]
        except KeyError:
            value = self._derived[name] = compute(self)
        return value

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

    def manages(self, school_id: int) -> bool:
        """Whether the viewer administers this school (the operator administers every school)."""
        return self.is_unrestricted or school_id in self.managed_school_ids


@dataclass(frozen=True, slots=True)
class SchoolConsent:
    """The facts of one school that bear on a partner: what it granted, and whether it may disclose."""

    school_id: int
    granted: frozenset[DataCategory]
    school_active: bool
    dpa_signed: bool


@dataclass(frozen=True, slots=True)
class PartnerFacts:
    """What the store knows of a partner for the policy: declarations and the consents in force."""

    partner_id: int
    declared: frozenset[DataCategory]
    eck_chain: bool
    consents: tuple[SchoolConsent, ...]
    #: The SHA-256 hashes of the operations the partner may run (its allow-list); None: any operation.
    allowed_operations: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class StaffFacts:
    """What the store knows of a staff account for the policy: the schools it coordinates."""

    account_id: int
    coordinator_of: frozenset[int]
    #: For a board coordinator (bovenschools): each board it coordinates, with the schools of that board
    #: it manages (all of them, or the ones the operator chose).
    board_schools: Mapping[int, frozenset[int]] = field(default_factory=dict)

    @property
    def managed(self) -> frozenset[int]:
        """Every school the account manages: its own schools and those of the boards it coordinates."""
        return self.coordinator_of.union(*self.board_schools.values())


def operator_scope(viewer: Viewer) -> Scope:
    """The hub's own staff see every school and every category, with internal identifiers."""
    if viewer.kind is not ViewerKind.OPERATOR:
        raise NotAuthorised("only the operator has an unrestricted scope")
    return Scope(viewer=viewer, school_categories=None)


def partner_scope(viewer: Viewer, facts: PartnerFacts, *, require_dpa: bool, pseudonym_key: bytes) -> Scope:
    """A partner sees the schools that consented to it and are open, whose board signed the DPA (when the
    hub requires it), and there only the categories it both declared and was granted."""
    visible: dict[int, frozenset[DataCategory]] = {}
    for consent in facts.consents:
        categories = disclosed_categories(consent, facts.declared, require_dpa=require_dpa)
        if categories:
            visible[consent.school_id] = categories
    return Scope(
        viewer=viewer,
        school_categories=visible,
        partner_id=facts.partner_id,
        sees_eck_id=facts.eck_chain,
        identifiers=kept_partner_identifiers(facts.partner_id, pseudonym_key),
        allowed_operations=facts.allowed_operations,
    )


def disclosed_categories(
    consent: SchoolConsent, declared: Iterable[DataCategory], *, require_dpa: bool
) -> frozenset[DataCategory]:
    """What one school discloses to a partner under its consent: nothing while the school is closed or
    (when the hub requires it) its board has not signed the DPA; else what the partner both declared and
    was granted, with school.basic. The feed keeps a history of this (when scope began and ended)."""
    if not consent.school_active or (require_dpa and not consent.dpa_signed):
        return frozenset()
    return (consent.granted & frozenset(declared)) | ALWAYS_GRANTED


def staff_scope(viewer: Viewer, facts: StaffFacts) -> Scope:
    """A school's coordinator reads and manages the schools it coordinates, a board coordinator the
    schools of its boards that it manages (all or chosen); other staff read nothing yet."""
    managed = facts.managed
    return Scope(
        viewer=viewer,
        school_categories=dict.fromkeys(managed, ALL_CATEGORIES),
        managed_school_ids=managed,
        managed_board_ids=frozenset(facts.board_schools),
    )


def empty_scope(viewer: Viewer) -> Scope:
    """A scope that reads nothing (a signed-out caller, or a kind of viewer without read access)."""
    return Scope(viewer=viewer, school_categories={}, sees_eck_id=False)


def grantable(declared: Iterable[DataCategory], asked: Iterable[DataCategory]) -> frozenset[DataCategory]:
    """The categories a school may grant a partner: only what the partner declared (raises otherwise)."""
    undeclared = frozenset(asked) - frozenset(declared) - ALWAYS_GRANTED
    if undeclared:
        names = ", ".join(sorted(category.name for category in undeclared))
        raise NotAuthorised(f"the partner did not declare {names}")
    return frozenset(asked) | ALWAYS_GRANTED


@dataclass(frozen=True, slots=True)
class Membership:
    """One current school membership of a signed-in person: a staff member or a student at a school."""

    #: "staff" or "student" (also the kind of the person's partner pseudonyms).
    kind: str
    #: The membership's row (a staff member or a student at that school).
    member_id: int
    person_id: int
    school_id: int


@dataclass(frozen=True, slots=True)
class OwnView:
    """What a signed-in teacher or student reads about themselves (`me` and the page at `/`).

    The own view is no partner's: it is the school's data shown to the school's own people, so it never
    carries pseudonyms and is never in the disclosure audit. Its rows: the person's schools (code and name),
    their current groups, and the products they may open (`auth.launches`). A teacher (any staff member)
    also reads the students of their own groups, by name, as the self-check asks ("do I see all my
    students"); a student reads no other student's data at all, not even classmates' names, since a pupil
    needs none to check their own access.
    """

    viewer: Viewer
    memberships: tuple[Membership, ...]

    @property
    def school_ids(self) -> frozenset[int]:
        """The schools of the person's memberships."""
        return frozenset(membership.school_id for membership in self.memberships)

    @property
    def is_student(self) -> bool:
        """Whether the person signed in as a student."""
        return self.viewer.kind is ViewerKind.STUDENT

    @property
    def sees_group_members(self) -> bool:
        """Whether the students of the person's groups are shown (to staff only)."""
        return self.viewer.kind is ViewerKind.STAFF


#: Who has an own view: the people of a school who sign in themselves.
_PERSONS = frozenset({ViewerKind.STAFF, ViewerKind.STUDENT})


def own_view(viewer: Viewer, memberships: Iterable[Membership]) -> OwnView | None:
    """The own view of a signed-in teacher or student with these current memberships (a staff viewer's
    staff memberships, a student viewer's student membership); None for anyone else (partners, LAS
    clients, the operator, anonymous callers), who have no self and read nothing through it."""
    if viewer.kind not in _PERSONS:
        return None
    wanted = "student" if viewer.kind is ViewerKind.STUDENT else "staff"
    return OwnView(
        viewer=viewer,
        memberships=tuple(
            sorted(
                (membership for membership in memberships if membership.kind == wanted),
                key=lambda membership: (membership.school_id, membership.member_id),
            )
        ),
    )
