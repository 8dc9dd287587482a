"""The store of single sign-on: partners' OpenID Connect client registrations, one-time authorization
codes (only their SHA-256 is kept), and the facts a sign-in or a launch is decided on (who is signed in
at which school, which of their groups a partner's licensed products are coupled to).

What a partner is told about the person is not read here but through the graph's own scoped reads
(datasources.graph.people and .groups, with the partner's scope), so the minimisation is the graph's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import ColumnElement, insert, or_, select, update

from datasources.access.web_sessions import subject_may_sign_in
from datasources.store.current import current_groups, current_members
from datasources.store.staff_links import staff_link_in_force
from datasources.store.tables import (
    GROUP_STAFF,
    GROUP_STUDENTS,
    GROUPS,
    LICENSE_GROUPS,
    LICENSES,
    OIDC_CLIENTS,
    OIDC_CODES,
    PARTNERS,
    PRODUCTS,
    SCHOOLS,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENTS,
    WEB_SESSIONS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncEngine

    from datasources.store.reader import AnyRow, Reader

STUDENT: Final = "student"
STAFF: Final = "staff"


@dataclass(frozen=True, slots=True)
class OidcClientRecord:
    """A partner's OpenID Connect client registration."""

    partner_id: int
    client_id: str
    redirect_uris: tuple[str, ...]
    login_initiation_uri: str | None
    registered_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in person's membership of one school: a student row or a staff-member row."""

    kind: str
    member_id: int
    school_id: int


@dataclass(frozen=True, slots=True)
class StoredCode:
    """An authorization code as stored (its hash), with what it is bound to."""

    id: int
    partner_id: int
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    member: Member
    session_id: str
    auth_time: dt.datetime
    #: "SCHOOL" or "HOME": where the person was at authorize.
    context: str
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class NewCode:
    """What an authorization code is bound to, to be stored under its hash."""

    code_hash: str
    partner_id: int
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: str
    member: Member
    session_id: str
    auth_time: dt.datetime
    #: "SCHOOL" or "HOME": where the person was at authorize.
    context: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _client_columns() -> tuple[ColumnElement[Any], ...]:
    c = OIDC_CLIENTS.c
    return (c.partner_id, PARTNERS.c.client_id, c.redirect_uris, c.login_initiation_uri, c.registered_at)


def _client(row: AnyRow) -> OidcClientRecord:
    return OidcClientRecord(row[0], row[1], tuple(row[2]), row[3], row[4])


async def register_client(
    engine: AsyncEngine,
    partner_id: int,
    *,
    redirect_uris: Sequence[str],
    login_initiation_uri: str | None,
    registered_by: str,
    now: dt.datetime,
) -> OidcClientRecord:
    """Register (or replace) the partner's client: these exact redirect URIs and login-initiation URI."""
    values = {
        "redirect_uris": list(redirect_uris),
        "login_initiation_uri": login_initiation_uri,
        "registered_at": now,
        "registered_by": registered_by[:200],
    }
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(OIDC_CLIENTS).where(OIDC_CLIENTS.c.partner_id == partner_id).values(**values)
        )
        if not changed.rowcount:
            await connection.execute(insert(OIDC_CLIENTS).values(partner_id=partner_id, **values))
        found = await connection.execute(
            select(*_client_columns())
            .join(PARTNERS, PARTNERS.c.id == OIDC_CLIENTS.c.partner_id)
            .where(OIDC_CLIENTS.c.partner_id == partner_id)
        )
        return _client(found.one())


