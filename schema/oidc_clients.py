"""Partners' OpenID Connect clients in the graph: `Partner.oidcClient` and `registerOidcClient`.

Kept apart from the root `Mutation` of `schema.mutations` and joined with it in `schema.assembly`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry

from datasources.access.sign_on import OidcClientRecord
from errors import BadUserInput
from resolvers import oidc_clients
from schema.classification import public, resolves_public
from schema.context import Info
from schema.relay import from_global_id

if TYPE_CHECKING:
    from schema.licenses import Partner


@strawberry.type(
    description="A partner's registration for single sign-on (OpenID Connect): where sign-ins return to"
    " and where a launch starts them."
)
class OidcClient:
    """A partner's OpenID Connect client; its `client_id` and secret are the partner's own credentials."""

    redirect_uris: list[str] = public(
        "The exact redirect URIs the authorization code flow may return to (compared exactly)."
    )
    login_initiation_uri: str | None = public(
        "Where a launch (third-party initiated login, OIDC Core section 4) sends the browser, with `iss`,"
        " `login_hint` and `target_link_uri`; null: the partner's products cannot be launched from the hub."
    )
    registered_at: dt.datetime = public("When the registration was last set.")

    @classmethod
    def from_record(cls, record: OidcClientRecord) -> OidcClient:
        """The GraphQL object of a client registration."""
        return cls(
            redirect_uris=list(record.redirect_uris),
            login_initiation_uri=record.login_initiation_uri,
            registered_at=record.registered_at,
        )


@strawberry.type(description="Single sign-on registrations.")
class OidcClientMutation:
    """Registering a partner's OpenID Connect client."""

    @resolves_public(
        "Register (or replace) a partner's OpenID Connect client: the operator for any partner, or the"
        " partner itself (FORBIDDEN for anyone else). Redirect URIs and the login-initiation URI must be"
        " https:// addresses without a fragment (the sandbox also takes http://127.0.0.1 and"
        " http://localhost); anything else is BAD_USER_INPUT and changes nothing. The client id and"
        " secret are the partner's own. Returns the partner; read the registration as `oidcClient`."
    )
    async def register_oidc_client(
        self,
        info: Info,
        partner_id: Annotated[
            strawberry.ID, strawberry.argument(description="The partner, as `Partner.id`.")
        ],
        redirect_uris: Annotated[
            list[str],
            strawberry.argument(description="1 to 10 exact redirect URIs of the partner's code flow."),
        ],
        login_initiation_uri: Annotated[
            str | None,
            strawberry.argument(
                description="The partner's login-initiation URI (OIDC Core section 4); null: none."
            ),
        ] = None,
    ) -> Annotated[Partner, strawberry.lazy("schema.licenses")]:
        from schema.licenses import Partner  # noqa: PLC0415 - Partner's module imports this one

        decoded = from_global_id(partner_id)
        if decoded is None or decoded[0] != "Partner":
            raise BadUserInput("`partnerId` must be a Partner id this API returned")
        record = await oidc_clients.register(info.context, decoded[1], redirect_uris, login_initiation_uri)
        return Partner.from_record(record)
