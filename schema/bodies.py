"""Request bodies as the hub reads them: streamed under a hard cap, and JSON under a nesting limit.

A body is read chunk by chunk and refused as soon as it grows past its cap, whatever `Content-Length`
says (a chunked body has none, and a declared length can lie), so a hostile caller can make the hub
hold at most the cap in memory, never a body of its own choosing. JSON is refused when it nests deeper
than any request of the graph needs: Python's parser would otherwise recurse until it fails, and code
that walks the result (variable coercion) could do the same. Like `schema.http` it knows nothing of
Starlette: the server hands it the body's chunks.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from errors import BadUserInput, LimitExceeded

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterable, MutableMapping

#: What a caller without a token may send (`signIn`): anything larger is answered 401 after this much.
ANONYMOUS_BODY_BYTES: Final = 16_384
#: A token request (`POST /oauth/token`): a grant type, a client's id and secret, and a scope.
TOKEN_BODY_BYTES: Final = 8_192
#: Room for a multipart upload's own parts (`operations`, `map`, boundaries) besides the file itself.
MULTIPART_OVERHEAD_BYTES: Final = 100_000
#: The longest query string of `GET /graphql` with a token; without one, `ANONYMOUS_BODY_BYTES`. Well
#: below what proxies pass on (8-64 kB): a larger document goes in a POST, or as a persisted query's hash.
QUERY_STRING_BYTES: Final = 32_768
#: The media types of a `POST /graphql` body; anything else (or none) is 415.
GRAPHQL_BODY_TYPES: Final = frozenset({"application/json", "multipart/form-data"})
#: The deepest nesting of arrays and objects a JSON request may have; the graph's inputs need a few levels.
MAX_JSON_DEPTH: Final = 64


class BodyTooLarge(LimitExceeded):
    """A request body that grew past its cap (HTTP 413); reading stopped there."""

    def __init__(self, cap: int, what: str = "the request body") -> None:
        """Refuse a body (or the `what` inside it) larger than `cap` bytes."""
        super().__init__(f"{what} exceeds the cap of {cap:,} bytes")
        self.cap = cap


class QueryStringTooLong(LimitExceeded):
    """A `GET /graphql` query string past its cap (HTTP 414); it is refused unparsed."""

    def __init__(self, cap: int) -> None:
        """Refuse a query string longer than `cap` bytes."""
        super().__init__(f"the query string exceeds the cap of {cap:,} bytes: send the request with POST")
        self.cap = cap


class UnsupportedMediaType(BadUserInput):
    """A body of a media type the endpoint does not read, or without one (HTTP 415)."""


def body_media_type(content_type: str | None) -> str:
    """The media type of a `POST /graphql` body (`GRAPHQL_BODY_TYPES`), without its parameters;
    `UnsupportedMediaType` for any other, or none: guessing JSON would let a browser's cross-site
    `text/plain` form post run a mutation."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in GRAPHQL_BODY_TYPES:
        shown = f"{media_type[:60]} is not supported" if media_type else "the request has no Content-Type"
        raise UnsupportedMediaType(f"{shown}: send application/json (or a multipart upload)")
    return media_type


def query_string(raw: bytes | str, *, anonymous: bool) -> str:
    """A GET's query string, at most `ANONYMOUS_BODY_BYTES` without a token and `QUERY_STRING_BYTES`
    with one (`QueryStringTooLong` past it)."""
    cap = ANONYMOUS_BODY_BYTES if anonymous else QUERY_STRING_BYTES
    if len(raw) > cap:
        raise QueryStringTooLong(cap)
    return raw.decode("latin-1") if isinstance(raw, bytes) else raw


def declared_too_large(content_length: str | None, cap: int) -> bool:
    """Whether a `Content-Length` header already announces more than `cap` bytes (refused unread); a
    missing or malformed header says nothing, and the reading itself enforces the cap."""
    try:
        return content_length is not None and int(content_length) > cap
    except ValueError:
        return False


async def capped(chunks: AsyncIterable[bytes], cap: int) -> AsyncGenerator[bytes, None]:
    """The body's chunks, raising `BodyTooLarge` as soon as they add up to more than `cap` bytes (the
    chunk that crosses the cap is never handed on)."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > cap:
            raise BodyTooLarge(cap)
        yield chunk


async def read_capped(chunks: AsyncIterable[bytes], cap: int, *, content_length: str | None = None) -> bytes:
    """The whole body, at most `cap` bytes; `BodyTooLarge` when it declares or sends more."""
    if declared_too_large(content_length, cap):
        raise BodyTooLarge(cap)
    body = bytearray()
    async for chunk in capped(chunks, cap):
        body += chunk
    return bytes(body)


def load_json(text: str | bytes, *, what: str = "the request body") -> Any:
    """Parse JSON, refusing (BAD_USER_INPUT) what is not JSON or nests deeper than `MAX_JSON_DEPTH`."""
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadUserInput(f"{what} is not valid JSON") from None
    except RecursionError:
        raise _too_deep(what) from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise _too_deep(what)
    return data


def _too_deep(what: str) -> BadUserInput:
    return BadUserInput(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


__all__ = [
    "ANONYMOUS_BODY_BYTES",
    "GRAPHQL_BODY_TYPES",
    "MAX_JSON_DEPTH",
    "MULTIPART_OVERHEAD_BYTES",
    "QUERY_STRING_BYTES",
    "TOKEN_BODY_BYTES",
    "BodyTooLarge",
    "ClosingUnreadBodies",
    "QueryStringTooLong",
    "UnsupportedMediaType",
    "body_media_type",
    "capped",
    "declared_too_large",
    "load_json",
    "query_string",
    "read_capped",
]


class ClosingUnreadBodies:
    """ASGI middleware: a response sent before its request's body was read to the end carries
    `Connection: close`, so that the server closes the connection instead of draining the rest of the
    body (uvicorn would otherwise read on, discarding, until its keep-alive timeout: a refused caller
    could still make the hub take in hundreds of megabytes)."""

    def __init__(self, app: Any) -> None:
        """Wrap the ASGI application `app`."""
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        """Run `app`, watching whether the request's last body message was received."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        finished = not _has_body(scope)

        async def tracked_receive() -> MutableMapping[str, Any]:
            nonlocal finished
            message: MutableMapping[str, Any] = await receive()
            if not message.get("more_body", False):  # the last part of the body, or a disconnect
                finished = True
            return message

        async def closing_send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and not finished:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, tracked_receive, closing_send)


def _has_body(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request announces a body (chunked, or a non-zero `Content-Length`)."""
    headers = dict(scope.get("headers", ()))
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"
