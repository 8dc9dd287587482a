"""The sign-in pages: `/login` for staff (e-mail and password) and students (school, username, and a
password or picture code), `/logout`, and a group's printable login cards (`/login/kaarten/{groupId}`).

Plain HTML forms that work without JavaScript. Every form carries a CSRF token: the sign-in form a
double-submit cookie's (there is no session yet), the others the session's. A sign-in redirects (303)
to `next` when it is a path of this site, else to "/". Messages are Dutch; a wrong sign-in is 401, too
many of them 429 with `Retry-After` (the rate limits every credential check shares).
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from typing import Any, Final

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from auth.picture_codes import PICTURE_CODE_LENGTH, PICTURES
from errors import BadUserInput, Forbidden, PublicError, RateLimited, Unauthenticated
from resolvers import student_logins
from resolvers.accounts import authenticate_staff
from resolvers.requests import Services, open_request
from resolvers.student_logins import LoginSchool
from resolvers.web_sessions import (
    CSRF_COOKIE,
    WebSession,
    end_session,
    end_stored_session,
    ended_by_address_change,
    pre_session_csrf,
    require_csrf,
    session_viewer,
    set_pre_session_csrf,
    start_session,
    tokens_match,
)
from schema.addresses import client_address
from schema.bodies import BodyTooLarge
from schema.pages.forms import Form, read_form, safe_next
from schema.pages.templates import render
from schema.relay import from_global_id
from settings import Settings

LOGIN_PATH: Final = "/login"
STAFF: Final = "medewerker"
STUDENT: Final = "leerling"

WRONG_STAFF: Final = "Het e-mailadres of het wachtwoord klopt niet."
WRONG_STUDENT: Final = "De gebruikersnaam, het wachtwoord of de plaatjes kloppen niet."
EXPIRED_FORM: Final = (
    "Deze pagina is verlopen of kwam niet van Leerpoort."
    " Laad de aanmeldpagina opnieuw en probeer het nog eens."
)
UNKNOWN_SCHOOL: Final = "Deze school kennen we niet. Controleer de schoolcode of zoek de school op naam."
CHOOSE_PICTURES: Final = f"Kies {PICTURE_CODE_LENGTH} plaatjes, in de goede volgorde."
PASSWORD_OR_PICTURES: Final = "Vul je wachtwoord in of kies je plaatjes (niet allebei)."  # noqa: S105
#: The query parameter of `/login` that shows the form even to a signed-in person (a partner's prompt=login
#: or max_age asked for a fresh sign-in: `schema.oidc`).
SIGN_IN_AGAIN: Final = "opnieuw"
#: What the form says then.
SIGN_IN_AGAIN_MESSAGE: Final = (
    "Meld je opnieuw aan om verder te gaan. Ben jij het niet? Meld je dan aan met je eigen gegevens."
)
#: Why a session at a school that binds sessions to their start address ended (`setSessionBinding`).
ADDRESS_CHANGED: Final = (
    "Je bent afgemeld omdat je verbinding is gewisseld (bijvoorbeeld van wifi naar 4G). Je school laat een"
    " sessie alleen werken op het netwerk waar je je aanmeldde. Meld je opnieuw aan."
)
BAD_FORM: Final = "Het formulier is niet goed verstuurd. Laad de pagina opnieuw en probeer het nog eens."


def login_redirect(request: Request) -> RedirectResponse:
    """Send a person who is not signed in to `/login`, to come back to this page (path and query)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{LOGIN_PATH}?{urllib.parse.urlencode({'next': target})}", status_code=303)


def _address(connection: HTTPConnection, settings: Settings) -> str:
    """The client's address as every handler sees it (through the trusted proxies)."""
    return client_address(connection, settings)


def _rate_limited_message(refused: RateLimited) -> str:
    minutes = max(1, math.ceil(refused.retry_after / 60))
    return (
        "Te veel mislukte pogingen om aan te melden. Probeer het over "
        f"{minutes} {'minuut' if minutes == 1 else 'minuten'} opnieuw."
    )