async def client_by_client_id(engine: AsyncEngine, client_id: str) -> OidcClientRecord | None:
    """The registration of the partner whose client id this is; None when it has none."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(*_client_columns())
            .join(PARTNERS, PARTNERS.c.id == OIDC_CLIENTS.c.partner_id)
            .where(PARTNERS.c.client_id == client_id)
        )
        row = found.one_or_none()
    return None if row is None else _client(row)


async def clients_by_partner(reader: Reader, partner_ids: Sequence[int]) -> dict[int, OidcClientRecord]:
    """The registrations of these partners (those that have one)."""
    rows = await reader.rows(
        select(*_client_columns())
        .join(PARTNERS, PARTNERS.c.id == OIDC_CLIENTS.c.partner_id)
        .where(OIDC_CLIENTS.c.partner_id.in_(partner_ids))
    )
    return {row[0]: _client(row) for row in rows}


async def members_of(
    engine: AsyncEngine,
    kind: str,
    subject_id: str,
    *,
    school_code: str | None,
    today: dt.date,
    by_assertion: bool = False,
) -> list[Member]:
    """The current school memberships of a signed-in subject (a student row id, or a staff account id
    whose address is that of active staff members), at the named school only when `school_code` is
    given; the oldest first.

    A session a network provider's assertion started (`by_assertion`) may hold a staff account that only
    ever signs in that way: its members stay inactive (never activated in the hub), and the provider
    vouched for the person with the member's address, so their memberships count all the same."""
    if not (subject_id.isascii() and subject_id.isdigit()):
        return []
    table: Table = STUDENTS if kind == STUDENT else STAFF_MEMBERS
    statement = select(table.c.id, table.c.school_id).where(current_members(table, today))
    if kind == STUDENT:
        statement = statement.where(STUDENTS.c.id == int(subject_id), STUDENTS.c.active.is_(True))
    else:
        usable = (
            or_(STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only)
            if by_assertion
            else STAFF_ACCOUNTS.c.active.is_(True)
        )
        email = select(STAFF_ACCOUNTS.c.email).where(STAFF_ACCOUNTS.c.id == int(subject_id), usable)
        statement = statement.where(STAFF_MEMBERS.c.email == email.scalar_subquery())
        if not by_assertion:
            statement = statement.where(STAFF_MEMBERS.c.active.is_(True))
    if school_code is not None:
        statement = statement.join(SCHOOLS, SCHOOLS.c.id == table.c.school_id).where(
            SCHOOLS.c.code == school_code.strip().upper()
        )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.order_by(table.c.id))).all()
    return [Member(kind, row[0], row[1]) for row in rows]


async def instelling_ref(engine: AsyncEngine, school_id: int) -> str:
    """The school's opaque `INSTELLING_REF`."""
    async with engine.connect() as connection:
        found = await connection.scalar(select(SCHOOLS.c.instelling_ref).where(SCHOOLS.c.id == school_id))
    return str(found)


async def licensed_group_ids(
    engine: AsyncEngine, member: Member, *, partner_id: int, today: dt.date
) -> list[int]:
    """The member's current groups that a license valid today is coupled to, of one of the partner's
    products; ordered by id (the id_token's `groups`)."""
    if member.kind == STUDENT:
        link, member_column, in_force = GROUP_STUDENTS, GROUP_STUDENTS.c.student_id, None
    else:
        link, member_column, in_force = GROUP_STAFF, GROUP_STAFF.c.staff_id, staff_link_in_force(today)
    products = select(PRODUCTS.c.id).where(PRODUCTS.c.partner_id == partner_id)
    statement = (
        select(link.c.group_id)
        .distinct()
        .join(GROUPS, GROUPS.c.id == link.c.group_id)
        .join(LICENSE_GROUPS, LICENSE_GROUPS.c.group_id == link.c.group_id)
        .join(LICENSES, LICENSES.c.id == LICENSE_GROUPS.c.license_id)
        .where(
            member_column == member.member_id,
            current_groups(today),
            LICENSES.c.school_id == member.school_id,
            LICENSES.c.valid_from <= today,
            or_(LICENSES.c.valid_until.is_(None), LICENSES.c.valid_until >= today),
            LICENSES.c.product_id.in_(products),
        )
        .order_by(link.c.group_id)
    )
    if in_force is not None:
        statement = statement.where(in_force)
    async with engine.connect() as connection:
        return [row[0] for row in await connection.execute(statement)]


