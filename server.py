"""Leerpoort's server and command line.

`create_app(settings)` builds the Starlette application: GraphQL over HTTP at `/graphql` (and the GraphiQL
explorer in the sandbox), the JWKS, and the health check. `python server.py …` runs the commands of
API.md ("Command line"); without arguments it migrates, seeds an empty sandbox, and serves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from auth.keys import KeySet, jwks
from auth.policy import scope_for
from auth.tokens import (
    OPERATOR_TOKEN_LIFETIME,
    InvalidToken,
    UnknownSigningKey,
    mint_token,
    verify_token,
    viewer_from_claims,
)
from datasources.database import create_engine, is_ready, migrate
from datasources.keys import load_keyset, rotate_keys
from datasources.loaders import Loaders
from datasources.reader import Reader
from datasources.registry import RegistryFormatError, read_registry
from datasources.seed import SeedError, seed_world
from datasources.tables import SCHOOLS
from errors import PublicError, Unauthenticated
from resolvers.context import Context
from schema import http
from schema.assembly import LeerpoortSchema, build_schema
from settings import Settings, SettingsError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from starlette.requests import Request

    from auth.viewer import Viewer

logger = logging.getLogger("leerpoort")

DEFAULT_REGISTRY = (
    Path(__file__).resolve().parent
    / "reference"
    / "duo"
    / "vestigingen-bo-2013-drenthe-flevoland-groningen.csv"
)
#: The sandbox world seeded on first start: small enough to start in seconds.
SANDBOX_SCHOOLS = 12
SANDBOX_STUDENTS_PER_SCHOOL = 60
SANDBOX_SEED = 2026
#: How long a process trusts its copy of the signing keys before reading them again (a rotation by
#: another process becomes visible within this time; an unknown kid triggers a reload at once).
KEYS_MAX_AGE_SECONDS = 60.0
OPERATOR_SUBJECT = "operator:helpdesk"


class Keys:
    """The process's copy of the signing keys, reloaded from the database when stale or on an unknown kid."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._keyset: KeySet | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def current(self, *, refresh: bool = False) -> KeySet:
        """The keys, read again when older than `KEYS_MAX_AGE_SECONDS` or when `refresh` asks."""
        async with self._lock:
            stale = time.monotonic() - self._loaded_at > KEYS_MAX_AGE_SECONDS
            if self._keyset is None or stale or refresh:
                self._keyset = await load_keyset(self._engine, now=self._settings.now())
                self._loaded_at = time.monotonic()
            return self._keyset

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a hub token, verified with the current keys (reloaded once for an unknown kid)."""
        options = {"issuer": self._settings.issuer, "now": self._settings.now()}
        try:
            return verify_token(token, await self.current(), **options)  # type: ignore[arg-type]
        except UnknownSigningKey:
            return verify_token(token, await self.current(refresh=True), **options)  # type: ignore[arg-type]


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
        engine = create_engine(settings.database_url)
        app.state.leerpoort = AppState(settings, engine, Keys(engine, settings), schema)
        try:
            yield
        finally:
            await engine.dispose()

    routes = [
        Route("/graphql", _graphql, methods=["POST"]),
        Route("/graphql", _explorer, methods=["GET"]),
        Route("/health", _health, methods=["GET"]),
        Route("/.well-known/jwks.json", _jwks, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


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


async def _viewer(request: Request, state: AppState) -> Viewer:
    header = request.headers.get("authorization", "")
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
        viewer = await _viewer(request, state)
    except Unauthenticated as error:
        return _unauthenticated(error.message, media_type)
    try:
        graphql_request = http.parse_request(await request.body())
    except PublicError as error:
        return JSONResponse(
            http.error_body(error.message, error.code), status_code=400, media_type=media_type
        )
    reader = Reader(state.engine)
    scope = scope_for(viewer)
    now = state.settings.now()
    context = Context(
        settings=state.settings,
        viewer=viewer,
        scope=scope,
        reader=reader,
        loaders=Loaders.build(reader, scope, now.date()),
        now=now,
    )
    try:
        answer = await http.execute(state.schema, graphql_request, context, media_type)
    finally:
        await reader.close()
    return JSONResponse(answer.body, status_code=answer.status, media_type=answer.media_type)


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


class UsageError(Exception):
    """A command was given bad input: one line on stderr, exit code 2, nothing changed."""


async def _operator_token(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        keyset = await load_keyset(engine, now=settings.now())
    finally:
        await engine.dispose()
    return mint_token(
        keyset,
        issuer=settings.issuer,
        subject=OPERATOR_SUBJECT,
        scopes=["operator"],
        lifetime=OPERATOR_TOKEN_LIFETIME,
        now=settings.now(),
    )


def _registry_path(settings: Settings) -> Path:
    return settings.registry_file or DEFAULT_REGISTRY


async def _seed(settings: Settings, schools: int, students_per_school: int, seed: int) -> dict[str, int]:
    try:
        registry = read_registry(_registry_path(settings))
    except (OSError, RegistryFormatError) as error:
        raise UsageError(f"cannot read the DUO registry file: {error}") from None
    engine = create_engine(settings.database_url)
    try:
        summary = await seed_world(
            engine,
            registry=registry,
            schools=schools,
            students_per_school=students_per_school,
            seed=seed,
            today=settings.now().date(),
        )
    except SeedError as error:
        raise UsageError(str(error)) from None
    finally:
        await engine.dispose()
    return dataclasses.asdict(summary)


async def _is_empty(settings: Settings) -> bool:
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            count = (await connection.execute(select(func.count()).select_from(SCHOOLS))).scalar_one()
    finally:
        await engine.dispose()
    return int(count) == 0


async def _rotate(settings: Settings) -> str:
    engine = create_engine(settings.database_url)
    try:
        keyset = await rotate_keys(engine, now=settings.now())
    finally:
        await engine.dispose()
    return keyset.active.kid


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    migrate(settings.database_url)
    if settings.sandbox and asyncio.run(_is_empty(settings)):
        print(f"Seeding a sandbox world of {SANDBOX_SCHOOLS} schools …", file=sys.stderr)
        asyncio.run(_seed(settings, SANDBOX_SCHOOLS, SANDBOX_STUDENTS_PER_SCHOOL, SANDBOX_SEED))
    if settings.sandbox:
        token = asyncio.run(_operator_token(settings))
        print(f"Leerpoort sandbox: explorer at http://{host}:{port}/graphql", file=sys.stderr)
        print(f"Operator token (12 h):\n{token}", file=sys.stderr)
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
    commands.add_parser("export-schema", help="print the subgraph SDL")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (0 ok, 2 usage error or refused input)."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    command = arguments.command or "serve"
    try:
        settings = Settings()
        if command == "export-schema":
            sys.stdout.write(build_schema(settings).as_str() + "\n")
        elif command == "migrate":
            migrate(settings.database_url)
        elif command == "seed":
            migrate(settings.database_url)
            summary = asyncio.run(
                _seed(settings, arguments.schools, arguments.students_per_school, arguments.seed)
            )
            print(json.dumps(summary))
        elif command == "token":
            if not settings.sandbox:
                raise UsageError("operator tokens are minted on the command line in the sandbox only")
            migrate(settings.database_url)
            print(asyncio.run(_operator_token(settings)))
        elif command == "keys":
            migrate(settings.database_url)
            print(asyncio.run(_rotate(settings)))
        else:
            serve_args = arguments if command == "serve" else parser.parse_args(["serve"])
            _serve(settings, serve_args.host, serve_args.port, serve_args.workers)
    except (UsageError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        print(f"error: invalid settings: {problems}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
