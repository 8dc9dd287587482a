"""Signing keys in the store: loaded by every process, created on first use, rotated on request.

Keys live in the `signing_keys` table so that a token minted by the command line verifies in the server
and in every worker reading the same database. Changes to the table happen under a write lock (an
advisory lock on PostgreSQL, the database write lock on SQLite) so that processes starting together
create one first key, not one each, and two rotations cannot leave two active keys.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final

from sqlalchemy import delete, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from auth.key_material import KeySet, SigningKeyMaterial, generate_signing_key
from auth.tokens import CLOCK_LEEWAY, LONGEST_TOKEN_LIFETIME
from datasources.store.tables import SigningKey

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

#: How long a retired key keeps verifying: until the last token it could have signed has expired.
KEY_RETENTION: Final = LONGEST_TOKEN_LIFETIME + CLOCK_LEEWAY

# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises changes to the signing keys.
_ADVISORY_LOCK_ID: Final = 0x4C_50_4B_45_59_53  # "LPKEYS"


async def load_keyset(engine: AsyncEngine, *, now: dt.datetime) -> KeySet:
    """The keys that sign and verify at `now`; the first call on an empty store creates the first key.

    Retired keys past `KEY_RETENTION` are left out (and deleted), so the JWKS stops publishing them.
    """
    now = _utc(now)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        keys = await _stored_keys(session)
        if _has_active(keys) and not _expired(keys, now):
            return KeySet(tuple(keys))
        await _lock(session)
        # Re-read under the lock: another process may have created the first key meanwhile.
        keys = await _stored_keys(session)
        if not _has_active(keys):
            key = generate_signing_key(now)
            session.add(_row(key))
            keys.append(key)
        keys = await _drop_expired(session, keys, now)
        await session.commit()
    return KeySet(tuple(keys))


async def rotate_keys(engine: AsyncEngine, *, now: dt.datetime) -> KeySet:
    """Start a rollover: a new key signs from `now` on, the previous ones are retired at `now` and keep
    verifying their tokens for `KEY_RETENTION`. Processes pick the new key up when they reload."""
    now = _utc(now)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await _lock(session)
        rows = (await session.exec(select(SigningKey))).all()
        for row in rows:
            if row.retired_at is None:
                row.retired_at = now
                session.add(row)
        key = generate_signing_key(now)
        session.add(_row(key))
        keys = [_material(row) for row in rows]
        keys.append(key)
        keys = await _drop_expired(session, keys, now)
        await session.commit()
    return KeySet(tuple(keys))


async def _lock(session: AsyncSession) -> None:
    # Taken before the first read of the transaction, so the check-then-insert cannot interleave.
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
    else:
        # SQLite: a write statement (that changes nothing) takes the database's write lock at once; a
        # second process waits here (busy timeout) instead of failing when it upgrades from a read.
        await connection.execute(text("DELETE FROM signing_keys WHERE 0 = 1"))


async def _stored_keys(session: AsyncSession) -> list[SigningKeyMaterial]:
    rows = (await session.exec(select(SigningKey))).all()
    return [_material(row) for row in rows]


async def _drop_expired(
    session: AsyncSession, keys: list[SigningKeyMaterial], now: dt.datetime
) -> list[SigningKeyMaterial]:
    expired = [key.kid for key in keys if _is_expired(key, now)]
    if expired:
        # Core DELETE on the session's connection: none of these rows is used after this statement.
        connection = await session.connection()
        await connection.execute(delete(SigningKey).where(col(SigningKey.kid).in_(expired)))
    return [key for key in keys if key.kid not in expired]


def _has_active(keys: list[SigningKeyMaterial]) -> bool:
    return any(key.retired_at is None for key in keys)


def _expired(keys: list[SigningKeyMaterial], now: dt.datetime) -> bool:
    return any(_is_expired(key, now) for key in keys)


def _is_expired(key: SigningKeyMaterial, now: dt.datetime) -> bool:
    return key.retired_at is not None and key.retired_at + KEY_RETENTION < now


def _material(row: SigningKey) -> SigningKeyMaterial:
    return SigningKeyMaterial(
        kid=row.kid,
        private_pem=row.private_pem,
        created_at=_aware(row.created_at),
        retired_at=None if row.retired_at is None else _aware(row.retired_at),
    )


def _row(key: SigningKeyMaterial) -> SigningKey:
    return SigningKey(
        kid=key.kid, private_pem=key.private_pem, created_at=key.created_at, retired_at=key.retired_at
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite keeps the wall-clock time and drops the zone, so everything is stored in UTC.
    if moment.tzinfo is None:
        raise ValueError("`now` must carry a time zone")
    return moment.astimezone(dt.UTC)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
