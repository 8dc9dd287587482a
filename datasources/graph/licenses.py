"""Licenses of schools and their coupling to groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select

from auth.categories import DataCategory
from datasources.store.pagination import PageArgs, partitioned_page, split_pages
from datasources.store.records import LicenseRecord, Page
from datasources.store.scoping import public_id, schools_with, visible_schools
from datasources.store.tables import LICENSE_GROUPS, LICENSES, PRODUCTS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


def _license(scope: Scope, row: AnyRow) -> LicenseRecord:
    return LicenseRecord(row[0], public_id(scope, "License", row[0]), *row[1:6])


def _licenses(scope: Scope) -> Select[Any]:
    c = LICENSES.c
    statement = select(c.id, c.school_id, c.product_id, c.seats, c.valid_from, c.valid_until).where(
        visible_schools(scope, c.school_id), schools_with(scope, [DataCategory.LICENSE], c.school_id)
    )
    if scope.partner_id is not None:
        # A partner never sees another partner's licenses.
        statement = statement.where(
            c.product_id.in_(select(PRODUCTS.c.id).where(PRODUCTS.c.partner_id == scope.partner_id))
        )
    return statement


async def licenses_by_school(
    reader: Reader, scope: Scope, school_ids: Sequence[int], args: PageArgs
) -> dict[int, Page[LicenseRecord]]:
    """One page of each school's licenses."""
    statement = _licenses(scope).where(LICENSES.c.school_id.in_(school_ids))
    rows = await reader.rows(partitioned_page(statement, LICENSES.c.school_id, LICENSES.c.id, args))
    return split_pages(((row[1], row[0], _license(scope, row)) for row in rows), school_ids, args)


async def licenses_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, LicenseRecord]:
    """The visible licenses among `ids`."""
    rows = await reader.rows(_licenses(scope).where(LICENSES.c.id.in_(ids)))
    return {row[0]: _license(scope, row) for row in rows}


async def coupled_group_ids(reader: Reader, scope: Scope, license_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ids of the groups each (already visible) license is coupled to; the groups themselves are read
    through the group loader, which applies the scope again."""
    del scope
    link = LICENSE_GROUPS.c
    rows = await reader.rows(
        select(link.license_id, link.group_id).where(link.license_id.in_(license_ids)).order_by(link.group_id)
    )
    coupled: dict[int, list[int]] = {license_id: [] for license_id in license_ids}
    for license_id, group_id in rows:
        coupled[license_id].append(group_id)
    return coupled
