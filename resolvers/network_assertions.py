"""Sign-in through a network provider: its assertion keys, and the assertion that signs a person in.

A network provider (a partner of kind NETWORK_PROVIDER) registers the public keys it signs assertions
with: a JWK or JWKS document, or a JWKS URL the hub fetches (short timeout, size cap, https outside the
sandbox), caches in the store and refetches at most once a minute when an assertion names a `kid` it does
not know. Its portal then posts a signed assertion through the user's browser to `POST /login/assertion`
(schema.pages.assertion), which comes in at `sign_in`:

1. the JWT is verified against the keys of the provider its `iss` names (auth.assertions: ES256/RS256
   only, registered `kid`, `aud` = the hub's issuer, a short lifetime, the hub's clock and leeway);
2. the person is found by ECK-iD (student or staff) or by school e-mail address (staff), narrowed by
   `instelling_ref` when the assertion names the school;
3. the provider must have consent in force at that person's school, as the policy decides it: the
   school is in the provider's `Scope` (consent not revoked, DPA signed when required, school open);
4. the `jti` is recorded as used (once; a concurrent replay loses on the table's primary key);
5. the caller starts a web session for the viewer this returns, marked as started by the provider.

Staff who only ever sign in this way stay *inactive* (DOMAIN.md). Rather than activating anything, the
session's STAFF viewer is an account made `assertion_only` (datasources.access.network_assertions):
inactive, with no usable password, and accepted only for sessions an assertion started
(`Viewer.via_assertion`, `subject_may_sign_in(by_assertion=True)`), where it manages nothing. A staff
member who did activate an account signs in with that account and the scopes `signIn` would give it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.assertions import (
    AssertionClaims,
    AssertionRefused,
    InvalidKeys,
    PublicKey,
    assertion_issuer,
    parse_keys,
    parse_keys_json,
    verify_assertion,
)
from auth.categories import DataCategory
from auth.permissions import may_register_assertion_keys
from auth.viewer import Viewer, ViewerKind
from datasources.access import network_assertions as stored
from datasources.access.accounts import school_id_by_code
from datasources.access.jwks_fetch import (
    URL_REFUSED,
    FetchFailed,
    FetchPolicy,
    check_jwks_url,
    fetch_jwks,
)
from datasources.graph.disclosures import record_disclosures
from errors import BadUserInput, Forbidden, NotFound, RefusedInput, Unauthenticated
from resolvers.requests import open_request

if TYPE_CHECKING:
    from collections.abc import Sequence

    from resolvers.context import Context
    from resolvers.requests import Services
    from settings import Settings

NETWORK_PROVIDER: Final = "NETWORK_PROVIDER"
#: A JWKS URL is asked again at most this often (when an assertion names a kid the cache lacks).
REFETCH_INTERVAL: Final = dt.timedelta(minutes=1)
#: A registered JWK or JWKS document is a few kB.
MAX_KEYS_DOCUMENT: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class KeyView:
    """One registered key as it is read back: its kid, algorithm and type (public, and no key material)."""

    kid: str
    algorithm: str
    key_type: str


@dataclass(frozen=True, slots=True)
class KeySetView:
    """A provider's registered assertion keys as they are read back."""

    partner_id: int
    keys: tuple[KeyView, ...]
    jwks_url: str | None
    fetched_at: dt.datetime | None
    updated_at: dt.datetime


class SignInRefused(Exception):  # noqa: N818 - the verdict: "sign-in refused"
    """An assertion did not sign anyone in; `reason` is a stable code the page shows a reason for, and
    `message` a short English explanation (it never quotes the assertion or names the person)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class AssertionSignIn:
    """Whom an assertion signed in: the session's viewer, their school, and the provider that vouched."""

    viewer: Viewer
    school_code: str
    partner_id: int


async def register_keys(
    ctx: Context, partner_id: str | None, *, jwks: str | None, jwks_url: str | None
) -> KeySetView:
    """Register (replacing any earlier) a network provider's assertion keys: a JWK or JWKS document
    (`jwks`), or a JWKS URL fetched now and cached. The provider itself (partner token, `partner_id`
    its own or omitted) or the operator (`partner_id` required)."""
    partner = await _keys_partner(ctx, partner_id)
    if (jwks is None) == (jwks_url is None):
        raise BadUserInput("give the keys (`jwks`) or their URL (`jwksUrl`), one of them")
    fetched_at: dt.datetime | None = None
    url: str | None = None
    try:
        if jwks is not None:
            if len(jwks) > MAX_KEYS_DOCUMENT:
                raise BadUserInput(f"a JWKS document is at most {MAX_KEYS_DOCUMENT} bytes")
            keys = parse_keys_json(jwks)
        else:
            try:
                url = check_jwks_url(jwks_url or "", https_only=not ctx.settings.sandbox)
            except ValueError as error:
                raise RefusedInput(str(error), URL_REFUSED) from None
            keys = parse_keys(await fetch_jwks(url, _fetch_policy(ctx.settings)))
            fetched_at = dt.datetime.now(dt.UTC)
    except InvalidKeys as error:
        raise BadUserInput(f"the keys were refused: {error}") from None
    except FetchFailed as error:
        raise RefusedInput(str(error), error.reason) from None
    await stored.store_key_set(
        ctx.engine,
        partner.partner_id,
        keys=[key.jwk for key in keys],
        jwks_url=url,
        fetched_at=fetched_at,
        now=ctx.now,
        by=ctx.viewer.subject,
    )
    registered = await stored.key_set(ctx.engine, partner.partner_id)
    if registered is None:
        raise NotFound("the keys were not stored")
    return _view(registered)


