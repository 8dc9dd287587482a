"""Leerpoort's server and command line.

`create_app(settings)` builds the Starlette application: GraphQL over HTTP at `/graphql` (and the GraphiQL
explorer in the sandbox), the JWKS, and the health check. `python server.py …` runs the commands of
API.md ("Command line"); without arguments it migrates, seeds an empty sandbox, and serves.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import dataclasses
import gc
import json
import sys
import urllib.parse
from typing import TYPE_CHECKING

import uvicorn
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from auth.keys import jwks
from auth.tokens import InvalidToken, viewer_from_claims
from auth.viewer import Viewer, ViewerKind
from datasources.database import create_engine, is_ready, migrate
from datasources.disclosures import record_disclosures
from datasources.loaders import Loaders
from datasources.reader import Reader
from errors import PublicError, Unauthenticated
from resolvers import admin, registry_commands
from resolvers.context import Context
from resolvers.keys import Keys
from resolvers.oauth import OAuthError, client_credentials
from resolvers.viewers import scope_of
from schema import http
from schema.assembly import LeerpoortSchema, build_schema
from schema.relay import to_global_id
from settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from starlette.requests import Request

    from schema.http import GraphQLRequest


#: The sandbox world seeded on first start: small enough to start in seconds.
SANDBOX_SCHOOLS = 12
SANDBOX_STUDENTS_PER_SCHOOL = 60
SANDBOX_SEED = 2026


@dataclasses.dataclass
class AppState:
    """Process-wide resources, created in the lifespan."""

    settings: Settings
    engine: AsyncEngine
    keys: Keys
    schema: LeerpoortSchema


def create_app(settings: Settings | None = None) -> Starlette:
    """The Leerpoort ASGI application for `settings` (read from the environment when omitted)."""
    settings = settings or Settings()
    schema = build_schema(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _tune_garbage_collector()
        engine = create_engine(settings.database_url)
        app.state.leerpoort = AppState(settings, engine, Keys(engine, settings), schema)
        try:
            yield
        finally:
            await engine.dispose()

    routes = [
        Route("/graphql", _graphql, methods=["POST"]),
        Route("/oauth/token", _token, methods=["POST"]),
        Route("/graphql", _explorer, methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        Route("/.well-known/jwks.json", _jwks, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _tune_garbage_collector() -> None:
    """A page of 1,000 students allocates hundreds of thousands of short-lived objects; with Python's
    default thresholds the cyclic collector then takes about 40% of a server's time (bench/README.md).
    Freezing what start-up built and collecting the youngest generation less often removes most of it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.leerpoort
    return state


def _unauthenticated(message: str, media_type: str) -> Response:
    return JSONResponse(
        http.error_body(message, Unauthenticated.code),
        status_code=401,
        media_type=media_type,
        headers={"WWW-Authenticate": 'Bearer realm="leerpoort", error="invalid_token"'},
    )


async def _viewer(request: Request, state: AppState, graphql_request: GraphQLRequest) -> Viewer:
    header = request.headers.get("authorization", "")
    if not header and http.allows_anonymous(graphql_request):
        return Viewer(ViewerKind.ANONYMOUS, "-")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required")
    try:
        return viewer_from_claims(await state.keys.verify(token.strip()))
    except InvalidToken as error:
        raise Unauthenticated(f"the token was refused: {error.reason}") from None


async def _graphql(request: Request) -> Response:
    state = _state(request)
    media_type = http.response_media_type(request.headers.get("accept"))
    try:
        graphql_request = http.parse_request(await request.body())
    except PublicError as error:
        if not request.headers.get("authorization"):
            return _unauthenticated("a bearer token is required", media_type)
        return JSONResponse(
            http.error_body(error.message, error.code), status_code=400, media_type=media_type
        )
    reader = Reader(state.engine)
    try:
        viewer = await _viewer(request, state, graphql_request)
        scope = await scope_of(reader, viewer, state.settings)
    except Unauthenticated as error:
        await reader.close()
        return _unauthenticated(error.message, media_type)
    now = state.settings.now()
    context = Context(
        settings=state.settings,
        viewer=viewer,
        scope=scope,
        reader=reader,
        loaders=Loaders.build(reader, scope, now.date()),
        now=now,
        engine=state.engine,
        keys=state.keys,
    )
    if (
        viewer.kind is ViewerKind.PARTNER
        and not state.settings.sandbox
        and http.refuses_schema_reading(graphql_request.query, state.settings.max_tokens)
    ):
        await reader.close()
        message = "introspection is off for partners in production; use the published SDL"
        return JSONResponse(http.error_body(message, "FORBIDDEN"), status_code=403, media_type=media_type)
    try:
        answer = await http.execute(state.schema, graphql_request, context, media_type)
    finally:
        await reader.close()
    if scope.partner_id is not None and reader.disclosed:
        await record_disclosures(
            state.engine,
            partner_id=scope.partner_id,
            operation_name=graphql_request.operation_name,
            records_by_school=reader.disclosed,
            categories_by_school={school: scope.categories_for(school) for school in reader.disclosed},
            at=now,
        )
    return JSONResponse(answer.body, status_code=answer.status, media_type=answer.media_type)


