"""`POST /school-network/update`: a school's scheduled command reports the address its network has now.

The school's network token (created by its coordinator, `createNetworkToken`) is the only credential: it
names the school, so the command says nothing else, and the address recorded is the one the request came
from (through trusted proxies), never one the caller names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from starlette.responses import JSONResponse
from starlette.routing import Route

from errors import BadUserInput, Unauthenticated
from resolvers import school_networks
from schema.addresses import client_address

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import HTTPConnection, Request
    from starlette.responses import Response

    from resolvers.requests import Services

UPDATE_PATH: Final = "/school-network/update"


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The network-update route; `services` finds the process's services from a request."""

    async def update(request: Request) -> Response:
        found = services(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("send the school's network token as `Authorization: Bearer …`")
            address = client_address(request, found.settings)
            cidr = await school_networks.update_dynamic_address(
                found.engine, found.settings, token.strip(), address
            )
        except Unauthenticated as refused:
            return JSONResponse(
                {"error": {"code": refused.code, "message": refused.message}},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="leerpoort"'},
            )
        except BadUserInput as refused:
            return JSONResponse(
                {"error": {"code": refused.code, "message": refused.message}}, status_code=400
            )
        return JSONResponse({"cidr": cidr})

    return [Route(UPDATE_PATH, update, methods=["POST"])]
