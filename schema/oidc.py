"""The hub as an OpenID Connect provider over HTTP (OIDC Core 1.0, Discovery 1.0, RFC 6749, RFC 7636):

- `GET /.well-known/openid-configuration`: the provider's metadata;
- `GET /oauth/authorize`: the authorization code flow for a signed-in person (PKCE S256 required);
- `POST /oauth/token` with `grant_type=authorization_code` (`token_grant`, called by the server's token
  endpoint, which also grants client_credentials);
- `GET|POST /oauth/userinfo`: the claims, for the flow's Bearer access token;
- `GET /launch/{productId}`: a product opened by a signed-in person (third-party initiated login).

People get Dutch pages (a request that may not be redirected, a refused launch); clients get the RFCs'
error codes. The work is done in resolvers.code_flow and resolvers.launches.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import urllib.parse
from typing import TYPE_CHECKING, Any, Final

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from auth.launches import LaunchRefusal
from errors import NotFound, Unauthenticated
from resolvers import code_flow, launches
from resolvers.code_flow import AuthorizeError, UnsafeRequest
from resolvers.launch_rules import product_id_from_path
from resolvers.sign_on import IDENTITY_CLAIMS
from resolvers.web_sessions import session_viewer
from schema.addresses import client_address
from schema.pages.signin import SIGN_IN_AGAIN
from schema.pages.templates import render

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from starlette.requests import HTTPConnection, Request

    from resolvers.requests import Services

logger = logging.getLogger("leerpoort.oidc")

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
AUTHORIZE_PATH: Final = "/oauth/authorize"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path, not a secret
USERINFO_PATH: Final = "/oauth/userinfo"
JWKS_PATH: Final = "/.well-known/jwks.json"
LAUNCH_PATH: Final = "/launch/{product_id}"

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}

#: Why a launch is refused, for the person (Dutch).
LAUNCH_REASONS: Final[Mapping[LaunchRefusal, str]] = {
    LaunchRefusal.UNKNOWN_PRODUCT: "Dit product bestaat niet (meer).",
    LaunchRefusal.NO_CONSENT: "Geen toestemming van de school: je school heeft deze aanbieder geen"
    " toestemming gegeven om gegevens te ontvangen.",
    LaunchRefusal.NOT_GRANTED: "Geen toestemming van de school: je school heeft deze aanbieder niet"
    " toegestaan te weten wie je bent.",
    LaunchRefusal.NO_LICENSE: "Geen licentie gekoppeld aan jouw groep: je school heeft geen licentie van dit"
    " product aan een van jouw groepen gekoppeld.",
    LaunchRefusal.NOT_CONNECTED: "Dit product is nog niet aangesloten op inloggen met Leerpoort.",
    LaunchRefusal.NOT_A_MEMBER: "Je bent nu op geen school ingeschreven als leerling of medewerker.",
    LaunchRefusal.NOT_AT_HOME: "Niet toegestaan thuis: dit product mag je alleen op school openen, of je"
    " school heeft inloggen thuis niet aangezet.",
}


def discovery(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery 1.0 §3), its endpoints on `issuer`."""
    base = issuer.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": base + AUTHORIZE_PATH,
        "token_endpoint": base + TOKEN_PATH,
        "userinfo_endpoint": base + USERINFO_PATH,
        "jwks_uri": base + JWKS_PATH,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        # Every partner gets its own `sub` for the same person (the pseudonym per partner).
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": [code_flow.OPENID],
        "claims_supported": ["iss", "aud", "exp", "iat", "auth_time", "nonce", *IDENTITY_CLAIMS],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


def _with_query(uri: str, parameters: Mapping[str, str | None]) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, value) for name, value in parameters.items() if value is not None]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _login_redirect(request: Request) -> Response:
    """To the sign-in page, which comes back here (same-origin path and query) once signed in."""
    own = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        "/login?" + urllib.parse.urlencode({"next": own}), status_code=302, headers=_NO_STORE
    )


def _fresh_login_redirect(request: Request, now: dt.datetime, school_code: str | None) -> Response:
    """To the sign-in form even though the person is signed in (prompt=login, max_age): a shared
    classroom computer may hold someone else's session. The form names the session's school (for the
    students' form); it comes back to the same request, which then accepts only a sign-in from now on
    (`code_flow.fresh_sign_in_return`)."""
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        query.setdefault(name, []).append(value)
    login = {"next": code_flow.fresh_sign_in_return(request.url.path, query, now), SIGN_IN_AGAIN: "1"}
    if school_code:
        login["school"] = school_code
    return RedirectResponse("/login?" + urllib.parse.urlencode(login), status_code=302, headers=_NO_STORE)