async def store_code(engine: AsyncEngine, code: NewCode) -> None:
    """Keep a new authorization code (its hash) and what it is bound to."""
    async with engine.begin() as connection:
        await connection.execute(
            insert(OIDC_CODES).values(
                code_hash=code.code_hash,
                partner_id=code.partner_id,
                redirect_uri=code.redirect_uri,
                code_challenge=code.code_challenge,
                nonce=code.nonce,
                scope=code.scope,
                person_kind=code.member.kind,
                member_id=code.member.member_id,
                school_id=code.member.school_id,
                session_id=code.session_id,
                auth_time=code.auth_time,
                context=code.context,
                created_at=code.created_at,
                expires_at=code.expires_at,
            )
        )


def _stored(row: AnyRow) -> StoredCode:
    r = row._mapping
    return StoredCode(
        id=r["id"],
        partner_id=r["partner_id"],
        redirect_uri=r["redirect_uri"],
        code_challenge=r["code_challenge"],
        nonce=r["nonce"],
        scope=r["scope"],
        member=Member(r["person_kind"], r["member_id"], r["school_id"]),
        session_id=r["session_id"],
        auth_time=r["auth_time"],
        context=r["context"],
        expires_at=r["expires_at"],
        used_at=r["used_at"],
        revoked_at=r["revoked_at"],
    )


async def code_by_hash(engine: AsyncEngine, code_hash: str) -> StoredCode | None:
    """The stored code with this hash, used or not; None when there is none."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(OIDC_CODES).where(OIDC_CODES.c.code_hash == code_hash))
        ).first()
    return None if row is None else _stored(row)


async def redeem_code(engine: AsyncEngine, code_id: int, *, access_token_id: str, now: dt.datetime) -> bool:
    """Mark the code used by the access token `access_token_id`; False when it was used already (two
    concurrent exchanges cannot both succeed: the update is conditional)."""
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(OIDC_CODES)
            .where(OIDC_CODES.c.id == code_id, OIDC_CODES.c.used_at.is_(None))
            .values(used_at=now, access_token_id=access_token_id)
        )
    return bool(changed.rowcount)


async def revoke_code(engine: AsyncEngine, code_id: int, *, now: dt.datetime) -> None:
    """End the grant a code became (a used code presented again): its access token stops working."""
    async with engine.begin() as connection:
        await connection.execute(
            update(OIDC_CODES)
            .where(OIDC_CODES.c.id == code_id, OIDC_CODES.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


@dataclass(frozen=True, slots=True)
class SessionInForce:
    """A web session that is still on, with what a caller must check beyond the store: the network
    provider whose assertion started it (None: a sign-in on the hub's pages) and the session's school."""

    assertion_partner_id: int | None
    school_code: str | None


async def session_in_force(
    engine: AsyncEngine, session_id: str, *, now: dt.datetime
) -> SessionInForce | None:
    """The web session a code was issued in, when it is still on: not ended (signed out), not expired, and
    its person may still sign in (an account disabled or a login removed since ends it), judged as the
    session's own requests are: a session a network provider's assertion started may hold an account that
    only ever signs in that way (`subject_may_sign_in(by_assertion=True)`). Whether that provider still
    has consent is the policy's to say (`resolvers.web_sessions.session_on`)."""
    if not (session_id.isascii() and session_id.isdigit()):
        return None
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    WEB_SESSIONS.c.subject_kind,
                    WEB_SESSIONS.c.subject_id,
                    WEB_SESSIONS.c.assertion_partner_id,
                    WEB_SESSIONS.c.school_code,
                ).where(
                    WEB_SESSIONS.c.id == int(session_id),
                    WEB_SESSIONS.c.ended_at.is_(None),
                    WEB_SESSIONS.c.expires_at > now,
                )
            )
        ).one_or_none()
    by_assertion = row is not None and row.assertion_partner_id is not None
    if row is None or not await subject_may_sign_in(
        engine, row.subject_kind, row.subject_id, by_assertion=by_assertion
    ):
        return None
    return SessionInForce(row.assertion_partner_id, row.school_code)


async def grant_of_access_token(engine: AsyncEngine, access_token_id: str) -> StoredCode | None:
    """The exchanged code an access token was issued from; None when there is none."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(OIDC_CODES).where(OIDC_CODES.c.access_token_id == access_token_id)
            )
        ).first()
    return None if row is None else _stored(row)
