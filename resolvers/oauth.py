"""The OAuth 2 client-credentials grant (RFC 6749 §4.4) for partners and LAS clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.credentials import verify_secret
from auth.tokens import TOKEN_LIFETIMES
from auth.viewer import ViewerKind
from datasources.access.accounts import partner_secret
from datasources.access.las_clients import las_secret

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from resolvers.signing import Keys

PARTNER_SCOPE: Final = "partner"
LAS_SCOPE: Final = "las"


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
    """An access token for valid client credentials (a partner's, or a LAS client's); `invalid_client`
    for anything else, and `invalid_scope` for a scope the client may not have."""
    partner = await partner_secret(engine, client_id) if client_id else None
    las = await las_secret(engine, client_id) if client_id and partner is None else None
    stored, kind, scope = (
        (partner, ViewerKind.PARTNER, PARTNER_SCOPE) if partner else (las, ViewerKind.LAS, LAS_SCOPE)
    )
    # verify_secret spends the same time on an unknown client, so timing does not tell which ids exist.
    if not verify_secret(stored.secret_hash if stored else None, client_secret) or stored is None:
        raise OAuthError("invalid_client", "client authentication failed", status=401)
    if requested_scope and set(requested_scope.split()) - {scope}:
        raise OAuthError("invalid_scope", f"this client may only ask for the scope '{scope}'")
    token, _ = await keys.mint(kind, client_id, [scope])
    return AccessToken(access_token=token, expires_in=int(TOKEN_LIFETIMES[kind].total_seconds()), scope=scope)
