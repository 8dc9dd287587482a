"""License couplings follow the school year: when an import brings a school year's groups, the licenses
coupled by hand to the groups of the school's year before are coupled to the groups that take their
place.

A coupling by hand follows its group: a coupled group's successor is the new year's group with the same
LAS key (the LAS kept the group, as most do from year to year); where there is none, the new year's main
groups of the same year level (jaargroep), so a method for group 5 goes on with next year's group 5. A
group without a year level and without a successor by key loses the coupling. Only groups the import adds
are coupled, so a later import of the same year never re-couples what was uncoupled since. The old year's
couplings stay (they are history); partners see the couplings of current groups only
(datasources.graph.licenses).

A coupling by year level is a rule, and the rule is the authority over the couplings it made (`by_rule`):
those never follow their group (last year's group 5 is this year's group 6 by its LAS key); the rule
couples that year's groups of its level instead (datasources.store.license_rules).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from datasources.store.tables import GROUPS, LICENSE_GROUPS

if TYPE_CHECKING:
    from collections.abc import Collection

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
