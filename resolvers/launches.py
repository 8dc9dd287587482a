"""Launching a product (OIDC Core §4, third-party initiated login): a signed-in person opens a product
at `/launch/{productId}`; the hub checks the school's consent to the product's partner and that a license
of the product is coupled to one of the person's groups, then sends the browser to the partner's
login-initiation URI with `iss`, `login_hint` and `target_link_uri`, after which the partner runs the
code flow (resolvers.code_flow).

`login_hint` is the person's pseudonym for that partner: the `sub` the code flow will give it, so the
partner may recognise the user; it means nothing to anyone else. Since a launch tells the partner this
much, a launch is recorded in the school's disclosure audit like a sign-in. A refused launch tells the
partner nothing; it is logged (product, school, reason; no personal data).
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NoReturn

from auth.launches import LaunchRefusal
from auth.sign_on import Refusal, disclosed_categories, launch_refusal
from datasources.access import sign_on as store
from errors import NotFound, Unauthenticated
from resolvers.launch_rules import launch_decision
from resolvers.sign_on import PERSON_KINDS, Identity, audit, identity, partner_scope

if TYPE_CHECKING:
    from resolvers.requests import Services
    from resolvers.web_sessions import WebSession

logger = logging.getLogger("leerpoort.launch")

LAUNCH_OPERATION: Final = "OpenID Connect launch"
#: The reasons of a refused launch that are not the policy's.
NOT_CONNECTED: Final = "NOT_CONNECTED"
NOT_A_MEMBER: Final = "NOT_A_MEMBER"
NOT_AT_HOME: Final = "NOT_AT_HOME"

#: Which refusal to tell a person who has several memberships: the one nearest to success.
_NEAREST_FIRST: Final = (Refusal.NO_LICENSE, Refusal.NOT_GRANTED, Refusal.NO_CONSENT)


class LaunchRefused(Exception):  # noqa: N818 - the verdict: "launch refused"
    """The launch may not go ahead: `reason` is a refusal of the policy, `NOT_CONNECTED` for a product
    whose partner has registered no login-initiation URI, `NOT_A_MEMBER` for a signed-in person who is
    no current student or staff member of a school, or `NOT_AT_HOME` for a student at home opening a
    product that is for school only."""

    def __init__(self, reason: Refusal | str) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Launch:
    """Where to send the browser: the login-initiation URI with its parameters."""

    location: str


async def launch(services: Services, session: WebSession, product_id: int, *, address: str) -> Launch:
    """The third-party initiated login of the product for the signed-in person from `address`; `NotFound`
    for an unknown product, `LaunchRefused` when the school's consent or the coupling of licenses does not
    allow it, or (`NOT_AT_HOME`) when a student away from the school's networks opens a product that is
    not allowed at home, or at a school without home login: the launch rule of `me` and the start page's
    tiles (resolvers.launch_rules) decides where the person is."""
    product = await store.launched_product(services.engine, product_id)
    if product is None:
        raise NotFound("no product with this id")
    ruled = await launch_decision(
        services.engine,
        services.settings,
        session.viewer,
        product_id,
        now=services.settings.now(),
        address=address,
    )
    if ruled is LaunchRefusal.NOT_AT_HOME:
        _refused(product.product_id, None, NOT_AT_HOME)
    kind = PERSON_KINDS.get(session.viewer.kind)
    today = services.settings.now().date()
    members = (
        []
        if kind is None
        else await store.members_of(
            services.engine, kind, session.viewer.subject_id, school_code=session.school_code, today=today
        )
    )
    try:
        scope = await partner_scope(services, product.client_id)
    except Unauthenticated:
        _refused(product.product_id, None, Refusal.NO_CONSENT)
    refusals: list[tuple[Refusal, int | None]] = []
    for member in members:
        licensed = bool(
            await store.licensed_group_ids(
                services.engine,
                member,
                partner_id=product.partner_id,
                product_id=product.product_id,
                today=today,
            )
        )
        refused = launch_refusal(scope, member.school_id, member.kind, licensed=licensed)
        found = await identity(services, scope, member, today=today) if refused is None else refused
        if isinstance(found, Identity):
            # Allowed: the product must also be connected (its partner registered where launches go).
            client = await store.client_by_client_id(services.engine, product.client_id)
            if client is None or client.login_initiation_uri is None or product.launch_url is None:
                _refused(product.product_id, member.school_id, NOT_CONNECTED)
            told = disclosed_categories(scope, member.school_id, member.kind, names=False, groups=False)
            await audit(services, found, LAUNCH_OPERATION, categories=told)
            return Launch(
                _initiation(
                    client.login_initiation_uri, services.settings.issuer, found.pseudonym, product.launch_url
                )
            )
        refusals.append((found, member.school_id))
    if not refusals:
        # Signed in, but not (or no longer) a current student or staff member of any school.
        _refused(product.product_id, None, NOT_A_MEMBER)
    reason, school_id = min(refusals, key=lambda refusal: _NEAREST_FIRST.index(refusal[0]))
    return _refused(product.product_id, school_id, reason)


def _refused(product_id: int, school_id: int | None, reason: Refusal | str) -> NoReturn:
    name = reason.value if isinstance(reason, Refusal) else reason
    logger.info("launch refused: product %s, school %s, %s", product_id, school_id, name)
    raise LaunchRefused(reason)


def _initiation(login_initiation_uri: str, issuer: str, hint: str, target: str) -> str:
    parts = urllib.parse.urlsplit(login_initiation_uri)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [("iss", issuer), ("login_hint", hint), ("target_link_uri", target)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
