"""Leerpoort's server and command line.

`create_app(settings)` builds the Starlette application: GraphQL over HTTP at `/graphql` (and the GraphiQL
explorer in the sandbox), subscriptions over WebSocket at the same path, the JWKS, and the health check.
`python server.py …` runs the commands of API.md ("Command line"); without arguments it migrates, seeds an
empty sandbox, and serves.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import gc
import logging
import sys
import urllib.parse
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from strawberry.http.ides import get_graphql_ide_html

from auth.key_material import jwks
from datasources.access import expired
from datasources.feed import retention
from datasources.feed.signal import ChangeSignal
from datasources.school_files.edexml import read_edexml
from datasources.school_files.model import ImportFileError
from datasources.store.database import create_engine, is_outage, is_ready
from errors import BadUserInput, Conflict, Forbidden, PublicError, Unauthenticated, Unavailable
from resolvers import lifecycle, mail, web_sessions
from resolvers.helpdesk import explorer_announcements
from resolvers.imports import CouplingSuspended, import_school_file, refused_report, report_json
from resolvers.oauth import OAuthError, client_credentials
from resolvers.requests import Services, las_viewer
from resolvers.signing import Keys
from schema import bodies, graphql_requests, http, network_updates, oidc, oneroster
from schema import published as published_sdl
from schema.addresses import client_address
from schema.assembly import LeerpoortSchema, build_schema
from schema.helpdesk import explorer_with_announcements
from schema.pages import assertion as assertion_pages
from schema.pages import dashboard as dashboard_pages
from schema.pages import home as home_pages
from schema.pages import signin as signin_pages
from schema.pages import start as start_pages
from schema.pages import static as static_pages
from schema.websocket import Connection, OpenSubscriptions, authenticator
from settings import Settings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.requests import HTTPConnection, Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from starlette.websockets import WebSocket

    from schema.graphql_requests import GraphQLRequest


logger = logging.getLogger("leerpoort")


@dataclasses.dataclass
class AppState:
    """Process-wide resources, created in the lifespan."""

    #: What every request runs on: settings, engine and signing keys.
    services: Services
    schema: LeerpoortSchema
    #: Wakes this process's subscriptions when the change feed moves.
    signal: ChangeSignal
    #: The subscriptions open in this process, under the per-connection and per-partner limits.
    subscriptions: OpenSubscriptions


def create_app(settings: Settings | None = None) -> Starlette:
    """The Leerpoort ASGI application for `settings` (read from the environment when omitted)."""
    settings = settings or Settings()
    schema = build_schema(settings)
    published = {
        published_sdl.CLIENT_SDL_PATH: published_sdl.PublishedDocument.of(published_sdl.client_sdl(schema)),
        published_sdl.FEDERATION_SDL_PATH: published_sdl.PublishedDocument.of(
            published_sdl.federation_sdl(schema)
        ),
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _tune_garbage_collector()
        engine = create_engine(settings.database_url)
        signal = ChangeSignal(engine, settings)
        services = Services(settings, engine, Keys(engine, settings))
        app.state.leerpoort = AppState(services, schema, signal, OpenSubscriptions.of(settings))
        maintenance = asyncio.create_task(_prune_feed_periodically(engine, settings))
        # Queued mail (activation and reset links) goes out in the background, never inside a request.
        mail_sender = asyncio.create_task(mail.send_periodically(engine, settings))
        try:
            yield
        finally:
            maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maintenance
            mail_sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await mail_sender
            await signal.close()
            await engine.dispose()

    routes = [
        Route("/graphql", _graphql, methods=["POST"]),
        WebSocketRoute("/graphql", _subscriptions),
        Route("/oauth/token", _token, methods=["POST"]),
        Route("/las/edex", _las_edex, methods=["POST"]),
        Route("/graphql", _graphql_get, methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        Route("/.well-known/jwks.json", _jwks, methods=["GET"]),
        *(Route(path, _sdl_route(document), methods=["GET"]) for path, document in published.items()),
        *oneroster.routes(lambda connection: _state(connection).services),
        *network_updates.routes(lambda connection: _state(connection).services),
        *oidc.routes(lambda connection: _state(connection).services),
        *signin_pages.routes(lambda connection: _state(connection).services),
        *dashboard_pages.routes(lambda connection: _state(connection).services),
        *start_pages.routes(lambda connection: _state(connection).services),
        *assertion_pages.routes(lambda connection: _state(connection).services),
        *static_pages.routes(),
        *home_pages.routes(lambda connection: _state(connection).services),
    ]
    # Refusing a body before its end closes the connection rather than letting the server drain it; a
    # request that fails because the database is out of reach answers 503.
    middleware = [Middleware(bodies.ClosingUnreadBodies), Middleware(_DatabaseOutage)]
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


class _DatabaseOutage:
    """Answers 503 UNAVAILABLE (with `Retry-After`) for a request that failed because the database is out
    of reach, wherever that happened: loading the signing keys, opening the request, an import, the audit
    written at its close. One warning line instead of a traceback; the pool reconnects by itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as error:
            if started or not is_outage(error):
                raise
            # The type only: a driver's message may quote statement parameters.
            logger.warning(
                "database unavailable (%s %s): %s", scope["method"], scope["path"], type(error).__name__
            )
            media_type = http.response_media_type(Headers(scope=scope).get("accept"))
            await _response(http.unavailable(media_type))(scope, receive, send)