async def _token(request: Request) -> Response:
    """`POST /oauth/token`: the client-credentials grant (RFC 6749 §4.4, errors as §5.2)."""
    state = _state(request)
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    try:
        form = await request.form()
    except Exception:
        return _oauth_error(OAuthError("invalid_request", "send a form-encoded body"), headers)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        client_id, client_secret = _client_authentication(request.headers.get("authorization"), fields)
        if fields.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "this endpoint grants client_credentials only")
        granted = await client_credentials(
            state.engine,
            state.keys,
            client_id=client_id,
            client_secret=client_secret,
            requested_scope=fields.get("scope"),
        )
    except OAuthError as error:
        return _oauth_error(error, headers)
    return JSONResponse(dataclasses.asdict(granted), headers=headers)


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


def _oauth_error(error: OAuthError, headers: dict[str, str]) -> Response:
    extra = {"WWW-Authenticate": 'Basic realm="leerpoort"'} if error.status == 401 else {}
    return JSONResponse(
        {"error": error.error, "error_description": error.description},
        status_code=error.status,
        headers=headers | extra,
    )


async def _explorer(request: Request) -> Response:
    if not _state(request).settings.sandbox:
        return JSONResponse(
            http.error_body("the explorer is off in production", "NOT_FOUND"), status_code=404
        )
    return HTMLResponse(get_graphql_ide_html(graphql_ide="graphiql"))


async def _health(request: Request) -> Response:
    ready = await is_ready(_state(request).engine)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "database": "ready" if ready else "unavailable"},
        status_code=200 if ready else 503,
    )


async def _jwks(request: Request) -> Response:
    keyset = await _state(request).keys.current()
    return JSONResponse(jwks(keyset), headers={"Cache-Control": "public, max-age=300"})


