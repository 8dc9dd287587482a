"""The OpenID Connect authorization code flow (OIDC Core 1.0 §3.1, RFC 6749 §4.1, PKCE RFC 7636):
`/oauth/authorize` issues a one-time code to a signed-in person, `/oauth/token` exchanges it for an
access token and an id_token, `/oauth/userinfo` answers the access token.

Errors follow the RFCs: a request whose client or redirect URI is not registered is never redirected
(`UnsafeRequest`: the person gets a page); any other authorize error goes back to the redirect URI
(`AuthorizeError`, RFC 6749 §4.1.2.1); the token endpoint answers RFC 6749 §5.2 (`OAuthError`).
Nothing changes in the store on a refusal, except that a used code presented again ends the grant it
became (RFC 6749 §4.1.2: its access token stops working).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import secrets
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from auth.link_tokens import link_token_hash
from auth.networks import NetworkContext
from auth.sign_on import Refusal, valid_code_challenge, verifier_matches
from auth.tokens import ACCESS_TOKEN_TYPE, InvalidToken, mint_id_token, mint_token, unverified_audience
from auth.viewer import ViewerKind
from datasources.access import sign_on as store
from errors import Unauthenticated
from resolvers.oauth import OAuthError, authenticated_client
from resolvers.school_networks import context_at
from resolvers.sign_on import PERSON_KINDS, Identity, audit, first_identity, identity, partner_scope
from resolvers.web_sessions import session_on

if TYPE_CHECKING:
    from collections.abc import Mapping

    from resolvers.requests import Services
    from resolvers.web_sessions import WebSession

#: A code is exchanged at once by the partner's server; 60 seconds is ample (OIDC Core advises short).
CODE_LIFETIME: Final = dt.timedelta(seconds=60)
#: The access token opens the userinfo endpoint only, for as long as a partner token lives.
ACCESS_TOKEN_LIFETIME: Final = dt.timedelta(minutes=15)
ID_TOKEN_LIFETIME: Final = dt.timedelta(minutes=5)
#: The scope a sign-in grants; other requested values are ignored (RFC 6749 §3.3 lets the server narrow).
OPENID: Final = "openid"

#: The audit's operation names.
SIGN_IN_OPERATION: Final = "OpenID Connect sign-in"
#: The parameter the hub adds to an authorize request that needs a sign-in after a moment (see
#: `AuthorizeRequest.login_after`).
LOGIN_AFTER: Final = "login_after"
USERINFO_OPERATION: Final = "OpenID Connect userinfo"

#: Why a person may not sign in, as the `error_description` of `access_denied`.
REFUSAL_DESCRIPTIONS: Final = {
    Refusal.NO_CONSENT: "the school has not consented to this partner",
    Refusal.NOT_GRANTED: "the school has not granted this partner the category that identifies this user",
}


class UnsafeRequest(Exception):  # noqa: N818 - the verdict on a request: "unsafe request"
    """An authorize request that names no registered client, or a redirect URI the client did not
    register: never redirected anywhere. `reason` is a Dutch sentence for the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthorizeError(Exception):
    """An authorize error sent back to the (registered) redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Target:
    """Where an authorize request may be answered: a registered client and one of its redirect URIs,
    with the request's `state` to echo."""

    client: store.OidcClientRecord
    redirect_uri: str
    state: str | None


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """A checked authorize request whose client and redirect URI are registered."""

    target: Target
    nonce: str | None
    code_challenge: str
    prompt: str | None
    #: OIDC Core's max_age: the most seconds since the person signed in that the client accepts.
    max_age: int | None = None
    #: `login_after` (the hub's own parameter, which it adds on the way back from a fresh sign-in that
    #: prompt=login or max_age asked for): the sign-in must have happened at or after this time, in
    #: milliseconds since the epoch. A client may send it too; it can only ask for a newer sign-in.
    login_after: int | None = None

    def needs_fresh_sign_in(self, started_at: dt.datetime, now: dt.datetime) -> bool:
        """Whether a session started at `started_at` is too old for this request (prompt=login, max_age,
        login_after): the person signs in again first (OIDC Core §3.1.2.1)."""
        if "login" in self.prompts:
            return True
        if self.max_age is not None and (now - started_at).total_seconds() > self.max_age:
            return True
        return self.login_after is not None and _milliseconds(started_at) < self.login_after

    @property
    def prompts(self) -> frozenset[str]:
        """The values of `prompt` (a space-separated list)."""
        return frozenset((self.prompt or "").split())


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successful token response of the code flow (OIDC Core §3.1.3.3)."""

    access_token: str
    id_token: str
    expires_in: int
    scope: str = OPENID
    token_type: str = "Bearer"  # noqa: S105 - the RFC 6750 token type, not a secret


async def target_of(services: Services, parameters: Mapping[str, list[str]]) -> Target:
    """The registered client and redirect URI of an authorize request (its query parameters, each name
    with all its values); `UnsafeRequest` when either is missing, given twice or not registered."""
    client_ids, redirect_uris = parameters.get("client_id", []), parameters.get("redirect_uri", [])
    if len(client_ids) != 1 or not client_ids[0]:
        raise UnsafeRequest("De aanvraag noemt geen (of meer dan één) toepassing.")
    client = await store.client_by_client_id(services.engine, client_ids[0])
    if client is None:
        raise UnsafeRequest("Deze toepassing is niet aangemeld voor inloggen met Leerpoort.")
    if len(redirect_uris) != 1 or redirect_uris[0] not in client.redirect_uris:
        raise UnsafeRequest("Het terugkeeradres van deze aanvraag is niet aangemeld door de toepassing.")
    states = parameters.get("state", [])
    return Target(client, redirect_uris[0], states[0] if len(states) == 1 else None)


def checked_request(target: Target, parameters: Mapping[str, list[str]]) -> AuthorizeRequest:
    """The authorize request of these query parameters for its (registered) target; `AuthorizeError`
    for anything the redirect URI may be told: code flow only, `openid` in the scope, PKCE S256."""
    repeated = sorted(name for name, values in parameters.items() if len(values) > 1)
    if repeated:
        raise AuthorizeError("invalid_request", f"the parameter {repeated[0][:40]} is given more than once")
    one = {name: values[0] for name, values in parameters.items()}
    if one.get("response_type") != "code":
        raise AuthorizeError(
            "unsupported_response_type", "only the authorization code flow (code) is supported"
        )
    if OPENID not in one.get("scope", "").split():
        raise AuthorizeError("invalid_scope", "the scope must contain openid")
    if one.get("code_challenge_method") != "S256":
        raise AuthorizeError("invalid_request", "PKCE is required with code_challenge_method S256")
    challenge = one.get("code_challenge", "")
    if not valid_code_challenge(challenge):
        raise AuthorizeError("invalid_request", "code_challenge must be an S256 challenge (43 characters)")
    if "request" in one or "request_uri" in one:
        raise AuthorizeError("request_not_supported", "request objects are not supported")
    nonce = one.get("nonce")
    if nonce is not None and not 1 <= len(nonce) <= 500:
        raise AuthorizeError("invalid_request", "nonce must be 1 to 500 characters")
    prompts = set(one.get("prompt", "").split())
    if "none" in prompts and len(prompts) > 1:
        raise AuthorizeError("invalid_request", "prompt=none cannot be combined with another prompt value")
    return AuthorizeRequest(
        target,
        nonce,
        challenge,
        one.get("prompt"),
        max_age=_whole_number(one, "max_age"),
        login_after=_whole_number(one, LOGIN_AFTER),
    )


def _whole_number(one: Mapping[str, str], name: str) -> int | None:
    """A parameter that must be a non-negative whole number (max_age, login_after), None when absent."""
    text = one.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise AuthorizeError("invalid_request", f"{name} must be a non-negative whole number")
    return int(text)


def _milliseconds(moment: dt.datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


def fresh_sign_in_return(path: str, query: Mapping[str, list[str]], now: dt.datetime) -> str:
    """The authorize request to come back to after the fresh sign-in `needs_fresh_sign_in` asked for:
    the same request without prompt and max_age (which a new session satisfies, and max_age=0 never
    would), and with `login_after` now, so that only a sign-in after this moment lets it through."""
    kept = [
        (name, value)
        for name, values in query.items()
        if name not in {"prompt", "max_age", LOGIN_AFTER}
        for value in values
    ]
    return f"{path}?{urllib.parse.urlencode([*kept, (LOGIN_AFTER, str(_milliseconds(now)))])}"


async def issue_code(
    services: Services, request: AuthorizeRequest, session: WebSession, *, address: str
) -> str:
    """A one-time code for the signed-in person of `session` (stored hashed, bound to the request and
    the session); `AuthorizeError` access_denied when the school's consent does not let the partner
    know this person. `address` is the person's (the browser's): whether it lies in one of the school's
    registered networks makes the sign-in's `context` SCHOOL or HOME, kept with the code."""
    now = services.settings.now()
    kind = PERSON_KINDS.get(session.viewer.kind)
    if kind is None:
        raise AuthorizeError("access_denied", "only students and staff sign in to partners")
    members = await store.members_of(
        services.engine,
        kind,
        session.viewer.subject_id,
        school_code=session.school_code,
        today=now.date(),
        by_assertion=session.viewer.via_assertion,
    )
    try:
        scope = await partner_scope(services, request.target.client.client_id)
    except Unauthenticated:
        raise AuthorizeError("unauthorized_client", "this client is no longer registered") from None
    if not members:
        raise AuthorizeError("access_denied", "the user is no current student or staff member of a school")
    found = await first_identity(services, scope, members, today=now.date())
    if not isinstance(found, Identity):
        raise AuthorizeError("access_denied", REFUSAL_DESCRIPTIONS[found])
    where = await context_at(services.engine, found.member.school_id, address)
    code = secrets.token_urlsafe(32)
    await store.store_code(
        services.engine,
        store.NewCode(
            code_hash=link_token_hash(code),
            partner_id=request.target.client.partner_id,
            redirect_uri=request.target.redirect_uri,
            code_challenge=request.code_challenge,
            nonce=request.nonce,
            scope=OPENID,
            member=found.member,
            session_id=session.session_id,
            auth_time=session.started_at,
            context=where.value,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        ),
    )
    return code