#: How often a process prunes change events past their retention (each process may; the work is idempotent).
PRUNE_EVERY_SECONDS = 3600.0


async def _prune_feed_periodically(engine: AsyncEngine, settings: Settings) -> None:
    """Drop change events older than the retention period, sign-in rows that open nothing any more
    (`datasources.access.expired`), and the personal data of locations closed longer than their retention
    ago: now, and then every hour."""
    while True:
        try:
            older_than = settings.now() - dt.timedelta(days=settings.feed_retention_days)
            await retention.prune(engine, older_than)
        except Exception as error:
            logger.warning("pruning the change feed failed: %s", type(error).__name__)
        try:
            # Codes, sessions, used assertions and links that open nothing any more (a margin kept).
            await expired.prune_expired(engine, settings.now())
        except Exception as error:
            logger.warning("pruning expired sign-in rows failed: %s", type(error).__name__)
        try:
            # Closed locations' personal data goes once their retention period has passed (recorded).
            for report in await lifecycle.purge_due(engine, settings, settings.now()):
                logger.info("deleted the personal data of closed location %s", report.target_code)
        except Exception as error:
            logger.warning("deleting closed locations' data failed: %s", type(error).__name__)
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


def _tune_garbage_collector() -> None:
    """A page of 1,000 students allocates hundreds of thousands of short-lived objects; with Python's
    default thresholds the cyclic collector then takes about 40% of a server's time (bench/README.md).
    Freezing what start-up built and collecting the youngest generation less often removes most of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _state(connection: HTTPConnection) -> AppState:
    state: AppState = connection.app.state.leerpoort
    return state


class _GraphQLAnswer(JSONResponse):
    """A GraphQL answer serialised by orjson: the bytes Starlette's `json.dumps` gives (compact, UTF-8,
    keys in order) for the JSON an answer holds, ~20x faster (a feed page of 1,000 events with their
    nodes: 2.4 ms -> 0.1 ms, ~10% of the page's CPU). GraphQL answers never hold a NaN (Float refuses it),
    which `json.dumps` would refuse and orjson would write as null."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _response(answer: http.HTTPAnswer) -> Response:
    return _GraphQLAnswer(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=dict(answer.headers)
    )


async def _graphql(request: Request) -> Response:
    """`POST /graphql`: a GraphQL request (JSON or multipart), answered by `schema.http`. The token is
    checked before the body is read, and the body is read under its cap (`schema.bodies`)."""
    state = _state(request)

    async def read(anonymous: bool) -> GraphQLRequest:
        _refuse_unknown_parameters(request, ())
        return await _graphql_request(request, state, anonymous=anonymous)

    return await _run_graphql(request, read, get=False)


async def _graphql_get(request: Request) -> Response:
    """`GET /graphql`: the explorer for a browser (sandbox only), otherwise a query (never a mutation:
    405) from the query string, read under its cap."""
    if http.wants_explorer(request.headers.get("accept")):
        return await _explorer(request)

    async def read(anonymous: bool) -> GraphQLRequest:
        raw = bodies.query_string(request.scope.get("query_string", b""), anonymous=anonymous)
        return graphql_requests.parse_query_parameters(urllib.parse.parse_qsl(raw, keep_blank_values=True))

    return await _run_graphql(request, read, get=True)


async def _run_graphql(
    request: Request, read: Callable[[bool], Awaitable[GraphQLRequest]], *, get: bool
) -> Response:
    """Token first, then the request (`read`, told whether the caller is anonymous), then the answer."""
    state = _state(request)
    media_type = http.response_media_type(request.headers.get("accept"))
    authorization = request.headers.get("authorization", "")
    try:
        viewer = await http.token_viewer(
            state.services,
            authorization,
            session_cookie=request.cookies.get(web_sessions.SESSION_COOKIE),
            csrf_header=request.headers.get(web_sessions.CSRF_HEADER),
            address=_client_address(request),
        )
    except (Unauthenticated, Forbidden) as refused:
        return _response(http.refused(refused, media_type, authorization=authorization))
    try:
        graphql_request = await read(viewer is None)
    except PublicError as error:
        return _response(
            http.unreadable(
                error, authorization=authorization, media_type=media_type, authenticated=viewer is not None
            )
        )
    answer = await http.answer(
        state.schema,
        state.services,
        graphql_request,
        authorization=authorization,
        media_type=media_type,
        client_address=_client_address(request),
        viewer=viewer,
        queries_only=get,
    )
    return _response(answer)


async def _subscriptions(websocket: WebSocket) -> None:
    """`WS /graphql`: subscriptions over `graphql-transport-ws`; the token comes in `connection_init`."""
    state = _state(websocket)
    authenticate = authenticator(state.services, state.signal)
    await Connection(websocket, state.schema, authenticate, state.subscriptions).serve(
        websocket.scope.get("subprotocols", [])
    )


async def _graphql_request(request: Request, state: AppState, *, anonymous: bool) -> GraphQLRequest:
    """The request's document and variables: JSON, or a GraphQL multipart request with uploads. A caller
    without a token (`anonymous`) may send a small JSON body only (signing in)."""
    content_type = bodies.body_media_type(request.headers.get("content-type"))
    settings = state.services.settings
    if content_type != "multipart/form-data":
        cap = bodies.ANONYMOUS_BODY_BYTES if anonymous else settings.max_request_bytes
        body = await bodies.read_capped(
            request.stream(), cap, content_length=request.headers.get("content-length")
        )
        return graphql_requests.parse_request(body)
    if not any(request.headers.get(name) for name in graphql_requests.PREFLIGHT_HEADERS):
        raise BadUserInput(
            "an upload needs an Apollo-Require-Preflight or X-Requested-With header (cross-site protection)"
        )
    if anonymous:
        raise Unauthenticated("a bearer token is required")
    fields, files = await _multipart_form(request, settings.max_import_bytes)
    if "operations" not in fields or "map" not in fields:
        raise BadUserInput("a multipart request needs `operations` and `map` fields")
    return graphql_requests.parse_multipart(fields["operations"], fields["map"], files)


async def _multipart_form(request: Request, cap: int) -> tuple[dict[str, str], dict[str, bytes]]:
    """The fields and files of a multipart body, read under the upload cap (`cap` for the file, a little
    more for the whole body); a malformed body is BAD_USER_INPUT, not Starlette's plain-text 400."""
    body_cap = cap + bodies.MULTIPART_OVERHEAD_BYTES
    if bodies.declared_too_large(request.headers.get("content-length"), body_cap):
        raise bodies.BodyTooLarge(body_cap)
    parser = MultiPartParser(
        request.headers,
        bodies.capped(request.stream(), body_cap),
        max_files=1,
        max_fields=10,
        max_part_size=1_000_000,
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise BadUserInput(f"the multipart request is malformed: {error.message}") from None
    files: dict[str, bytes] = {}
    fields: dict[str, str] = {}
    try:  # closing the form removes its spooled temporary files, also when a check below refuses it
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
                continue
            content = await value.read(cap + 1)
            if len(content) > cap:
                raise bodies.BodyTooLarge(cap, what="the upload")
            files[name] = content
    finally:
        await form.close()
    return fields, files


async def _token(request: Request) -> Response:
    """`POST /oauth/token`: the client-credentials grant (RFC 6749 §4.4) and the authorization code grant
    of single sign-on (RFC 6749 §4.1.3, `schema.oidc`), errors as §5.2."""
    state = _state(request)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        fields = await _token_form(request)
        client_id, client_secret = _client_authentication(request.headers.get("authorization"), fields)
        if fields.get("grant_type") == "authorization_code":
            return await oidc.token_grant(
                state.services,
                client_id=client_id,
                client_secret=client_secret,
                fields=fields,
                address=_client_address(request),
            )
        if fields.get("grant_type") != "client_credentials":
            raise OAuthError(
                "unsupported_grant_type", "this endpoint grants client_credentials and authorization_code"
            )
        granted = await client_credentials(
            state.services.engine,
            state.services.keys,
            state.services.settings,
            client_id=client_id,
            client_secret=client_secret,
            requested_scope=fields.get("scope"),
            address=_client_address(request),
        )
    except OAuthError as error:
        return _oauth_error(error, headers)
    return JSONResponse(dataclasses.asdict(granted), headers=headers)


#: More form fields than any token request has (unrecognised ones are ignored, as RFC 6749 §3.1 asks).
MAX_TOKEN_FIELDS = 20


async def _token_form(request: Request) -> dict[str, str]:
    """A token request's parameters: a small `application/x-www-form-urlencoded` body (read under
    `TOKEN_BODY_BYTES`), each parameter at most once and none in the URL (RFC 6749 §3.2); anything else
    is `invalid_request`."""
    try:
        _refuse_unknown_parameters(request, ())
    except BadUserInput as refused:
        raise OAuthError("invalid_request", refused.message) from None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request", "send the parameters form-encoded (application/x-www-form-urlencoded)"
        )
    try:
        body = await bodies.read_capped(
            request.stream(), bodies.TOKEN_BODY_BYTES, content_length=request.headers.get("content-length")
        )
        pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=MAX_TOKEN_FIELDS)
    except bodies.BodyTooLarge as too_large:
        raise OAuthError("invalid_request", too_large.message) from None
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "send a well-formed form-encoded body") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise OAuthError("invalid_request", f"the parameter {name[:40]} is given more than once")
        fields[name] = value
    return fields


