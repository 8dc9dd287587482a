"""GraphQL over HTTP: answering a request (read by `schema.graphql_requests`) and shaping the response.

Strawberry's own views answer `application/json` with status 200 even when a client asks for
`application/graphql-response+json`, and log resolver tracebacks; this module does both as the
GraphQL-over-HTTP spec and our error catalogue say. `answer` runs one request through the pipeline of
`resolvers.requests` (token, viewer, context, audit). It knows nothing of Starlette: the server hands it
bytes and headers and sends back what it returns.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError

from auth.permissions import may_read_schema
from auth.viewer import Viewer, ViewerKind
from datasources.store.database import is_outage
from errors import (
    BadUserInput,
    Forbidden,
    OperationNotAllowed,
    PublicError,
    RateLimited,
    RefusedInput,
    Unauthenticated,
    Unavailable,
)
from resolvers.context import Context
from resolvers.requests import Services, open_request, request_viewer
from resolvers.web_sessions import cookie_session, require_csrf
from schema import compiled, persisted
from schema.assembly import LeerpoortSchema
from schema.bodies import BodyTooLarge, QueryStringTooLong, UnsupportedMediaType
from schema.graphql_requests import GraphQLRequest, allows_anonymous, operation_count, runs_a_query
from schema.limits import parse_document
from schema.published import CLIENT_SDL_PATH, FEDERATION_SDL_PATH

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
#: A WebSocket message larger than this is refused before parsing (HTTP bodies: `max_request_bytes`).
MAX_REQUEST_BYTES = 1_000_000
INTERNAL_MESSAGE = "Internal server error"


#: The cache headers of an answer to a viewer with a token: personal to that token. No cache may keep it
#: (a CDN that keeps a GET by its URL would hand one partner's answer to whoever sends that URL next), and
#: a cache that ignores `no-store` must still tell tokens (and sessions) apart.
PERSONAL: Final[Mapping[str, str]] = {"Cache-Control": "private, no-store", "Vary": "Authorization, Cookie"}


@dataclass(frozen=True, slots=True)
class HTTPAnswer:
    """What to send back: status, JSON body, media type and any headers of its own."""

    status: int
    body: dict[str, Any]
    media_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


def response_media_type(accept: str | None) -> str:
    """The media type to answer with: the GraphQL response type when the client accepts it."""
    if accept and GRAPHQL_RESPONSE in accept:
        return GRAPHQL_RESPONSE
    return JSON


def error_body(message: str, code: str) -> dict[str, Any]:
    """A GraphQL response body with one error and no data (for failures before execution)."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def unauthenticated(message: str, media_type: str, *, token_sent: bool) -> HTTPAnswer:
    """401 UNAUTHENTICATED, with the challenge RFC 6750 asks for: `error="invalid_token"` only when a
    token was sent (§3.1: a request without any authentication gets no error code)."""
    challenge = 'Bearer realm="leerpoort"' + (', error="invalid_token"' if token_sent else "")
    return HTTPAnswer(
        status=401,
        body=error_body(message, Unauthenticated.code),
        media_type=media_type,
        headers={"WWW-Authenticate": challenge},
    )


#: What a client reads while the database is out of reach (no driver message: it may quote parameters).
UNAVAILABLE_MESSAGE = "the hub's database is unavailable; try again later"


def unavailable(media_type: str) -> HTTPAnswer:
    """503 UNAVAILABLE with `Retry-After`: the database is out of reach, the hub recovers by itself."""
    return HTTPAnswer(
        status=503,
        body=error_body(UNAVAILABLE_MESSAGE, Unavailable.code),
        media_type=media_type,
        headers={"Retry-After": str(Unavailable.retry_after_seconds)},
    )


def unreadable(
    error: PublicError, *, authorization: str, media_type: str, authenticated: bool = False
) -> HTTPAnswer:
    """The answer to a request whose body (or query string) could not be read: 401 when it carries no
    token either (a caller without one learns nothing about request formats or caps), 413 for a body
    over its cap, 414 for a query string over its cap, 415 for a body that is not JSON (or a multipart
    upload), 400 otherwise. `authenticated`: the caller came with a session instead of a token."""
    if not authorization and not authenticated:
        return unauthenticated("a bearer token is required", media_type, token_sent=False)
    statuses: dict[type[PublicError], int] = {
        BodyTooLarge: 413,
        QueryStringTooLong: 414,
        UnsupportedMediaType: 415,
    }
    status = statuses.get(type(error), 400)
    return HTTPAnswer(status=status, body=error_body(error.message, error.code), media_type=media_type)


