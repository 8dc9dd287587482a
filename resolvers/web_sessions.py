"""Web sessions: the cookie a person gets after signing in on `/login`, and its CSRF token.

The contract other pages build on (/work/signals/session-contract.md): `session_viewer` reads the session
of a request (None when there is none, or it expired, ended, or its account was disabled or removed since:
that ends it), `start_session` and `end_session` set and clear the cookie, and `require_csrf` checks a
form's (or a script's `X-CSRF-Token`) token against the session's. The cookie's value is 256 random bits
and only its SHA-256 is stored (`datasources.access.web_sessions`), as for the links in mail.

Forms shown before there is a session (the sign-in form) use a double-submit cookie instead
(`CSRF_COOKIE`, `pre_session_csrf`): the form's hidden token must equal the cookie, which another site can
neither read nor set.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from auth.link_tokens import link_token_hash, new_link_token
from auth.permissions import may_set_coupling
from auth.tokens import STAFF_TOKEN_LIFETIME, STUDENT_TOKEN_LIFETIME
from auth.viewer import Viewer, ViewerKind
from datasources.access import sign_on as sign_on_store
from datasources.access import web_sessions as stored_sessions
from datasources.access.accounts import school_id_by_code
from errors import Forbidden, Unauthenticated
from resolvers.network_assertions import provider_sees_school
from resolvers.school_networks import connection_address

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.responses import Response

    from resolvers.context import Context
    from resolvers.requests import Services
    from settings import Settings

#: The session cookie: HttpOnly, SameSite=Lax, Secure outside the sandbox, Path=/.
SESSION_COOKIE: Final = "leerpoort_session"
#: The double-submit cookie of forms shown before sign-in (the sign-in form itself).
CSRF_COOKIE: Final = "leerpoort_csrf"
#: The header a page's script sends its session's CSRF token in, to `/graphql`.
CSRF_HEADER: Final = "x-csrf-token"

#: A session lasts a school day, as a `signIn` token does; then the person signs in again.
SESSION_LIFETIMES: Final = {
    ViewerKind.STAFF: STAFF_TOKEN_LIFETIME,
    ViewerKind.STUDENT: STUDENT_TOKEN_LIFETIME,
}
#: A cookie value is 43 characters; anything much longer is not one of ours and is not looked up.
_MAX_COOKIE_LENGTH: Final = 128


class AddressChanged(Unauthenticated):
    """The session ended because a request came from another address than the one it started from, at a
    school that binds sessions to their start address (`setSessionBinding`): sign in again."""

    def __init__(self) -> None:
        super().__init__(
            "the session ended: your school binds sessions to the network address they started from, and"
            " this request came from another one (for instance Wi-Fi to 4G); sign in again"
        )


@dataclass(frozen=True, slots=True)
class WebSession:
    """A signed-in person's session: who (a STAFF or STUDENT viewer with the scopes a `signIn` token
    would carry, expiring with the session), its CSRF token, the school signed in at, and when."""

    session_id: str
    viewer: Viewer
    csrf_token: str
    school_code: str | None
    address: str
    started_at: dt.datetime
    expires_at: dt.datetime


async def session_viewer(services: Services, connection: HTTPConnection) -> WebSession | None:
    """The session of a request's cookie: None when there is none, or it is unknown, expired or ended,
    or its account was disabled or removed since (which ends the session for good), or it came from
    another address than the session started from at a school that binds sessions (which ends it too:
    `ended_by_address_change` tells the sign-in page)."""
    try:
        return await _request_session(services, connection)
    except AddressChanged:
        return None


async def ended_by_address_change(services: Services, connection: HTTPConnection) -> bool:
    """Whether the request's cookie is of a session that ended (and has not expired since) because a
    request of it came from another address: the sign-in page says why the person must sign in again."""
    try:
        await _request_session(services, connection)
    except AddressChanged:
        return True
    return False


async def _request_session(services: Services, connection: HTTPConnection) -> WebSession | None:
    address = connection_address(services.settings, connection)
    return await cookie_session(services, connection.cookies.get(SESSION_COOKIE), address=address)


async def cookie_session(services: Services, value: str | None, *, address: str) -> WebSession | None:
    """The session of a cookie's value for a request from `address` (`session_viewer` without the request).

    Raises `AddressChanged` when the session's school binds sessions to their start address and `address`
    is another one (the session ends here, for good), and for as long as such an ended session would have
    lasted, so that every later request of the cookie learns why."""
    if not value or len(value) > _MAX_COOKIE_LENGTH:
        return None
    stored = await stored_sessions.session_by_hash(services.engine, link_token_hash(value))
    now = services.settings.now()
    if stored is None or stored.expires_at <= now:
        return None
    if stored.ended_at is not None:
        if stored.end_reason == stored_sessions.ADDRESS_CHANGED:
            raise AddressChanged
        return None
    if stored.bound_to_address and address != stored.address:
        # Compared as the addresses were recorded (`request_address`, the same text for the same client):
        # any other address, even one of the school's own ranges, ends the session.
        await stored_sessions.end_session(
            services.engine, stored.id, at=now, reason=stored_sessions.ADDRESS_CHANGED
        )
        raise AddressChanged
    by_assertion = stored.assertion_partner_id is not None
    if not await stored_sessions.subject_may_sign_in(
        services.engine, stored.subject_kind, stored.subject_id, by_assertion=by_assertion
    ):
        # Disabled, removed by an import, or the student's login taken away: the session ends now, and
        # stays ended should the account come back.
        await stored_sessions.end_session(services.engine, stored.id, at=now)
        return None
    if by_assertion and not await _provider_still_vouches(services, stored):
        # The network provider lost the school (consent revoked, DPA withdrawn, school closed): a revoke
        # stops every flow at once, the sessions its assertions started among them.
        await stored_sessions.end_session(services.engine, stored.id, at=now)
        return None
    viewer = Viewer(
        ViewerKind(stored.subject_kind),
        stored.subject_id,
        frozenset(stored.scopes),
        expires_at=stored.expires_at,
        via_assertion=by_assertion,
        school_code=stored.school_code if by_assertion else None,
    )
    return WebSession(
        session_id=str(stored.id),
        viewer=viewer,
        csrf_token=stored.csrf_token,
        school_code=stored.school_code,
        address=stored.address,
        started_at=stored.started_at,
        expires_at=stored.expires_at,
    )


async def _provider_still_vouches(services: Services, stored: stored_sessions.StoredSession) -> bool:
    """Whether the network provider whose assertion started a session still has consent in force at the
    session's school, as the policy decides it (the school is in the provider's scope)."""
    if stored.assertion_partner_id is None or stored.school_code is None:
        return False
    return await provider_sees_school(services, stored.assertion_partner_id, stored.school_code)


async def session_on(services: Services, session_id: str) -> bool:
    """Whether the web session of an authorization code (by its id) is still on, for the token exchange
    and userinfo, which the session's cookie never reaches: ended, expired, its account disabled, or
    started by a network provider that has since lost the school's consent all say no."""
    found = await sign_on_store.session_in_force(services.engine, session_id, now=services.settings.now())
    if found is None:
        return False
    if found.assertion_partner_id is None:
        return True
    return found.school_code is not None and await provider_sees_school(
        services, found.assertion_partner_id, found.school_code
    )


