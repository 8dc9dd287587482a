"""The writes of products and licenses: a publisher's products, its licenses at schools, and their
couplings to groups, by hand or by year level (a rule, datasources.imports.couplings).

The caller (resolvers.licenses) asks `auth.permissions` first, with the facts loaded here
(`license_facts`, `product_partner`), and checks the year levels against the EDEXML codes. Every refusal
is raised before the transaction commits, so a refused write changes nothing. A change to a license is
recorded in the feed for its own publisher only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, insert, select, update

from datasources.feed.events import CREATED, UPDATED, ChangeEntry
from datasources.feed.recording import record
from datasources.graph.licenses import license_columns, license_record
from datasources.graph.partners import product_columns, product_record
from datasources.store.calendar import school_year_of
from datasources.store.license_rules import apply_rules, coupled_students
from datasources.store.tables import GROUPS, LICENSE_GROUPS, LICENSE_RULES, LICENSES, PARTNERS, PRODUCTS
from errors import BadUserInput, RefusedInput

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from auth.policy import Scope
    from datasources.store.records import LicenseRecord, ProductRecord

#: The reason (`extensions.reason`) of a coupling or a change of seats that more students would use.
NOT_ENOUGH_SEATS: Final = "NOT_ENOUGH_SEATS"


@dataclass(frozen=True, slots=True)
class LicenseFacts:
    """What the permissions ask of a license: its school and its product's publisher."""

    school_id: int
    product_partner_id: int


async def is_publisher(engine: AsyncEngine, partner_id: int) -> bool:
    """Whether the partner is a publisher (uitgeverij), not a network provider."""
    async with engine.connect() as connection:
        kind = await connection.scalar(select(PARTNERS.c.kind).where(PARTNERS.c.id == partner_id))
    return kind == "PUBLISHER"


async def product_partner(engine: AsyncEngine, product_id: int) -> int | None:
    """The partner that offers a product, or None when there is no such product."""
    async with engine.connect() as connection:
        found = await connection.scalar(select(PRODUCTS.c.partner_id).where(PRODUCTS.c.id == product_id))
    return None if found is None else int(found)


async def license_facts(engine: AsyncEngine, license_id: int) -> LicenseFacts | None:
    """The school and publisher of a license, or None when there is no such license."""
    async with engine.connect() as connection:
        found = (
            await connection.execute(
                select(LICENSES.c.school_id, PRODUCTS.c.partner_id)
                .join(PRODUCTS, PRODUCTS.c.id == LICENSES.c.product_id)
                .where(LICENSES.c.id == license_id)
            )
        ).one_or_none()
    return None if found is None else LicenseFacts(found.school_id, found.partner_id)


def _checked_product(name: str, launch_url: str) -> tuple[str, str]:
    name, launch_url = name.strip(), launch_url.strip()
    if not 1 <= len(name) <= 200:
        raise BadUserInput("`name` must be 1 to 200 characters")
    if not launch_url.startswith("https://") or len(launch_url) > 2000 or " " in launch_url:
        raise BadUserInput("`launchUrl` must be an https:// address of at most 2000 characters")
    return name, launch_url


async def create_product(
    engine: AsyncEngine, scope: Scope, partner_id: int, *, name: str, allowed_at_home: bool, launch_url: str
) -> ProductRecord:
    """A new product of the partner."""
    name, launch_url = _checked_product(name, launch_url)
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(PRODUCTS)
            .values(partner_id=partner_id, name=name, allowed_at_home=allowed_at_home, launch_url=launch_url)
            .returning(PRODUCTS.c.id)
        )
        product_id = inserted.scalar_one()
        found = await connection.execute(select(*product_columns()).where(PRODUCTS.c.id == product_id))
        return product_record(scope, found.one())


def _checked_terms(seats: int | None, valid_from: dt.date, valid_until: dt.date | None) -> None:
    if seats is not None and seats < 1:
        raise BadUserInput("`seats` must be at least 1, or null for a license that does not count seats")
    if valid_until is not None and valid_until < valid_from:
        raise BadUserInput("`validUntil` must not be before `validFrom`")


