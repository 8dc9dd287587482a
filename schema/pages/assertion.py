"""`POST /login/assertion`: a network provider's portal signs a person in with a signed assertion.

The provider's portal posts a form (field `assertion`, the JWT; optionally `next`, a path of this site)
through the user's browser, the way a SAML POST binding does. There is no CSRF token to check: the form
comes from another site by design, and what authenticates it is the provider's signature, its one-time
`jti` and its short lifetime (resolvers.network_assertions). A refusal is a Dutch page with the reason
(400 for a form or assertion that is not one, 401 for an assertion that does not verify, 403 for one
that verifies but may not sign this person in), and nothing is changed; success starts a web session and
redirects (303) to `next`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from errors import BadUserInput
from resolvers import network_assertions
from resolvers.network_assertions import SignInRefused
from resolvers.requests import Services
from resolvers.web_sessions import start_session
from schema.addresses import client_address
from schema.bodies import BodyTooLarge
from schema.pages.forms import read_form, safe_next
from schema.pages.templates import render

ASSERTION_PATH: Final = "/login/assertion"
TITLE: Final = "Aanmelden via je netwerkomgeving"

logger = logging.getLogger(__name__)

_NOT_A_FORM: Final = "Het aanmeldverzoek van je netwerkomgeving is niet goed verstuurd (of te groot)."
_NOT_VERIFIED: Final = "Het aanmeldbewijs van je netwerkomgeving kon niet worden gecontroleerd"

#: The status and the Dutch reason of every refusal (`SignInRefused.reason`).
REFUSALS: Final[dict[str, tuple[int, str]]] = {
    "malformed": (400, "Het aanmeldbewijs van je netwerkomgeving is geen geldig ondertekend bewijs."),
    "claims": (400, "Het aanmeldbewijs van je netwerkomgeving mist gegevens of is onjuist opgesteld."),
    "ambiguous": (
        400,
        "Het aanmeldbewijs past bij meer dan één persoon. Je netwerkomgeving moet de school meesturen.",
    ),
    "algorithm": (401, f"{_NOT_VERIFIED}: het is niet ondertekend met een toegestane methode."),
    "unknown_key": (401, f"{_NOT_VERIFIED}: het is ondertekend met een sleutel die we niet kennen."),
    "signature": (401, f"{_NOT_VERIFIED}: de handtekening klopt niet."),
    "issuer": (401, f"{_NOT_VERIFIED}: we kennen de afzender niet."),
    "audience": (401, f"{_NOT_VERIFIED}: het is niet voor Leerpoort bedoeld."),
    "expired": (401, "Het aanmeldbewijs van je netwerkomgeving is verlopen. Meld je daar opnieuw aan."),
    "not_yet_valid": (401, f"{_NOT_VERIFIED}: het is nog niet geldig (klopt de klok?)."),
    "lifetime": (401, f"{_NOT_VERIFIED}: het is te lang geldig (ten hoogste 5 minuten)."),
    "replayed": (401, "Dit aanmeldbewijs is al gebruikt. Meld je opnieuw aan via je netwerkomgeving."),
    "unknown_person": (401, "We kennen je niet in Leerpoort. Vraag de ICT-coördinator van je school."),
    "not_network_provider": (403, "Alleen een netwerkaanbieder mag mensen zo aanmelden."),
    "no_consent": (
        403,
        "Je school heeft deze netwerkaanbieder (nog) geen toestemming gegeven. Vraag de ICT-coördinator.",
    ),
    "other_school": (403, "Je hoort niet bij de school die je netwerkomgeving noemt."),
    "disabled": (403, "Je account is uitgeschakeld. Vraag de ICT-coördinator van je school."),
    "no_address": (
        403,
        "Van jou is geen schoolmailadres bekend in Leerpoort. Vraag de ICT-coördinator van je school.",
    ),
}


class _AssertionPage:
    """The handler of the assertion route; `services` finds the process's services from a request."""

    def __init__(self, services: Callable[[HTTPConnection], Services]) -> None:
        self.services = services

    async def post(self, request: Request) -> Response:
        """`POST /login/assertion`: verify the assertion, start the session, redirect to `next`."""
        services = self.services(request)
        try:
            form = await read_form(request)
        except (BadUserInput, BodyTooLarge):
            return render(request, "message.html", 400, title=TITLE, message=_NOT_A_FORM)
        assertion = form.get("assertion")
        if not assertion:
            return render(request, "message.html", 400, title=TITLE, message=REFUSALS["malformed"][1])
        try:
            signed_in = await network_assertions.sign_in(services, assertion)
        except SignInRefused as refused:
            status, message = REFUSALS.get(refused.reason, (400, REFUSALS["malformed"][1]))
            # The reason code only: never the assertion, nor whom it named.
            logger.info("assertion sign-in refused: %s", refused.reason)
            return render(request, "message.html", status, title=TITLE, message=message)
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        await start_session(
            services,
            response,
            signed_in.viewer,
            address=client_address(request, services.settings),
            school_code=signed_in.school_code,
            assertion_partner_id=signed_in.partner_id,
        )
        return response


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The assertion route; `services` finds the process's services from a request (the server's state)."""
    page = _AssertionPage(services)
    return [Route(ASSERTION_PATH, page.post, methods=["POST"])]


__all__ = ["ASSERTION_PATH", "REFUSALS", "routes"]
