"""The request pipeline: from a bearer token to a viewer, from a viewer to an open `Context`, and its close.

Every GraphQL request and every poll cycle of a subscription runs inside `open_request`: it computes the
viewer's scope on a fresh reader (a token whose partner or account no longer exists is refused there),
builds the loaders bound to that scope, and on the way out gives the reader's connection back and
records what the request disclosed to a partner. The HTTP view, the WebSocket subscriptions and the test
helpers all open their contexts here, so the audit cannot be forgotten by one of them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from auth.permissions import may_push_school_files, may_query_graph
from auth.tokens import InvalidToken, viewer_from_claims
from auth.viewer import Viewer, ViewerKind
from datasources.graph.disclosures import disclosures_write
from datasources.graph.loaders import Loaders
from datasources.store.reader import Reader
from errors import Forbidden, Unauthenticated
from resolvers.context import Context
from resolvers.signing import Keys
from resolvers.viewers import scope_of
from settings import Settings

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import AsyncIterator, Awaitable, Callable

    from auth.policy import Scope


@dataclass(frozen=True, slots=True)
class Services:
    """The process-wide resources a request runs on (the server's lifespan creates them once)."""

    settings: Settings
    engine: AsyncEngine
    keys: Keys


async def _verified_viewer(keys: Keys, authorization: str, *, missing: str) -> Viewer:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(missing)
    try:
        return viewer_from_claims(await keys.verify(token.strip()))
    except InvalidToken as error:
        raise Unauthenticated(f"the token was refused: {error.reason}") from None


async def bearer_viewer(keys: Keys, authorization: str) -> Viewer:
    """The viewer of an `Authorization: Bearer …` value; `Unauthenticated` for anything else."""
    return await _verified_viewer(keys, authorization, missing="a bearer token is required")


async def request_viewer(keys: Keys, authorization: str, *, anonymous_allowed: bool) -> Viewer:
    """The viewer of a GraphQL request over HTTP: anonymous when it sends no `Authorization` header and
    only does what needs no token (`anonymous_allowed`, signing in); otherwise its bearer token's, which
    `Forbidden` refuses for a LAS client (it pushes files, it does not query)."""
    if not authorization and anonymous_allowed:
        return Viewer(ViewerKind.ANONYMOUS, "-")
    viewer = await bearer_viewer(keys, authorization)
    if not may_query_graph(viewer):
        raise Forbidden("a LAS client's token is for POST /las/edex; the graph does not answer it")
    return viewer


async def las_viewer(keys: Keys, authorization: str) -> Viewer:
    """The LAS client a school-file push comes from: `Unauthenticated` without a valid token, `Forbidden`
    for a token of anyone else."""
    viewer = await _verified_viewer(keys, authorization, missing="a LAS client's bearer token is required")
    if not may_push_school_files(viewer):
        raise Forbidden("only a LAS client pushes to this endpoint")
    return viewer


async def connection_viewer(services: Services, authorization: str) -> tuple[Viewer, float | None]:
    """The viewer of a subscription connection and the seconds until its token expires (None: never).

    Refused (`Unauthenticated`) as a request would be: no valid token, or one whose partner or account
    no longer exists; and also a token that has already expired on the hub's clock.
    """
    viewer = await bearer_viewer(services.keys, authorization)
    async with open_request(services, viewer):
        pass  # computing the scope refuses a removed partner or account; nothing is read or disclosed
    if viewer.expires_at is None:
        return viewer, None
    # Measured on the hub's clock, as the token was checked (the sandbox may override it).
    expires_in = (viewer.expires_at - services.settings.now()).total_seconds()
    if expires_in <= 0:
        raise Unauthenticated("the token expired")
    return viewer, expires_in


@contextlib.asynccontextmanager
async def open_request(
    services: Services,
    viewer: Viewer,
    *,
    operation_name: str | None = None,
    now: dt.datetime | None = None,
    scope: Scope | None = None,
    before_scope: Callable[[Reader], Awaitable[None]] | None = None,
    client_address: str = "",
) -> AsyncIterator[Context]:
    """The context of one request of `viewer`, open for the body of the `async with`.

    Opening reads the viewer's scope on a fresh reader (`Unauthenticated` for a partner or account that
    no longer exists); closing, however the body ends, gives the reader's connection back and records
    once what the request disclosed to a partner, under `operation_name`. `now` is the hub's time by
    default; `scope` skips the policy (tests that try a scope of their own); `before_scope` reads on the
    request's reader before the scope is computed (a subscription's cycle reads the feed's counter first);
    `client_address` is the network address the request came from.
    """
    reader = Reader(services.engine)
    try:
        if before_scope is not None:
            await before_scope(reader)
        if scope is None:
            scope = await scope_of(reader, viewer, services.settings)
        now = now or services.settings.now()
        context = Context(
            settings=services.settings,
            viewer=viewer,
            scope=scope,
            reader=reader,
            loaders=Loaders.build(reader, scope, now.date()),
            now=now,
            engine=services.engine,
            keys=services.keys,
            client_address=client_address,
        )
    except BaseException:
        # Nothing was disclosed yet: give the connection (and its reader slot) back.
        await reader.close()
        raise
    try:
        yield context
    finally:
        await _close(context, operation_name)


async def _close(context: Context, operation_name: str | None) -> None:
    """Give the request's connection back, committing with it the audit of what it disclosed to a partner
    (one row a school)."""
    reader, scope = context.reader, context.scope
    audit = None
    if scope.partner_id is not None and reader.disclosed:
        audit = disclosures_write(
            partner_id=scope.partner_id,
            operation_name=operation_name,
            records_by_school=reader.disclosed,
            categories_by_school={school: scope.categories_for(school) for school in reader.disclosed},
            at=context.now,
        )
    await reader.close(audit)


__all__ = [
    "Services",
    "bearer_viewer",
    "connection_viewer",
    "las_viewer",
    "open_request",
    "request_viewer",
]