async def read_keys(ctx: Context, partner_id: str | None) -> KeySetView | None:
    """A network provider's registered assertion keys (kids and algorithms, never key material), for the
    provider itself or the operator; None when it registered none."""
    partner = await _keys_partner(ctx, partner_id)
    registered = await stored.key_set(ctx.engine, partner.partner_id)
    return None if registered is None else _view(registered)


async def _keys_partner(ctx: Context, partner_id: str | None) -> stored.AssertionPartner:
    viewer = ctx.viewer
    partner: stored.AssertionPartner | None = None
    if partner_id is not None:
        if not partner_id.isascii() or not partner_id.isdigit():
            raise BadUserInput("`partnerId` must be a Partner id this API returned")
        partner = await stored.partner_by_id(ctx.engine, int(partner_id))
    elif viewer.kind is ViewerKind.PARTNER:
        partner = await stored.partner_by_client_id(ctx.engine, viewer.subject_id)
    elif viewer.kind is ViewerKind.OPERATOR:
        raise BadUserInput("name the network provider (`partnerId`)")
    own = partner is not None and viewer.kind is ViewerKind.PARTNER and partner.client_id == viewer.subject_id
    network_provider = partner is not None and partner.kind == NETWORK_PROVIDER
    if partner is None or not may_register_assertion_keys(
        viewer, own_keys=own, network_provider=network_provider
    ):
        # The same answer for a partner that does not exist, is not a network provider, or is another's.
        raise Forbidden("only a network provider (for itself) or the operator registers assertion keys")
    return partner


def _view(registered: stored.StoredKeySet) -> KeySetView:
    return KeySetView(
        partner_id=registered.partner_id,
        keys=tuple(
            KeyView(
                kid=str(key.get("kid", "")),
                algorithm=str(key.get("alg", "")),
                key_type=str(key.get("kty", "")),
            )
            for key in registered.keys
        ),
        jwks_url=registered.jwks_url,
        fetched_at=registered.fetched_at,
        updated_at=registered.updated_at,
    )


async def sign_in(services: Services, assertion: str) -> AssertionSignIn:
    """Whom a network provider's assertion signs in (see the module's steps); `SignInRefused` with the
    reason for anything else, and then nothing is changed."""
    settings, engine = services.settings, services.engine
    now = settings.now()
    try:
        issuer = assertion_issuer(assertion)
    except AssertionRefused as refused:
        raise SignInRefused(refused.reason, refused.message) from None
    partner = await stored.partner_by_client_id(engine, issuer)
    if partner is None:
        raise SignInRefused("issuer", "the assertion's issuer is no partner of the hub")
    if partner.kind != NETWORK_PROVIDER:
        raise SignInRefused("not_network_provider", "only a network provider signs people in")
    claims = await _verified(services, partner, assertion, now)
    person = await _person(services, partner, claims)
    try:
        await stored.use_assertion(
            engine, partner.partner_id, claims.jti, expires_at=claims.expires_at, now=now
        )
    except stored.ReplayedAssertion:
        raise SignInRefused("replayed", "this assertion was used before (jti)") from None
    if person.kind == stored.STUDENT:
        viewer = Viewer(ViewerKind.STUDENT, str(person.member_id), frozenset({"student"}))
        await _audit(services, partner, person)
        return AssertionSignIn(viewer, person.school_code, partner.partner_id)
    try:
        account = await stored.account_for_assertion(
            engine, person.email or "", now=now, created_by=f"assertion:{partner.client_id}"
        )
    except stored.DisabledAccount:
        await stored.forget_assertion(engine, partner.partner_id, claims.jti)
        raise SignInRefused("disabled", "the person's account is disabled") from None
    # Plain staff, whatever the account may do after a sign-in of the hub's own: the provider vouches for
    # the person at one school it has consent at (viewer_facts.staff_facts: such a viewer manages nothing).
    viewer = Viewer(ViewerKind.STAFF, str(account.account_id), frozenset({"staff"}))
    await _audit(services, partner, person)
    return AssertionSignIn(viewer, person.school_code, partner.partner_id)


async def _audit(services: Services, partner: stored.AssertionPartner, person: stored.Candidate) -> None:
    """Record the sign-in in the school's disclosure audit, as every sign-in through a partner is: the
    provider learnt that the hub knows this person at this school (their basic category), nothing more."""
    category = DataCategory.STUDENT_BASIC if person.kind == stored.STUDENT else DataCategory.STAFF_BASIC
    await record_disclosures(
        services.engine,
        partner_id=partner.partner_id,
        operation_name=SIGN_IN_OPERATION,
        records_by_school={person.school_id: 1},
        categories_by_school={person.school_id: {category}},
        at=services.settings.now(),
    )


