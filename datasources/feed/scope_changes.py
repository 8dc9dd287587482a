"""Bringing partners' feeds in line with a change of scope, whatever caused it.

Every writer that can change what a school discloses to a partner calls `bring_in_line` in its own
transaction, after its change: a grant or a revoke, a board's DPA signed or withdrawn, a school moved to
another board, closed or reopened. It compares what each partner holds at the schools (the open periods of
`scope_history`) with what the policy discloses now, records the difference as the partner's events (the
same events for every cause, built by `consent_events`), and moves the periods, all at one feed position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from auth.categories import DataCategory
from auth.policy import SchoolConsent, disclosed_categories
from datasources.feed import numbering, recording, scope_history
from datasources.feed.consent_events import consent_changes
from datasources.store.tables import BOARDS, CONSENTS, PARTNERS, SCHOOLS

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.feed.events import ChangeEntry
    from datasources.feed.scope_history import Pair


async def bring_in_line(
    connection: AsyncConnection,
    *,
    school_ids: Iterable[int],
    require_dpa: bool,
    now: dt.datetime,
    partner_id: int | None = None,
    receipt: tuple[Iterable[str], Iterable[str]] | None = None,
    announce: bool = True,
    skip: frozenset[tuple[str, int]] = frozenset(),
) -> None:
    """Record what changed in the scope of the partners with consent at `school_ids` (or of `partner_id`
    only) and move their periods, in the caller's transaction.

    `receipt` is (before, after) of a consent change of `partner_id` at the one school given: what the
    receipt itself took away is told as LEFT_SCOPE even where the school disclosed nothing (deletion is
    always told). `announce=False` only records the periods (a seeded world, whose partners start with a
    full read rather than the feed). `skip` are entities whose events the caller records itself (what
    a merger or split moved, datasources.lifecycle).
    """
    schools = sorted(set(school_ids))
    if not schools:
        return
    position = await numbering.hold_position(connection)
    before = await scope_history.held(connection, schools, partner_id)
    after = await disclosed_now(connection, schools, partner_id, require_dpa=require_dpa)
    taken: dict[Pair, frozenset[str]] = {}
    if receipt is not None and partner_id is not None:
        taken[(schools[0], partner_id)] = await _taken_by_receipt(connection, partner_id, *receipt)
    entries: list[ChangeEntry] = []
    for pair in sorted(set(before) | set(after) | set(taken)):
        old, new = before.get(pair, frozenset()), after.get(pair, frozenset())
        if old != new:
            await scope_history.move(connection, pair, old=old, new=new, position=position)
        if announce:
            school_id, partner = pair
            entries += await consent_changes(
                connection,
                school_id=school_id,
                partner_id=partner,
                before=old | (taken.get(pair, frozenset()) - new),
                after=new,
                today=now.date(),
                skip=skip,
            )
    await recording.record(connection, entries, now)


def _categories(names: Iterable[str]) -> frozenset[DataCategory]:
    return frozenset(DataCategory[name] for name in names if name in DataCategory.__members__)


def _names(categories: Iterable[DataCategory]) -> frozenset[str]:
    return frozenset(category.name for category in categories)


async def disclosed_now(
    connection: AsyncConnection, school_ids: list[int], partner_id: int | None, *, require_dpa: bool
) -> dict[Pair, frozenset[str]]:
    """What the policy discloses now to each partner with consent in force at these schools."""
    statement = (
        select(
            CONSENTS.c.school_id,
            CONSENTS.c.partner_id,
            CONSENTS.c.categories,
            PARTNERS.c.declared_categories,
            SCHOOLS.c.active,
            BOARDS.c.dpa_signed_at,
        )
        .join(PARTNERS, PARTNERS.c.id == CONSENTS.c.partner_id)
        .join(SCHOOLS, SCHOOLS.c.id == CONSENTS.c.school_id)
        .join(BOARDS, BOARDS.c.id == SCHOOLS.c.board_id)
        .where(CONSENTS.c.school_id.in_(school_ids), CONSENTS.c.revoked_at.is_(None))
    )
    if partner_id is not None:
        statement = statement.where(CONSENTS.c.partner_id == partner_id)
    disclosed: dict[Pair, frozenset[str]] = {}
    for row in await connection.execute(statement):
        consent = SchoolConsent(
            school_id=row.school_id,
            granted=_categories(row.categories),
            school_active=bool(row.active),
            dpa_signed=row.dpa_signed_at is not None,
        )
        categories = disclosed_categories(
            consent, _categories(row.declared_categories), require_dpa=require_dpa
        )
        if categories:
            disclosed[(row.school_id, row.partner_id)] = _names(categories)
    return disclosed


async def _taken_by_receipt(
    connection: AsyncConnection, partner_id: int, before: Iterable[str], after: Iterable[str]
) -> frozenset[str]:
    """What a new receipt (or a revoke, with nothing after) takes away, as if the school disclosed."""
    declared = _categories(
        await connection.scalar(select(PARTNERS.c.declared_categories).where(PARTNERS.c.id == partner_id))
        or ()
    )

    def scope(names: Iterable[str]) -> frozenset[str]:
        granted = frozenset(names)
        if not granted:
            return frozenset()
        consent = SchoolConsent(0, _categories(granted), school_active=True, dpa_signed=True)
        return _names(disclosed_categories(consent, declared, require_dpa=False))

    return scope(before) - scope(after)