def _page(request: Request, status: int, title: str, reason: str) -> Response:
    response = render(request, "sign_on_refused.html", status_code=status, title=title, reason=reason)
    response.headers.update(_NO_STORE)
    return response


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The provider's routes (the token endpoint stays the server's; see `token_grant`)."""

    async def configuration(request: Request) -> Response:
        return JSONResponse(
            discovery(services(request).settings.issuer), headers={"Cache-Control": "public, max-age=300"}
        )

    async def authorize(request: Request) -> Response:
        hub = services(request)
        parameters: dict[str, list[str]] = {}
        for name, value in request.query_params.multi_items():
            parameters.setdefault(name, []).append(value)
        try:
            target = await code_flow.target_of(hub, parameters)
        except UnsafeRequest as unsafe:
            return _page(request, 400, "Inloggen kan niet", unsafe.reason)
        try:
            checked = code_flow.checked_request(target, parameters)
            session = await session_viewer(hub, request)
            if session is None:
                if "none" in checked.prompts:
                    raise AuthorizeError("login_required", "the user is not signed in")
                return _login_redirect(request)
            now = hub.settings.now()
            if checked.needs_fresh_sign_in(session.started_at, now):
                if "none" in checked.prompts:
                    raise AuthorizeError("login_required", "the request needs a newer sign-in (max_age)")
                return _fresh_login_redirect(request, now, session.school_code)
            code = await code_flow.issue_code(
                hub, checked, session, address=client_address(request, hub.settings)
            )
        except AuthorizeError as error:
            answer = {"error": error.error, "error_description": error.description, "state": target.state}
            return RedirectResponse(
                _with_query(target.redirect_uri, answer), status_code=302, headers=_NO_STORE
            )
        location = _with_query(target.redirect_uri, {"code": code, "state": target.state})
        return RedirectResponse(location, status_code=302, headers=_NO_STORE)

    async def userinfo(request: Request) -> Response:
        try:
            claims = await code_flow.userinfo(services(request), request.headers.get("authorization", ""))
        except Unauthenticated as refused:
            sent = bool(request.headers.get("authorization"))
            challenge = 'Bearer realm="leerpoort"' + (', error="invalid_token"' if sent else "")
            return JSONResponse(
                {"error": "invalid_token", "error_description": refused.message},
                status_code=401,
                headers={"WWW-Authenticate": challenge, **_NO_STORE},
            )
        return JSONResponse(claims, headers=_NO_STORE)

    async def launch(request: Request) -> Response:
        hub = services(request)
        session = await session_viewer(hub, request)
        if session is None:
            return _login_redirect(request)
        product_id = product_id_from_path(request.path_params["product_id"])
        try:
            if product_id is None:
                raise NotFound("no product with this id")
            started = await launches.launch(
                hub, session, product_id, address=client_address(request, hub.settings)
            )
        except NotFound:
            return _page(request, 404, "Product niet gevonden", LAUNCH_REASONS[LaunchRefusal.UNKNOWN_PRODUCT])
        except launches.LaunchRefused as refused:
            return _page(request, 403, "Dit product kun je niet openen", LAUNCH_REASONS[refused.reason])
        return RedirectResponse(started.location, status_code=302, headers=_NO_STORE)

    return [
        Route(DISCOVERY_PATH, configuration, methods=["GET"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET"]),
        Route(USERINFO_PATH, userinfo, methods=["GET", "POST"]),
        Route(LAUNCH_PATH, launch, methods=["GET"]),
    ]


async def token_grant(
    services: Services, *, client_id: str, client_secret: str, fields: Mapping[str, str], address: str
) -> Response:
    """`POST /oauth/token` with `grant_type=authorization_code`: the tokens as JSON (OIDC Core
    §3.1.3.3); `code_flow.OAuthError` for the server's token endpoint to answer."""
    granted = await code_flow.exchange_code(
        services, client_id=client_id, client_secret=client_secret, fields=fields, address=address
    )
    return JSONResponse(dataclasses.asdict(granted), headers=_NO_STORE)
