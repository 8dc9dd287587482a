"""The OAuth 2 client-credentials grant (RFC 6749 §4.4) for partners and LAS clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.credentials import verify_secret
from auth.tokens import TOKEN_LIFETIMES
from auth.viewer import ViewerKind
from datasources.access.accounts import partner_secret
from datasources.access.las_clients import las_secret
from errors import RateLimited
from resolvers.credential_checks import credential_check

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from resolvers.signing import Keys
    from settings import Settings

PARTNER_SCOPE: Final = "partner"
LAS_SCOPE: Final = "las"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: `error` code, a description a person understands, and the HTTP status."""

    def __init__(
        self, error: str, description: str, status: int = 400, *, retry_after: int | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        #: Seconds to wait before trying again (the `Retry-After` of a 429).
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A successful token response."""

    access_token: str
    expires_in: int
    scope: str
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret


#: The `error` of a token response refused by the rate limit (HTTP 429, `Retry-After`); the catalogue's
#: RATE_LIMITED in the lower case of RFC 6749's error codes.
RATE_LIMITED_ERROR: Final = "rate_limited"


async def authenticated_client(
    engine: AsyncEngine, settings: Settings, *, client_id: str, client_secret: str, address: str
) -> tuple[ViewerKind, str]:
    """The kind (PARTNER or LAS) and scope of a client whose credentials are valid, sent from network
    `address`; `invalid_client` for anything else, and `rate_limited` (429) before the secret is checked
    when the client id or the address has had too many failures (whether or not the client exists)."""
    try:
        async with credential_check(
            engine, settings, subject_kind="client", subject=client_id, address=address
        ) as check:
            partner = await partner_secret(engine, client_id) if client_id else None
            las = await las_secret(engine, client_id) if client_id and partner is None else None
            stored, kind, scope = (
                (partner, ViewerKind.PARTNER, PARTNER_SCOPE) if partner else (las, ViewerKind.LAS, LAS_SCOPE)
            )
            # verify_secret spends the same time on an unknown client, so timing does not tell which ids
            # exist.
            if not verify_secret(stored.secret_hash if stored else None, client_secret) or stored is None:
                raise OAuthError("invalid_client", "client authentication failed", status=401)
            check.passed()
    except RateLimited as limited:
        raise OAuthError(
            RATE_LIMITED_ERROR, limited.message, status=429, retry_after=limited.retry_after
        ) from None
    return kind, scope


async def client_credentials(
    engine: AsyncEngine,
    keys: Keys,
    settings: Settings,
    *,
    client_id: str,
    client_secret: str,
    requested_scope: str | None,
    address: str,
) -> AccessToken:
    """An access token for valid client credentials (a partner's, or a LAS client's) sent from network
    `address`; `invalid_client` for anything else, `invalid_scope` for a scope the client may not have,
    and `rate_limited` (429) before the secret is checked when the client id or the address has had too
    many failures (whether or not the client exists)."""
    kind, scope = await authenticated_client(
        engine, settings, client_id=client_id, client_secret=client_secret, address=address
    )
    if requested_scope and set(requested_scope.split()) - {scope}:
        raise OAuthError("invalid_scope", f"this client may only ask for the scope '{scope}'")
    token, _ = await keys.mint(kind, client_id, [scope])
    return AccessToken(access_token=token, expires_in=int(TOKEN_LIFETIMES[kind].total_seconds()), scope=scope)