async def _verified(
    services: Services, partner: stored.AssertionPartner, assertion: str, now: dt.datetime
) -> AssertionClaims:
    registered = await stored.key_set(services.engine, partner.partner_id)
    if registered is None:
        raise SignInRefused("unknown_key", "the provider registered no assertion keys")
    keys = _public_keys(registered.keys)
    issuer, audience = partner.client_id, services.settings.issuer
    try:
        return verify_assertion(assertion, keys, issuer=issuer, audience=audience, now=now)
    except AssertionRefused as refused:
        if refused.reason != "unknown_key" or registered.jwks_url is None:
            raise SignInRefused(refused.reason, refused.message) from None
    keys = await _refetched(services, registered)
    try:
        return verify_assertion(assertion, keys, issuer=issuer, audience=audience, now=now)
    except AssertionRefused as refused:
        raise SignInRefused(refused.reason, refused.message) from None


async def _refetched(services: Services, registered: stored.StoredKeySet) -> list[PublicKey]:
    """The provider's JWKS fetched again, when the last fetch is a minute old (by the wall clock: this
    spares the provider's server, whatever clock the sandbox's dates run on); else a refusal."""
    unknown = SignInRefused(
        "unknown_key", "the assertion is signed with a key this provider did not register"
    )
    wall = dt.datetime.now(dt.UTC)
    if registered.jwks_url is None or (
        registered.fetched_at is not None and wall - registered.fetched_at < REFETCH_INTERVAL
    ):
        raise unknown
    try:
        keys = parse_keys(await fetch_jwks(registered.jwks_url, _fetch_policy(services.settings)))
    except (FetchFailed, InvalidKeys):
        await stored.mark_fetch_attempt(services.engine, registered.partner_id, at=wall)
        raise unknown from None
    await stored.refresh_fetched_keys(
        services.engine, registered.partner_id, registered.jwks_url, [key.jwk for key in keys], at=wall
    )
    return keys


def _fetch_policy(settings: Settings) -> FetchPolicy:
    """Where JWKS URLs may lead besides public addresses (`LEERPOORT_JWKS_ALLOWED_HOSTS`)."""
    return FetchPolicy.of(settings.jwks_hosts)


def _public_keys(keys: Sequence[object]) -> list[PublicKey]:
    try:
        return parse_keys({"keys": list(keys)}) if keys else []
    except InvalidKeys:
        return []  # a stored set the code no longer accepts verifies nothing


async def provider_sees_school(services: Services, partner_id: int, school_code: str) -> bool:
    """Whether the partner still has consent in force at the school (the school is in its scope)."""
    partner = await stored.partner_by_id(services.engine, partner_id)
    school_id = await school_id_by_code(services.engine, school_code)
    if partner is None or school_id is None:
        return False
    try:
        async with open_request(services, Viewer(ViewerKind.PARTNER, partner.client_id)) as context:
            return context.scope.can_see_school(school_id)
    except Unauthenticated:
        return False


async def _person(
    services: Services, partner: stored.AssertionPartner, claims: AssertionClaims
) -> stored.Candidate:
    """The one membership the assertion names at a school where the provider's consent is in force."""
    found = await stored.candidates(services.engine, eck_id=claims.eck_id, email=claims.email)
    if not found:
        raise SignInRefused("unknown_person", "the hub knows no such person")
    if claims.instelling_ref is not None:
        found = [candidate for candidate in found if candidate.instelling_ref == claims.instelling_ref]
        if not found:
            raise SignInRefused("other_school", "the person is not at the school the assertion names")
    # The policy decides: the provider's scope holds the schools whose consent is in force for it.
    async with open_request(services, Viewer(ViewerKind.PARTNER, partner.client_id)) as context:
        allowed = [candidate for candidate in found if context.scope.can_see_school(candidate.school_id)]
    if not allowed:
        raise SignInRefused("no_consent", "the person's school has no consent in force for this provider")
    people = {
        (candidate.kind, candidate.member_id if candidate.kind == stored.STUDENT else candidate.email)
        for candidate in allowed
    }
    if len(people) > 1:
        raise SignInRefused(
            "ambiguous", "the assertion matches more than one person: name the school (instelling_ref)"
        )
    person = allowed[0]
    if person.kind == stored.STAFF and not person.email:
        raise SignInRefused("no_address", "the staff member has no school e-mail address in the hub")
    return person


#: The operation name of an assertion sign-in in the school's disclosure audit.
SIGN_IN_OPERATION: Final = "Network provider sign-in"

__all__ = [
    "SIGN_IN_OPERATION",
    "AssertionSignIn",
    "KeySetView",
    "KeyView",
    "SignInRefused",
    "provider_sees_school",
    "read_keys",
    "register_keys",
    "sign_in",
]