async def _license(connection: AsyncConnection, scope: Scope, license_id: int) -> LicenseRecord:
    found = await connection.execute(select(*license_columns()).where(LICENSES.c.id == license_id))
    return license_record(scope, found.one())


async def _school_of(connection: AsyncConnection, license_id: int) -> int:
    found = await connection.execute(select(LICENSES.c.school_id).where(LICENSES.c.id == license_id))
    return int(found.scalar_one())


async def _changed(
    connection: AsyncConnection, license_id: int, partner_id: int, kind: str, now: dt.datetime
) -> None:
    school_id = await _school_of(connection, license_id)
    entry = ChangeEntry(school_id, "License", license_id, kind, ("LICENSE",), partner_id=partner_id)
    await record(connection, [entry], now)


async def _check_seats(
    connection: AsyncConnection, license_id: int, seats: int | None, today: dt.date
) -> None:
    if seats is None:
        return
    taken = await coupled_students(connection, license_id, today)
    if taken > seats:
        raise RefusedInput(
            f"the license has {seats} seats but its coupled groups have {taken} students;"
            " add seats or couple fewer groups",
            NOT_ENOUGH_SEATS,
        )


async def create_license(
    engine: AsyncEngine,
    scope: Scope,
    *,
    school_id: int,
    product_id: int,
    partner_id: int,
    seats: int | None,
    valid_from: dt.date,
    valid_until: dt.date | None,
    now: dt.datetime,
) -> LicenseRecord:
    """A new license of the school for the partner's product, coupled to no group yet."""
    _checked_terms(seats, valid_from, valid_until)
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(LICENSES)
            .values(
                school_id=school_id,
                product_id=product_id,
                seats=seats,
                valid_from=valid_from,
                valid_until=valid_until,
            )
            .returning(LICENSES.c.id)
        )
        license_id = int(inserted.scalar_one())
        await _changed(connection, license_id, partner_id, CREATED, now)
        return await _license(connection, scope, license_id)


async def update_license(
    engine: AsyncEngine,
    scope: Scope,
    license_id: int,
    *,
    partner_id: int,
    seats: int | None,
    valid_from: dt.date,
    valid_until: dt.date | None,
    now: dt.datetime,
) -> LicenseRecord:
    """New terms for a license; fewer seats than the coupled groups' students is refused."""
    _checked_terms(seats, valid_from, valid_until)
    async with engine.begin() as connection:
        await _check_seats(connection, license_id, seats, now.date())
        await connection.execute(
            update(LICENSES)
            .where(LICENSES.c.id == license_id)
            .values(seats=seats, valid_from=valid_from, valid_until=valid_until)
        )
        await _changed(connection, license_id, partner_id, UPDATED, now)
        return await _license(connection, scope, license_id)


async def end_license(
    engine: AsyncEngine, scope: Scope, license_id: int, *, partner_id: int, now: dt.datetime
) -> LicenseRecord:
    """End a license: its last day becomes yesterday, so from today nobody opens the product through it.
    Its couplings stay, as the record of who had it; a license already ended earlier keeps its end."""
    yesterday = now.date() - dt.timedelta(days=1)
    async with engine.begin() as connection:
        ends = LICENSES.c.valid_until
        await connection.execute(
            update(LICENSES)
            .where(LICENSES.c.id == license_id, ends.is_(None) | (ends > yesterday))
            .values(valid_until=yesterday)
        )
        await _changed(connection, license_id, partner_id, UPDATED, now)
        return await _license(connection, scope, license_id)


async def _checked_groups(
    connection: AsyncConnection, school_id: int, group_ids: Sequence[int], today: dt.date
) -> list[int]:
    g = GROUPS.c
    found = await connection.scalars(
        select(g.id).where(
            g.id.in_(group_ids), g.school_id == school_id, g.school_year >= school_year_of(today)
        )
    )
    known = set(found)
    if known != set(group_ids):
        raise BadUserInput(
            "`groupIds` must be groups of the license's school in the current or a coming school year"
        )
    return sorted(known)


