"""Network providers' sign-in assertions in the store: their keys, the used `jti`s, the people an
assertion may name, and the account a staff member signs in with that way without activating one.

A staff member who only ever signs in through a network provider stays *inactive* (DOMAIN.md): their
`staff_members.active` flag is never touched here, and their account (found or created by the member's
school address, as activation would) is created `active = false, assertion_only = true` with a password
hash no password matches. Such an account opens no password sign-in and no token; only a web session an
assertion started may use it (`datasources.access.web_sessions.subject_may_sign_in`). Activating the
account later (`datasources.access.activation.activate`) gives it a password and clears the flag; an
import that removes the member disables it (`datasources.imports.account_access`), which ends its sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from datasources.store.tables import (
    ASSERTION_KEY_SETS,
    PARTNERS,
    SCHOOLS,
    STAFF_ACCOUNTS,
    STAFF_MEMBERS,
    STUDENTS,
    USED_ASSERTIONS,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncEngine

#: No password verifies against this: it is not an argon2 hash (auth.credentials refuses it unread).
UNUSABLE_PASSWORD_HASH = "!assertion-only"  # noqa: S105 - a marker, not a secret
STUDENT = "student"
STAFF = "staff"


@dataclass(frozen=True, slots=True)
class AssertionPartner:
    """The partner an assertion's `iss` names: its id, client id and kind."""

    partner_id: int
    client_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class StoredKeySet:
    """A provider's registered keys (public JWKs), its JWKS URL if any, and when that was last fetched."""

    partner_id: int
    keys: tuple[Mapping[str, str], ...]
    jwks_url: str | None
    fetched_at: dt.datetime | None
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Candidate:
    """A membership an assertion's person claim matches: a student or a staff member at a school."""

    kind: str
    member_id: int
    school_id: int
    school_code: str
    instelling_ref: str
    email: str | None


class ReplayedAssertion(Exception):  # noqa: N818 - the verdict: "replayed assertion"
    """The assertion's `jti` was used before (also by a request running at the same moment)."""


class DisabledAccount(Exception):  # noqa: N818 - the verdict: "disabled account"
    """The person's account was disabled: an assertion does not open it again."""


async def partner_by_client_id(engine: AsyncEngine, client_id: str) -> AssertionPartner | None:
    """The partner registered under this client id, with its kind."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(PARTNERS.c.id, PARTNERS.c.client_id, PARTNERS.c.kind).where(
                    PARTNERS.c.client_id == client_id
                )
            )
        ).one_or_none()
    return None if row is None else AssertionPartner(row.id, row.client_id, row.kind)


async def partner_by_id(engine: AsyncEngine, partner_id: int) -> AssertionPartner | None:
    """The partner with this id, with its kind."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(PARTNERS.c.id, PARTNERS.c.client_id, PARTNERS.c.kind).where(
                    PARTNERS.c.id == partner_id
                )
            )
        ).one_or_none()
    return None if row is None else AssertionPartner(row.id, row.client_id, row.kind)


async def key_set(engine: AsyncEngine, partner_id: int) -> StoredKeySet | None:
    """The provider's registered keys, or None when it registered none."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(ASSERTION_KEY_SETS).where(ASSERTION_KEY_SETS.c.partner_id == partner_id)
            )
        ).one_or_none()
    if row is None:
        return None
    return StoredKeySet(
        partner_id=row.partner_id,
        keys=tuple(row.keys or ()),
        jwks_url=row.jwks_url,
        fetched_at=row.fetched_at,
        updated_at=row.updated_at,
    )


async def store_key_set(
    engine: AsyncEngine,
    partner_id: int,
    *,
    keys: Sequence[Mapping[str, str]],
    jwks_url: str | None,
    fetched_at: dt.datetime | None,
    now: dt.datetime,
    by: str,
) -> None:
    """Register (or replace) the provider's keys: a document, or a JWKS URL with its first fetch."""
    values: dict[str, Any] = {
        "keys": [dict(key) for key in keys],
        "jwks_url": jwks_url,
        "fetched_at": fetched_at,
        "updated_at": now,
        "updated_by": by[:200],
    }
    async with engine.begin() as connection:
        changed = await connection.execute(
            update(ASSERTION_KEY_SETS).where(ASSERTION_KEY_SETS.c.partner_id == partner_id).values(**values)
        )
        if changed.rowcount == 0:
            await connection.execute(insert(ASSERTION_KEY_SETS).values(partner_id=partner_id, **values))


