"""The public error catalogue (API.md): every error a client sees carries one of these codes.

A leaf module like `settings`: every layer may raise these. Anything else that escapes a resolver is
masked as `INTERNAL` before it reaches a response.
"""

from __future__ import annotations

from typing import ClassVar


class PublicError(Exception):
    """An error whose message is written for the client: stable code, no personal data, no internals."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(PublicError):
    """No valid token: HTTP 401 on `/graphql`."""

    code = "UNAUTHENTICATED"


class Forbidden(PublicError):
    """The viewer is known but may not perform this operation."""

    code = "FORBIDDEN"


class BadUserInput(PublicError):
    """An argument is malformed or out of range (a cursor, a page size, an id)."""

    code = "BAD_USER_INPUT"


class RefusedInput(BadUserInput):
    """BAD_USER_INPUT with a stable reason code in `extensions.reason`, for refusals a client acts on
    differently: a weak password (`TOO_SHORT`, `TOO_COMMON`, `CONTAINS_PERSONAL_DATA`) or a link that no
    longer works (`LINK_EXPIRED`, `LINK_USED`, `LINK_INVALID`)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(PublicError):
    """The thing asked for does not exist for this viewer (never says whether it exists for others)."""

    code = "NOT_FOUND"


class LimitExceeded(PublicError):
    """A request exceeds one of the hub's abuse limits (depth, aliases, tokens, cost); a page size
    outside 1..1,000 is an argument error (BAD_USER_INPUT), as the page arguments are checked as input."""

    code = "LIMIT_EXCEEDED"


class RateLimited(PublicError):
    """Too many failed credential checks (sign-in, the token endpoint) for an account, a client or an
    address: refused without checking the credentials, until `retry_after` seconds have passed (HTTP 429
    with `Retry-After`; `extensions.retryAfter` in GraphQL). Says nothing about whether the account exists.
    """

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PersistedQueryNotFound(PublicError):
    """A persisted query's hash that the hub does not know (yet): send the document with its hash to
    register it (the automatic persisted queries protocol; the message is the one Apollo's clients expect).
    """

    code = "PERSISTED_QUERY_NOT_FOUND"


class OperationNotAllowed(Forbidden):
    """The partner has an allow-list of operations and this document's hash is not on it (HTTP 403)."""

    code = "OPERATION_NOT_ALLOWED"


class Conflict(PublicError):
    """The operation conflicts with the current state or with another operation in flight."""

    code = "CONFLICT"


class Unavailable(PublicError):
    """The hub cannot reach its database right now: HTTP 503 with `Retry-After`. The hub recovers by
    itself when the database is back; send the same request again after `Retry-After` seconds."""

    code = "UNAVAILABLE"

    #: What `Retry-After` says (seconds): long enough for a database restart or failover to finish.
    retry_after_seconds: ClassVar[int] = 5


CATALOGUE: tuple[str, ...] = (
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "LIMIT_EXCEEDED",
    "CONFLICT",
    "RATE_LIMITED",
    "HELD_FOR_CONFIRMATION",
    "UNAVAILABLE",
    "PERSISTED_QUERY_NOT_FOUND",
    "OPERATION_NOT_ALLOWED",
    "INTERNAL",
)
