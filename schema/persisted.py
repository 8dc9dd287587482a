"""Persisted operations over HTTP: automatic persisted queries and per-partner allow-lists.

Automatic persisted queries, as Apollo defines them: a request may send, instead of its document, the
document's SHA-256 in `extensions.persistedQuery` (`{"version": 1, "sha256Hash": "…"}`). A hash the hub
does not know answers `PERSISTED_QUERY_NOT_FOUND`; the client then sends the document with the hash, and
the hub checks the hash, runs the document and, when it is a valid request of queries alone sent with a
token, registers it (in the database: every worker then knows it). A hash alone is short, so a query fits
a GET (whose answer is still personal to its token: `schema.http.PERSONAL`, never kept by a shared cache).

A partner may be given an allow-list of operations (`python server.py partner allow-operations`): it may
then run only the documents whose hashes its list holds, sent as a hash or in full.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

from graphql import GraphQLError, OperationDefinitionNode, OperationType

from datasources.access import persisted_operations
from errors import BadUserInput, OperationNotAllowed, PersistedQueryNotFound
from schema.limits import parse_document

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.ext.asyncio import AsyncEngine

    from schema.graphql_requests import GraphQLRequest

#: The only version of the protocol there is.
PROTOCOL_VERSION: Final = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Apollo's clients recognise a miss by this message (older ones) or by the code (newer ones).
NOT_FOUND_MESSAGE: Final = "PersistedQueryNotFound"


def sha256_of(query: str) -> str:
    """The hash a persisted query goes by: SHA-256 of the document's UTF-8 bytes, in lowercase hex."""
    return hashlib.sha256(query.encode()).hexdigest()


def requested_hash(request: GraphQLRequest) -> str | None:
    """The `sha256Hash` of a request's `persistedQuery` extension, or None without one; a malformed
    extension (another version, a hash that is not SHA-256 hex) is BAD_USER_INPUT."""
    extension: Any = (request.extensions or {}).get("persistedQuery")
    if extension is None:
        return None
    if not isinstance(extension, dict) or extension.get("version") != PROTOCOL_VERSION:
        raise BadUserInput("`persistedQuery` must be {version: 1, sha256Hash: …}")
    sha256 = extension.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise BadUserInput("`persistedQuery.sha256Hash` must be a SHA-256 in lowercase hex")
    return sha256


async def resolve(engine: AsyncEngine, request: GraphQLRequest) -> GraphQLRequest:
    """The request with its document: looked up by its hash when only the hash came
    (`PersistedQueryNotFound` for an unknown one), checked against its hash when both came."""
    sha256 = requested_hash(request)
    if sha256 is None:
        return request
    if request.query:
        if sha256_of(request.query) != sha256:
            raise BadUserInput("`persistedQuery.sha256Hash` is not the SHA-256 of the query")
        return request
    found = await persisted_operations.document(engine, sha256)
    if found is None:
        raise PersistedQueryNotFound(NOT_FOUND_MESSAGE)
    return dataclasses.replace(request, query=found)


def only_queries(query: str, max_tokens: int) -> bool:
    """Whether every operation of a document is a query (False for one that does not parse)."""
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return False
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    return bool(operations) and all(node.operation is OperationType.QUERY for node in operations)


async def register_if_new(
    engine: AsyncEngine, request: GraphQLRequest, *, signed_in: bool, max_tokens: int, now: dt.datetime
) -> None:
    """Register a document that came with its (checked) hash; call it once the document ran as a valid
    request, so that only real operations are stored.

    Only documents of queries alone, sent by a viewer with a token, are kept. A document is stored as
    sent, literals and all, and runs for anyone who knows its hash: a mutation's literals may be a
    password (`signIn(password: "…")`), a reset token or a person's details, which must never rest in a
    table of documents, and a caller without a token must not fill the table. A mutation sent by hash is
    then simply not found, and the client sends it in full, as the protocol has it do after a miss.
    """
    sha256 = requested_hash(request)
    if sha256 is None or not request.query or not signed_in:
        return
    if only_queries(request.query, max_tokens):
        await persisted_operations.register(engine, sha256, request.query, now=now)


def check_allowed(allowed: frozenset[str] | None, query: str) -> None:
    """Refuse (OPERATION_NOT_ALLOWED) a document whose hash an allow-list (None: none) does not hold."""
    if allowed is not None and sha256_of(query) not in allowed:
        raise OperationNotAllowed(
            "this partner may run only the operations on its allow-list; ask the operator to add the "
            "operation's SHA-256"
        )


__all__ = [
    "NOT_FOUND_MESSAGE",
    "PROTOCOL_VERSION",
    "check_allowed",
    "only_queries",
    "register_if_new",
    "requested_hash",
    "resolve",
    "sha256_of",
]
