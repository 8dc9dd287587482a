"""Couplings by year level (license rules): the rule is the authority over the couplings it made.

A rule (`LICENSE_RULES`) couples a license to every main group of one year level (jaargroep) of the
current and coming school years at the license's school; `apply_rules` makes the couplings marked
`by_rule` exactly that. It runs after every import (datasources.imports.sync), at a school year's start
(datasources.feed.schedule) and after a publisher or coordinator changes a license's couplings
(datasources.access.license_admin). Couplings by hand follow their groups instead
(datasources.imports.couplings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, distinct, func, insert, select, tuple_

from datasources.store.calendar import school_year_of
from datasources.store.tables import GROUP_STUDENTS, GROUPS, LICENSE_GROUPS, LICENSE_RULES, LICENSES

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection


async def apply_rules(
    connection: AsyncConnection, school_id: int, today: dt.date, license_ids: Sequence[int] | None = None
) -> list[int]:
    """Make the rule-made couplings of the school's licenses (or of `license_ids` only) exactly what their
    rules ask for in the current and coming school years; returns the licenses whose couplings changed.
    A group coupled by hand stays coupled by hand; groups of ended school years are left as they were."""
    g, rule, link = GROUPS.c, LICENSE_RULES.c, LICENSE_GROUPS.c
    licenses = select(LICENSES.c.id).where(LICENSES.c.school_id == school_id)
    if license_ids is not None:
        licenses = licenses.where(LICENSES.c.id.in_(license_ids))
    open_groups = select(g.id, g.year_level, g.composite).where(
        g.school_id == school_id, g.school_year >= school_year_of(today)
    )
    groups = (await connection.execute(open_groups)).all()
    open_ids = {row.id for row in groups}
    by_level: dict[str, set[int]] = {}
    for row in groups:
        if row.year_level is not None and not row.composite:
            by_level.setdefault(row.year_level, set()).add(row.id)
    rules = await connection.execute(
        select(rule.license_id, rule.year_level).where(rule.license_id.in_(licenses))
    )
    wanted = {(r.license_id, group) for r in rules for group in by_level.get(r.year_level, ())}
    existing = await connection.execute(
        select(link.license_id, link.group_id, link.by_rule).where(
            link.license_id.in_(licenses), link.group_id.in_(sorted(open_ids) or [-1])
        )
    )
    coupled: dict[tuple[int, int], bool] = {(row.license_id, row.group_id): row.by_rule for row in existing}
    adding = sorted(pair for pair in wanted if pair not in coupled)
    removing = sorted(pair for pair, by_rule in coupled.items() if by_rule and pair not in wanted)
    if adding:
        await connection.execute(
            insert(LICENSE_GROUPS),
            [{"license_id": lic, "group_id": group, "by_rule": True} for lic, group in adding],
        )
    if removing:
        await connection.execute(
            delete(LICENSE_GROUPS).where(tuple_(link.license_id, link.group_id).in_(removing))
        )
    return sorted({lic for lic, _ in adding + removing})


async def coupled_students(connection: AsyncConnection, license_id: int, today: dt.date) -> int:
    """The seats a license's couplings take: the distinct students of its coupled groups, in the current
    or a coming school year, whichever has more (a coming year's groups are coupled ahead of its start)."""
    g, link, member = GROUPS.c, LICENSE_GROUPS.c, GROUP_STUDENTS.c
    per_year = (
        select(func.count(distinct(member.student_id)).label("students"))
        .select_from(LICENSE_GROUPS)
        .join(GROUPS, g.id == link.group_id)
        .join(GROUP_STUDENTS, member.group_id == link.group_id)
        .where(link.license_id == license_id, g.school_year >= school_year_of(today))
        .group_by(g.school_year)
        .subquery()
    )
    return int(await connection.scalar(select(func.coalesce(func.max(per_year.c.students), 0))) or 0)
