"""Licenses of schools and their coupling to groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, select

from auth.categories import DataCategory
from datasources.store.columns import Columns
from datasources.store.current import current_groups
from datasources.store.pagination import PageArgs, partitioned_page, split_pages
from datasources.store.records import LicenseRecord, Page
from datasources.store.scoping import public_id, schools_with, visible_schools
from datasources.store.tables import GROUPS, LICENSE_GROUPS, LICENSES, PRODUCTS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from auth.policy import Scope
    from datasources.store.reader import AnyRow, Reader


LICENSE = Columns.of(LicenseRecord, computed=["public_id"])


def license_columns() -> tuple[ColumnElement[Any], ...]:
    """The columns of a license record."""
    c = LICENSES.c
    return LICENSE.labelled(
        id=c.id,
        school_id=c.school_id,
        product_id=c.product_id,
        seats=c.seats,
        valid_from=c.valid_from,
        valid_until=c.valid_until,
    )


def license_record(scope: Scope, row: AnyRow) -> LicenseRecord:
    """A license record from a row that starts with `license_columns`."""
    return LicenseRecord(
        id=row[LICENSE.id],
        public_id=public_id(scope, "License", row[LICENSE.id]),
        school_id=row[LICENSE.school_id],
        product_id=row[LICENSE.product_id],
        seats=row[LICENSE.seats],
        valid_from=row[LICENSE.valid_from],
        valid_until=row[LICENSE.valid_until],
    )


def _licenses(scope: Scope) -> Select[Any]:
    c = LICENSES.c
    statement = select(*license_columns()).where(
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
    return split_pages(
        ((row[LICENSE.school_id], row[LICENSE.id], license_record(scope, row)) for row in rows),
        school_ids,
        args,
    )


async def licenses_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, LicenseRecord]:
    """The visible licenses among `ids`."""
    rows = await reader.rows(_licenses(scope).where(LICENSES.c.id.in_(ids)))
    return {row[LICENSE.id]: license_record(scope, row) for row in rows}


async def coupled_group_ids(
    reader: Reader, scope: Scope, license_ids: Sequence[int], today: dt.date
) -> dict[int, list[int]]:
    """The ids of the current groups each (already visible) license is coupled to; the groups themselves
    are read through the group loader, which applies the scope again.

    Couplings follow the school year (datasources.imports.couplings): a license coupled to this year's
    group is also coupled to next year's group that takes its place, which must not show before its
    effective date, and the ended year's group no longer shows once the new one is current."""
    del scope
    link = LICENSE_GROUPS.c
    rows = await reader.rows(
        select(link.license_id, link.group_id)
        .join(GROUPS, GROUPS.c.id == link.group_id)
        .where(link.license_id.in_(license_ids), current_groups(today))
        .order_by(link.group_id)
    )
    coupled: dict[int, list[int]] = {license_id: [] for license_id in license_ids}
    for row in rows:
        coupled[row.license_id].append(row.group_id)
    return coupled
