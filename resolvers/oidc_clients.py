"""Partners' OpenID Connect client registrations: `registerOidcClient`, and reading them back.

The URIs are kept exactly as given and compared exactly (OAuth 2.0 Security BCP, RFC 9700 §4.1.3): https
addresses only, without a fragment; the sandbox also takes http://127.0.0.1, http://[::1] and
http://localhost (any port), where partners test against it.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Final

from auth.permissions import may_register_oidc_client
from datasources.access import sign_on as store
from datasources.store.scoping import internal_id
from errors import BadUserInput, Forbidden

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasources.store.records import PartnerRecord
    from resolvers.context import Context

MAX_REDIRECT_URIS: Final = 10
MAX_URI_LENGTH: Final = 2000
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def checked_uri(uri: str, argument: str, *, sandbox: bool) -> str:
    """`uri` when it may be registered; BAD_USER_INPUT (naming `argument`) otherwise."""
    if not uri or len(uri) > MAX_URI_LENGTH or uri != uri.strip() or any(char.isspace() for char in uri):
        raise BadUserInput(
            f"`{argument}` must be an address of 1 to {MAX_URI_LENGTH} characters without spaces"
        )
    try:
        parts = urllib.parse.urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        raise BadUserInput(f"`{argument}` must be a well-formed address") from None
    if parts.fragment or "#" in uri:
        raise BadUserInput(f"`{argument}` may not have a fragment (#…)")
    if parts.username is not None or parts.password is not None:
        raise BadUserInput(f"`{argument}` may not carry credentials")
    if parts.scheme == "https" and host:
        return uri
    if sandbox and parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return uri
    allowed = "an https:// address" + (" (or http://127.0.0.1 or http://localhost)" if sandbox else "")
    raise BadUserInput(f"`{argument}` must be {allowed}")


async def register(
    ctx: Context, shown_partner_id: str, redirect_uris: Sequence[str], login_initiation_uri: str | None
) -> PartnerRecord:
    """Register the partner's client (operator, or the partner itself); the partner, to read it back."""
    partner_id = internal_id(ctx.scope, "Partner", shown_partner_id)
    if partner_id is None or not may_register_oidc_client(ctx.viewer, ctx.scope, partner_id):
        raise Forbidden("only the operator, or the partner itself, registers a partner's client")
    partner = await ctx.loaders.partners.get(partner_id)
    if partner is None:
        raise Forbidden("only the operator, or the partner itself, registers a partner's client")
    sandbox = ctx.settings.sandbox
    if not 1 <= len(redirect_uris) <= MAX_REDIRECT_URIS:
        raise BadUserInput(f"`redirectUris` must hold 1 to {MAX_REDIRECT_URIS} addresses")
    uris = list(dict.fromkeys(checked_uri(uri, "redirectUris", sandbox=sandbox) for uri in redirect_uris))
    login = (
        None
        if login_initiation_uri is None
        else checked_uri(login_initiation_uri, "loginInitiationUri", sandbox=sandbox)
    )
    await store.register_client(
        ctx.engine,
        partner_id,
        redirect_uris=uris,
        login_initiation_uri=login,
        registered_by=ctx.viewer.subject,
        now=ctx.now,
    )
    return partner


async def client_of(ctx: Context, partner: PartnerRecord) -> store.OidcClientRecord | None:
    """The partner's client registration (the partner is already visible to the viewer)."""
    return (await store.clients_by_partner(ctx.reader, [partner.id])).get(partner.id)
