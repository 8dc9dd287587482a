"""Frozen records: the only shapes that cross from the store into the graph.

Fields a viewer's scope withholds arrive as None (the SQL selected NULL in their place). `public_id`
is the identifier the viewer may see: the hub's own id for the operator, a per-partner pseudonym for a
partner; the graph builds global ids from it and never from `id`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Generic, TypeVar


@dataclass(frozen=True, slots=True)
class BoardRecord:
    """A school board."""

    id: int
    public_id: str
    number: str
    name: str
    dpa_signed_at: dt.datetime | None
    dpa_signed_by: str | None
    dpa_chamber_of_commerce_number: str | None
    dpa_version: str | None


@dataclass(frozen=True, slots=True)
class SchoolRecord:
    """A school location."""

    id: int
    public_id: str
    code: str
    brin: str
    location_code: str
    name: str
    board_id: int
    active: bool
    merged_into_id: int | None


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group of one school year."""

    id: int
    public_id: str
    school_id: int
    name: str | None
    year_level: str | None
    school_year: str | None
    composite: bool | None
    effective_from: dt.date | None


@dataclass(frozen=True, slots=True)
class StudentRecord:
    """A student at one school, minimised to the viewer's categories."""

    id: int
    public_id: str
    school_id: int
    pseudonym: str | None
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str | None
    initials: str | None
    date_of_birth: dt.date | None
    year_level: str | None
    #: The main group (stamgroep) of the current school year, read in the same statement.
    main_group: GroupRecord | None = None


@dataclass(frozen=True, slots=True)
class StaffRecord:
    """A staff member at one school, minimised to the viewer's categories."""

    id: int
    public_id: str
    school_id: int
    pseudonym: str | None
    eck_id: str | None
    first_name: str | None
    prefix: str | None
    last_name: str | None
    email: str | None
    roles: tuple[str, ...] | None
    las_roles: tuple[str, ...] | None
    active: bool | None


@dataclass(frozen=True, slots=True)
class PartnerRecord:
    """A publisher or network provider."""

    id: int
    public_id: str
    name: str
    kind: str
    declared_categories: tuple[str, ...]
    eck_chain: bool


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A partner's product."""

    id: int
    public_id: str
    partner_id: int
    name: str
    allowed_at_home: bool
    launch_url: str | None


@dataclass(frozen=True, slots=True)
class LicenseRecord:
    """A school's license of a product."""

    id: int
    public_id: str
    school_id: int
    product_id: int
    seats: int | None
    valid_from: dt.date
    valid_until: dt.date | None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent receipt."""

    id: int
    public_id: str
    school_id: int
    partner_id: int
    categories: tuple[str, ...]
    granted_by: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None
    #: Who revoked it, or granted the receipt that superseded it.
    revoked_by: str | None
    policy_version: str
    #: The school's code, which a partner's consent history names even once the school is out of scope.
    school_code: str


R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a keyset-paginated list: the items with their sort keys, and whether more follow."""

    items: list[tuple[int, R]]
    has_next: bool
    has_previous: bool = False

    @classmethod
    def empty(cls) -> Page[R]:
        """A page with nothing on it."""
        return cls(items=[], has_next=False)


@dataclass(frozen=True, slots=True)
class MemberGroups:
    """The current groups of one student or staff member; `main` is the student's main group (stamgroep)."""

    main: GroupRecord | None
    groups: tuple[GroupRecord, ...]


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """One entry of a school's disclosure audit."""

    id: int
    public_id: str
    school_id: int
    partner_id: int
    categories: tuple[str, ...]
    operation_name: str | None
    records: int
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ConsentRequestRecord:
    """A partner's request for consent."""

    id: int
    public_id: str
    school_id: int
    partner_id: int
    categories: tuple[str, ...]
    purpose: str
    requested_at: dt.datetime
    status: str
