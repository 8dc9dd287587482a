"""The coordinator's dashboard at `/beheer`: a page shell for a signed-in staff member and the small
vanilla JavaScript module (and its stylesheet) that does the work through the public GraphQL API alone.

The shell carries the session's CSRF token in `<meta name="csrf-token">`, which the module sends as
`X-CSRF-Token` with every request to `/graphql` (the session contract). Nothing is built: the module and
stylesheet are committed files, served as they are. The page's Content-Security-Policy allows scripts
from this site only, so even a partner's text that slipped into the page as markup could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from auth.viewer import ViewerKind
from resolvers.requests import Services
from resolvers.web_sessions import session_viewer
from schema.pages.signin import login_redirect
from schema.pages.templates import render

DASHBOARD_PATH: Final = "/beheer"
_STATIC: Final = Path(__file__).resolve().parent / "static"
#: The dashboard's files, by the name they are served under (a fixed list: no path from the request
#: ever reaches the file system).
_ASSETS: Final = {
    "beheer.js": ("text/javascript; charset=utf-8", (_STATIC / "beheer.js").read_bytes()),
    "beheer.css": ("text/css; charset=utf-8", (_STATIC / "beheer.css").read_bytes()),
}
#: The page's policy: its own scripts, styles and requests only; no frames, plugins or foreign forms.
_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
)
NOT_STAFF: Final = (
    "Het beheer is voor de ICT-coördinator van een school en de coördinator van een bestuur."
    " Meld u aan met uw account als medewerker."
)


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The dashboard's routes; `services` finds the process's services from a request."""

    async def page(request: Request) -> Response:
        session = await session_viewer(services(request), request)
        if session is None:
            return login_redirect(request)
        if session.viewer.kind is not ViewerKind.STAFF:
            return render(request, "message.html", 403, title="Beheer", message=NOT_STAFF)
        return render(
            request,
            "beheer.html",
            csrf_token=session.csrf_token,
            headers={"Content-Security-Policy": _POLICY},
        )

    async def asset(request: Request) -> Response:
        found = _ASSETS.get(request.path_params["name"])
        if found is None:
            return Response("Niet gevonden", status_code=404, media_type="text/plain; charset=utf-8")
        media_type, content = found
        headers = {
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        }
        return Response(content, media_type=media_type, headers=headers)

    return [
        Route(DASHBOARD_PATH, page, methods=["GET"]),
        Route(f"{DASHBOARD_PATH}/static/{{name}}", asset, methods=["GET"]),
    ]