# --- command line -------------------------------------------------------------------------------------


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    migrate(settings.database_url)
    if settings.sandbox and asyncio.run(admin.is_empty(settings)):
        print(f"Seeding a sandbox world of {SANDBOX_SCHOOLS} schools …", file=sys.stderr)
        asyncio.run(admin.seed(settings, SANDBOX_SCHOOLS, SANDBOX_STUDENTS_PER_SCHOOL, SANDBOX_SEED))
    if settings.sandbox:
        tokens = asyncio.run(admin.sandbox_tokens(settings))
        print(f"Leerpoort sandbox: explorer at http://{host}:{port}/graphql", file=sys.stderr)
        for name, lifetime in (("operator", "12 h"), ("publisher", "15 min"), ("coordinator", "8 h")):
            if name in tokens:
                print(f"{name.capitalize()} token ({lifetime}):\n{tokens[name]}", file=sys.stderr)
    if workers > 1:
        uvicorn.run(
            "server:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py", description="Leerpoort: data and access hub for primary schools"
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="migrate, seed an empty sandbox, and serve (the default)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="apply the database migrations")
    seed = commands.add_parser("seed", help="fill an empty database with a deterministic synthetic world")
    seed.add_argument("--schools", type=int, default=SANDBOX_SCHOOLS)
    seed.add_argument("--students-per-school", type=int, default=SANDBOX_STUDENTS_PER_SCHOOL)
    seed.add_argument("--seed", type=int, default=SANDBOX_SEED)
    token = commands.add_parser("token", help="mint a token")
    token.add_argument("kind", choices=["operator"])
    keys = commands.add_parser("keys", help="signing keys")
    keys.add_argument("action", choices=["rotate"])
    partner = commands.add_parser("partner", help="partners").add_subparsers(dest="action", required=True)
    create = partner.add_parser("create", help="register a partner; prints its credentials as JSON")
    create.add_argument("name")
    create.add_argument("--kind", required=True, choices=["publisher", "network-provider"])
    create.add_argument(
        "--categories", default="", help="declared categories, e.g. STUDENT_BASIC,student.name"
    )
    create.add_argument("--eck-chain", action="store_true", help="the partner is a member of the ECK chain")
    staff = commands.add_parser("staff", help="school staff accounts").add_subparsers(
        dest="action", required=True
    )
    coordinator = staff.add_parser("add-coordinator", help="bootstrap a school's ICT coordinator")
    coordinator.add_argument("--school", required=True)
    coordinator.add_argument("--email", required=True)
    coordinator.add_argument("--password-stdin", action="store_true", required=True)
    location = commands.add_parser("location", help="managed locations (not listed by DUO)").add_subparsers(
        dest="action", required=True
    )
    location_add = location.add_parser("add", help="add a managed location; prints it as JSON")
    location_add.add_argument("code", help="BRIN plus location code, e.g. 99ZX00")
    location_add.add_argument("--name", required=True)
    location_add.add_argument("--board", required=True, help="the board number (up to 5 digits)")
    registry = commands.add_parser("registry", help="the DUO registry").add_subparsers(
        dest="action", required=True
    )
    registry_load = registry.add_parser("load", help="load a DUO location file; prints what changed as JSON")
    registry_load.add_argument("file")
    link = registry.add_parser("link-brin", help="record DUO's new BRIN (or code) of existing locations")
    link.add_argument("old", help="the old BRIN (16AH) or school code (16AH00)")
    link.add_argument("new", help="the new BRIN or school code, of the same kind as the old")
    commands.add_parser("export-schema", help="print the subgraph SDL")
    return parser


def _partner_create(arguments: argparse.Namespace, settings: Settings) -> str:
    kind = arguments.kind.upper().replace("-", "_")
    categories = admin.parse_categories(arguments.categories)
    created = asyncio.run(
        admin.create_partner(settings, arguments.name, kind, categories, arguments.eck_chain)
    )
    return json.dumps(created | {"partner_id": to_global_id("Partner", str(created["partner_id"]))})


def _add_coordinator(arguments: argparse.Namespace, settings: Settings) -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    added = asyncio.run(admin.add_school_coordinator(settings, arguments.school, arguments.email, password))
    return json.dumps(added)


def _registry(arguments: argparse.Namespace, settings: Settings) -> str:
    if arguments.action == "load":
        return json.dumps(asyncio.run(registry_commands.load_registry_file(settings, arguments.file)))
    return json.dumps(asyncio.run(registry_commands.link_brin(settings, arguments.old, arguments.new)))


_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], str | None]] = {
    "migrate": lambda _arguments, _settings: None,
    "seed": lambda arguments, settings: json.dumps(
        asyncio.run(admin.seed(settings, arguments.schools, arguments.students_per_school, arguments.seed))
    ),
    "token": lambda _arguments, settings: asyncio.run(admin.operator_token(settings)),
    "keys": lambda _arguments, settings: asyncio.run(admin.rotate(settings)),
    "partner": _partner_create,
    "staff": _add_coordinator,
    "location": lambda arguments, settings: json.dumps(
        asyncio.run(registry_commands.add_location(settings, arguments.code, arguments.name, arguments.board))
    ),
    "registry": _registry,
}


def _run(command: str, arguments: argparse.Namespace, settings: Settings) -> str | None:
    """Carry out one command; returns what to print on stdout."""
    if command == "export-schema":
        return build_schema(settings).as_str()
    migrate(settings.database_url)
    return _COMMANDS[command](arguments, settings)


def _settings_problems(error: ValidationError) -> str:
    """One readable line: a setting's own error says what is wrong; a field error names the field."""
    problems = []
    for problem in error.errors():
        cause = (problem.get("ctx") or {}).get("error")
        message = str(cause) if cause is not None else problem["msg"]
        location = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 usage error or refused input)."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    command = arguments.command or "serve"
    try:
        settings = Settings()
        if command == "serve" or arguments.command is None:
            serve_args = (
                arguments if command == "serve" and arguments.command else parser.parse_args(["serve"])
            )
            _serve(settings, serve_args.host, serve_args.port, serve_args.workers)
            return 0
        output = _run(command, arguments, settings)
    except (admin.CommandError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        print(f"error: invalid settings: {_settings_problems(error)}", file=sys.stderr)
        return 2
    if output is not None:
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