def _client_authentication(authorization: str | None, fields: dict[str, str]) -> tuple[str, str]:
    """The client's id and secret from HTTP Basic (client_secret_basic) or the form (client_secret_post);
    using both at once is refused, as RFC 6749 §2.3 asks."""
    scheme, _, encoded = (authorization or "").partition(" ")
    in_form = "client_id" in fields or "client_secret" in fields
    if scheme.lower() == "basic":
        if in_form:
            raise OAuthError("invalid_request", "authenticate the client one way only", status=400)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", status=401) from None
        client_id, separator, client_secret = decoded.partition(":")
        if not separator:
            raise OAuthError("invalid_client", "malformed Basic credentials", status=401)
        return urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(client_secret)
    if in_form:
        return fields.get("client_id", ""), fields.get("client_secret", "")
    raise OAuthError("invalid_client", "client authentication is required", status=401)


def _client_address(request: Request) -> str:
    """The caller's network address (through the proxies `LEERPOORT_TRUSTED_PROXIES` names)."""
    return client_address(request, _state(request).services.settings)


def _oauth_error(error: OAuthError, headers: dict[str, str]) -> Response:
    extra = {"WWW-Authenticate": 'Basic realm="leerpoort"'} if error.status == 401 else {}
    if error.retry_after is not None:
        extra["Retry-After"] = str(error.retry_after)
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers=headers | extra,
    )