async def start_session(
    services: Services,
    response: Response,
    viewer: Viewer,
    *,
    address: str,
    school_code: str | None,
    assertion_partner_id: int | None = None,
) -> WebSession:
    """Start a session for a signed-in staff member or student and set its cookie on `response`;
    `assertion_partner_id` names the network provider whose signed assertion signed them in, if one did
    (such a session may hold an account that was never activated: `resolvers.network_assertions`).

    A new cookie value (and CSRF token) every time: a value planted before sign-in never becomes a
    session (session fixation)."""
    lifetime = SESSION_LIFETIMES.get(viewer.kind)
    if lifetime is None:
        raise ValueError("only staff and students have web sessions")
    value, csrf_token = new_link_token(), secrets.token_urlsafe(32)
    now = services.settings.now()
    expires_at = now + lifetime
    session_id = await stored_sessions.create_session(
        services.engine,
        token_hash=link_token_hash(value),
        subject_kind=viewer.kind.value,
        subject_id=viewer.subject_id,
        scopes=sorted(viewer.scopes),
        csrf_token=csrf_token,
        school_code=school_code,
        address=address,
        started_at=now,
        expires_at=expires_at,
        assertion_partner_id=assertion_partner_id,
    )
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(lifetime.total_seconds()),
        path="/",
        secure=secure_cookies(services.settings),
        httponly=True,
        samesite="lax",
    )
    return WebSession(
        session_id=str(session_id),
        viewer=Viewer(
            viewer.kind,
            viewer.subject_id,
            viewer.scopes,
            expires_at=expires_at,
            via_assertion=assertion_partner_id is not None,
            school_code=school_code if assertion_partner_id is not None else None,
        ),
        csrf_token=csrf_token,
        school_code=school_code,
        address=address,
        started_at=now,
        expires_at=expires_at,
    )


