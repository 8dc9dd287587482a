"""GraphQL over WebSocket: the `graphql-transport-ws` protocol, for subscriptions.

The protocol (github.com/enisdenjo/graphql-ws, PROTOCOL.md) with the hub's own rules on top:

- the token travels in `connection_init`'s payload as `{"Authorization": "Bearer …"}`; none, or one that
  is refused, closes the socket with 4401 (Unauthorized) instead of acknowledging it; a token that
  expires while the connection is open closes it with 4401 at its `exp`;
- only subscriptions run here (queries and mutations go over HTTP, where the disclosure audit and the
  introspection rules live), with the same schema extensions, and so the same depth, alias and token
  limits, as a query; the cost limit counts a subscription's selection once for every event of a poll
  cycle (`schema.costs`);
- a connection holds at most `LEERPOORT_MAX_SUBSCRIPTIONS_PER_CONNECTION` (5) subscriptions at a time, and
  a partner (or a staff account, or the operator) at most `LEERPOORT_MAX_SUBSCRIPTIONS_PER_PARTNER` (20)
  across all its connections to this process (`OpenSubscriptions`); one more is refused with
  LIMIT_EXCEEDED as the operation's `error`, and the others run on;
- errors look as they do over HTTP: our own codes, anything unexpected masked as INTERNAL.

Strawberry's own handler closes a refused `connection_init` with 4403 and formats errors itself, and it
shares one context between all the operations of a connection, whereas each subscription here has its
own (its poll cycles); hence this small handler. Like `schema.http` it knows nothing of Starlette: it
reads and writes ASGI WebSocket messages through a `Socket`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from datasources.feed.signal import ChangeSignal
from errors import BadUserInput, LimitExceeded, OperationNotAllowed, PublicError, Unauthenticated
from resolvers.requests import Services, connection_viewer
from resolvers.viewers import allowed_operations
from schema import persisted
from schema.assembly import LeerpoortSchema
from schema.bodies import load_json
from schema.http import MAX_REQUEST_BYTES, format_error
from schema.subscriptions import SubscriptionContext

if TYPE_CHECKING:
    from settings import Settings

logger = logging.getLogger("leerpoort.subscriptions")

PROTOCOL: Final = "graphql-transport-ws"
#: How long a client has to send `connection_init` after the socket opens (then 4408).
CONNECTION_INIT_TIMEOUT_SECONDS: Final = 10.0

# Close codes of the protocol.
BAD_REQUEST: Final = 4400
UNAUTHORIZED: Final = 4401
SUBPROTOCOL_NOT_ACCEPTABLE: Final = 4406
INIT_TIMEOUT: Final = 4408
SUBSCRIBER_EXISTS: Final = 4409
TOO_MANY_INITIALISATIONS: Final = 4429
#: A WebSocket close reason is at most 123 bytes.
_REASON_BYTES: Final = 123


class Socket(Protocol):
    """The server side of one WebSocket (Starlette's `WebSocket` is one)."""

    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the handshake, choosing `subprotocol`."""

    async def receive(self) -> MutableMapping[str, Any]:
        """The next ASGI message: `websocket.receive` (with `text` or `bytes`) or `websocket.disconnect`."""

    async def send_text(self, data: str) -> None:
        """Send a text frame."""

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection with `code`."""


@dataclass(frozen=True, slots=True)
class Session:
    """An authenticated connection: seconds until its token expires, a context per subscription, whose
    subscriptions they are (the token's subject, as `OpenSubscriptions` counts them), and the partner's
    allow-list of operations (None: it may run any)."""

    expires_in: float | None
    context: Callable[[], object]
    holder: str = ""
    allowed_operations: frozenset[str] | None = None


class OpenSubscriptions:
    """The subscriptions running in this process, counted per holder (a token's subject: a partner, a
    staff account, the operator), with the limits per connection and per holder.

    Each subscription's poll cycle is a request of its own that may cost up to the cost limit, so what a
    partner can make this process do at once is bounded by these counts. One per process (the server's
    lifespan state); a partner connected to several workers may hold this many in each.
    """

    def __init__(self, *, per_connection: int, per_holder: int) -> None:
        """Allow `per_connection` subscriptions on one connection and `per_holder` for one subject."""
        self.per_connection = per_connection
        self.per_holder = per_holder
        self._open: dict[str, int] = {}

    @classmethod
    def of(cls, settings: Settings) -> OpenSubscriptions:
        """The counts of a process under the limits of its settings."""
        return cls(
            per_connection=settings.max_subscriptions_per_connection,
            per_holder=settings.max_subscriptions_per_partner,
        )

    def claim(self, holder: str) -> bool:
        """Count one more subscription of `holder`; False (nothing counted) when it has its maximum."""
        held = self._open.get(holder, 0)
        if held >= self.per_holder:
            return False
        self._open[holder] = held + 1
        return True

    def release(self, holder: str) -> None:
        """A subscription of `holder` ended."""
        held = self._open.get(holder, 0) - 1
        if held > 0:
            self._open[holder] = held
        else:
            self._open.pop(holder, None)

    def held(self, holder: str) -> int:
        """How many subscriptions `holder` has open in this process."""
        return self._open.get(holder, 0)


#: Checks `connection_init`'s payload; raises `Unauthenticated` to refuse it.
Authenticate = Callable[[Mapping[str, Any]], Awaitable[Session]]


def authenticator(services: Services, signal: ChangeSignal) -> Authenticate:
    """How a connection is let in: the token in `connection_init`'s payload, checked as a request's would
    be (`resolvers.requests.connection_viewer`); each subscription it starts gets a context of its own."""

    async def authenticate(payload: Mapping[str, Any]) -> Session:
        # The payload's key is the header's name; clients differ in how they spell it.
        value = next((value for key, value in payload.items() if key.lower() == "authorization"), None)
        viewer, expires_in = await connection_viewer(services, value if isinstance(value, str) else "")
        # A partner's allow-list holds over WebSocket as over HTTP (the same kept facts). It is read once,
        # here: a subscribe must not wait for a database connection that the connection's running
        # subscriptions may hold (the list changes rarely; a connection lasts at most as long as its
        # token, 15 minutes).
        allowed = await allowed_operations(services.engine, viewer)
        return Session(
            expires_in, lambda: SubscriptionContext(services, viewer, signal), viewer.subject, allowed
        )

    return authenticate


class _Close(Exception):  # noqa: N818 - the instruction "close the socket", not an error
    """Raised while handling a message: close the socket with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Connection:
    """One client's WebSocket connection: the handshake, the messages, and its running subscriptions."""

    def __init__(
        self,
        socket: Socket,
        schema: LeerpoortSchema,
        authenticate: Authenticate,
        subscriptions: OpenSubscriptions,
    ) -> None:
        """A connection over `socket` running operations of `schema`; `authenticate` checks the init, and
        `subscriptions` (the process's) counts what it runs."""
        self._socket = socket
        self._schema = schema
        self._authenticate = authenticate
        self._subscriptions = subscriptions
        self._session: Session | None = None
        self._init_received = False
        self._closed = False
        self._operations: dict[str, asyncio.Task[None]] = {}
        self._timers: list[asyncio.Task[None]] = []

    async def serve(self, offered_subprotocols: Sequence[str]) -> None:
        """Run the connection until either side closes it."""
        if PROTOCOL not in offered_subprotocols:
            await self._socket.accept()
            await self._close(SUBPROTOCOL_NOT_ACCEPTABLE, f"Subprotocol not acceptable: use {PROTOCOL}")
            return
        await self._socket.accept(PROTOCOL)
        self._timers.append(asyncio.create_task(self._init_deadline()))
        try:
            while not self._closed:
                message = await self._socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    await self._handle(_parse(message))
                except _Close as close:
                    await self._close(close.code, close.reason)
        finally:
            self._closed = True
            tasks = [*self._timers, *self._operations.values()]
            for task in tasks:
                task.cancel()
            # Let cancelled subscriptions run their clean-up (closing their cycle's connection).
            for task in tasks:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "connection_init":
            await self._initialise(message.get("payload"))
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            operation_id = message.get("id")
            task = self._operations.pop(operation_id, None) if isinstance(operation_id, str) else None
            if task is not None:
                task.cancel()
        else:
            raise _Close(BAD_REQUEST, "Unknown message type")

    async def _initialise(self, payload: object) -> None:
        if self._init_received:
            raise _Close(TOO_MANY_INITIALISATIONS, "Too many initialisation requests")
        self._init_received = True
        if payload is not None and not isinstance(payload, dict):
            raise _Close(BAD_REQUEST, "The connection_init payload must be an object")
        try:
            session = await self._authenticate(payload or {})
        except Unauthenticated as refused:
            raise _Close(UNAUTHORIZED, f"Unauthorized: {refused.message}") from None
        self._session = session
        await self._send({"type": "connection_ack"})
        if session.expires_in is not None:
            self._timers.append(asyncio.create_task(self._expiry(session.expires_in)))

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if self._session is None:
            raise _Close(UNAUTHORIZED, "Unauthorized")
        operation_id, payload = message.get("id"), message.get("payload")
        if not isinstance(operation_id, str) or not operation_id or not isinstance(payload, dict):
            raise _Close(BAD_REQUEST, "A subscribe message needs an id and a payload")
        query, variables = payload.get("query"), payload.get("variables")
        operation_name = payload.get("operationName")
        if (
            not isinstance(query, str)
            or not (variables is None or isinstance(variables, dict))
            or not (operation_name is None or isinstance(operation_name, str))
        ):
            raise _Close(BAD_REQUEST, "The subscribe payload needs a query string (and object variables)")
        if operation_id in self._operations:
            raise _Close(SUBSCRIBER_EXISTS, f"Subscriber for {operation_id} already exists")
        if self._session.allowed_operations is not None:
            try:
                persisted.check_allowed(self._session.allowed_operations, query)
            except OperationNotAllowed as refused:
                await self._send_error(operation_id, refused)
                return
        limits, holder = self._subscriptions, self._session.holder
        if len(self._operations) >= limits.per_connection:
            await self._refuse(
                operation_id, f"a connection may hold at most {limits.per_connection} subscriptions at a time"
            )
            return
        if not limits.claim(holder):
            await self._refuse(
                operation_id,
                f"you may hold at most {limits.per_holder} subscriptions at a time across your connections;"
                " complete one first",
            )
            return
        run = self._run(operation_id, self._session.context(), query, variables, operation_name)
        task = asyncio.create_task(run)
        # A done callback, not `_run`'s `finally`: a task cancelled before it first runs never enters it.
        task.add_done_callback(lambda _task: limits.release(holder))
        self._operations[operation_id] = task

    async def _refuse(self, operation_id: str, message: str) -> None:
        """Answer a subscribe message with LIMIT_EXCEEDED; the connection and its subscriptions go on."""
        await self._send_error(operation_id, LimitExceeded(message))

    async def _send_error(self, operation_id: str, refusal: PublicError) -> None:
        """Answer a subscribe message with an `error` of this code; the connection goes on."""
        error = GraphQLError(refusal.message, original_error=refusal)
        await self._send({"id": operation_id, "type": "error", "payload": [format_error(error)]})

    async def _run(
        self,
        operation_id: str,
        context: object,
        query: str,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> None:
        try:
            stream = await self._schema.subscribe(
                query, variable_values=variables, context_value=context, operation_name=operation_name
            )
            async with aclosing(stream):
                first = True
                async for result in stream:
                    errors = result.errors or []
                    if any(isinstance(error.original_error, Unauthenticated) for error in errors):
                        # The viewer's account or partner was removed since the connection was accepted.
                        await self._close(UNAUTHORIZED, "Unauthorized: the token's subject no longer exists")
                        return
                    # Errors without a path came before execution (validation, a limit refused in
                    # `on_execute`, which strawberry reports as a result): the operation's `error`.
                    refused = isinstance(result, PreExecutionError) or (
                        result.data is None and errors and all(not error.path for error in errors)
                    )
                    if first and refused:
                        payload = [format_error(_explained(error)) for error in errors]
                        await self._send({"id": operation_id, "type": "error", "payload": payload})
                        return
                    first = False
                    body: dict[str, Any] = {"data": result.data}
                    if errors:
                        body["errors"] = [format_error(error) for error in errors]
                    await self._send({"id": operation_id, "type": "next", "payload": body})
            await self._send({"id": operation_id, "type": "complete"})
        except Exception as error:  # one subscription's failure must not end the others
            # Mostly a client that went away mid-send; the type only, as `process_errors` logs.
            logger.info("subscription %s ended: %s", operation_id[:40], type(error).__name__)
        finally:
            if self._operations.get(operation_id) is asyncio.current_task():
                del self._operations[operation_id]

    async def _init_deadline(self) -> None:
        await asyncio.sleep(CONNECTION_INIT_TIMEOUT_SECONDS)
        if not self._init_received:
            await self._close(INIT_TIMEOUT, "Connection initialisation timeout")

    async def _expiry(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
        await self._close(UNAUTHORIZED, "Unauthorized: the token expired")

    async def _send(self, message: dict[str, Any]) -> None:
        if not self._closed:
            await self._socket.send_text(json.dumps(message, separators=(",", ":")))

    async def _close(self, code: int, reason: str) -> None:
        """Close the socket once; the subscriptions stop and the receive loop ends on the disconnect."""
        if self._closed:
            return
        self._closed = True
        for task in self._operations.values():
            if task is not asyncio.current_task():
                task.cancel()
        with contextlib.suppress(Exception):  # the client may have gone already
            await self._socket.close(code, reason.encode()[:_REASON_BYTES].decode(errors="ignore"))


def _explained(error: GraphQLError) -> GraphQLError:
    """A refusal of the operation as the client should read it: strawberry reports a query or mutation
    sent here, and an operationName the document lacks, as exceptions of its own (masked as INTERNAL
    otherwise); both are the client's mistake, with a message that says what to do instead."""
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        refused = BadUserInput(
            "only subscriptions run over the WebSocket: send queries and mutations to POST /graphql"
        )
    elif isinstance(original, CannotGetOperationTypeError):
        refused = BadUserInput("the document has no operation by that operationName")
    else:
        return error
    return GraphQLError(refused.message, original_error=refused)


def _parse(message: Mapping[str, Any]) -> dict[str, Any]:
    """The protocol message in a `websocket.receive`; anything else closes the socket with 4400."""
    text = message.get("text")
    if not isinstance(text, str):
        raise _Close(BAD_REQUEST, "WebSocket messages must be text")
    if len(text) > MAX_REQUEST_BYTES:
        raise _Close(BAD_REQUEST, f"A message may be at most {MAX_REQUEST_BYTES} bytes")
    try:
        parsed = load_json(text, what="a WebSocket message")
    except BadUserInput as refused:  # not JSON, or nested deeper than any message needs
        raise _Close(BAD_REQUEST, refused.message[:1].upper() + refused.message[1:]) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
        raise _Close(BAD_REQUEST, "A message must be an object with a type")
    return parsed


__all__ = [
    "PROTOCOL",
    "Authenticate",
    "Connection",
    "OpenSubscriptions",
    "Session",
    "Socket",
    "authenticator",
]
