"""License couplings follow the school year: when an import brings a school year's groups, the licenses
coupled to the groups of the school's year before are coupled to the groups that take their place; and
couplings by year level (license rules) are re-applied.

A coupling by hand follows its group: a coupled group's successor is the new year's group with the same
LAS key (the LAS kept the group, as most do from year to year); where there is none, the new year's main
groups of the same year level (jaargroep), so a method for group 5 goes on with next year's group 5. A
group without a year level and without a successor by key loses the coupling. Only groups the import adds
are coupled, so a later import of the same year never re-couples what was uncoupled since. The old year's
couplings stay (they are history); partners see the couplings of current groups only
(datasources.graph.licenses).

A coupling by year level is a rule (`LICENSE_RULES`), and the rule is the authority over the couplings it
made (`by_rule`): those never follow their group (last year's group 5 is this year's group 6 by its LAS
key), instead `apply_rules` couples every main group of the rule's level of the current and coming school
years and uncouples the rule's couplings of groups no longer of that level. It runs after every import
(datasources.imports.sync), at the school year's start (datasources.feed.schedule) and when a publisher or
coordinator changes a license's couplings (datasources.access.license_admin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, distinct, func, insert, select, tuple_

from datasources.feed.events import UPDATED, ChangeEntry
from datasources.store.calendar import school_year_of
from datasources.store.tables import (
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSE_RULES,
    LICENSES,
    PRODUCTS,
)

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection


async def follow_couplings(
    connection: AsyncConnection, school_id: int, school_year: str, added: Collection[int]
) -> None:
    """Couple the groups `added` to `school_year` to the licenses of the groups they succeed."""
    if not added:
        return
    g = GROUPS.c
    previous = await connection.scalar(
        select(func.max(g.school_year)).where(g.school_id == school_id, g.school_year < school_year)
    )
    if previous is None:
        return
    new_groups = (
        await connection.execute(select(g.id, g.las_key, g.year_level, g.composite).where(g.id.in_(added)))
    ).all()
    by_key = {row.las_key: row.id for row in new_groups}
    by_level: dict[str, list[int]] = {}
    for row in new_groups:
        if row.year_level is not None and not row.composite:
            by_level.setdefault(row.year_level, []).append(row.id)
    link = LICENSE_GROUPS.c
    coupled = await connection.execute(
        select(link.license_id, g.las_key, g.year_level)
        .join(GROUPS, g.id == link.group_id)
        .where(g.school_id == school_id, g.school_year == previous, link.by_rule.is_(False))
    )
    wanted: set[tuple[int, int]] = set()
    for coupling in coupled:
        level = by_level.get(coupling.year_level or "", [])
        successors = [by_key[coupling.las_key]] if coupling.las_key in by_key else level
        wanted |= {(coupling.license_id, group_id) for group_id in successors}
    if wanted:
        await connection.execute(
            insert(LICENSE_GROUPS), [{"license_id": lic, "group_id": group} for lic, group in sorted(wanted)]
        )


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


async def license_updates(connection: AsyncConnection, license_ids: Sequence[int]) -> list[ChangeEntry]:
    """UPDATED events of licenses whose couplings changed, each for its own product's partner only
    (another partner's license is nothing a partner may know of)."""
    if not license_ids:
        return []
    rows = await connection.execute(
        select(LICENSES.c.id, LICENSES.c.school_id, PRODUCTS.c.partner_id)
        .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
        .where(LICENSES.c.id.in_(license_ids))
        .order_by(LICENSES.c.id)
    )
    return [
        ChangeEntry(row.school_id, "License", row.id, UPDATED, ("LICENSE",), partner_id=row.partner_id)
        for row in rows
    ]
