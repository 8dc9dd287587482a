"""The home-login pages (`/thuis`): a student signs in at home with the username and PIN a parent set
up; a parent activates home login with the school's printed code, asks for a forgotten username or PIN,
and chooses a new PIN with the link in mail; the coordinator prints a group's activation codes.

Plain HTML forms that work without JavaScript, in Dutch. The forms are shown before there is a session,
so their CSRF token is the double-submit cookie's, as on `/login`. Wrong input is answered on the page
with the reason; too many wrong tries 429 with `Retry-After` (the limits every credential check shares).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from starlette.responses import RedirectResponse
from starlette.routing import Route

from errors import BadUserInput, Conflict, Forbidden, PublicError, RateLimited, RefusedInput, Unauthenticated
from resolvers import home_logins
from resolvers.requests import open_request
from resolvers.web_sessions import (
    CSRF_COOKIE,
    pre_session_csrf,
    session_viewer,
    set_pre_session_csrf,
    start_session,
    tokens_match,
)
from schema.addresses import client_address
from schema.bodies import BodyTooLarge
from schema.pages.forms import Form, read_form, safe_next
from schema.pages.signin import login_redirect
from schema.pages.templates import render
from schema.relay import from_global_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response

    from resolvers.requests import Services

HOME_PATH: Final = "/thuis"
WRONG: Final = "De gebruikersnaam of de pincode klopt niet, of je school heeft inloggen thuis uitgezet."
WRONG_CODE: Final = (
    "Deze activeringscode kennen we niet, is al gebruikt of is verlopen, of de school heeft inloggen thuis"
    " uitgezet. Vraag de school om een nieuwe code."
)
DIFFERENT_PINS: Final = "De twee pincodes zijn niet gelijk."
EXPIRED_FORM: Final = (
    "Deze pagina is verlopen of kwam niet van Leerpoort. Laad de pagina opnieuw en probeer het nog eens."
)
BAD_FORM: Final = "Het formulier is niet goed verstuurd. Laad de pagina opnieuw en probeer het nog eens."
DEAD_LINK: Final = (
    "Deze link is al gebruikt of verlopen. Vraag op de pagina 'pincode vergeten' een nieuwe aan."
)


def _slowed_down(refused: RateLimited) -> str:
    minutes = max(1, math.ceil(refused.retry_after / 60))
    unit = "minuut" if minutes == 1 else "minuten"
    return f"Te veel mislukte pogingen. Probeer het over {minutes} {unit} opnieuw."


class _HomePages:
    """The handlers of the home-login routes; `services` finds the process's services from a request."""

    def __init__(self, services: Callable[[HTTPConnection], Services]) -> None:
        self.services = services

    def page(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        *,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> Response:
        """A page with a pre-session form: the double-submit CSRF cookie set when the browser has none."""
        token, new = pre_session_csrf(request)
        response = render(request, template, status_code, headers=headers, csrf_token=token, **context)
        if new:
            set_pre_session_csrf(self.services(request).settings, response, token)
        return response

    async def _form(self, request: Request, template: str, **context: Any) -> Form | Response:
        """The posted form, or the page again with the reason it was refused (malformed, CSRF)."""
        try:
            form = await read_form(request)
        except (BadUserInput, BodyTooLarge):
            return self.page(request, template, 400, error=BAD_FORM, **context)
        if not tokens_match(request.cookies.get(CSRF_COOKIE), form.get("csrf_token")):
            return self.page(request, template, 403, error=EXPIRED_FORM, **context)
        return form

    async def sign_in_page(self, request: Request) -> Response:
        """`GET /thuis`: the student's home sign-in form."""
        return self.page(request, "thuis.html", next=safe_next(request.query_params.get("next")))

    async def sign_in(self, request: Request) -> Response:
        """`POST /thuis`: sign the student in with the home username and PIN, then to `next`."""
        found = await self._form(request, "thuis.html", next="/")
        if not isinstance(found, Form):
            return found
        services = self.services(request)
        next_path, username = safe_next(found.get("next")), found.text("gebruikersnaam")[:40]
        address = client_address(request, services.settings)
        try:
            viewer, school_code = await home_logins.authenticate(
                services.engine, services.settings, username, found.text("pincode"), address=address
            )
        except RateLimited as refused:
            return self.page(
                request,
                "thuis.html",
                429,
                headers={"Retry-After": str(refused.retry_after)},
                error=_slowed_down(refused),
                next=next_path,
                username=username,
            )
        except Unauthenticated:
            return self.page(request, "thuis.html", 401, error=WRONG, next=next_path, username=username)
        response = RedirectResponse(next_path, status_code=303)
        await start_session(services, response, viewer, address=address, school_code=school_code)
        return response

    async def activation_page(self, request: Request) -> Response:
        """`GET /thuis/activeren`: the parent's activation form."""
        return self.page(request, "thuis_activeren.html", code=request.query_params.get("code", "")[:20])

    async def activate(self, request: Request) -> Response:
        """`POST /thuis/activeren`: activate home login with the printed code, an address and a PIN."""
        found = await self._form(request, "thuis_activeren.html")
        if not isinstance(found, Form):
            return found
        services = self.services(request)
        shown: dict[str, Any] = {"code": found.text("code")[:20], "email": found.text("email")[:320]}
        if found.text("pincode") != found.text("pincode2"):
            return self.page(request, "thuis_activeren.html", 400, error=DIFFERENT_PINS, **shown)
        try:
            activated = await home_logins.activate(
                services.engine,
                services.settings,
                found.text("code"),
                found.text("email"),
                found.text("pincode"),
                address=client_address(request, services.settings),
            )
        except RefusedInput as refused:
            return self.page(request, "thuis_activeren.html", 400, error=refused.message, **shown)
        except RateLimited as refused:
            headers = {"Retry-After": str(refused.retry_after)}
            return self.page(
                request, "thuis_activeren.html", 429, headers=headers, error=_slowed_down(refused), **shown
            )
        except (Unauthenticated, Conflict):
            return self.page(request, "thuis_activeren.html", 400, error=WRONG_CODE, **shown)
        return self.page(request, "thuis_activeren.html", activated=activated)

    async def reminder_page(self, request: Request) -> Response:
        """`GET /thuis/vergeten`: ask for the usernames and PIN links by mail."""
        return self.page(request, "thuis_vergeten.html")

    async def reminder(self, request: Request) -> Response:
        """`POST /thuis/vergeten`: mail the usernames and PIN links; the same answer whether or not the
        address is known."""
        found = await self._form(request, "thuis_vergeten.html")
        if not isinstance(found, Form):
            return found
        services = self.services(request)
        try:
            await home_logins.send_reminder(
                services.engine,
                services.settings,
                found.text("email")[:320],
                address=client_address(request, services.settings),
            )
        except RateLimited as refused:
            headers = {"Retry-After": str(refused.retry_after)}
            return self.page(
                request, "thuis_vergeten.html", 429, headers=headers, error=_slowed_down(refused)
            )
        return self.page(request, "thuis_vergeten.html", sent=True)

    async def pin_page(self, request: Request) -> Response:
        """`GET /thuis/pincode?token=…`: the form to choose a new PIN, from the link in mail."""
        services = self.services(request)
        token = request.query_params.get("token", "")
        username = await home_logins.pin_link_username(services.engine, services.settings, token)
        if username is None:
            return self.page(request, "thuis_pincode.html", 404, error=DEAD_LINK)
        return self.page(request, "thuis_pincode.html", username=username, token=token)

    async def set_pin(self, request: Request) -> Response:
        """`POST /thuis/pincode`: store the new PIN (the link works once)."""
        found = await self._form(request, "thuis_pincode.html")
        if not isinstance(found, Form):
            return found
        services = self.services(request)
        token = found.text("token")
        username = await home_logins.pin_link_username(services.engine, services.settings, token)
        if username is None:
            return self.page(request, "thuis_pincode.html", 404, error=DEAD_LINK)
        shown: dict[str, Any] = {"username": username, "token": token}
        if found.text("pincode") != found.text("pincode2"):
            return self.page(request, "thuis_pincode.html", 400, error=DIFFERENT_PINS, **shown)
        try:
            await home_logins.set_pin(services.engine, services.settings, token, found.text("pincode"))
        except RefusedInput as refused:
            return self.page(request, "thuis_pincode.html", 400, error=refused.message, **shown)
        except Unauthenticated:
            return self.page(request, "thuis_pincode.html", 404, error=DEAD_LINK)
        return self.page(request, "thuis_pincode.html", done=True, username=username)

    async def codes(self, request: Request) -> Response:
        """`GET /thuis/codes/{groupId}`: new activation codes for a group, printable, for its coordinator."""
        services = self.services(request)
        session = await session_viewer(services, request)
        if session is None:
            return login_redirect(request)
        title = "Activeringscodes"
        decoded = from_global_id(request.path_params["group_id"])
        if decoded is None or decoded[0] != "Group":
            return render(request, "message.html", 404, title=title, message="Deze groep bestaat niet.")
        try:
            async with open_request(services, session.viewer) as context:
                printed = await home_logins.print_codes(
                    context.engine, context.settings, context.viewer, context.scope, decoded[1]
                )
        except (Forbidden, Unauthenticated):
            refusal = "Alleen de coördinator van de school van deze groep drukt de activeringscodes af."
            return render(request, "message.html", 403, title=title, message=refusal)
        except Conflict:
            off = "Inloggen thuis staat uit voor deze school. Zet het eerst aan."
            return render(request, "message.html", 409, title=title, message=off)
        except PublicError:
            return render(request, "message.html", 400, title=title, message=BAD_FORM)
        base_url = services.settings.public_url.rstrip("/")
        return render(
            request, "thuis_codes.html", csrf_token=session.csrf_token, printed=printed, base_url=base_url
        )


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The home-login routes; `services` finds the process's services from a request."""
    pages = _HomePages(services)
    return [
        Route(HOME_PATH, pages.sign_in_page, methods=["GET"]),
        Route(HOME_PATH, pages.sign_in, methods=["POST"]),
        Route(f"{HOME_PATH}/activeren", pages.activation_page, methods=["GET"]),
        Route(f"{HOME_PATH}/activeren", pages.activate, methods=["POST"]),
        Route(f"{HOME_PATH}/vergeten", pages.reminder_page, methods=["GET"]),
        Route(f"{HOME_PATH}/vergeten", pages.reminder, methods=["POST"]),
        Route(f"{HOME_PATH}/pincode", pages.pin_page, methods=["GET"]),
        Route(f"{HOME_PATH}/pincode", pages.set_pin, methods=["POST"]),
        Route(f"{HOME_PATH}/codes/{{group_id}}", pages.codes, methods=["GET"]),
    ]