def refused(error: Unauthenticated | Forbidden, media_type: str, *, authorization: str) -> HTTPAnswer:
    """The answer to a caller refused by its token (`authorization`, empty when none was sent): 401
    (with the challenge) or 403."""
    if isinstance(error, Unauthenticated):
        return unauthenticated(error.message, media_type, token_sent=bool(authorization))
    status = 403
    return HTTPAnswer(status=status, body=error_body(error.message, error.code), media_type=media_type)


async def token_viewer(
    services: Services,
    authorization: str,
    *,
    session_cookie: str | None = None,
    csrf_header: str | None = None,
    address: str,
) -> Viewer | None:
    """The viewer of a request's bearer token, checked before its body is read, so that a refused caller
    costs the hub no large read: `Unauthenticated` or `Forbidden` as `request_viewer` refuses.

    Without an `Authorization` header, a page's session cookie (`session_cookie`) stands in for the
    token, but only with the session's CSRF token in the `X-CSRF-Token` header (`csrf_header`;
    `Forbidden` otherwise): a cookie is sent by the browser on any site's request, a header only by the
    hub's own pages. None for a request with neither (or with a session that expired or ended): the
    body then shows whether it only signs in. A session that came from another `address` than it started
    from, at a school that binds sessions, is refused (`AddressChanged`, an `Unauthenticated`: 401)."""
    if authorization:
        return await request_viewer(services.keys, authorization, anonymous_allowed=False)
    session = await cookie_session(services, session_cookie, address=address)
    if session is None:
        return None
    try:
        require_csrf(session, csrf_header)
    except Forbidden:
        raise Forbidden(
            "a request with a session cookie needs the session's CSRF token in the X-CSRF-Token header"
        ) from None
    return session.viewer


def wants_explorer(accept: str | None) -> bool:
    """Whether a GET of `/graphql` comes from a browser (HTML, and no GraphQL response type asked for):
    it gets the explorer; anything else is a GraphQL request."""
    accepted = (accept or "").lower()
    return "text/html" in accepted and GRAPHQL_RESPONSE not in accepted and JSON not in accepted


def query_only(media_type: str) -> HTTPAnswer:
    """405 for a mutation or subscription sent with GET, naming the method that runs it."""
    return HTTPAnswer(
        status=405,
        body=error_body("GET runs queries only: send mutations with POST", BadUserInput.code),
        media_type=media_type,
        headers={"Allow": "POST"},
    )


def refuses_schema_reading(query: str, max_tokens: int) -> bool:
    """Whether a document reads the whole schema (`__schema`, or `_service { sdl }`), which partners in
    production may not: they get the SDL from its published URL (`schema.published`). Looking up one type
    by name (`__type(name:)`) stays open: it tells nothing that the SDL, served to anyone, does not, and
    GraphQL-over-HTTP clients (graphql-http's audit among them) use it."""
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return False
    return _selects_field(document, SCHEMA_FIELDS)


def published_sdl_refusal(base_url: str) -> str:
    """Why a partner in production may not read the schema, and where the published SDL is instead."""
    base = base_url.rstrip("/")
    return (
        "introspection is off for partners in production; use the published SDL at "
        f"{base}{CLIENT_SDL_PATH} (for a router: {base}{FEDERATION_SDL_PATH})"
    )


#: Root fields that hand out the whole schema: introspection's `__schema` and federation's SDL.
SCHEMA_FIELDS = frozenset({"__schema", "_service"})


def _selects_field(document: DocumentNode, names: frozenset[str]) -> bool:
    """Whether any operation or fragment of `document` selects a field named in `names`, at any depth
    and inside inline fragments: a fragment spread on `Query` (or `... on Query`) reaches the root too,
    and an alias does not change the field's name."""
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            continue
        pending = [definition.selection_set]
        while pending:
            for selection in pending.pop().selections:
                if isinstance(selection, FieldNode) and selection.name.value in names:
                    return True
                if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                    pending.append(selection.selection_set)
    return False


