"""Registrations: partners with their client credentials, and staff accounts with their school roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from datasources.access.viewer_facts import COORDINATOR
from datasources.store.tables import PARTNERS, SCHOOLS, STAFF_ACCOUNT_ROLES, STAFF_ACCOUNTS
from errors import BadUserInput, Conflict

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.categories import DataCategory


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A registered subject with the hash of its secret (never the secret itself)."""

    subject_id: int
    secret_hash: str | None
    active: bool = True


async def create_partner(
    engine: AsyncEngine,
    *,
    name: str,
    kind: str,
    declared: Iterable[DataCategory],
    eck_chain: bool,
    client_id: str,
    secret_hash: str,
    now: dt.datetime,
) -> int:
    """Register a partner; returns its id."""
    if not name.strip():
        raise BadUserInput("a partner needs a name")
    async with engine.begin() as connection:
        inserted = await connection.execute(
            insert(PARTNERS)
            .values(
                name=name.strip(),
                kind=kind,
                declared_categories=sorted(category.name for category in declared),
                eck_chain=eck_chain,
                client_id=client_id,
                client_secret_hash=secret_hash,
                created_at=now,
            )
            .returning(PARTNERS.c.id)
        )
        return int(inserted.scalar_one())


async def partner_secret(engine: AsyncEngine, client_id: str) -> StoredSecret | None:
    """The partner registered under `client_id` and its secret hash."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(PARTNERS.c.id, PARTNERS.c.client_secret_hash).where(PARTNERS.c.client_id == client_id)
        )
        row = found.one_or_none()
    return None if row is None else StoredSecret(subject_id=row.id, secret_hash=row.client_secret_hash)


async def partner_client_id(engine: AsyncEngine, partner_id: int) -> str | None:
    """The client id of the partner with this id (what its tokens name), or None if there is none."""
    async with engine.connect() as connection:
        found = await connection.execute(select(PARTNERS.c.client_id).where(PARTNERS.c.id == partner_id))
        return found.scalar_one_or_none()


async def school_id_by_code(engine: AsyncEngine, code: str) -> int | None:
    """The id of the school with this code (any state), for administrative writes."""
    async with engine.connect() as connection:
        found = await connection.execute(select(SCHOOLS.c.id).where(SCHOOLS.c.code == code.strip().upper()))
        return found.scalar_one_or_none()


async def add_coordinator(
    engine: AsyncEngine,
    *,
    school_code: str,
    email: str,
    password_hash: str,
    created_by: str,
    now: dt.datetime,
) -> int:
    """Make `email` a coordinator of the school: a new account with this password, or an existing
    account that gains the school (its password unchanged). Returns the account id."""
    address = normalise_email(email)
    school_id = await school_id_by_code(engine, school_code)
    if school_id is None:
        raise BadUserInput(f"no school with code {school_code}")
    try:
        async with engine.begin() as connection:
            existing = await connection.execute(
                select(STAFF_ACCOUNTS.c.id).where(STAFF_ACCOUNTS.c.email == address)
            )
            account_id = existing.scalar_one_or_none()
            if account_id is None:
                inserted = await connection.execute(
                    insert(STAFF_ACCOUNTS)
                    .values(
                        email=address,
                        password_hash=password_hash,
                        active=True,
                        created_at=now,
                        created_by=created_by,
                    )
                    .returning(STAFF_ACCOUNTS.c.id)
                )
                account_id = inserted.scalar_one()
            await connection.execute(
                insert(STAFF_ACCOUNT_ROLES).values(
                    account_id=account_id, school_id=school_id, role=COORDINATOR
                )
            )
    except IntegrityError:
        raise Conflict(f"{address} is already a coordinator of {school_code}") from None
    return int(account_id)


async def account_secret(engine: AsyncEngine, email: str) -> StoredSecret | None:
    """The staff account signing in with `email`, with its password hash."""
    async with engine.connect() as connection:
        found = await connection.execute(
            select(STAFF_ACCOUNTS.c.id, STAFF_ACCOUNTS.c.password_hash, STAFF_ACCOUNTS.c.active).where(
                STAFF_ACCOUNTS.c.email == normalise_email(email)
            )
        )
        row = found.one_or_none()
    return (
        None
        if row is None
        else StoredSecret(subject_id=row.id, secret_hash=row.password_hash, active=bool(row.active))
    )


async def coordinated_school_codes(engine: AsyncEngine, account_id: int) -> list[str]:
    """The codes of the schools an account coordinates (for the staff token's scope claim)."""
    async with engine.connect() as connection:
        found = await connection.scalars(
            select(SCHOOLS.c.code)
            .join(STAFF_ACCOUNT_ROLES, STAFF_ACCOUNT_ROLES.c.school_id == SCHOOLS.c.id)
            .where(STAFF_ACCOUNT_ROLES.c.account_id == account_id, STAFF_ACCOUNT_ROLES.c.role == COORDINATOR)
            .order_by(SCHOOLS.c.code)
        )
        return list(found)


def normalise_email(email: str) -> str:
    """An e-mail address as stored and compared: trimmed and lower-cased; refused when it is not one."""
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or len(address) > 320 or any(c.isspace() for c in address):
        raise BadUserInput("that is not an e-mail address")
    return address