async def _las_edex(request: Request) -> Response:
    """`POST /las/edex`: a LAS pushes a school's EDEXML file; answers the import report (200 applied, 202
    held, 400 refused, 403 not its school, 409 another import running, 423 coupling suspended)."""
    state = _state(request)
    try:
        viewer = await las_viewer(state.services.keys, request.headers.get("authorization", ""))
    except Unauthenticated as refused:
        return _response(
            http.unauthenticated(
                refused.message, http.JSON, token_sent=bool(request.headers.get("authorization"))
            )
        )
    except Forbidden as refused:
        return JSONResponse(http.error_body(refused.message, refused.code), status_code=403)
    try:
        dry_run, confirm = _import_flags(request)
    except BadUserInput as refused:
        return JSONResponse(http.error_body(refused.message, refused.code), status_code=400)
    cap = state.services.settings.max_import_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            too_large = ImportFileError(f"the file exceeds the size cap of {cap:,} bytes")
            return JSONResponse(report_json(refused_report(too_large, dry_run=dry_run)), status_code=400)
    statuses: dict[type[PublicError], int] = {CouplingSuspended: 423, Conflict: 409}
    try:
        report = await import_school_file(
            state.services.engine,
            state.services.settings,
            lambda: read_edexml(bytes(body), max_bytes=cap),
            viewer=viewer,
            scope=None,
            dry_run=dry_run,
            confirm=confirm,
        )
    except PublicError as error:
        status = statuses.get(type(error), 403)
        return JSONResponse(http.error_body(error.message, error.code), status_code=status)
    return JSONResponse(
        report_json(report), status_code=400 if report.errors else 202 if report.held else 200
    )