async def exchange_code(
    services: Services,
    *,
    client_id: str,
    client_secret: str,
    fields: Mapping[str, str],
    address: str,
) -> TokenResponse:
    """`grant_type=authorization_code`: the tokens of a valid, unused, unexpired code of this client,
    with its redirect URI and PKCE verifier; `OAuthError` otherwise (RFC 6749 §5.2)."""
    kind, _ = await authenticated_client(
        services.engine, services.settings, client_id=client_id, client_secret=client_secret, address=address
    )
    if kind is not ViewerKind.PARTNER:
        raise OAuthError("unauthorized_client", "only a partner's client signs people in")
    code, redirect_uri, verifier = (
        fields.get(name, "") for name in ("code", "redirect_uri", "code_verifier")
    )
    if not code or not redirect_uri:
        raise OAuthError("invalid_request", "code and redirect_uri are required")
    if not verifier:
        raise OAuthError("invalid_request", "code_verifier is required (PKCE)")
    client = await store.client_by_client_id(services.engine, client_id)
    stored = await store.code_by_hash(services.engine, link_token_hash(code))
    now = services.settings.now()
    if client is None or stored is None or stored.partner_id != client.partner_id:
        raise OAuthError("invalid_grant", "the code is not valid for this client")
    if stored.used_at is not None:
        await store.revoke_code(services.engine, stored.id, now=now)
        raise OAuthError("invalid_grant", "the code was used already; the tokens issued from it are revoked")
    if stored.expires_at <= now:
        raise OAuthError("invalid_grant", "the code expired")
    if stored.redirect_uri != redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
    if not verifier_matches(verifier, stored.code_challenge):
        raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
    if not await session_on(services, stored.session_id):
        raise OAuthError(
            "invalid_grant", "the user signed out (or the session ended) since the code was issued"
        )
    try:
        scope = await partner_scope(services, client_id)
    except Unauthenticated:
        raise OAuthError("invalid_client", "client authentication failed", status=401) from None
    found = await identity(services, scope, stored.member, today=now.date())
    if not isinstance(found, Identity):
        # Consent revoked (or narrowed, or the DPA withdrawn) since the code was issued.
        raise OAuthError("invalid_grant", REFUSAL_DESCRIPTIONS[found])
    found = dataclasses.replace(found, context=NetworkContext(stored.context))
    keyset = await services.keys.current()
    token_id = secrets.token_urlsafe(16)
    access_token = mint_token(
        keyset,
        issuer=services.settings.issuer,
        subject=found.pseudonym,
        scopes=[OPENID],
        lifetime=ACCESS_TOKEN_LIFETIME,
        now=now,
        audience=client_id,
        extra_claims={"client_id": client_id},
        token_type=ACCESS_TOKEN_TYPE,
        token_id=token_id,
    )
    if not await store.redeem_code(services.engine, stored.id, access_token_id=token_id, now=now):
        # Another exchange of the same code won the race: the code is used twice, so neither grant stands.
        await store.revoke_code(services.engine, stored.id, now=now)
        raise OAuthError("invalid_grant", "the code was used already; the tokens issued from it are revoked")
    await audit(services, found, SIGN_IN_OPERATION)
    claims = found.claims()
    id_token = mint_id_token(
        keyset,
        issuer=services.settings.issuer,
        audience=client_id,
        subject=claims.pop("sub"),
        lifetime=ID_TOKEN_LIFETIME,
        now=now,
        auth_time=stored.auth_time,
        nonce=stored.nonce,
        claims=claims,
    )
    return TokenResponse(
        access_token=access_token,
        id_token=id_token,
        expires_in=math.floor(ACCESS_TOKEN_LIFETIME.total_seconds()),
    )


