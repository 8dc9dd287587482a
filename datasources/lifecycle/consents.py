"""What becomes of consents in a lifecycle operation: kept, copied to another school, or ended.

Consent is a school's decision, so the hub never widens it on its own: a merger's target keeps its own
consents and takes a source's only for partners it has none for (with the categories every source that
consented granted: the narrowest); a split's new location starts with only the consents the operator
chose to copy; a closure ends them all. An ended consent is revoked as a coordinator's revoke is (its
receipt stays, with who ended it), so the partner's `consentHistory` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from datasources.feed import numbering
from datasources.lifecycle.report import COPIED, ENDED, KEPT, ConsentOutcome
from datasources.store.tables import CONSENTS, PARTNERS
from errors import BadUserInput

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Collection, Sequence

    from sqlalchemy.ext.asyncio import AsyncConnection

    from datasources.lifecycle.guards import Location
    from datasources.lifecycle.report import LifecycleReport

#: Who ends or copies a receipt in a lifecycle operation (its `granted_by` / `revoked_by`).
_BY = "Leerpoort helpdesk ({operation})"


@dataclass(frozen=True, slots=True)
class _InForce:
    id: int
    school_id: int
    partner_id: int
    partner_name: str
    categories: tuple[str, ...]
    policy_version: str


async def _in_force(connection: AsyncConnection, school_ids: Sequence[int]) -> list[_InForce]:
    rows = await connection.execute(
        select(
            CONSENTS.c.id,
            CONSENTS.c.school_id,
            CONSENTS.c.partner_id,
            PARTNERS.c.name.label("partner_name"),
            CONSENTS.c.categories,
            CONSENTS.c.policy_version,
        )
        .join(PARTNERS, PARTNERS.c.id == CONSENTS.c.partner_id)
        .where(CONSENTS.c.school_id.in_(school_ids), CONSENTS.c.revoked_at.is_(None))
        .order_by(CONSENTS.c.partner_id, CONSENTS.c.school_id)
    )
    return [
        _InForce(
            row.id, row.school_id, row.partner_id, row.partner_name, tuple(row.categories), row.policy_version
        )
        for row in rows
    ]


def _outcome(
    consent: _InForce, code: str, outcome: str, categories: Sequence[str] | None = None
) -> ConsentOutcome:
    return ConsentOutcome(
        consent.partner_id,
        consent.partner_name,
        code,
        outcome,
        tuple(sorted(categories or consent.categories)),
    )


async def _end(connection: AsyncConnection, consent: _InForce, by: str, now: dt.datetime) -> None:
    await connection.execute(
        update(CONSENTS).where(CONSENTS.c.id == consent.id).values(revoked_at=now, revoked_by=by)
    )


async def _copy(
    connection: AsyncConnection,
    like: _InForce,
    categories: Sequence[str],
    *,
    target_id: int,
    by: str,
    now: dt.datetime,
) -> None:
    await connection.execute(
        insert(CONSENTS).values(
            school_id=target_id,
            partner_id=like.partner_id,
            categories=sorted(categories),
            granted_by=by,
            granted_at=now,
            policy_version=like.policy_version,
            feed_since=await numbering.current_seq(connection),
        )
    )


async def merge_consents(
    connection: AsyncConnection,
    sources: Sequence[Location],
    target: Location,
    report: LifecycleReport,
    now: dt.datetime,
) -> None:
    """The target keeps its consents; partners it has none for get one with the categories all the
    sources that consented to them share; every source consent ends."""
    by = _BY.format(operation="fusie")
    codes = {location.id: location.code for location in [*sources, target]}
    consents = await _in_force(connection, [location.id for location in [*sources, target]])
    at_target = {consent.partner_id: consent for consent in consents if consent.school_id == target.id}
    for consent in at_target.values():
        report.consent(_outcome(consent, target.code, KEPT))
    from_sources: dict[int, list[_InForce]] = {}
    for consent in consents:
        if consent.school_id != target.id:
            from_sources.setdefault(consent.partner_id, []).append(consent)
    for partner_id, found in sorted(from_sources.items()):
        if partner_id not in at_target:
            shared = set(found[0].categories).intersection(*(set(consent.categories) for consent in found))
            await _copy(connection, found[0], sorted(shared), target_id=target.id, by=by, now=now)
            report.consent(_outcome(found[0], target.code, COPIED, sorted(shared)))
        for consent in found:
            await _end(connection, consent, by, now)
            report.consent(_outcome(consent, codes[consent.school_id], ENDED))


async def split_consents(
    connection: AsyncConnection,
    source: Location,
    target: Location,
    copy_partner_ids: Collection[int],
    *,
    report: LifecycleReport,
    now: dt.datetime,
) -> None:
    """The source keeps its consents; the target keeps its own and gets copies of the source's consents
    of the partners chosen (and no other). Refuses a chosen partner without consent at the source."""
    by = _BY.format(operation="splitsing")
    consents = await _in_force(connection, [source.id, target.id])
    at_source = {consent.partner_id: consent for consent in consents if consent.school_id == source.id}
    at_target = {consent.partner_id: consent for consent in consents if consent.school_id == target.id}
    missing = sorted(set(copy_partner_ids) - set(at_source))
    if missing:
        raise BadUserInput(
            f"`copyConsentsOf` names {len(missing)} partner(s) without consent in force at {source.code}"
        )
    for consent in at_source.values():
        report.consent(_outcome(consent, source.code, KEPT))
    for consent in at_target.values():
        report.consent(_outcome(consent, target.code, KEPT))
    for partner_id in sorted(set(copy_partner_ids) - set(at_target)):
        consent = at_source[partner_id]
        await _copy(connection, consent, consent.categories, target_id=target.id, by=by, now=now)
        report.consent(_outcome(consent, target.code, COPIED))


async def end_consents(
    connection: AsyncConnection, school: Location, report: LifecycleReport, now: dt.datetime
) -> None:
    """A closure ends every consent at the school."""
    by = _BY.format(operation="opheffing")
    for consent in await _in_force(connection, [school.id]):
        await _end(connection, consent, by, now)
        report.consent(_outcome(consent, school.code, ENDED))


async def keep_consents(connection: AsyncConnection, school: Location, report: LifecycleReport) -> None:
    """A board transfer keeps every consent (the new board's DPA decides what flows)."""
    for consent in await _in_force(connection, [school.id]):
        report.consent(_outcome(consent, school.code, KEPT))
