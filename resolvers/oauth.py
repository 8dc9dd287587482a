"""The OAuth 2 client-credentials grant (RFC 6749 §4.4) for partners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.credentials import verify_secret
from auth.tokens import PARTNER_TOKEN_LIFETIME
from auth.viewer import ViewerKind
from datasources.accounts import partner_secret

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from resolvers.keys import Keys

PARTNER_SCOPE: Final = "partner"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, a description a person understands, and the HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A successful token response."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret


async def client_credentials(
    engine: AsyncEngine, keys: Keys, *, client_id: str, client_secret: str, requested_scope: str | None
) -> AccessToken:
    """A partner access token for valid client credentials; `invalid_client` for anything else."""
    if requested_scope and set(requested_scope.split()) - {PARTNER_SCOPE}:
        raise OAuthError("invalid_scope", f"the only scope a partner may ask for is '{PARTNER_SCOPE}'")
    stored = await partner_secret(engine, client_id) if client_id else None
    # verify_secret spends the same time on an unknown client, so timing does not tell which ids exist.
    if not verify_secret(stored.secret_hash if stored else None, client_secret) or stored is None:
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    token, _ = await keys.mint(ViewerKind.PARTNER, client_id, [PARTNER_SCOPE])
    return AccessToken(
        access_token=token, expires_in=int(PARTNER_TOKEN_LIFETIME.total_seconds()), scope=PARTNER_SCOPE
    )