async def end_session(services: Services, connection: HTTPConnection, response: Response) -> None:
    """End the request's session (if any) and clear its cookie on `response`."""
    await end_stored_session(services, connection)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=secure_cookies(services.settings), httponly=True, samesite="lax"
    )


async def end_stored_session(services: Services, connection: HTTPConnection) -> None:
    """End the request's session (if any) in the store, leaving the cookie alone: a sign-in in a browser
    that still holds a session ends that one before its new cookie replaces it, so no session of the
    previous person stays open behind a cookie that browser no longer has."""
    value = connection.cookies.get(SESSION_COOKIE)
    if value and len(value) <= _MAX_COOKIE_LENGTH:
        stored = await stored_sessions.session_by_hash(services.engine, link_token_hash(value))
        if stored is not None:
            await stored_sessions.end_session(services.engine, stored.id, at=services.settings.now())


def require_csrf(session: WebSession | None, submitted: str | None) -> None:
    """Refuse (`Forbidden`) a form post or script call whose CSRF token is missing or not the session's."""
    if session is None or not tokens_match(session.csrf_token, submitted):
        raise Forbidden("the CSRF token is missing or does not match the session")


async def set_session_binding(ctx: Context, school_code: str, enabled: bool) -> bool:
    """The coordinator binds the school's sessions to their start address, or stops doing so; answers the
    new state. Sessions already running are judged by the new rule on their next request."""
    school_id = await school_id_by_code(ctx.engine, school_code)
    # The same decision as home login: the school's own coordinator decides how its people get in.
    if school_id is None or not may_set_coupling(ctx.viewer, ctx.scope, school_id):
        raise Forbidden(f"you do not coordinate school {school_code}")
    await stored_sessions.set_sessions_bound(ctx.engine, school_id, enabled)
    return enabled


async def session_binding_of(ctx: Context, school_id: int) -> bool | None:
    """Whether the school binds sessions to their start address, for its coordinators and the operator;
    None for others."""
    if not (may_set_coupling(ctx.viewer, ctx.scope, school_id) or ctx.viewer.kind is ViewerKind.OPERATOR):
        return None
    return await stored_sessions.sessions_bound(ctx.engine, school_id)


def tokens_match(expected: str | None, submitted: str | None) -> bool:
    """Whether a submitted CSRF token equals the expected one (compared in constant time)."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def pre_session_csrf(connection: HTTPConnection) -> tuple[str, bool]:
    """The double-submit token of a form shown before sign-in: the request's `CSRF_COOKIE` when it has a
    plausible one, else a new one; and whether the cookie must be set on the response."""
    current = connection.cookies.get(CSRF_COOKIE)
    if current and 20 <= len(current) <= _MAX_COOKIE_LENGTH and current.isascii():
        return current, False
    return secrets.token_urlsafe(32), True


def set_pre_session_csrf(settings: Settings, response: Response, token: str) -> None:
    """Set the double-submit cookie (HttpOnly: only the server compares it with the form)."""
    response.set_cookie(
        CSRF_COOKIE, token, path="/", secure=secure_cookies(settings), httponly=True, samesite="lax"
    )


def secure_cookies(settings: Settings) -> bool:
    """Cookies are Secure (HTTPS only) outside the sandbox, which also runs on plain http://127.0.0.1."""
    return not settings.sandbox


__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AddressChanged",
    "WebSession",
    "cookie_session",
    "end_session",
    "end_stored_session",
    "ended_by_address_change",
    "pre_session_csrf",
    "require_csrf",
    "session_binding_of",
    "session_on",
    "session_viewer",
    "set_pre_session_csrf",
    "set_session_binding",
    "start_session",
    "tokens_match",
]
