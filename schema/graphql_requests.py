"""A GraphQL request as the hub reads it, and what its document asks for.

A request comes as a JSON body, a GraphQL multipart upload or a GET's query string (GraphQL over HTTP);
each is read into one `GraphQLRequest` under the same rules (`schema.bodies` for JSON). The questions
the server asks of a document before running it (does it only sign in? is it a query, as a GET may only
run? how many operations?) are answered here, without executing anything. Like `schema.http` it knows
nothing of Starlette.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from errors import BadUserInput
from schema.bodies import load_json
from schema.limits import parse_document


@dataclass(frozen=True, slots=True)
class GraphQLRequest:
    """A parsed GraphQL request: the document, its variables, the operation to run and the request's
    `extensions` (a persisted query's hash: `schema.persisted`). `query` is empty only when the request
    names a persisted query by its hash instead of sending the document."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None = None


#: Headers that a cross-site HTML form cannot send: a multipart request must carry one (CSRF protection).
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-requested-with")


def parse_multipart(operations: str, files_map: str, files: Mapping[str, bytes]) -> GraphQLRequest:
    """A GraphQL multipart request (the spec's `operations` and `map`): each file's bytes are put at the
    variable paths the map names."""
    request = parse_request(operations.encode())
    mapping = load_json(files_map, what="the multipart `map`")
    if not isinstance(mapping, dict):
        raise BadUserInput("the multipart `map` must be a JSON object")
    variables = dict(request.variables or {})
    for name, paths in mapping.items():
        if name not in files or not isinstance(paths, list):
            raise BadUserInput(f"the multipart `map` names a file {name!r} that was not sent")
        for path in paths:
            parts = str(path).split(".")
            if len(parts) != 2 or parts[0] != "variables":
                raise BadUserInput("files can be mapped to top-level variables only")
            variables[parts[1]] = files[name]
    return GraphQLRequest(
        query=request.query,
        variables=variables,
        operation_name=request.operation_name,
        extensions=request.extensions,
    )


def parse_request(body: bytes) -> GraphQLRequest:
    """Read a JSON GraphQL request (its size already capped as it was read: `schema.bodies`); anything
    malformed, or nested too deep, is a BAD_USER_INPUT error."""
    data = load_json(body)
    if not isinstance(data, dict):
        raise BadUserInput("the request body must be a JSON object with a `query`")
    return _request_of(data)


#: The parameters of `GET /graphql` (GraphQL over HTTP: `variables` and `extensions` JSON-encoded).
GET_PARAMETERS = ("query", "variables", "operationName", "extensions")


def parse_query_parameters(pairs: list[tuple[str, str]]) -> GraphQLRequest:
    """Read a GraphQL request from a GET's query parameters (`GET_PARAMETERS`, each at most once);
    an unknown parameter is refused as POST refuses one, so a misspelt `operationname` never runs
    another operation."""
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name not in GET_PARAMETERS:
            accepted = ", ".join(GET_PARAMETERS)
            raise BadUserInput(f"unknown query parameter {name[:40]} (accepted: {accepted})")
        if name in data:
            raise BadUserInput(f"the query parameter {name} is given more than once")
        data[name] = load_json(value, what=f"the `{name}` parameter") if name in JSON_PARAMETERS else value
    return _request_of(data)


#: GET parameters that carry JSON rather than a string.
JSON_PARAMETERS = frozenset({"variables", "extensions"})


def _request_of(data: dict[str, Any]) -> GraphQLRequest:
    """The request of a JSON body's (or a GET's) fields, each of its type; a request without a query
    must name a persisted query in `extensions` (`schema.persisted` looks it up)."""
    query, variables, operation_name = data.get("query"), data.get("variables"), data.get("operationName")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadUserInput("`extensions` must be a JSON object")
    persisted = extensions is not None and "persistedQuery" in extensions
    if query is None and persisted:
        query = ""
    elif not isinstance(query, str) or not query.strip():
        raise BadUserInput("the request needs a `query` string")
    if variables is not None and not isinstance(variables, dict):
        raise BadUserInput("`variables` must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadUserInput("`operationName` must be a string")
    return GraphQLRequest(
        query=query, variables=variables, operation_name=operation_name, extensions=extensions
    )


def runs_a_query(request: GraphQLRequest, max_tokens: int) -> bool:
    """Whether the operation a request selects is a query, as GET may only run (a mutation must never
    run on a GET: links, prefetchers and caches send those freely). A document that does not parse, or
    has no such operation, counts as a query: execution answers its error."""
    try:
        document = parse_document(request.query, max_tokens)
    except GraphQLError:
        return True
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if request.operation_name is not None:
        operations = [node for node in operations if node.name and node.name.value == request.operation_name]
    return len(operations) != 1 or operations[0].operation is OperationType.QUERY


#: Root fields a caller without a token may use: signing in.
ANONYMOUS_FIELDS = frozenset({"signIn", "__typename"})
#: Following a mailed link and asking for one need no token either: the link (or the address) is the proof.
ANONYMOUS_FIELDS |= frozenset({"activateAccount", "requestPasswordReset", "resetPassword"})
#: A student signs in without a token too (an app on a school device).
ANONYMOUS_FIELDS |= frozenset({"signInStudent"})

#: Root query fields a caller without a token may read: the helpdesk's current announcements.
ANONYMOUS_QUERY_FIELDS = frozenset({"announcements", "__typename"})


def allows_anonymous(request: GraphQLRequest) -> bool:
    """Whether the request only signs in (or only reads the announcements), so that it may be sent
    without a token. Anything else, or a document that does not parse, needs a token (and is answered
    401 without one)."""
    try:
        document = parse(request.query, max_tokens=200)
    except GraphQLError:
        return False
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if request.operation_name is not None:
        operations = [node for node in operations if node.name and node.name.value == request.operation_name]
    if not operations or len(operations) != len(document.definitions):
        return False
    return all(
        operation.operation in _ANONYMOUS_BY_OPERATION
        and all(
            isinstance(selection, FieldNode)
            and selection.name.value in _ANONYMOUS_BY_OPERATION[operation.operation]
            for selection in operation.selection_set.selections
        )
        for operation in operations
    )


_ANONYMOUS_BY_OPERATION = {
    OperationType.MUTATION: ANONYMOUS_FIELDS,
    OperationType.QUERY: ANONYMOUS_QUERY_FIELDS,
}


def operation_count(query: str, max_tokens: int) -> int:
    """How many operations a document defines (0 when it does not parse: execution answers that)."""
    try:
        document = parse_document(query, max_tokens)
    except GraphQLError:
        return 0  # execution answers the syntax error itself
    return sum(isinstance(node, OperationDefinitionNode) for node in document.definitions)