async def userinfo(services: Services, authorization: str) -> dict[str, Any]:
    """The claims of the person an access token of the code flow was issued for, computed again now (a
    consent revoked since, a sign-out or a disabled account ends the answers); `Unauthenticated` for
    anything else (RFC 6750 invalid_token)."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("a bearer token is required")
    client_id = unverified_audience(token)
    client = None if client_id is None else await store.client_by_client_id(services.engine, client_id)
    if client_id is None or client is None:
        raise Unauthenticated("the token was refused: not an access token of this hub's sign-in")
    try:
        claims = await services.keys.verify(token, audience=client_id, expected_type=ACCESS_TOKEN_TYPE)
    except InvalidToken as error:
        raise Unauthenticated(f"the token was refused: {error.reason}") from None
    grant = await store.grant_of_access_token(services.engine, str(claims.get("jti")))
    if grant is None or grant.revoked_at is not None or grant.partner_id != client.partner_id:
        raise Unauthenticated("the token was refused: its grant was revoked")
    if not await session_on(services, grant.session_id):
        # The access token outlives a sign-out or a disabled account by at most its lifetime; the person's
        # data does not: userinfo answers only while the session the code was issued in is on.
        raise Unauthenticated(
            "the token was refused: the user signed out, or the account may no longer sign in"
        )
    try:
        scope = await partner_scope(services, client_id)
    except Unauthenticated:
        raise Unauthenticated("the token was refused: the client is no longer registered") from None
    found = await identity(services, scope, grant.member, today=services.settings.now().date())
    if not isinstance(found, Identity) or found.pseudonym != claims.get("sub"):
        raise Unauthenticated("the token was refused: the school no longer lets this partner know the user")
    found = dataclasses.replace(found, context=NetworkContext(grant.context))
    await audit(services, found, USERINFO_OPERATION)
    return found.claims()
