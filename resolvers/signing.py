"""The process's signing keys: read from the store, cached, reloaded on rotation; minting and verifying."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final

from auth.tokens import HUB_AUDIENCE, TOKEN_LIFETIMES, UnknownSigningKey, mint_token, verify_token
from datasources.access.signing_keys import load_keyset

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from auth.key_material import KeySet
    from auth.viewer import ViewerKind
    from settings import Settings

#: How long a process trusts its copy of the signing keys before reading them again: a rotation by another
#: process becomes visible within this time, and a token with an unknown kid triggers a reload at once.
KEYS_MAX_AGE_SECONDS: Final = 60.0


class Keys:
    """The signing keys of this process, reloaded from the database when stale or on an unknown kid."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._keyset: KeySet | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self, *, refresh: bool = False) -> KeySet:
        """The keys, read again when older than `KEYS_MAX_AGE_SECONDS` or when `refresh` asks."""
        async with self._lock:
            stale = time.monotonic() - self._loaded_at > KEYS_MAX_AGE_SECONDS
            if self._keyset is None or stale or refresh:
                self._keyset = await load_keyset(self._engine, now=self._settings.now())
                self._loaded_at = time.monotonic()
            return self._keyset

    async def verify(
        self, token: str, *, audience: str = HUB_AUDIENCE, expected_type: str | None = None
    ) -> dict[str, Any]:
        """The claims of a hub token (or, with another `audience` and `expected_type`, of a token the hub
        issued to a partner's client), verified with the current keys (reloaded once for an unknown kid)."""
        issuer, now = self._settings.issuer, self._settings.now()
        try:
            keyset = await self.current()
            return verify_token(
                token, keyset, issuer=issuer, audience=audience, now=now, expected_type=expected_type
            )
        except UnknownSigningKey:
            keyset = await self.current(refresh=True)
            return verify_token(
                token, keyset, issuer=issuer, audience=audience, now=now, expected_type=expected_type
            )

    async def mint(self, kind: ViewerKind, subject_id: str, scopes: Iterable[str]) -> tuple[str, dt.datetime]:
        """A hub token for `kind:subject_id` with the lifetime API.md gives that kind; and its expiry."""
        now = self._settings.now()
        lifetime = TOKEN_LIFETIMES[kind]
        token = mint_token(
            await self.current(),
            issuer=self._settings.issuer,
            subject=f"{kind.value}:{subject_id}",
            scopes=scopes,
            lifetime=lifetime,
            now=now,
        )
        return token, now.replace(microsecond=0) + lifetime
