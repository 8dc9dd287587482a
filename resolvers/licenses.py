"""Products and licenses: a publisher's products and licenses, their couplings to groups (by the
publisher or the school's coordinator), and what each group and person may open.

Every write asks `auth.permissions` with the facts of the license or product first. A license the viewer
may not touch answers as one that does not exist (NOT_FOUND), so another publisher's licenses cannot be
told apart from ids that name nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import may_couple_license, may_create_products, may_manage_license
from datasources.access import license_admin
from datasources.access.accounts import school_id_by_code
from datasources.school_files.checks import YEAR_LEVELS
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden, NotFound

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable, Sequence

    from datasources.store.records import (
        GroupRecord,
        LicenseRecord,
        ProductRecord,
        StaffRecord,
        StudentRecord,
    )
    from resolvers.context import Context

_NO_LICENSE = "no license with this id"


async def create_product(ctx: Context, *, name: str, allowed_at_home: bool, launch_url: str) -> ProductRecord:
    """A publisher adds one of its products."""
    partner_id = ctx.scope.partner_id
    publisher = partner_id is not None and await license_admin.is_publisher(ctx.engine, partner_id)
    if partner_id is None or not may_create_products(ctx.viewer, ctx.scope, publisher=publisher):
        raise Forbidden("only a publisher creates products, and only its own")
    return await license_admin.create_product(
        ctx.engine, ctx.scope, partner_id, name=name, allowed_at_home=allowed_at_home, launch_url=launch_url
    )


async def create_license(
    ctx: Context,
    *,
    school_code: str,
    shown_product_id: str,
    seats: int | None,
    valid_from: dt.date,
    valid_until: dt.date | None,
) -> LicenseRecord:
    """A publisher licenses one of its products to a school that granted it LICENSE consent."""
    product_id = internal_id(ctx.scope, "Product", shown_product_id)
    owner = None if product_id is None else await license_admin.product_partner(ctx.engine, product_id)
    if product_id is None or owner is None or owner != ctx.scope.partner_id:
        raise Forbidden("`productId` must be one of your own products")
    school_id = await school_id_by_code(ctx.engine, school_code)
    if school_id is None or not may_manage_license(
        ctx.viewer, ctx.scope, school_id, product_partner_id=owner
    ):
        raise Forbidden(f"{school_code.strip().upper()} has not granted you LICENSE consent")
    return await license_admin.create_license(
        ctx.engine,
        ctx.scope,
        school_id=school_id,
        product_id=product_id,
        partner_id=owner,
        seats=seats,
        valid_from=valid_from,
        valid_until=valid_until,
        now=ctx.now,
    )


async def _license_for(
    ctx: Context, shown_license_id: str, allowed: Callable[..., bool]
) -> tuple[int, license_admin.LicenseFacts]:
    """The license behind a shown id, if the decision `allowed` lets this viewer act on it."""
    license_id = internal_id(ctx.scope, "License", shown_license_id)
    facts = None if license_id is None else await license_admin.license_facts(ctx.engine, license_id)
    if (
        license_id is None
        or facts is None
        or not allowed(ctx.viewer, ctx.scope, facts.school_id, product_partner_id=facts.product_partner_id)
    ):
        raise NotFound(_NO_LICENSE)
    return license_id, facts


async def update_license(
    ctx: Context,
    shown_license_id: str,
    *,
    seats: int | None,
    valid_from: dt.date,
    valid_until: dt.date | None,
) -> LicenseRecord:
    """The publisher sets new terms for one of its licenses."""
    license_id, facts = await _license_for(ctx, shown_license_id, may_manage_license)
    return await license_admin.update_license(
        ctx.engine,
        ctx.scope,
        license_id,
        partner_id=facts.product_partner_id,
        seats=seats,
        valid_from=valid_from,
        valid_until=valid_until,
        now=ctx.now,
    )


async def end_license(ctx: Context, shown_license_id: str) -> LicenseRecord:
    """The publisher ends one of its licenses (its last day becomes yesterday)."""
    license_id, facts = await _license_for(ctx, shown_license_id, may_manage_license)
    return await license_admin.end_license(
        ctx.engine, ctx.scope, license_id, partner_id=facts.product_partner_id, now=ctx.now
    )


def _group_ids(ctx: Context, shown_group_ids: Sequence[str] | None) -> list[int] | None:
    if shown_group_ids is None:
        return None
    ids = []
    for shown in shown_group_ids:
        group_id = internal_id(ctx.scope, "Group", shown)
        if group_id is None:
            raise BadUserInput("`groupIds` must be Group ids this API returned")
        ids.append(group_id)
    return ids


def _checked_levels(year_levels: Sequence[str] | None) -> Sequence[str] | None:
    unknown = sorted({level for level in year_levels or () if level not in YEAR_LEVELS})
    if unknown:
        raise BadUserInput(
            f"unknown year level {unknown[0]!r}: `yearLevels` are EDEXML year-level codes (jaargroep),"
            " such as '1' to '8'"
        )
    return year_levels


async def couple_license(
    ctx: Context,
    shown_license_id: str,
    *,
    shown_group_ids: Sequence[str] | None,
    year_levels: Sequence[str] | None,
) -> LicenseRecord:
    """The publisher or the school's coordinator couples a license to groups and year levels."""
    license_id, facts = await _license_for(ctx, shown_license_id, may_couple_license)
    year_levels = _checked_levels(year_levels)
    group_ids = _group_ids(ctx, shown_group_ids) or []
    if not group_ids and not year_levels:
        raise BadUserInput("give `groupIds`, `yearLevels` or both")
    return await license_admin.couple(
        ctx.engine,
        ctx.scope,
        license_id,
        partner_id=facts.product_partner_id,
        group_ids=group_ids,
        year_levels=year_levels or [],
        now=ctx.now,
    )