def format_error(error: GraphQLError) -> dict[str, Any]:
    """An error as the client sees it: our own errors keep their message and code; errors of the query
    itself (syntax, validation) keep a code they carry (LIMIT_EXCEEDED) or are BAD_USER_INPUT, without
    graphql-core's "Did you mean …?" hints; everything else is masked as INTERNAL."""
    original = error.original_error
    # Suggestions name fields, arguments, types and enum values: the schema, piece by piece, to anyone
    # refused introspection (strawberry's config removes them from unknown fields only).
    formatted: dict[str, Any] = {"message": error.message.split(" Did you mean ", 1)[0]}
    if error.locations:
        formatted["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        formatted["path"] = list(error.path)
    if isinstance(original, PublicError):
        formatted["message"] = original.message
        code = original.code
    elif original is None or isinstance(original, GraphQLError):
        # The query or its variables are wrong (a variable that fails coercion carries its cause as a
        # GraphQLError): the client's mistake, with a message about the query only.
        code = (error.extensions or {}).get("code") or BadUserInput.code
    else:
        formatted["message"] = INTERNAL_MESSAGE
        code = "INTERNAL"
    formatted["extensions"] = {"code": code}
    if isinstance(original, RateLimited):
        formatted["extensions"]["retryAfter"] = original.retry_after
    if isinstance(original, RefusedInput):
        formatted["extensions"]["reason"] = original.reason
    return formatted


async def _compiled(
    schema: LeerpoortSchema, request: GraphQLRequest, context: Context, media_type: str
) -> tuple[HTTPAnswer | None, Context]:
    """The compiled path's answer, or None and the context the general path then runs on. An outage is
    answered 503 at once, as the general path answers it: reading again would meet the same outage."""
    try:
        body, context = await compiled.answer(schema, request, context)
    except Exception as error:
        if not is_outage(error):
            raise
        return unavailable(media_type), context
    return (None if body is None else HTTPAnswer(status=200, body=body, media_type=media_type)), context


async def execute(
    schema: LeerpoortSchema, request: GraphQLRequest, context: Context, media_type: str
) -> HTTPAnswer:
    """Run one request and shape the answer (status codes as GraphQL over HTTP prescribes)."""
    if request.operation_name is None and operation_count(request.query, context.settings.max_tokens) > 1:
        return HTTPAnswer(
            status=400,
            body=error_body(
                "the document has several operations: name the one to run in operationName", "BAD_USER_INPUT"
            ),
            media_type=media_type,
        )
    # A partner's full sync and other documents the compiled path understands skip the executor.
    compiled_answer, context = await _compiled(schema, request, context, media_type)
    if compiled_answer is not None:
        return compiled_answer
    try:
        result = await schema.execute(
            request.query,
            variable_values=request.variables,
            context_value=context,
            operation_name=request.operation_name,
        )
    except CannotGetOperationTypeError:
        # strawberry raises (instead of answering) for an operationName the document does not define.
        return HTTPAnswer(
            status=400,
            body=error_body("the document has no operation by that operationName", BadUserInput.code),
            media_type=media_type,
        )
    if any(is_outage(error.original_error) for error in result.errors or ()):
        # A partial answer would read as "these fields are null": say the whole request can be retried.
        return unavailable(media_type)
    errors = [format_error(error) for error in result.errors or ()]
    # Errors without a path happened before execution (syntax, validation, a refused operation):
    # there is no data entry at all, and the GraphQL response type answers 400.
    before_execution = bool(result.errors) and all(not error.path for error in result.errors or ())
    body: dict[str, Any] = {} if before_execution else {"data": result.data}
    if errors:
        body["errors"] = errors
    status = 400 if before_execution and media_type == GRAPHQL_RESPONSE else 200
    waits = [
        error.original_error.retry_after
        for error in result.errors or ()
        if isinstance(error.original_error, RateLimited)
    ]
    if waits:
        # A refused sign-in: 429 with Retry-After, as the token endpoint answers it.
        return HTTPAnswer(429, body, media_type, {"Retry-After": str(max(waits))})
    return HTTPAnswer(status=status, body=body, media_type=media_type)


async def answer(
    schema: LeerpoortSchema,
    services: Services,
    request: GraphQLRequest,
    *,
    authorization: str,
    media_type: str,
    client_address: str = "",
    viewer: Viewer | None = None,
    queries_only: bool = False,
) -> HTTPAnswer:
    """One GraphQL request from its `Authorization` header to its answer: the viewer (401 when refused,
    403 for a LAS client; `viewer` when the server already checked the token with `token_viewer`), the
    request's context (closed, and its disclosures recorded, when the answer is ready), its document
    (a persisted query's, looked up by its hash: `schema.persisted`), the operations a GET may run
    (`queries_only`: 405 for a mutation), the production rule on reading the schema (403 for partners),
    a partner's allow-list of operations (403), then execution. `client_address` is the network
    address it came from (the rate limits of `signIn` count per address)."""
    settings = services.settings
    try:
        if viewer is None:
            viewer = await request_viewer(
                services.keys, authorization, anonymous_allowed=allows_anonymous(request)
            )
    except (Unauthenticated, Forbidden) as error:
        return refused(error, media_type, authorization=authorization)
    # The document is read before the request's context opens: it takes a connection of its own, which
    # must never wait for the pool while the context holds one.
    document = await _document(services, request, media_type=media_type, queries_only=queries_only)
    if isinstance(document, HTTPAnswer):
        return document
    async with contextlib.AsyncExitStack() as stack:
        try:
            context = await stack.enter_async_context(
                open_request(
                    services, viewer, operation_name=request.operation_name, client_address=client_address
                )
            )
        except (Unauthenticated, Forbidden) as error:
            return refused(error, media_type, authorization=authorization)
        try:
            # A partner's allow-list comes with its facts (kept while unchanged: `kept_facts`).
            persisted.check_allowed(context.scope.allowed_operations, document.query)
        except OperationNotAllowed as error:
            return HTTPAnswer(status=403, body=error_body(error.message, error.code), media_type=media_type)
        if not may_read_schema(viewer, sandbox=settings.sandbox) and refuses_schema_reading(
            document.query, settings.max_tokens
        ):
            message = published_sdl_refusal(settings.issuer)
            return HTTPAnswer(status=403, body=error_body(message, "FORBIDDEN"), media_type=media_type)
        answered = await execute(schema, document, context, media_type)
    if viewer.kind is not ViewerKind.ANONYMOUS and "Cache-Control" not in answered.headers:
        answered = dataclasses.replace(answered, headers={**answered.headers, **PERSONAL})
    if "data" in answered.body:  # a valid request that ran: its document may be registered
        await persisted.register_if_new(
            services.engine,
            request,
            signed_in=viewer.kind is not ViewerKind.ANONYMOUS,
            max_tokens=settings.max_tokens,
            now=settings.now(),
        )
    return answered


async def _document(
    services: Services, request: GraphQLRequest, *, media_type: str, queries_only: bool
) -> GraphQLRequest | HTTPAnswer:
    """The request with the document to run (a persisted query's, by its hash), or the answer that
    refuses it: an unknown or malformed hash, or a mutation on GET (`queries_only`)."""
    try:
        document = await persisted.resolve(services.engine, request)
    except PublicError as error:
        return before_execution(error, media_type)
    if queries_only and not runs_a_query(document, services.settings.max_tokens):
        return query_only(media_type)
    return document


def before_execution(error: PublicError, media_type: str) -> HTTPAnswer:
    """A request refused before execution (a persisted query's hash unknown or malformed): 400 for the
    GraphQL response type, 200 for plain JSON, as for a document that does not parse; never cached, so
    that a CDN does not keep answering a miss after the document was registered."""
    return HTTPAnswer(
        status=400 if media_type == GRAPHQL_RESPONSE else 200,
        body=error_body(error.message, error.code),
        media_type=media_type,
        headers={"Cache-Control": "private, no-cache, must-revalidate"},
    )


#: `GraphQLRequest` lives in `schema.graphql_requests`; it stays importable from here.
__all__ = [
    "GRAPHQL_RESPONSE",
    "INTERNAL_MESSAGE",
    "JSON",
    "MAX_REQUEST_BYTES",
    "PERSONAL",
    "SCHEMA_FIELDS",
    "GraphQLRequest",
    "HTTPAnswer",
    "answer",
    "before_execution",
    "error_body",
    "execute",
    "format_error",
    "published_sdl_refusal",
    "query_only",
    "refused",
    "refuses_schema_reading",
    "response_media_type",
    "token_viewer",
    "unauthenticated",
    "unreadable",
    "wants_explorer",
]
