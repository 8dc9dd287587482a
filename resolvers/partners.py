"""Partners, products, licenses and consent receipts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.permissions import may_list_partners
from datasources.graph import partners
from errors import Forbidden

if TYPE_CHECKING:
    from datasources.store.records import (
        GroupRecord,
        LicenseRecord,
        Page,
        PartnerRecord,
        ProductRecord,
        SchoolRecord,
    )
    from resolvers.context import Context


async def partners_page(ctx: Context, first: int | None, after: str | None) -> Page[PartnerRecord]:
    """All partners, one page; the hub's operator only."""
    if not may_list_partners(ctx.viewer):
        raise Forbidden("only the hub's operator may list partners")
    return await partners.partners_page(ctx.reader, ctx.scope, ctx.page_args(first, after))


async def partner_of_product(ctx: Context, product: ProductRecord) -> PartnerRecord | None:
    """The partner that offers the product."""
    return await ctx.loaders.partners.get(product.partner_id)


async def partner_by_id(ctx: Context, partner_id: int) -> PartnerRecord | None:
    """A partner by the hub's id (from a receipt, request or audit entry the viewer already reads)."""
    return await ctx.loaders.partners.get(partner_id)


async def school_by_id(ctx: Context, school_id: int) -> SchoolRecord | None:
    """A visible school by the hub's id (for relations whose row was already scoped)."""
    return await ctx.loaders.schools.get(school_id)


async def product_of_license(ctx: Context, license_: LicenseRecord) -> ProductRecord | None:
    """The licensed product."""
    return await ctx.loaders.products.get(license_.product_id)


async def coupled_groups(ctx: Context, license_: LicenseRecord) -> list[GroupRecord]:
    """The visible groups the license is coupled to."""
    group_ids = await ctx.loaders.group_ids_by_license.get(license_.id) or []
    found: list[GroupRecord | None] = await ctx.loaders.groups.load_many(group_ids)
    return [group for group in found if group is not None]