async def uncouple_license(
    ctx: Context,
    shown_license_id: str,
    *,
    shown_group_ids: Sequence[str] | None,
    year_levels: Sequence[str] | None,
) -> LicenseRecord:
    """The publisher or the school's coordinator uncouples a license from groups and year levels."""
    license_id, facts = await _license_for(ctx, shown_license_id, may_couple_license)
    return await license_admin.uncouple(
        ctx.engine,
        ctx.scope,
        license_id,
        partner_id=facts.product_partner_id,
        group_ids=_group_ids(ctx, shown_group_ids),
        year_levels=_checked_levels(year_levels),
        now=ctx.now,
    )


async def licenses_of_group(ctx: Context, group: GroupRecord) -> list[LicenseRecord]:
    """The visible licenses, not ended, coupled to the group."""
    license_ids = await ctx.loaders.license_ids_by_group.get(group.id) or []
    found: list[LicenseRecord | None] = await ctx.loaders.licenses.load_many(license_ids)
    return [license_ for license_ in found if license_ is not None]


async def _products(ctx: Context, product_ids: list[int] | None) -> list[ProductRecord]:
    found: list[ProductRecord | None] = await ctx.loaders.products.load_many(product_ids or [])
    return [product for product in found if product is not None]


async def products_of_student(ctx: Context, student: StudentRecord) -> list[ProductRecord]:
    """The products the student may open today (through the visible licenses of its current groups)."""
    return await _products(ctx, await ctx.loaders.product_ids_by_student.get(student.id))


async def products_of_staff(ctx: Context, member: StaffRecord) -> list[ProductRecord]:
    """The products the staff member may open today (through the visible licenses of its groups)."""
    return await _products(ctx, await ctx.loaders.product_ids_by_staff.get(member.id))


async def seats_used(ctx: Context, license_: LicenseRecord) -> int | None:
    """The seats the license's couplings take, for the school's coordinators and the operator (None for
    others, the publisher included: it counts seats from the coupled groups it may read)."""
    if not ctx.scope.manages(license_.school_id):
        return None
    return await ctx.loaders.seats_used_by_license.get(license_.id)


async def year_levels_of_license(ctx: Context, license_: LicenseRecord) -> list[str]:
    """The year levels the license is coupled to by rule."""
    return await ctx.loaders.year_levels_by_license.get(license_.id) or []
