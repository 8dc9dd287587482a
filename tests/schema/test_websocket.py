"""The WebSocket protocol handler with a scripted client: what a client that misuses it is told.

The socket is a stand-in that plays the client's messages and records the server's; the end-to-end
behaviour over a real socket is in tests/e2e/test_subscriptions.py.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from schema.websocket import PROTOCOL, Connection, OpenSubscriptions, Session

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from schema.assembly import LeerpoortSchema


class ScriptedSocket:
    """Sends the client's messages one by one, then disconnects; records what the server sent."""

    def __init__(self, *messages: str) -> None:
        self._inbox = list(messages)
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str | None] | None = None

    async def accept(self, subprotocol: str | None = None) -> None:
        """Nothing to negotiate."""

    async def receive(self) -> MutableMapping[str, Any]:
        """The next scripted message, then (after a moment for the server to answer) a disconnect."""
        if self._inbox and self.closed is None:
            return {"type": "websocket.receive", "text": self._inbox.pop(0)}
        await asyncio.sleep(0.2)
        return {"type": "websocket.disconnect"}

    async def send_text(self, data: str) -> None:
        """Record a message of the server."""
        self.sent.append(json.loads(data))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Record the close."""
        self.closed = (code, reason)


async def _anyone(_payload: Mapping[str, Any]) -> Session:
    return Session(expires_in=None, context=lambda: None)


async def _serve(schema: LeerpoortSchema, *messages: dict[str, Any] | str) -> ScriptedSocket:
    texts = [message if isinstance(message, str) else json.dumps(message) for message in messages]
    socket = ScriptedSocket(json.dumps({"type": "connection_init"}), *texts)
    await Connection(socket, schema, _anyone, OpenSubscriptions(per_connection=5, per_holder=20)).serve(
        [PROTOCOL]
    )
    return socket


def _subscribe(operation_id: str, query: str, operation_name: str | None = None) -> dict[str, Any]:
    payload = {"query": query} | ({"operationName": operation_name} if operation_name else {})
    return {"type": "subscribe", "id": operation_id, "payload": payload}


async def test_a_query_or_mutation_sent_over_the_websocket_is_told_to_use_http(
    schema: LeerpoortSchema,
) -> None:
    socket = await _serve(
        schema,
        _subscribe("query", "{ viewer { kind } }"),
        _subscribe("mutation", 'mutation { signIn(email: "a@b.example", password: "x") { token } }'),
    )

    errors = {message["id"]: message for message in socket.sent if message.get("type") == "error"}
    assert set(errors) == {"query", "mutation"}
    for message in errors.values():
        (error,) = message["payload"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "POST /graphql" in error["message"]
    assert socket.closed is None, "a wrong operation ends that operation, not the connection"


async def test_an_operation_name_the_document_lacks_is_bad_user_input(schema: LeerpoortSchema) -> None:
    socket = await _serve(schema, _subscribe("1", "subscription A { changes { cursor } }", "B"))

    (message,) = [message for message in socket.sent if message.get("type") == "error"]
    assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in message["payload"][0]["message"]


async def test_a_message_nested_a_hundred_thousand_levels_deep_closes_with_4400(
    schema: LeerpoortSchema,
) -> None:
    deep = '{"type": "ping", "payload": ' + "[" * 100_000 + "]" * 100_000 + "}"
    socket = await _serve(schema, deep)

    assert socket.closed is not None
    code, reason = socket.closed
    assert code == 4400
    assert reason is not None
    assert "nests deeper" in reason