def _picture_code(form: Form) -> list[int] | None:
    """The picture code a student chose (fields plaatje1 … plaatje4), None when no picture was chosen;
    `BadUserInput` when some are missing or not numbers."""
    chosen = [form.get(f"plaatje{position}") for position in range(1, PICTURE_CODE_LENGTH + 1)]
    if all(value in (None, "") for value in chosen):
        return None
    if any(value is None or not value.isascii() or not value.isdigit() or len(value) > 3 for value in chosen):
        raise BadUserInput("choose every picture of the code")
    return [int(value or "") for value in chosen]


class _SignInPages:
    """The handlers of the sign-in routes; `services` finds the process's services from a request."""

    def __init__(self, services: Callable[[HTTPConnection], Services]) -> None:
        self.services = services

    async def page(
        self,
        request: Request,
        status_code: int = 200,
        *,
        next_path: str,
        school: LoginSchool | None = None,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        """The sign-in page, with the double-submit CSRF cookie set when the browser has none yet."""
        settings = self.services(request).settings
        token, new = pre_session_csrf(request)
        response = render(
            request,
            "login.html",
            status_code,
            headers=headers,
            csrf_token=token,
            next=next_path,
            school=school,
            pictures=list(enumerate(PICTURES)),
            positions=list(range(1, PICTURE_CODE_LENGTH + 1)),
            **context,
        )
        if new:
            set_pre_session_csrf(settings, response, token)
        return response

    async def login_page(self, request: Request) -> Response:
        """`GET /login`: the sign-in forms; `school` (a code or INSTELLING_REF, from a shortcut) names
        the school, `zoek` searches schools by name, `next` is where to go after signing in."""
        the_services = self.services(request)
        next_path = safe_next(request.query_params.get("next"))
        session = await session_viewer(the_services, request)
        again = request.query_params.get(SIGN_IN_AGAIN) == "1"
        if session is not None and not again:
            return render(
                request, "signed_in.html", csrf_token=session.csrf_token, next=next_path, session=session
            )
        school_text = request.query_params.get("school", "").strip()
        search = request.query_params.get("zoek", "").strip()[:100]
        school = await student_logins.login_school(the_services.engine, school_text) if school_text else None
        if school_text and school is None:
            return await self.page(
                request,
                404,
                next_path=next_path,
                error=UNKNOWN_SCHOOL,
                search=search,
                school_text=school_text,
            )
        results = await student_logins.search_schools(the_services.engine, search) if search else []
        moved = await ended_by_address_change(the_services, request)
        return await self.page(
            request,
            next_path=next_path,
            school=school,
            search=search,
            results=results,
            searched=bool(search),
            error=ADDRESS_CHANGED if moved else None,
            notice=SIGN_IN_AGAIN_MESSAGE if again else None,
        )

    async def login_post(self, request: Request) -> Response:
        """`POST /login`: sign a staff member or a student in, start the session, redirect to `next`."""
        the_services = self.services(request)
        try:
            form = await read_form(request)
        except (BadUserInput, BodyTooLarge):
            return await self.page(request, 400, next_path="/", error=BAD_FORM)
        next_path = safe_next(form.get("next"))
        if not tokens_match(request.cookies.get(CSRF_COOKIE), form.get("csrf_token")):
            return await self.page(request, 403, next_path=next_path, error=EXPIRED_FORM)
        if form.get("soort") == STUDENT:
            return await self._student(request, the_services, form, next_path)
        if form.get("soort") != STAFF:
            return await self.page(request, 400, next_path=next_path, error=BAD_FORM)
        return await self._staff(request, the_services, form, next_path)

    async def _staff(self, request: Request, the_services: Services, form: Form, next_path: str) -> Response:
        email = form.text("email")[:320]
        try:
            viewer = await authenticate_staff(
                the_services.engine,
                the_services.settings,
                email,
                form.text("wachtwoord"),
                address=_address(request, the_services.settings),
            )
        except RateLimited as refused:
            return await self.page(
                request,
                429,
                next_path=next_path,
                error=_rate_limited_message(refused),
                email=email,
                headers={"Retry-After": str(refused.retry_after)},
            )
        except Unauthenticated:
            return await self.page(request, 401, next_path=next_path, error=WRONG_STAFF, email=email)
        response = RedirectResponse(next_path, status_code=303)
        await end_stored_session(the_services, request)
        await start_session(
            the_services, response, viewer, address=_address(request, the_services.settings), school_code=None
        )
        return response

    async def _student(
        self, request: Request, the_services: Services, form: Form, next_path: str
    ) -> Response:
        school = await student_logins.login_school(the_services.engine, form.text("school"))
        username = form.text("gebruikersnaam")[:40]
        if school is None:
            return await self.page(request, 400, next_path=next_path, error=UNKNOWN_SCHOOL)
        shown: dict[str, Any] = {"next_path": next_path, "school": school, "username": username}
        password = form.text("wachtwoord") or None
        try:
            picture_code = _picture_code(form)
        except BadUserInput:
            return await self.page(request, 400, error=CHOOSE_PICTURES, **shown)
        if (password is None) == (picture_code is None):
            return await self.page(request, 400, error=PASSWORD_OR_PICTURES, **shown)
        return await self._student_check(request, the_services, shown, password, picture_code)

    async def _student_check(
        self,
        request: Request,
        the_services: Services,
        shown: dict[str, Any],
        password: str | None,
        picture_code: list[int] | None,
    ) -> Response:
        school: LoginSchool = shown["school"]
        next_path: str = shown["next_path"]
        username: str = shown["username"]
        try:
            viewer, school = await student_logins.authenticate_student(
                the_services.engine,
                the_services.settings,
                school.code,
                username,
                password=password,
                picture_code=picture_code,
                address=_address(request, the_services.settings),
            )
        except RateLimited as refused:
            return await self.page(
                request,
                429,
                error=_rate_limited_message(refused),
                headers={"Retry-After": str(refused.retry_after)},
                **shown,
            )
        except Unauthenticated:
            return await self.page(request, 401, error=WRONG_STUDENT, **shown)
        except BadUserInput:
            return await self.page(request, 400, error=CHOOSE_PICTURES, **shown)
        response = RedirectResponse(next_path, status_code=303)
        await end_stored_session(the_services, request)
        await start_session(
            the_services,
            response,
            viewer,
            address=_address(request, the_services.settings),
            school_code=school.code,
        )
        return response

    async def logout(self, request: Request) -> Response:
        """`POST /logout`: end the session (its CSRF token required) and go back to `/login`."""
        the_services = self.services(request)
        session = await session_viewer(the_services, request)
        try:
            form = await read_form(request)
        except (BadUserInput, BodyTooLarge):
            return render(request, "message.html", 400, title="Afmelden", message=BAD_FORM)
        response = RedirectResponse(LOGIN_PATH, status_code=303)
        if session is None:  # nothing to end (expired, or signed out already): just clear the cookie
            await end_session(the_services, request, response)
            return response
        try:
            require_csrf(session, form.get("csrf_token"))
        except Forbidden:
            return render(request, "message.html", 403, title="Afmelden", message=EXPIRED_FORM)
        await end_session(the_services, request, response)
        return response

    async def cards(self, request: Request) -> Response:
        """`GET /login/kaarten/{groupId}`: a group's printable login cards, for its school's coordinator."""
        the_services = self.services(request)
        session = await session_viewer(the_services, request)
        if session is None:
            return login_redirect(request)
        return await self._cards(request, the_services, session)

    async def _cards(self, request: Request, the_services: Services, session: WebSession) -> Response:
        decoded = from_global_id(request.path_params["group_id"])
        refusal = "Alleen de coördinator van de school van deze groep drukt de inlogkaarten af."
        if decoded is None or decoded[0] != "Group":
            missing = "Deze groep bestaat niet."
            return render(request, "message.html", 404, title="Inlogkaarten", message=missing)
        try:
            async with open_request(the_services, session.viewer) as context:
                found = await student_logins.login_cards(
                    context.engine, context.settings, context.viewer, context.scope, decoded[1]
                )
        except (Forbidden, Unauthenticated):
            return render(request, "message.html", 403, title="Inlogkaarten", message=refusal)
        except PublicError:
            return render(request, "message.html", 400, title="Inlogkaarten", message=BAD_FORM)
        return render(request, "login_cards.html", csrf_token=session.csrf_token, cards=found)


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The sign-in routes; `services` finds the process's services from a request (the server's state)."""
    pages = _SignInPages(services)
    return [
        Route(LOGIN_PATH, pages.login_page, methods=["GET"]),
        Route(LOGIN_PATH, pages.login_post, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/login/kaarten/{group_id}", pages.cards, methods=["GET"]),
    ]
