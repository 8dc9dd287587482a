"""Signing keys in the store: shared by every process on the database, rotated without breaking tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

import jwt as pyjwt
import pytest

from auth.key_material import jwks
from auth.tokens import (
    OPERATOR_TOKEN_LIFETIME,
    PARTNER_TOKEN_LIFETIME,
    InvalidToken,
    mint_token,
    verify_token,
    viewer_from_claims,
)
from auth.viewer import ViewerKind
from datasources.access.signing_keys import KEY_RETENTION, load_keyset, rotate_keys
from datasources.store.database import create_engine

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.key_material import KeySet
    from settings import Settings

ISSUER = "http://127.0.0.1:8000"
NOW = dt.datetime(2025, 3, 3, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
async def other_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database, standing in for another process (the command line)."""
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


def _operator_token(keyset: KeySet, now: dt.datetime = NOW) -> str:
    return mint_token(
        keyset,
        issuer=ISSUER,
        subject="operator:helpdesk",
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=now,
    )


def _kid(token: str) -> str:
    return str(pyjwt.get_unverified_header(token)["kid"])


def _published_kids(keyset: KeySet) -> list[str]:
    return [entry["kid"] for entry in jwks(keyset)["keys"]]


async def test_token_minted_by_one_process_verifies_in_another_on_the_same_database(
    engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    command_line_keys = await load_keyset(engine, now=NOW)
    token = _operator_token(command_line_keys)

    server_keys = await load_keyset(other_engine, now=NOW + dt.timedelta(minutes=1))
    claims = verify_token(token, server_keys, issuer=ISSUER, now=NOW + dt.timedelta(minutes=1))

    assert viewer_from_claims(claims).kind is ViewerKind.OPERATOR
    assert server_keys.active.kid == command_line_keys.active.kid


async def test_loading_twice_reuses_the_stored_key(engine: AsyncEngine) -> None:
    first = await load_keyset(engine, now=NOW)
    second = await load_keyset(engine, now=NOW + dt.timedelta(days=30))

    assert len(second.keys) == 1
    assert second.active == first.active


async def test_processes_starting_together_create_a_single_first_key(
    engine: AsyncEngine, other_engine: AsyncEngine, settings: Settings
) -> None:
    third_engine = create_engine(settings.database_url)
    try:
        keysets = await asyncio.gather(
            *(load_keyset(each, now=NOW) for each in (engine, other_engine, third_engine, engine))
        )
    finally:
        await third_engine.dispose()

    assert {keyset.active.kid for keyset in keysets} == {keysets[0].active.kid}
    assert len((await load_keyset(engine, now=NOW)).keys) == 1


async def test_rotation_signs_new_tokens_with_a_new_key_and_keeps_old_tokens_valid(
    engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    before = await load_keyset(engine, now=NOW)
    old_token = _operator_token(before)

    rotated_at = NOW + dt.timedelta(hours=1)
    after = await rotate_keys(engine, now=rotated_at)
    new_token = _operator_token(after, rotated_at)
    reloaded = await load_keyset(other_engine, now=rotated_at)

    assert _kid(old_token) == before.active.kid
    assert _kid(new_token) == after.active.kid != before.active.kid
    assert _published_kids(reloaded) == [after.active.kid, before.active.kid]
    for token in (old_token, new_token):
        assert verify_token(token, reloaded, issuer=ISSUER, now=rotated_at)["sub"] == "operator:helpdesk"


async def test_concurrent_rotations_leave_exactly_one_active_key(
    engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    await load_keyset(engine, now=NOW)

    await asyncio.gather(rotate_keys(engine, now=NOW), rotate_keys(other_engine, now=NOW))
    keyset = await load_keyset(engine, now=NOW)

    assert len(keyset.keys) == 3
    assert [key.kid for key in keyset.keys if key.retired_at is None] == [keyset.active.kid]


async def test_retired_key_leaves_the_jwks_once_every_token_it_signed_has_expired(
    engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    before = await load_keyset(engine, now=NOW)
    last_old_token = _operator_token(before, NOW)
    after = await rotate_keys(engine, now=NOW)

    still_published = await load_keyset(other_engine, now=NOW + KEY_RETENTION)
    dropped = await load_keyset(other_engine, now=NOW + KEY_RETENTION + dt.timedelta(seconds=1))

    assert before.active.kid in _published_kids(still_published)
    assert _published_kids(dropped) == [after.active.kid]
    with pytest.raises(InvalidToken):
        verify_token(last_old_token, dropped, issuer=ISSUER, now=NOW + KEY_RETENTION)


async def test_keys_keep_their_times_whatever_zone_the_clock_reports(engine: AsyncEngine) -> None:
    amsterdam_winter = dt.timezone(dt.timedelta(hours=1))
    keyset = await load_keyset(engine, now=NOW.astimezone(amsterdam_winter))
    await rotate_keys(engine, now=NOW.astimezone(amsterdam_winter))
    reloaded = await load_keyset(engine, now=NOW)

    retired = next(key for key in reloaded.keys if key.kid == keyset.active.kid)
    assert retired.created_at == NOW
    assert retired.retired_at == NOW


async def test_partner_token_from_the_stored_key_verifies_with_pyjwt_and_the_published_jwks(
    engine: AsyncEngine,
) -> None:
    keyset = await load_keyset(engine, now=NOW)
    token = mint_token(
        keyset,
        issuer=ISSUER,
        subject="partner:uitgeverij-noord",
        scopes=["student.basic"],
        lifetime=PARTNER_TOKEN_LIFETIME,
        now=dt.datetime.now(dt.UTC),
    )
    (published,) = jwks(await load_keyset(engine, now=NOW))["keys"]

    claims = pyjwt.decode(
        token, pyjwt.PyJWK(published).key, algorithms=["ES256"], audience="leerpoort", issuer=ISSUER
    )
    assert claims["scope"] == "student.basic"


async def test_loading_refuses_a_clock_without_a_zone(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="time zone"):
        await load_keyset(engine, now=NOW.replace(tzinfo=None))
