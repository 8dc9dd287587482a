"""OneRoster 1.2 over HTTP, for partners: the REST rostering endpoints and the bulk-export download.

- `GET /ims/oneroster/rostering/v1p2/{collection}` (orgs, schools, classes, users, students, teachers,
  enrollments): `{"users": [...]}`, with `X-Total-Count` and a `Link` header (next, last) for paging;
- `GET /ims/oneroster/rostering/v1p2/{collection}/{sourcedId}`: `{"user": {...}}`, 404 when the partner's
  scope does not show it;
- `GET /ims/oneroster/v1p2/export/{schoolCode}.zip`: the school's CSV bulk export (`application/zip`).

Each takes the partner's OAuth bearer token (the client-credentials token of `/oauth/token`) and runs through
`resolvers.oneroster`, so the scope, the minimisation and the disclosure audit are the graph's own. Failures
answer the binding's status codes with its `imsx_StatusInfo` payload (`imsx_codeMajor` failure, severity
error, and a code minor): 400 `invalid_filter_field`, `invalid_selection_field` or `invaliddata`, 401
`unauthorisedrequest`, 403 `forbidden`, 404 `unknownobject`, 500 `internal_server_error`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from datasources.oneroster.queries import BadQuery
from errors import BadUserInput, Forbidden, Unauthenticated
from resolvers import oneroster
from resolvers.requests import bearer_viewer, open_request
from schema.http import PERSONAL

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import HTTPConnection, Request

    from resolvers.context import Context
    from resolvers.requests import Services

logger = logging.getLogger("leerpoort.oneroster")

ROSTERING = "/ims/oneroster/rostering/v1p2"
EXPORT = "/ims/oneroster/v1p2/export/{code}.zip"
#: The collections of the rostering service this hub serves.
COLLECTIONS = ("orgs", "schools", "classes", "users", "students", "teachers", "enrollments")


def status_info(
    status: int, code_minor: str, description: str, headers: dict[str, str] | None = None
) -> Response:
    """A failure as the binding reports it: an `imsx_StatusInfo` payload with one code minor."""
    body = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        },
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _unauthorised(authorization: str, message: str) -> Response:
    # RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
    challenge = 'Bearer realm="leerpoort"' + (', error="invalid_token"' if authorization else "")
    return status_info(401, "unauthorisedrequest", message, {"WWW-Authenticate": challenge})


async def _answer(
    request: Request, services: Services, operation: str, run: Callable[[Context], Awaitable[Response]]
) -> Response:
    authorization = request.headers.get("authorization", "")
    try:
        viewer = await bearer_viewer(services.keys, authorization)
        async with open_request(services, viewer, operation_name=operation) as context:
            return await run(context)
    except Unauthenticated as error:
        return _unauthorised(authorization, error.message)
    except BadQuery as error:
        return status_info(400, error.code_minor, error.message)
    except BadUserInput as error:
        return status_info(400, "invaliddata", error.message)
    except Forbidden as error:
        return status_info(403, "forbidden", error.message)
    except Exception as error:
        logger.warning("a OneRoster request failed: %s", type(error).__name__)
        return status_info(500, "internal_server_error", "Internal server error")


def _paging_headers(request: Request, listing: oneroster.Listing) -> dict[str, str]:
    query = listing.query
    links = []
    if query.offset + query.limit < listing.total:
        following = request.url.include_query_params(offset=query.offset + query.limit, limit=query.limit)
        links.append(f'<{following}>; rel="next"')
    last = max(0, (listing.total - 1) // query.limit * query.limit)
    links.append(f'<{request.url.include_query_params(offset=last, limit=query.limit)}>; rel="last"')
    return {"X-Total-Count": str(listing.total), "Link": ", ".join(links)}


def routes(services: Callable[[HTTPConnection], Services]) -> list[Route]:
    """The OneRoster routes; `services` finds the process's services from a request (the server's state)."""

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/") + ROSTERING

    def collection(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def run(context: Context) -> Response:
                listing = await oneroster.collection(context, name, request.query_params, base(request))
                body: dict[str, Any] = {listing.key: listing.objects}
                return JSONResponse(body, headers={**_paging_headers(request, listing), **PERSONAL})

            return await _answer(request, services(request), f"OneRoster {name}", run)

        return endpoint

    def single(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            async def run(context: Context) -> Response:
                sourced_id = request.path_params["sourced_id"]
                found = await oneroster.single(context, name, sourced_id, request.query_params, base(request))
                if found is None:
                    return status_info(404, "unknownobject", f"no {name} object with this sourcedId")
                key, shown = found
                return JSONResponse({key: shown}, headers=dict(PERSONAL))

            return await _answer(request, services(request), f"OneRoster {name} by sourcedId", run)

        return endpoint

    async def export(request: Request) -> Response:
        code = request.path_params["code"]

        async def run(context: Context) -> Response:
            found = await oneroster.bulk_export(context, code)
            if found is None:
                return status_info(404, "unknownobject", "no school with this code for this partner")
            disposition = f'attachment; filename="{code.upper()}-oneroster.zip"'
            return Response(
                found.content,
                media_type="application/zip",
                headers={"Content-Disposition": disposition, **PERSONAL},
            )

        return await _answer(request, services(request), oneroster.EXPORT_OPERATION, run)

    return [
        *(Route(f"{ROSTERING}/{name}", collection(name), methods=["GET"]) for name in COLLECTIONS),
        *(Route(f"{ROSTERING}/{name}/{{sourced_id}}", single(name), methods=["GET"]) for name in COLLECTIONS),
        Route(EXPORT, export, methods=["GET"]),
    ]
