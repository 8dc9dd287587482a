"""Writes of the consent lifecycle: requests, grants (each a receipt), revokes, and DPA signatures and
withdrawals.

Each write is one transaction. At most one receipt per school and partner is in force (a partial unique
index says so too): a grant supersedes the receipt before it, a revoke ends it. Every write that changes
what a school discloses brings the partners' feeds in line in the same transaction
(`scope_changes.bring_in_line`), so each partner is told what entered and what left its scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from datasources.feed import numbering
from datasources.feed.scope_changes import bring_in_line
from datasources.graph.consents import (
    PENDING,
    consent_columns,
    consent_record,
    request_columns,
    request_record,
)
from datasources.store.tables import BOARDS, CONSENT_REQUESTS, CONSENTS, SCHOOLS
from errors import Conflict, NotFound

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from auth.categories import DataCategory
    from auth.policy import Scope
    from datasources.store.records import ConsentRecord, ConsentRequestRecord

#: The version of the hub's consent policy that grants are made under (printed on every receipt).
POLICY_VERSION = "2026-1"
#: Who grants on a school's behalf (only the school's ICT coordinator may: `auth.permissions`). A receipt
#: names the role and the school, never the account ("staff:2" would tell partners the hub's account ids).
GRANTED_BY_ROLE = "ICT-coördinator"
#: The receipts' `granted_by` column holds at most this many characters.
_GRANTED_BY_LENGTH = 200
GRANTED, SUPERSEDED = "GRANTED", "SUPERSEDED"
#: A request the school said no to: it leaves the coordinator's list; the partner may ask again.
DECLINED = "DECLINED"


def _names(categories: Iterable[DataCategory]) -> list[str]:
    return sorted(category.name for category in categories)


def granted_by_label(school_name: str) -> str:
    """What a receipt says granted it: the role and the school's own name, such as
    "ICT-coördinator, De Regenboog"."""
    return f"{GRANTED_BY_ROLE}, {school_name}"[:_GRANTED_BY_LENGTH]


async def _school_name(connection: AsyncConnection, school_id: int) -> str:
    name = await connection.scalar(select(SCHOOLS.c.name).where(SCHOOLS.c.id == school_id))
    if name is None:
        raise NotFound("no such school")
    return str(name)


@dataclass(frozen=True, slots=True)
class _InForce:
    id: int
    categories: tuple[str, ...]
    feed_since: int | None


async def _in_force(connection: AsyncConnection, school_id: int, partner_id: int) -> _InForce | None:
    found = await connection.execute(
        select(CONSENTS.c.id, CONSENTS.c.categories, CONSENTS.c.feed_since).where(
            CONSENTS.c.school_id == school_id,
            CONSENTS.c.partner_id == partner_id,
            CONSENTS.c.revoked_at.is_(None),
        )
    )
    row = found.one_or_none()
    return None if row is None else _InForce(row.id, tuple(row.categories), row.feed_since)


async def _receipt(connection: AsyncConnection, scope: Scope, consent_id: int) -> ConsentRecord:
    # Read back rather than RETURNING: the record names its school's code, which SQLite cannot return.
    found = await connection.execute(select(*consent_columns()).where(CONSENTS.c.id == consent_id))
    return consent_record(scope, found.one())


async def grant(
    engine: AsyncEngine,
    scope: Scope,
    *,
    school_id: int,
    partner_id: int,
    categories: Iterable[DataCategory],
    now: dt.datetime,
    require_dpa: bool = True,
) -> ConsentRecord:
    """Grant exactly `categories` (a shorter list than before narrows): the receipt in force is superseded
    (ended by who granted the new one) and a new one issued, granted by the school's ICT coordinator
    (`granted_by_label`); the partner's pending requests at the school are marked granted. `require_dpa`
    is the hub's setting (`Settings.dpa_required`)."""
    try:
        async with engine.begin() as connection:
            granted_by = granted_by_label(await _school_name(connection, school_id))
            previous = await _in_force(connection, school_id, partner_id)
            if previous is not None:
                await connection.execute(
                    update(CONSENTS)
                    .where(CONSENTS.c.id == previous.id)
                    .values(revoked_at=now, revoked_by=granted_by)
                )
            # The partner follows the school's feed from where its consent began; a new grant that
            # supersedes one in force keeps that start, so narrowing or widening leaves no gap.
            feed_since = previous.feed_since if previous else await numbering.current_seq(connection)
            inserted = await connection.execute(
                insert(CONSENTS)
                .values(
                    school_id=school_id,
                    partner_id=partner_id,
                    categories=_names(categories),
                    granted_by=granted_by,
                    granted_at=now,
                    policy_version=POLICY_VERSION,
                    feed_since=feed_since,
                )
                .returning(CONSENTS.c.id)
            )
            receipt = await _receipt(connection, scope, inserted.scalar_one())
            await bring_in_line(
                connection,
                school_ids=[school_id],
                partner_id=partner_id,
                require_dpa=require_dpa,
                now=now,
                receipt=(previous.categories if previous else (), _names(categories)),
            )
            await connection.execute(
                update(CONSENT_REQUESTS)
                .where(
                    CONSENT_REQUESTS.c.school_id == school_id,
                    CONSENT_REQUESTS.c.partner_id == partner_id,
                    CONSENT_REQUESTS.c.status == PENDING,
                )
                .values(status=GRANTED, decided_at=now)
            )
    except IntegrityError:
        raise Conflict("another change to this consent happened at the same time; try again") from None
    return receipt