async def refresh_fetched_keys(
    engine: AsyncEngine, partner_id: int, jwks_url: str, keys: Sequence[Mapping[str, str]], *, at: dt.datetime
) -> None:
    """Cache a refetch of the provider's JWKS URL (only while that URL is still the registered one)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(ASSERTION_KEY_SETS)
            .where(ASSERTION_KEY_SETS.c.partner_id == partner_id, ASSERTION_KEY_SETS.c.jwks_url == jwks_url)
            .values(keys=[dict(key) for key in keys], fetched_at=at)
        )


async def mark_fetch_attempt(engine: AsyncEngine, partner_id: int, *, at: dt.datetime) -> None:
    """Record a failed refetch's time too, so a provider's broken URL is not asked more than once a minute."""
    async with engine.begin() as connection:
        await connection.execute(
            update(ASSERTION_KEY_SETS)
            .where(ASSERTION_KEY_SETS.c.partner_id == partner_id)
            .values(fetched_at=at)
        )


async def candidates(engine: AsyncEngine, *, eck_id: str | None, email: str | None) -> list[Candidate]:
    """The memberships at open schools the person claim names: by ECK-iD a student (still a member) or
    a staff member; by e-mail address a staff member (students sign in by ECK-iD only)."""
    found: list[Candidate] = []
    async with engine.connect() as connection:
        if eck_id is not None:
            students = await connection.execute(
                select(STUDENTS.c.id, STUDENTS.c.school_id, SCHOOLS.c.code, SCHOOLS.c.instelling_ref)
                .join(SCHOOLS, SCHOOLS.c.id == STUDENTS.c.school_id)
                .where(STUDENTS.c.eck_id == eck_id, STUDENTS.c.active.is_(True), SCHOOLS.c.active.is_(True))
            )
            found += [
                Candidate(STUDENT, row.id, row.school_id, row.code, row.instelling_ref, None)
                for row in students
            ]
        staff = select(
            STAFF_MEMBERS.c.id,
            STAFF_MEMBERS.c.school_id,
            STAFF_MEMBERS.c.email,
            SCHOOLS.c.code,
            SCHOOLS.c.instelling_ref,
        ).join(SCHOOLS, SCHOOLS.c.id == STAFF_MEMBERS.c.school_id)
        staff = staff.where(SCHOOLS.c.active.is_(True))
        staff = (
            staff.where(STAFF_MEMBERS.c.eck_id == eck_id)
            if eck_id is not None
            else staff.where(func.lower(STAFF_MEMBERS.c.email) == (email or "").lower())
        )
        rows = await connection.execute(staff.order_by(STAFF_MEMBERS.c.id))
        found += [
            Candidate(STAFF, row.id, row.school_id, row.code, row.instelling_ref, row.email) for row in rows
        ]
    return found


async def use_assertion(
    engine: AsyncEngine, partner_id: int, jti: str, *, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Record the assertion's `jti` as used (`ReplayedAssertion` when it was); forget the expired ones.

    The primary key (partner, jti) decides between two requests racing with the same assertion: one
    insert commits, the other fails on the constraint."""
    try:
        async with engine.begin() as connection:
            # An expired jti can never be replayed (the assertion fails its exp first): keep none of them.
            await connection.execute(
                delete(USED_ASSERTIONS).where(USED_ASSERTIONS.c.expires_at < now - dt.timedelta(minutes=1))
            )
            await connection.execute(
                insert(USED_ASSERTIONS).values(partner_id=partner_id, jti=jti, expires_at=expires_at)
            )
    except IntegrityError:
        raise ReplayedAssertion from None


async def forget_assertion(engine: AsyncEngine, partner_id: int, jti: str) -> None:
    """Undo `use_assertion` when the sign-in it was for is refused after all (nothing changed)."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(USED_ASSERTIONS).where(
                USED_ASSERTIONS.c.partner_id == partner_id, USED_ASSERTIONS.c.jti == jti
            )
        )


@dataclass(frozen=True, slots=True)
class AssertionAccount:
    """The account a staff member's assertion signs in with, and whether it was ever activated."""

    account_id: int
    activated: bool


async def account_for_assertion(
    engine: AsyncEngine, email: str, *, now: dt.datetime, created_by: str
) -> AssertionAccount:
    """The account of the staff member's school address: the activated one if there is one, an
    assertion-only one otherwise (created inactive with an unusable password, the member untouched).
    `DisabledAccount` for an account that was disabled: a provider's word does not reopen it."""
    address = email.strip().lower()
    for _ in range(2):  # a concurrent first sign-in may create the row between our read and our insert
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        STAFF_ACCOUNTS.c.id, STAFF_ACCOUNTS.c.active, STAFF_ACCOUNTS.c.assertion_only
                    ).where(STAFF_ACCOUNTS.c.email == address)
                )
            ).one_or_none()
        if row is not None:
            if row.active:
                return AssertionAccount(int(row.id), activated=True)
            if row.assertion_only:
                return AssertionAccount(int(row.id), activated=False)
            raise DisabledAccount
        try:
            async with engine.begin() as connection:
                inserted = await connection.execute(
                    insert(STAFF_ACCOUNTS)
                    .values(
                        email=address,
                        password_hash=UNUSABLE_PASSWORD_HASH,
                        active=False,
                        assertion_only=True,
                        created_at=now,
                        created_by=created_by[:200],
                    )
                    .returning(STAFF_ACCOUNTS.c.id)
                )
                return AssertionAccount(int(inserted.scalar_one()), activated=False)
        except IntegrityError:
            continue
    raise DisabledAccount  # pragma: no cover - the row exists after a lost race; the loop reads it


__all__ = [
    "AssertionAccount",
    "AssertionPartner",
    "Candidate",
    "DisabledAccount",
    "ReplayedAssertion",
    "StoredKeySet",
    "account_for_assertion",
    "candidates",
    "forget_assertion",
    "key_set",
    "mark_fetch_attempt",
    "partner_by_client_id",
    "partner_by_id",
    "refresh_fetched_keys",
    "store_key_set",
    "use_assertion",
]