#: The query parameters of `POST /las/edex`, each a boolean flag.
IMPORT_FLAGS = ("dryRun", "confirm")


def _import_flags(request: Request) -> tuple[bool, bool]:
    """`dryRun` and `confirm` of a LAS push. An unknown or misspelt parameter (`dry_run`), a value other
    than true or false, or a flag given twice is refused (BAD_USER_INPUT): guessing would apply an
    import that its sender meant as a dry run."""
    _refuse_unknown_parameters(request, IMPORT_FLAGS)
    flags: dict[str, bool] = {}
    for name, value in request.query_params.multi_items():
        if name in flags:
            raise BadUserInput(f"the query parameter {name} is given more than once")
        if value.lower() not in {"true", "false"}:
            raise BadUserInput(f"the query parameter {name} is true or false, not {value[:20]!r}")
        flags[name] = value.lower() == "true"
    return flags.get("dryRun", False), flags.get("confirm", False)


def _refuse_unknown_parameters(request: Request, known: tuple[str, ...]) -> None:
    """Refuse (BAD_USER_INPUT) a query parameter that the endpoint does not read: a misspelt option
    must not be silently ignored."""
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        accepted = ", ".join(known) if known else "none"
        raise BadUserInput(
            f"unknown query parameter {', '.join(name[:40] for name in unknown[:5])} (accepted: {accepted})"
        )


async def _explorer(request: Request) -> Response:
    if not _state(request).services.settings.sandbox:
        return JSONResponse(
            http.error_body("the explorer is off in production", "NOT_FOUND"), status_code=404
        )
    services = _state(request).services
    shown = await explorer_announcements(services.engine, services.settings.now())
    return HTMLResponse(explorer_with_announcements(get_graphql_ide_html(graphql_ide="graphiql"), shown))


def _sdl_route(document: published_sdl.PublishedDocument) -> Callable[[Request], Awaitable[Response]]:
    """`GET /schema.graphql` and `GET /schema.federation.graphql`: the published SDL, without a token
    (partners in production may not introspect), cacheable and revalidated by its ETag."""
    headers = {"ETag": document.etag, "Cache-Control": "public, max-age=300"}

    async def sdl(request: Request) -> Response:
        if document.etag in {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}:
            return Response(status_code=304, headers=headers)
        return PlainTextResponse(document.text + "\n", headers=headers)

    return sdl


async def _health(request: Request) -> Response:
    ready = await is_ready(_state(request).services.engine)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "database": "ready" if ready else "unavailable"},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": str(Unavailable.retry_after_seconds)},
    )


async def _jwks(request: Request) -> Response:
    keyset = await _state(request).services.keys.current()
    return JSONResponse(jwks(keyset), headers={"Cache-Control": "public, max-age=300"})


if __name__ == "__main__":
    from cli import main

    sys.exit(main())
