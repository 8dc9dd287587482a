"""The facts of the launch rule (`auth.launches`): which products a person's current groups are coupled to,
the products and their partners, the schools' consents for those partners, and the schools themselves.

Batch-shaped reads on the request's reader; what they mean is decided in `auth.launches` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from auth.categories import DataCategory
from auth.policy import SchoolConsent
from datasources.access.viewer_facts import categories
from datasources.store.current import current_groups
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import (
    BOARDS,
    CONSENTS,
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    OIDC_CLIENTS,
    PARTNERS,
    PRODUCTS,
    SCHOOLS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Sequence

    from auth.policy import Membership
    from datasources.store.reader import Reader


@dataclass(frozen=True, slots=True)
class ProductFacts:
    """A product with what the rule needs of its partner."""

    id: int
    name: str
    partner_id: int
    partner_name: str
    declared: frozenset[DataCategory]
    allowed_at_home: bool
    #: The product's own address (where the partner's login starts), as the publisher set it.
    target_url: str | None
    #: The partner's OAuth client id (its scope is the one policy's reading of the consents).
    client_id: str
    #: The partner's registered login-initiation URI, where a launch sends the browser; None without one.
    login_initiation_uri: str | None

    @property
    def connected(self) -> bool:
        """Whether a launch has somewhere to go: the partner's login-initiation URI and the product's
        address are both registered."""
        return self.login_initiation_uri is not None and self.target_url is not None


@dataclass(frozen=True, slots=True)
class SchoolFacts:
    """A school as the launch (and the person's own view) names it."""

    id: int
    code: str
    name: str
    instelling_ref: str
    home_login: bool


async def coupled_groups(
    reader: Reader, memberships: Sequence[Membership], today: dt.date
) -> dict[tuple[int, int], tuple[int, ...]]:
    """For each (product, school): the person's current groups there that a license of the product at that
    school, valid today, is coupled to. Staff links count while in force (a substitute's until its last
    day); only the groups of the school's current school year count."""
    found: dict[tuple[int, int], set[int]] = {}
    for kind, link, column in (("staff", GROUP_STAFF, "staff_id"), ("student", GROUP_STUDENTS, "student_id")):
        member_ids = [membership.member_id for membership in memberships if membership.kind == kind]
        if not member_ids:
            continue
        statement = (
            select(LICENSES.c.product_id, GROUPS.c.school_id, GROUPS.c.id.label("group_id"))
            .select_from(link)
            .join(GROUPS, GROUPS.c.id == link.c.group_id)
            .join(LICENSE_GROUPS, LICENSE_GROUPS.c.group_id == GROUPS.c.id)
            .join(LICENSES, LICENSES.c.id == LICENSE_GROUPS.c.license_id)
            .where(
                link.c[column].in_(member_ids),
                current_groups(today),
                # A license is the school's own: a coupling to another school's group opens nothing.
                LICENSES.c.school_id == GROUPS.c.school_id,
                LICENSES.c.valid_from <= today,
                or_(LICENSES.c.valid_until.is_(None), LICENSES.c.valid_until >= today),
            )
        )
        if kind == "staff":
            statement = statement.where(staff_link_in_force(today))
        for row in await reader.rows(statement):
            found.setdefault((row.product_id, row.school_id), set()).add(row.group_id)
    return {key: tuple(sorted(groups)) for key, groups in sorted(found.items())}


async def products_by_id(reader: Reader, product_ids: Collection[int]) -> dict[int, ProductFacts]:
    """The products among `product_ids`, with their partners and where their partners' logins start."""
    if not product_ids:
        return {}
    p, partner = PRODUCTS.c, PARTNERS.c
    rows = await reader.rows(
        select(
            p.id,
            p.name,
            p.partner_id,
            p.allowed_at_home,
            p.launch_url,
            partner.name.label("partner_name"),
            partner.declared_categories,
            partner.client_id,
            OIDC_CLIENTS.c.login_initiation_uri,
        )
        .join(PARTNERS, partner.id == p.partner_id)
        .outerjoin(OIDC_CLIENTS, OIDC_CLIENTS.c.partner_id == p.partner_id)
        .where(p.id.in_(sorted(product_ids)))
    )
    return {
        row.id: ProductFacts(
            id=row.id,
            name=row.name,
            partner_id=row.partner_id,
            partner_name=row.partner_name,
            declared=categories(row.declared_categories),
            allowed_at_home=bool(row.allowed_at_home),
            target_url=row.launch_url,
            client_id=row.client_id,
            login_initiation_uri=row.login_initiation_uri,
        )
        for row in rows
    }


async def consents_in_force(
    reader: Reader, school_ids: Collection[int], partner_ids: Collection[int]
) -> dict[tuple[int, int], SchoolConsent]:
    """The consent in force of each (school, partner) among these, with the school's and board's state."""
    if not school_ids or not partner_ids:
        return {}
    c = CONSENTS.c
    rows = await reader.rows(
        select(c.school_id, c.partner_id, c.categories, SCHOOLS.c.active, BOARDS.c.dpa_signed_at)
        .join(SCHOOLS, SCHOOLS.c.id == c.school_id)
        .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
        .where(
            c.school_id.in_(sorted(school_ids)),
            c.partner_id.in_(sorted(partner_ids)),
            c.revoked_at.is_(None),
        )
    )
    return {
        (row.school_id, row.partner_id): SchoolConsent(
            school_id=row.school_id,
            granted=categories(row.categories),
            school_active=bool(row.active),
            dpa_signed=row.dpa_signed_at is not None,
        )
        for row in rows
    }


async def schools_by_id(reader: Reader, school_ids: Collection[int]) -> dict[int, SchoolFacts]:
    """The schools among `school_ids`."""
    if not school_ids:
        return {}
    s = SCHOOLS.c
    rows = await reader.rows(
        select(s.id, s.code, s.name, s.instelling_ref, s.home_login).where(s.id.in_(sorted(school_ids)))
    )
    return {
        row.id: SchoolFacts(
            id=row.id,
            code=row.code,
            name=row.name,
            instelling_ref=row.instelling_ref,
            home_login=bool(row.home_login),
        )
        for row in rows
    }
