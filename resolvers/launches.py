"""Launching a product (OIDC Core §4, third-party initiated login): a signed-in person opens a product
at `/launch/{productId}`; the launch rule (resolvers.launch_rules, the one rule the start page's tiles and
`me.products` follow too) decides whether they may, then the browser goes to the partner's
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
from auth.sign_on import disclosed_categories
from datasources.access import sign_on as store
from errors import NotFound, Unauthenticated
from resolvers.launch_rules import launch_decision
from resolvers.sign_on import Identity, audit, identity, partner_scope

if TYPE_CHECKING:
    from resolvers.requests import Services
    from resolvers.web_sessions import WebSession

logger = logging.getLogger("leerpoort.launch")

LAUNCH_OPERATION: Final = "OpenID Connect launch"


class LaunchRefused(Exception):  # noqa: N818 - the verdict: "launch refused"
    """The launch may not go ahead, for the launch rule's `reason`."""

    def __init__(self, reason: LaunchRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Launch:
    """Where to send the browser: the login-initiation URI with its parameters."""

    location: str


async def launch(services: Services, session: WebSession, product_id: int, *, address: str) -> Launch:
    """The third-party initiated login of the product for the signed-in person from `address`; `NotFound`
    for an unknown product, `LaunchRefused` with the launch rule's reason otherwise (no consent, not
    granted, no license coupled to the person's groups, not at home, not connected)."""
    ruled = await launch_decision(
        services.engine,
        services.settings,
        session.viewer,
        product_id,
        now=services.settings.now(),
        address=address,
        school_code=session.school_code,
    )
    if ruled is LaunchRefusal.UNKNOWN_PRODUCT:
        raise NotFound("no product with this id")
    if isinstance(ruled, LaunchRefusal):
        _refused(product_id, None, ruled)
    # The rule said yes; the pseudonym is read as the graph shows it to the partner (its own scope).
    try:
        scope = await partner_scope(services, ruled.client_id)
    except Unauthenticated:
        _refused(product_id, ruled.school_id, LaunchRefusal.NO_CONSENT)
    member = store.Member(ruled.member_kind, ruled.member_id, ruled.school_id)
    found = await identity(services, scope, member, today=services.settings.now().date())
    if not isinstance(found, Identity):
        # Only when the facts changed between the rule's read and this one (a consent revoked meanwhile).
        _refused(product_id, ruled.school_id, LaunchRefusal.NOT_GRANTED)
    # The rule refuses a product that is not connected, so both addresses are there.
    assert ruled.login_initiation_uri is not None
    assert ruled.target_url is not None
    told = disclosed_categories(scope, member.school_id, member.kind, names=False, groups=False)
    await audit(services, found, LAUNCH_OPERATION, categories=told)
    return Launch(
        _initiation(ruled.login_initiation_uri, services.settings.issuer, found.pseudonym, ruled.target_url)
    )


def _refused(product_id: int, school_id: int | None, reason: LaunchRefusal) -> NoReturn:
    logger.info("launch refused: product %s, school %s, %s", product_id, school_id, reason.value)
    raise LaunchRefused(reason)


def _initiation(login_initiation_uri: str, issuer: str, hint: str, target: str) -> str:
    parts = urllib.parse.urlsplit(login_initiation_uri)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [("iss", issuer), ("login_hint", hint), ("target_link_uri", target)]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
