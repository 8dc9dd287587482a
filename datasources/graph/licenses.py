"""Licenses of schools and their coupling to groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, distinct, func, or_, select

from auth.categories import DataCategory
from datasources.store.calendar import school_year_of
from datasources.store.columns import Columns
from datasources.store.current import current_groups, current_members
from datasources.store.id_lists import among
from datasources.store.pagination import PageArgs, parent_pages, split_pages
from datasources.store.records import LicenseRecord, Page
from datasources.store.scoping import public_id, visible_schools_with
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSE_RULES,
    LICENSES,
    PRODUCTS,
    STAFF_MEMBERS,
    STUDENTS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy import Table

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
        visible_schools_with(scope, [DataCategory.LICENSE], c.school_id)
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
    rows = await reader.rows(parent_pages(statement, LICENSES.c.school_id, LICENSES.c.id, args, school_ids))
    return split_pages(
        ((row[LICENSE.school_id], row[LICENSE.id], license_record(scope, row)) for row in rows),
        school_ids,
        args,
    )


async def licenses_by_id(reader: Reader, scope: Scope, ids: Sequence[int]) -> dict[int, LicenseRecord]:
    """The visible licenses among `ids`."""
    rows = await reader.rows(_licenses(scope).where(among(LICENSES.c.id, ids)))
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


def _not_ended(today: dt.date) -> ColumnElement[bool]:
    return or_(LICENSES.c.valid_until.is_(None), LICENSES.c.valid_until >= today)


async def license_ids_by_group(
    reader: Reader, scope: Scope, group_ids: Sequence[int], today: dt.date
) -> dict[int, list[int]]:
    """The ids of the visible licenses, not ended on `today`, coupled to each (already visible) group;
    the licenses themselves are read through the license loader, which applies the scope again."""
    link = LICENSE_GROUPS.c
    visible = _licenses(scope).where(_not_ended(today)).with_only_columns(LICENSES.c.id)
    rows = await reader.rows(
        select(link.group_id, link.license_id)
        .where(link.group_id.in_(group_ids), link.license_id.in_(visible))
        .order_by(link.license_id)
    )
    found: dict[int, list[int]] = {group_id: [] for group_id in group_ids}
    for row in rows:
        found[row.group_id].append(row.license_id)
    return found


async def _product_ids_of_members(
    reader: Reader,
    scope: Scope,
    ids: Sequence[int],
    today: dt.date,
    *,
    members: Table,
    link: Table,
    column: str,
) -> dict[int, list[int]]:
    valid = LICENSES.c.valid_from <= today, _not_ended(today)
    visible = _licenses(scope).where(*valid).with_only_columns(LICENSES.c.id)
    member = link.c[column]
    # A substitute's link ends after its last day: then the group, and so its products, are no longer
    # theirs (as `Group.staff` no longer lists them).
    in_force = [staff_link_in_force(today)] if link is GROUP_STAFF else []
    rows = await reader.rows(
        select(member.label("member_id"), LICENSES.c.product_id)
        .distinct()
        .select_from(link)
        .join(members, members.c.id == member)
        .join(GROUPS, GROUPS.c.id == link.c.group_id)
        .join(LICENSE_GROUPS, LICENSE_GROUPS.c.group_id == link.c.group_id)
        .join(LICENSES, LICENSES.c.id == LICENSE_GROUPS.c.license_id)
        .where(
            member.in_(ids),
            current_members(members, today),
            current_groups(today),
            LICENSES.c.id.in_(visible),
            *in_force,
        )
        .order_by(LICENSES.c.product_id)
    )
    found: dict[int, list[int]] = {member_id: [] for member_id in ids}
    for row in rows:
        found[row.member_id].append(row.product_id)
    return found


async def product_ids_by_student(
    reader: Reader, scope: Scope, student_ids: Sequence[int], today: dt.date
) -> dict[int, list[int]]:
    """The products each (already visible) student may open on `today`: those of the visible licenses,
    valid today, coupled to one of the student's current groups."""
    return await _product_ids_of_members(
        reader, scope, student_ids, today, members=STUDENTS, link=GROUP_STUDENTS, column="student_id"
    )


async def product_ids_by_staff(
    reader: Reader, scope: Scope, staff_ids: Sequence[int], today: dt.date
) -> dict[int, list[int]]:
    """The products each (already visible) staff member may open on `today`, as for students."""
    return await _product_ids_of_members(
        reader, scope, staff_ids, today, members=STAFF_MEMBERS, link=GROUP_STAFF, column="staff_id"
    )


async def year_levels_by_license(
    reader: Reader, scope: Scope, license_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The year levels each (already visible) license is coupled to by rule."""
    del scope
    rule = LICENSE_RULES.c
    rows = await reader.rows(
        select(rule.license_id, rule.year_level)
        .where(rule.license_id.in_(license_ids))
        .order_by(rule.year_level)
    )
    found: dict[int, list[str]] = {license_id: [] for license_id in license_ids}
    for row in rows:
        found[row.license_id].append(row.year_level)
    return found


async def seats_used(
    reader: Reader, scope: Scope, license_ids: Sequence[int], today: dt.date
) -> dict[int, int]:
    """The seats each license's couplings take, for the licenses of schools the viewer manages: the
    distinct students of its coupled groups in the current or a coming school year, whichever has more
    (as datasources.store.license_rules.coupled_students counts them when it enforces the seats)."""
    g, link, member = GROUPS.c, LICENSE_GROUPS.c, GROUP_STUDENTS.c
    rows = await reader.rows(
        select(
            link.license_id,
            LICENSES.c.school_id,
            func.count(distinct(member.student_id)).label("students"),
        )
        .select_from(LICENSE_GROUPS)
        .join(LICENSES, LICENSES.c.id == link.license_id)
        .join(GROUPS, g.id == link.group_id)
        .join(GROUP_STUDENTS, member.group_id == link.group_id)
        .where(link.license_id.in_(list(license_ids)), g.school_year >= school_year_of(today))
        .group_by(link.license_id, LICENSES.c.school_id, g.school_year)
    )
    found: dict[int, int] = dict.fromkeys((i for i in license_ids), 0)
    for row in rows:
        if scope.manages(row.school_id):
            found[row.license_id] = max(found[row.license_id], int(row.students))
    return found