async def revoke(
    engine: AsyncEngine,
    scope: Scope,
    *,
    school_id: int,
    partner_id: int,
    now: dt.datetime,
    revoked_by: str | None = None,
    require_dpa: bool = True,
) -> ConsentRecord:
    """End the receipt in force (a revocation receipt: when, and by whom); the partner reads nothing of the
    school from this moment, and its feed says what to delete. `revoked_by` is the label the receipt
    shows; by default the school's ICT coordinator (`granted_by_label`), as for a grant, never an account."""
    async with engine.begin() as connection:
        current = await _in_force(connection, school_id, partner_id)
        if current is None:
            raise NotFound("this school has no consent in force for this partner")
        if revoked_by is None:
            revoked_by = granted_by_label(await _school_name(connection, school_id))
        await connection.execute(
            update(CONSENTS).where(CONSENTS.c.id == current.id).values(revoked_at=now, revoked_by=revoked_by)
        )
        receipt = await _receipt(connection, scope, current.id)
        await bring_in_line(
            connection,
            school_ids=[school_id],
            partner_id=partner_id,
            require_dpa=require_dpa,
            now=now,
            receipt=(current.categories, ()),
        )
        return receipt


async def request(
    engine: AsyncEngine,
    scope: Scope,
    *,
    school_id: int,
    partner_id: int,
    categories: Iterable[DataCategory],
    purpose: str,
    now: dt.datetime,
) -> ConsentRequestRecord:
    """Record a partner's request; an earlier pending request of the same partner at the school is
    superseded, so the coordinator sees one request per partner."""
    async with engine.begin() as connection:
        await connection.execute(
            update(CONSENT_REQUESTS)
            .where(
                CONSENT_REQUESTS.c.school_id == school_id,
                CONSENT_REQUESTS.c.partner_id == partner_id,
                CONSENT_REQUESTS.c.status == PENDING,
            )
            .values(status=SUPERSEDED, decided_at=now)
        )
        inserted = await connection.execute(
            insert(CONSENT_REQUESTS)
            .values(
                school_id=school_id,
                partner_id=partner_id,
                categories=_names(categories),
                purpose=purpose,
                requested_at=now,
                status=PENDING,
            )
            .returning(*request_columns())
        )
        return request_record(scope, inserted.one())


async def request_school(engine: AsyncEngine, request_id: int) -> int | None:
    """The school a consent request was sent to (its permission is decided on it), or None if unknown."""
    async with engine.connect() as connection:
        found = await connection.scalar(
            select(CONSENT_REQUESTS.c.school_id).where(CONSENT_REQUESTS.c.id == request_id)
        )
    return None if found is None else int(found)


async def decline(
    engine: AsyncEngine, scope: Scope, *, request_id: int, now: dt.datetime
) -> ConsentRequestRecord:
    """Decline a pending request: nothing is granted and nothing changes for the partner, which may ask
    again. Refused (CONFLICT, nothing changed) when the request is no longer pending."""
    async with engine.begin() as connection:
        declined = await connection.execute(
            update(CONSENT_REQUESTS)
            .where(CONSENT_REQUESTS.c.id == request_id, CONSENT_REQUESTS.c.status == PENDING)
            .values(status=DECLINED, decided_at=now)
            .returning(*request_columns())
        )
        row = declined.one_or_none()
    if row is None:
        raise Conflict("the request is no longer pending: it was granted, declined or asked again")
    return request_record(scope, row)


async def record_dpa_signature(
    engine: AsyncEngine,
    *,
    board_number: str,
    signed_by: str,
    chamber_of_commerce_number: str,
    version: str,
    now: dt.datetime,
    require_dpa: bool = True,
) -> int:
    """Record that a board's director signed the DPA; returns the board's id. Partners with consent at
    the board's schools that the signature opens get ENTERED_SCOPE for what they may now read."""
    values = {
        "dpa_signed_at": now,
        "dpa_signed_by": signed_by,
        "dpa_chamber_of_commerce_number": chamber_of_commerce_number,
        "dpa_version": version,
    }
    return await _set_dpa(engine, board_number, values, now=now, require_dpa=require_dpa)


async def withdraw_dpa_signature(
    engine: AsyncEngine, *, board_number: str, now: dt.datetime, require_dpa: bool = True
) -> int:
    """Record that a board withdrew its DPA (it ended or was annulled); returns the board's id. Its
    schools disclose nothing from this moment (when the hub requires a DPA): partners with consent there
    get LEFT_SCOPE, so they are asked to delete. Consents stay, and take effect again on a new signature."""
    values = {
        "dpa_signed_at": None,
        "dpa_signed_by": None,
        "dpa_chamber_of_commerce_number": None,
        "dpa_version": None,
    }
    return await _set_dpa(engine, board_number, values, now=now, require_dpa=require_dpa)


async def _set_dpa(
    engine: AsyncEngine, board_number: str, values: dict[str, Any], *, now: dt.datetime, require_dpa: bool
) -> int:
    async with engine.begin() as connection:
        updated = await connection.execute(
            update(BOARDS).where(BOARDS.c.number == board_number).values(**values).returning(BOARDS.c.id)
        )
        board_id = updated.scalar_one_or_none()
        if board_id is None:
            raise NotFound(f"no board with number {board_number}")
        schools = await connection.execute(select(SCHOOLS.c.id).where(SCHOOLS.c.board_id == board_id))
        await bring_in_line(
            connection, school_ids=[row.id for row in schools], require_dpa=require_dpa, now=now
        )
    return int(board_id)