async def couple(
    engine: AsyncEngine,
    scope: Scope,
    license_id: int,
    *,
    partner_id: int,
    group_ids: Sequence[int],
    year_levels: Sequence[str],
    now: dt.datetime,
) -> LicenseRecord:
    """Couple a license to groups by hand and to year levels by rule (every main group of those levels
    of the current and coming school years). More students than seats is refused, nothing changed."""
    today = now.date()
    levels = sorted(set(year_levels))
    async with engine.begin() as connection:
        school_id = await _school_of(connection, license_id)
        groups = await _checked_groups(connection, school_id, group_ids, today)
        link, rule = LICENSE_GROUPS.c, LICENSE_RULES.c
        coupled = await connection.execute(
            select(link.group_id, link.by_rule).where(link.license_id == license_id)
        )
        already = {row.group_id: row.by_rule for row in coupled}
        # A group the rule coupled and that is now coupled by hand as well stays when the rule goes.
        if taken_over := [group for group in groups if already.get(group)]:
            await connection.execute(
                update(LICENSE_GROUPS)
                .where(link.license_id == license_id, link.group_id.in_(taken_over))
                .values(by_rule=False)
            )
        if new := [group for group in groups if group not in already]:
            await connection.execute(
                insert(LICENSE_GROUPS), [{"license_id": license_id, "group_id": group} for group in new]
            )
        ruled = set(await connection.scalars(select(rule.year_level).where(rule.license_id == license_id)))
        if new_levels := [level for level in levels if level not in ruled]:
            await connection.execute(
                insert(LICENSE_RULES), [{"license_id": license_id, "year_level": lvl} for lvl in new_levels]
            )
        await apply_rules(connection, school_id, today, [license_id])
        seats = await connection.scalar(select(LICENSES.c.seats).where(LICENSES.c.id == license_id))
        await _check_seats(connection, license_id, seats, today)
        await _changed(connection, license_id, partner_id, UPDATED, now)
        return await _license(connection, scope, license_id)


async def uncouple(
    engine: AsyncEngine,
    scope: Scope,
    license_id: int,
    *,
    partner_id: int,
    group_ids: Sequence[int] | None,
    year_levels: Sequence[str] | None,
    now: dt.datetime,
) -> LicenseRecord:
    """Uncouple a license from groups coupled by hand, and drop its rules for year levels (with the
    couplings they made in the current and coming school years). Both omitted: every coupling and rule.
    A group that a rule coupled is refused by id (the next import would couple it again): drop its year
    level instead."""
    today = now.date()
    link, rule = LICENSE_GROUPS.c, LICENSE_RULES.c
    groups: list[int] = []
    async with engine.begin() as connection:
        school_id = await _school_of(connection, license_id)
        if group_ids is None and year_levels is None:
            await connection.execute(delete(LICENSE_RULES).where(rule.license_id == license_id))
            await connection.execute(
                delete(LICENSE_GROUPS).where(
                    link.license_id == license_id,
                    link.group_id.in_(
                        select(GROUPS.c.id).where(GROUPS.c.school_year >= school_year_of(today))
                    ),
                )
            )
        else:
            if year_levels:
                levels = sorted(set(year_levels))
                await connection.execute(
                    delete(LICENSE_RULES).where(rule.license_id == license_id, rule.year_level.in_(levels))
                )
            groups = await _checked_groups(connection, school_id, group_ids or [], today)
            if groups:
                await connection.execute(
                    delete(LICENSE_GROUPS).where(link.license_id == license_id, link.group_id.in_(groups))
                )
        await apply_rules(connection, school_id, today, [license_id])
        if group_ids:
            # A group of a level that a rule still couples would be coupled again at once (and by every
            # import): refuse it, whether the rule or a hand coupled it first.
            kept = await connection.scalars(
                select(link.group_id).where(link.license_id == license_id, link.group_id.in_(groups)).limit(1)
            )
            if kept.first() is not None:
                raise BadUserInput(
                    "a group in `groupIds` is coupled by a year-level rule; uncouple its year level"
                    " (`yearLevels`) instead"
                )
        await _changed(connection, license_id, partner_id, UPDATED, now)
        return await _license(connection, scope, license_id)
