"""A network provider's assertion signing keys: registered by the provider (or the operator), read back.

The provider's portal signs people in with an assertion posted to `POST /login/assertion`
(schema.pages.assertion); these fields register and show the keys that verify it. Kept apart from the
root types and joined with them in `schema.assembly` and `schema.query`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from errors import BadUserInput
from resolvers import network_assertions
from resolvers.network_assertions import KeySetView
from schema.classification import public, resolves_public
from schema.context import Info
from schema.relay import from_global_id, to_global_id

_PartnerId = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="The network provider, as `Partner.id`: required for the operator; a provider may omit"
        " it (or must name itself)."
    ),
]


def _partner_id(global_id: strawberry.ID | None) -> str | None:
    if global_id is None:
        return None
    decoded = from_global_id(global_id)
    if decoded is None or decoded[0] != "Partner":
        raise BadUserInput("`partnerId` must be a Partner id this API returned")
    return decoded[1]


@strawberry.type(description="One public key a network provider signs its sign-in assertions with.")
class AssertionKey:
    """A registered key, without its key material."""

    kid: str = public("The key's id (`kid`), which an assertion's header names.")
    alg: str = public("The one algorithm the key verifies: ES256 (EC P-256) or RS256 (RSA).")
    kty: str = public("The key type: EC or RSA.")


@strawberry.type(
    description="A network provider's keys for its sign-in assertions (POST /login/assertion): public"
    " keys only, registered as a JWK or JWKS, or fetched from its JWKS URL."
)
class AssertionKeys:
    """The registered set as it is read back."""

    partner_id: strawberry.ID = public("The network provider, as `Partner.id`.")
    keys: list[AssertionKey] = public(
        "The keys that verify assertions now (for a JWKS URL: its last fetch, refetched at most once a"
        " minute when an assertion names an unknown kid)."
    )
    jwks_url: str | None = public("The JWKS URL the keys come from; null for keys registered as a document.")
    fetched_at: dt.datetime | None = public("When the JWKS URL was last fetched; null without one.")
    updated_at: dt.datetime = public("When the keys were last registered.")

    @classmethod
    def from_view(cls, view: KeySetView) -> AssertionKeys:
        """The GraphQL object of a registered key set."""
        return cls(
            partner_id=strawberry.ID(to_global_id("Partner", str(view.partner_id))),
            keys=[AssertionKey(kid=key.kid, alg=key.algorithm, kty=key.key_type) for key in view.keys],
            jwks_url=view.jwks_url,
            fetched_at=view.fetched_at,
            updated_at=view.updated_at,
        )


@strawberry.type(description="Registering a network provider's assertion keys.")
class AssertionKeysMutation:
    """The network provider's (or the operator's) registration of assertion keys."""

    @resolves_public(
        "Register the public keys a network provider signs its sign-in assertions with, replacing any"
        " registered before: a JWK or JWKS document (`jwks`), or a JWKS URL (`jwksUrl`, https; fetched"
        " now with a short timeout, cached, refetched at most once a minute on an unknown kid). The"
        " provider itself (partner token) or the operator; only for partners of kind NETWORK_PROVIDER"
        " (FORBIDDEN otherwise). EC P-256 (ES256) and RSA of at least 2048 bits (RS256) keys, each with a"
        " kid; a JWK holding private or symmetric key material is refused (BAD_USER_INPUT)."
    )
    async def register_assertion_keys(
        self,
        info: Info,
        partner_id: _PartnerId = None,
        jwks: Annotated[
            str | None,
            strawberry.argument(description='A JWK or a JWKS document (`{"keys": [...]}`) as JSON text.'),
        ] = None,
        jwks_url: Annotated[
            str | None, strawberry.argument(description="The URL of the provider's JWKS document.")
        ] = None,
    ) -> AssertionKeys:
        view = await network_assertions.register_keys(
            info.context, _partner_id(partner_id), jwks=jwks, jwks_url=jwks_url
        )
        return AssertionKeys.from_view(view)


@strawberry.type(description="Reading a network provider's assertion keys (mixed into Query).")
class AssertionKeysQuery:
    """The registered assertion keys, for the provider itself and the operator."""

    @resolves_public(
        "The keys a network provider registered for its sign-in assertions (kids and algorithms, never"
        " key material); null when it registered none. The provider itself or the operator."
    )
    async def assertion_keys(self, info: Info, partner_id: _PartnerId = None) -> AssertionKeys | None:
        view = await network_assertions.read_keys(info.context, _partner_id(partner_id))
        return None if view is None else AssertionKeys.from_view(view)
